"""Webhooks: a campaign's events posted to the HTTPS endpoints an admin registered, signed.

Events: ``form.submitted``, ``review.decision``, ``quota.cell_full``, ``unit.annulled``,
``scores.recomputed``. :func:`queue_event` is called inside the transaction that makes the
change (the submit, the decision, the annulment ...): the event's delivery rows commit with the
change or not at all. A payload names codes (campaign, unit, group, questionnaire) and counts,
never a respondent, form, token or answer.

Signature (the Stripe / GitHub scheme): each POST carries ``X-PAR-Event-Id`` (the event id, the
receiver's key to drop repeats), ``X-PAR-Event`` (the type) and
``X-PAR-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>``; during a
secret rotation a second ``v1=`` signed with the previous secret is added until it expires, so
a receiver may switch secrets at its own pace. :func:`verify_signature` is the receiver's
check (with a tolerance on ``t`` against replays).

Delivery: the mail outbox's machinery (:mod:`survey.services.outbox`): due rows are claimed in
one committed transaction (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, ``BEGIN IMMEDIATE`` on
SQLite, so parallel workers take disjoint rows), each is posted, and its outcome recorded in one
committed transaction with a row in the delivery log (``webhook_attempts``): 2xx -> delivered;
anything else (a refused connection, a timeout, a non-2xx status) -> queued again after the
outbox's exponential back-off, ``dead`` (the dead-letter list) once
``WEBHOOK_MAX_ATTEMPTS`` ran out. :func:`replay_delivery` queues a dead (or delivered) one
again by hand.

Where it differs from mail, and why: a mail sent twice carries two different personal links, so
the mail outbox never resends after a crash and asks a person. A webhook carries its event id:
a worker killed while posting leaves its claim, which the next worker takes back after
``WEBHOOK_CLAIM_LEASE_SECONDS`` and posts again, so nothing is lost, and a receiver that keeps
the ids it has seen (as Stripe's and GitHub's receivers are told to) processes each event
exactly once. Without a crash each event is posted until one 2xx and never after.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import http.client
import json
import secrets
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from questionnaires.problems import ProblemError, Text
from survey.problems import NO_EVENTS
from survey import db
from survey.models import (
    Campaign,
    DeliveryStatus,
    Mode,
    QuotaCell,
    Response,
    ResponseStatus,
    Unit,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    utcnow,
)
from survey.services.audit import record_audit
from survey.services.outbox import backoff_seconds, status_counts

EVENTS = ("form.submitted", "review.decision", "quota.cell_full", "unit.annulled",
          "scores.recomputed")
SIGNATURE_HEADER = "X-PAR-Signature"
_LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


class WebhookError(ProblemError, ValueError):
    """A refused webhook change: a problem code and its parameters."""


def _cfg(key: str, default: float) -> float:
    value = current_app.config.get(key)
    return float(default if value is None else value)


# ---------------------------------------------------------------------------- signing

def sign(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(secrets_: Sequence[str], timestamp: int, body: bytes) -> str:
    return ",".join([f"t={timestamp}"] + [f"v1={sign(s, timestamp, body)}" for s in secrets_])


def verify_signature(secret: str, header: str, body: bytes, *, tolerance: int = 300,
                     now: float | None = None) -> bool:
    """The receiver's check: a ``v1`` signature of ``body`` under ``secret`` and a timestamp
    within ``tolerance`` seconds of now (an old request replayed is refused)."""
    parts = [p.split("=", 1) for p in header.split(",") if "=" in p]
    stamps = [v for k, v in parts if k == "t"]
    if len(stamps) != 1 or not stamps[0].isdigit():
        return False
    t = int(stamps[0])
    if abs((time.time() if now is None else now) - t) > tolerance:
        return False
    expected = sign(secret, t, body)
    return any(hmac.compare_digest(expected, v) for k, v in parts if k == "v1")


# ---------------------------------------------------------------------------- endpoints

@dataclass(frozen=True)
class EndpointRow:
    id: int
    url: str
    events: tuple[str, ...]
    active: bool
    rotating_until: dt.datetime | None
    created_at: dt.datetime


def _row(e: WebhookEndpoint) -> EndpointRow:
    return EndpointRow(e.id, e.url, tuple(x for x in e.events.split(",") if x), e.active,
                       e.previous_until if e.previous_secret else None, e.created_at)


def _check_url(url: str) -> str:
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    local = (parts.hostname or "") in _LOCAL_HOSTS
    if parts.scheme == "http" and local and current_app.config.get("WEBHOOK_ALLOW_HTTP_LOCAL"):
        return url
    raise WebhookError("WEBHOOK-URL", url=repr(url))


def _check_events(events: Sequence[str]) -> str:
    unknown = [e for e in events if e not in EVENTS]
    if unknown or not events:
        bad, known = ", ".join(unknown), ", ".join(EVENTS)
        raise WebhookError("WEBHOOK-EVENTS", events=bad or Text(NO_EVENTS), known=known)
    return "," + ",".join(sorted(set(events))) + ","


def register_webhook(campaign: Campaign, url: str, events: Sequence[str],
                     actor_id: int | None = None) -> tuple[EndpointRow, str]:
    """Register an endpoint for ``events``; return it and its signing secret (shown once)."""
    url, joined = _check_url(url), _check_events(events)
    secret = "whsec_" + secrets.token_urlsafe(32)
    with db.write_transaction() as s:
        e = WebhookEndpoint(campaign_id=campaign.id, url=url, events=joined, secret=secret)
        s.add(e)
        s.flush()
        record_audit("webhook.create", actor_id=actor_id, province_code=campaign.province_code,
                     object_type="webhook", object_id=e.id,
                     detail={"campaign": campaign.code, "url": url, "events": list(events)})
        row = _row(e)
    return row, secret


def _endpoint(s: Session, campaign: Campaign, endpoint_id: int) -> WebhookEndpoint:
    e = s.get(WebhookEndpoint, endpoint_id)
    if e is None or e.campaign_id != campaign.id:
        raise WebhookError("WEBHOOK-UNKNOWN", endpoint=endpoint_id)
    return e


def rotate_webhook_secret(campaign: Campaign, endpoint_id: int, *, keep_old_hours: float = 24,
                          actor_id: int | None = None) -> str:
    """A new secret; the old one still signs (a second ``v1``) for ``keep_old_hours``."""
    secret = "whsec_" + secrets.token_urlsafe(32)
    with db.write_transaction() as s:
        e = _endpoint(s, campaign, endpoint_id)
        e.previous_secret, e.secret = e.secret, secret
        e.previous_until = utcnow() + dt.timedelta(hours=keep_old_hours)
        record_audit("webhook.rotate", actor_id=actor_id, province_code=campaign.province_code,
                     object_type="webhook", object_id=e.id,
                     detail={"keep_old_hours": keep_old_hours})
    return secret


def set_webhook_active(campaign: Campaign, endpoint_id: int, active: bool,
                       actor_id: int | None = None) -> None:
    with db.write_transaction() as s:
        e = _endpoint(s, campaign, endpoint_id)
        e.active = active
        record_audit("webhook.enable" if active else "webhook.disable", actor_id=actor_id,
                     province_code=campaign.province_code, object_type="webhook", object_id=e.id)


def list_webhooks(campaign: Campaign) -> list[EndpointRow]:
    return [_row(e) for e in db.session().scalars(select(WebhookEndpoint).where(
        WebhookEndpoint.campaign_id == campaign.id).order_by(WebhookEndpoint.id))]


# ---------------------------------------------------------------------------- queueing

class CampaignRef(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def code(self) -> str: ...


def queue_event(s: Session, campaign: CampaignRef, event_type: str,
                data: Callable[[], Mapping[str, Any]] | Mapping[str, Any]) -> int:
    """Queue ``event_type`` for the campaign's active endpoints that asked for it, in the
    caller's transaction; ``data`` (or the callable making it, run only when someone listens)
    is the payload's ``data``. Returns the number of deliveries queued."""
    if event_type not in EVENTS:
        raise ValueError(f"unknown event {event_type!r}")
    endpoints = list(s.connection().execute(_LISTENERS, {
        "cid": campaign.id, "pattern": f"%,{event_type},%"}).scalars())
    if not endpoints:
        return 0
    now = utcnow()
    event_id = "evt_" + uuid.uuid4().hex
    payload = {"id": event_id, "type": event_type,
               "created_at": now.isoformat(timespec="seconds"),
               "campaign": campaign.code, "data": dict(data() if callable(data) else data)}
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    s.execute(insert(WebhookDelivery), [
        {"event_id": event_id, "endpoint_id": e, "campaign_id": campaign.id,
         "event_type": event_type, "body": body, "status": DeliveryStatus.QUEUED,
         "attempts": 0, "next_attempt_at": now, "created_at": now} for e in endpoints])
    return len(endpoints)


# Every submit runs it: built once.
_LISTENERS = (select(WebhookEndpoint.id)
              .where(WebhookEndpoint.campaign_id == bindparam("cid"),
                     WebhookEndpoint.active.is_(True),
                     WebhookEndpoint.events.like(bindparam("pattern")))
              .order_by(WebhookEndpoint.id))


# The submit's one look (a statement on the respondent's hot path): what the campaign's active
# endpoints listen to, usually nothing.
_LISTENED = (select(WebhookEndpoint.events)
             .where(WebhookEndpoint.campaign_id == bindparam("cid"),
                    WebhookEndpoint.active.is_(True)))


def listened_events(s: Session, campaign_id: int) -> set[str]:
    return {e for row in s.connection().execute(_LISTENED, {"cid": campaign_id}).scalars()
            for e in row.split(",") if e}


def queue_submitted(s: Session, campaign: CampaignRef, group_id: int,
                    questionnaire_version_id: int, mode: Mode, rated_unit_ids: Sequence[int],
                    day: dt.date) -> None:
    """``form.submitted`` and any ``quota.cell_full`` a submit causes (inside the submit's
    transaction, after its responses are inserted). A cell key (group, questionnaire, rated
    unit) is full when its valid sampled responses reach the sum of its cells' targets, the
    rule of :func:`survey.services.quotas.closed_units`; the event is sent when a submit makes
    the count reach it, so once per key."""
    if not rated_unit_ids:
        return
    listened = listened_events(s, campaign.id)
    wants_submit = "form.submitted" in listened
    wants_full = mode is not Mode.PUBLIC and "quota.cell_full" in listened
    if not (wants_submit or wants_full):
        return
    from survey.models import QuestionnaireVersion, RespondentGroup

    units = dict(s.execute(select(Unit.id, Unit.code).where(Unit.id.in_(rated_unit_ids)))
                 .tuples().all())
    group = s.scalar(select(RespondentGroup.code).where(RespondentGroup.id == group_id))
    qv = s.get(QuestionnaireVersion, questionnaire_version_id)
    questionnaire = f"{qv.qid}@v{qv.version}" if qv else ""
    if wants_submit:
        queue_event(s, campaign, "form.submitted", {
            "group": group, "questionnaire": questionnaire, "mode": mode.value,
            "rated_units": sorted(units.values()), "submitted_on": day.isoformat()})
    if not wants_full:
        return
    targets: dict[int, int] = {}
    for unit_id, target in s.execute(select(QuotaCell.rated_unit_id, QuotaCell.target).where(
            QuotaCell.campaign_id == campaign.id, QuotaCell.group_id == group_id,
            QuotaCell.questionnaire_version_id == questionnaire_version_id,
            QuotaCell.rated_unit_id.in_(list(units)))):
        if target is None:
            targets[unit_id] = -1  # a cell without a target: the key never fills
        elif targets.get(unit_id, 0) >= 0:
            targets[unit_id] = targets.get(unit_id, 0) + target
    counts = dict(s.execute(
        select(Response.rated_unit_id, func.count())
        .where(Response.campaign_id == campaign.id, Response.group_id == group_id,
               Response.questionnaire_version_id == questionnaire_version_id,
               Response.rated_unit_id.in_([u for u, t in targets.items() if t > 0]),
               Response.status == ResponseStatus.VALID, Response.mode != Mode.PUBLIC)
        .group_by(Response.rated_unit_id)).tuples().all())
    for unit_id, target in sorted(targets.items()):
        if target > 0 and counts.get(unit_id) == target:
            queue_event(s, campaign, "quota.cell_full", {
                "group": group, "questionnaire": questionnaire, "rated_unit": units[unit_id],
                "target": target, "completed": target})


# ---------------------------------------------------------------------------- delivery

@dataclass
class _Job:
    id: int
    claim_id: str
    event_id: str
    event_type: str
    url: str
    secrets: tuple[str, ...]
    body: bytes


@dataclass
class DeliveryReport:
    delivered: int = 0
    retried: int = 0
    dead: int = 0
    released: int = 0
    outcomes: list[tuple[int, str]] = field(default_factory=list)

    @property
    def processed(self) -> int:
        return self.delivered + self.retried + self.dead


def sweep_stale_webhook_claims(now: dt.datetime | None = None) -> int:
    """Claims past the lease (their worker died, maybe mid-post) go back to the queue: posted
    again, the event id lets the receiver drop a repeat."""
    now = now or utcnow()
    stale = now - dt.timedelta(seconds=_cfg("WEBHOOK_CLAIM_LEASE_SECONDS", 300))
    with db.write_transaction() as s:
        r = s.execute(update(WebhookDelivery).where(
            WebhookDelivery.status.in_([DeliveryStatus.CLAIMED, DeliveryStatus.SENDING]),
            WebhookDelivery.claimed_at < stale).values(
                status=DeliveryStatus.QUEUED, claim_id=None, next_attempt_at=utcnow()))
    return int(r.rowcount or 0)  # type: ignore[attr-defined]


def _claim(batch: int) -> list[_Job]:
    now = utcnow()
    claim_id = uuid.uuid4().hex
    with db.own_transaction() as s:
        stmt = (select(WebhookDelivery.id).where(WebhookDelivery.status == DeliveryStatus.QUEUED,
                                                 WebhookDelivery.next_attempt_at <= now)
                .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id).limit(batch))
        if s.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        ids = list(s.scalars(stmt))
        if not ids:
            return []
        s.execute(update(WebhookDelivery).where(WebhookDelivery.id.in_(ids)).values(
            status=DeliveryStatus.CLAIMED, claim_id=claim_id, claimed_at=now))
        rows = s.execute(
            select(WebhookDelivery.id, WebhookDelivery.event_id, WebhookDelivery.event_type,
                   WebhookDelivery.body, WebhookEndpoint.url, WebhookEndpoint.secret,
                   WebhookEndpoint.previous_secret, WebhookEndpoint.previous_until)
            .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
            .where(WebhookDelivery.id.in_(ids)).order_by(WebhookDelivery.id)).all()
    jobs = []
    for id_, event_id, event_type, body, url, secret, previous, until in rows:
        keys = (secret,) + ((previous,) if previous and until and until > now else ())
        jobs.append(_Job(id_, claim_id, event_id, event_type, url, keys, body.encode("utf-8")))
    return jobs


class _Poster:
    """One kept-alive HTTP(S) connection per host; a broken one is made again once."""

    def __init__(self, timeout: float):
        self.timeout = timeout
        self.conns: dict[tuple[str, str, int | None], http.client.HTTPConnection] = {}

    def post(self, url: str, headers: dict[str, str], body: bytes) -> tuple[int | None, str | None]:
        parts = urlsplit(url)
        key = (parts.scheme, parts.hostname or "", parts.port)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        for attempt in (0, 1):
            conn = self.conns.get(key)
            if conn is None:
                cls = (http.client.HTTPSConnection if parts.scheme == "https"
                       else http.client.HTTPConnection)
                conn = self.conns[key] = cls(parts.hostname or "", parts.port,
                                             timeout=self.timeout)
            try:
                conn.request("POST", path, body=body, headers=headers)
                reply = conn.getresponse()
                reply.read(65536)
                if reply.will_close:
                    conn.close()
                    self.conns.pop(key, None)
                return reply.status, None
            except (http.client.RemoteDisconnected, BrokenPipeError,
                    ConnectionResetError) as exc:
                conn.close()
                self.conns.pop(key, None)
                if attempt:  # a kept-alive connection the server had closed: once more
                    return None, f"{type(exc).__name__}: {exc}"[:500]
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                self.conns.pop(key, None)
                return None, f"{type(exc).__name__}: {exc}"[:500]
        return None, "unreachable"

    def close(self) -> None:
        for conn in self.conns.values():
            conn.close()
        self.conns.clear()


def _record(job: _Job, status_code: int | None, error: str | None, ms: int) -> DeliveryStatus:
    now = utcnow()
    ours = (WebhookDelivery.id == job.id, WebhookDelivery.claim_id == job.claim_id,
            WebhookDelivery.status == DeliveryStatus.CLAIMED)
    with db.own_transaction() as s:
        s.add(WebhookAttempt(delivery_id=job.id, at=now, status_code=status_code,
                             error=error, duration_ms=ms))
        if status_code is not None and 200 <= status_code < 300:
            s.execute(update(WebhookDelivery).where(*ours).values(
                status=DeliveryStatus.DELIVERED, delivered_at=now, last_error=None,
                attempts=WebhookDelivery.attempts + 1))
            return DeliveryStatus.DELIVERED
        attempts = (s.scalar(select(WebhookDelivery.attempts).where(
            WebhookDelivery.id == job.id)) or 0) + 1
        dead = attempts >= _cfg("WEBHOOK_MAX_ATTEMPTS", 8)
        status = DeliveryStatus.DEAD if dead else DeliveryStatus.QUEUED
        s.execute(update(WebhookDelivery).where(*ours).values(
            status=status, attempts=attempts, claim_id=None,
            last_error=error or f"HTTP {status_code}",
            next_attempt_at=now + dt.timedelta(seconds=backoff_seconds(attempts, "WEBHOOK"))))
        return status


def _release(jobs: Sequence[_Job]) -> None:
    if not jobs:
        return
    with db.own_transaction() as s:
        for job in jobs:
            s.execute(update(WebhookDelivery).where(
                WebhookDelivery.id == job.id, WebhookDelivery.claim_id == job.claim_id,
                WebhookDelivery.status == DeliveryStatus.CLAIMED).values(
                    status=DeliveryStatus.QUEUED, claim_id=None))


def deliver_webhooks(*, once: bool = True, batch_size: int = 50, poll_seconds: float = 2.0,
                     max_deliveries: int | None = None,
                     after_post: Callable[[int, int | None], None] | None = None
                     ) -> DeliveryReport:
    """Post due deliveries. ``once``: until none is due now; otherwise forever, polling.
    ``after_post`` (tests) runs between the receiver's answer and its record."""
    report = DeliveryReport()
    poster = _Poster(_cfg("WEBHOOK_TIMEOUT_SECONDS", 10))
    lease = _cfg("WEBHOOK_CLAIM_LEASE_SECONDS", 300)
    sweep_stale_webhook_claims()
    try:
        while max_deliveries is None or report.processed < max_deliveries:
            jobs = _claim(batch_size if max_deliveries is None
                          else min(batch_size, max_deliveries - report.processed))
            if not jobs:
                if once:
                    break
                time.sleep(poll_seconds)
                sweep_stale_webhook_claims()
                continue
            started = time.monotonic()
            for i, job in enumerate(jobs):
                if i and time.monotonic() - started > lease * 0.8:
                    # a slow receiver: give the rest back before the lease lets another
                    # worker take them while we still hold them
                    _release(jobs[i:])
                    report.released += len(jobs) - i
                    break
                ts = int(time.time())
                headers = {"Content-Type": "application/json", "User-Agent": "par-survey-webhooks",
                           "X-PAR-Event-Id": job.event_id, "X-PAR-Event": job.event_type,
                           SIGNATURE_HEADER: signature_header(job.secrets, ts, job.body)}
                t0 = time.monotonic()
                code, error = poster.post(job.url, headers, job.body)
                if after_post is not None:
                    after_post(job.id, code)
                status = _record(job, code, error, int((time.monotonic() - t0) * 1000))
                report.outcomes.append((job.id, status.value))
                if status is DeliveryStatus.DELIVERED:
                    report.delivered += 1
                elif status is DeliveryStatus.DEAD:
                    report.dead += 1
                else:
                    report.retried += 1
    finally:
        poster.close()
    return report


# ---------------------------------------------------------------------------- for the admin

def delivery_summary(campaign_id: int) -> dict[str, int]:
    """The campaign's webhook deliveries per status."""
    return status_counts(WebhookDelivery, DeliveryStatus, campaign_id)


@dataclass(frozen=True)
class DeliveryRow:
    id: int
    event_id: str
    event_type: str
    endpoint_id: int
    status: str
    attempts: int
    last_error: str | None
    created_at: dt.datetime
    delivered_at: dt.datetime | None


def list_deliveries(campaign: Campaign, *, status: str | None = None,
                    limit: int = 200) -> list[DeliveryRow]:
    """Deliveries newest first; ``status="dead"`` is the dead-letter list."""
    stmt = select(WebhookDelivery).where(WebhookDelivery.campaign_id == campaign.id)
    if status:
        stmt = stmt.where(WebhookDelivery.status == DeliveryStatus(status))
    return [DeliveryRow(d.id, d.event_id, d.event_type, d.endpoint_id, d.status.value,
                        d.attempts, d.last_error, d.created_at, d.delivered_at)
            for d in db.session().scalars(stmt.order_by(WebhookDelivery.id.desc()).limit(limit))]


@dataclass(frozen=True)
class AttemptRow:
    delivery_id: int
    event_id: str
    at: dt.datetime
    status_code: int | None
    error: str | None
    duration_ms: int


def delivery_log(campaign: Campaign, *, delivery_id: int | None = None,
                 limit: int = 200) -> list[AttemptRow]:
    """Attempts newest first, with the receiver's status or the connection error."""
    stmt = (select(WebhookAttempt, WebhookDelivery.event_id)
            .join(WebhookDelivery, WebhookDelivery.id == WebhookAttempt.delivery_id)
            .where(WebhookDelivery.campaign_id == campaign.id))
    if delivery_id is not None:
        stmt = stmt.where(WebhookAttempt.delivery_id == delivery_id)
    return [AttemptRow(a.delivery_id, ev, a.at, a.status_code, a.error, a.duration_ms)
            for a, ev in db.session().execute(stmt.order_by(WebhookAttempt.id.desc()).limit(limit))]


def replay_delivery(campaign: Campaign, delivery_id: int, actor_id: int | None = None) -> None:
    """Queue a dead (or delivered) delivery again, same event id and body, attempts anew."""
    with db.write_transaction() as s:
        n = s.execute(update(WebhookDelivery).where(
            WebhookDelivery.id == delivery_id, WebhookDelivery.campaign_id == campaign.id,
            WebhookDelivery.status.in_([DeliveryStatus.DEAD, DeliveryStatus.DELIVERED]))
            .values(status=DeliveryStatus.QUEUED, attempts=0, claim_id=None,
                    next_attempt_at=utcnow())).rowcount  # type: ignore[attr-defined]
        if not n:
            raise WebhookError("WEBHOOK-DELIVERY-UNKNOWN", delivery=delivery_id)
        record_audit("webhook.replay", actor_id=actor_id, province_code=campaign.province_code,
                     object_type="webhook_delivery", object_id=delivery_id)
