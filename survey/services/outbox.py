"""The outbox: invitations and reminders queued per respondent, delivered by workers exactly
once.

One message per person: an invitation lists the units they rate and carries the one link to
their home (every form of theirs); a reminder lists only what is unfinished, and is cancelled
rather than sent when the person has finished everything by its turn. Rows queued per form
before homes existed are still delivered as they were (their link leads home too).

Raw tokens are never stored, so a message's personal link can only be made when it is sent:
the worker issues a fresh token (:func:`survey.services.tokens.issue_respondent_token`) for
each message it delivers.

Exactly-once protocol ("no invitation is ever sent twice" wins over "none is ever late")
-----------------------------------------------------------------------------------------
1. **Claim** (one committed transaction per batch). Due ``queued`` rows are locked
   (PostgreSQL: ``SELECT ... FOR UPDATE SKIP LOCKED``, so parallel workers take disjoint rows;
   SQLite: ``BEGIN IMMEDIATE`` serialises claimers) and set to ``claimed`` with a fresh
   ``claim_id``; a token is issued for each and the id of its token row (never the token) is
   kept on the outbox row. The raw tokens live only in the worker's memory.
2. **Mark** the next message ``sending`` (committed, and only if the row still carries our
   ``claim_id`` and is ``claimed``; otherwise it is skipped, unsent).
3. **Send** it over SMTP with a Message-ID made from the row id and the claim id.
4. **Record** the outcome in one committed transaction, which also marks the following message
   ``sending`` (so each message costs one commit):

   * final 250 -> ``sent`` (``sent_at``);
   * refused with 5xx at RCPT/DATA -> ``bounced``; the token is revoked and the address's other
     queued rows bounce too (the contractor sees them in :func:`bounced_recipients`);
   * 4xx, connection refused, or the connection lost *before the content was sent* -> nothing
     can have been delivered: the token is revoked and the row goes back to ``queued`` with an
     exponential backoff (``failed`` after ``MAIL_MAX_ATTEMPTS``). After a lost connection the
     rest of the batch is released unattempted (tokens revoked) to wait for the same moment;
   * the connection lost *after the content was sent, before the final reply* -> the server may
     have accepted it: ``uncertain``, never resent automatically.

A worker killed at any point leaves at most **one** row in ``sending`` (the message it was
sending) and the rest of its batch in ``claimed``. Once the claim is older than
``MAIL_CLAIM_LEASE_SECONDS`` the next worker (or :func:`uncertain_messages`) turns ``claimed``
rows back into ``queued`` (never attempted, so safe; their tokens are revoked) and ``sending``
rows into ``uncertain``: these are **not** resent. :func:`uncertain_messages` lists them for the
contractor, who resolves each one (:func:`resolve_uncertain`, after asking the respondent or
reading the mail server's log for the Message-ID): "delivered" marks it sent; "not delivered"
revokes its token and queues it again. A live worker whose claim was swept notices it at step 2
and skips the row, so a slow worker and a sweeper never both send it.

Tuning (app config): ``MAIL_RETRY_BASE_SECONDS`` (60, doubled per attempt up to
``MAIL_RETRY_MAX_SECONDS``, 3600), ``MAIL_MAX_ATTEMPTS`` (8), ``MAIL_CLAIM_LEASE_SECONDS`` (600).
The rate limit (``PAR_SURVEY_MAIL_RATE_PER_MINUTE``) is global: each claim counts the rows
claimed in the last minute (on PostgreSQL under an advisory lock, so parallel claimers count
right) and each worker spaces its sends evenly.

Trade-off, and why not the Message-ID alone: SMTP has no idempotent submission. A server does
not drop a second message because its Message-ID repeats (some mailbox clients hide the copy,
most do not), and a resent message would carry a *new* token, so "dedupe by Message-ID" would
still show the respondent two different links. Sending again automatically after a crash would
therefore break the rule "never twice"; asking a person to decide on the few uncertain rows
keeps it, at the price of a possible delay for those few.
"""

from __future__ import annotations

import datetime as dt
import enum
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import Table, and_, func, insert, select, update
from sqlalchemy.orm import selectinload

from questionnaires.problems import ProblemError
from survey import db
from survey.models import (
    AccessToken,
    Assignment,
    Campaign,
    Form,
    FormStatus,
    MailKind,
    Mode,
    OutboxMessage,
    OutboxStatus,
    Respondent,
    RespondentGroup,
    Unit,
    utcnow,
)
from survey.services.audit import record_audit
from survey.services.mail import (
    DEFAULT_LANGUAGE,
    LANGUAGES,
    MailConfigError,
    Outcome,
    SmtpSender,
    SmtpSettings,
    TemplateSource,
    build_message,
    make_message_id,
    render,
    smtp_settings,
    template_for,
)
from survey.services.tokens import hash_token, issue_respondent_token, issue_token

_ADVISORY_LOCK_KEY = 0x5041524D41494C  # "PARMAIL": serialises claims on PostgreSQL for the rate


def _cfg(key: str, default: float) -> float:
    value = current_app.config.get(key)
    return float(default if value is None else value)


def backoff_seconds(attempts: int, prefix: str = "MAIL") -> float:
    """Delay before attempt ``attempts + 1``: base * 2**(attempts-1), capped (``prefix``:
    ``MAIL`` or ``WEBHOOK`` config keys)."""
    base = _cfg(f"{prefix}_RETRY_BASE_SECONDS", 60)
    return min(base * 2 ** max(attempts - 1, 0), _cfg(f"{prefix}_RETRY_MAX_SECONDS", 3600))


# ---------------------------------------------------------------------------- queueing

@dataclass(frozen=True)
class QueueReport:
    queued: int
    already_queued: int
    no_email: int
    bounced: int


def _forms_query(campaign_id: int, group: str | None, unit: str | None) -> Any:
    stmt = (select(Form.id, Respondent.id, Respondent.email)
            .join(Respondent, Respondent.id == Form.respondent_id)
            .where(Form.campaign_id == campaign_id, Form.mode == Mode.WEB,
                   Form.status != FormStatus.SUBMITTED))
    if group:
        stmt = stmt.join(RespondentGroup, RespondentGroup.id == Form.group_id).where(
            RespondentGroup.code == group)
    if unit:
        stmt = stmt.where(select(Assignment.id).join(Unit, Unit.id == Assignment.rated_unit_id)
                          .where(Assignment.form_id == Form.id, Unit.code == unit).exists())
    return stmt.order_by(Form.id)


def _bounced_addresses(campaign_id: int) -> set[str]:
    return {a.lower() for a in db.session().scalars(select(OutboxMessage.to_address).where(
        OutboxMessage.campaign_id == campaign_id, OutboxMessage.status == OutboxStatus.BOUNCED))}


def _unfinished_by_respondent(campaign_id: int, group: str | None, unit: str | None
                             ) -> dict[int, str | None]:
    """Respondents with a web form not yet submitted (rating ``unit`` / of ``group``) and
    their address, in order of their first such form."""
    out: dict[int, str | None] = {}
    for _form_id, respondent_id, email in db.session().execute(
            _forms_query(campaign_id, group, unit)):
        out.setdefault(respondent_id, email)
    return out


def queue_invitations(campaign: Campaign, *, group: str | None = None, unit: str | None = None,
                      language: str = DEFAULT_LANGUAGE) -> QueueReport:
    """Queue one invitation per respondent with a web form not yet submitted (rating ``unit``
    / of ``group``): one message, listing the units, with the link to their home.

    Idempotent: a respondent already invited (in any state, per form before homes existed
    included) is not queued again.
    """
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {LANGUAGES}")
    now = utcnow()
    with db.write_transaction() as s:
        done = set(s.scalars(select(OutboxMessage.respondent_id).where(
            OutboxMessage.campaign_id == campaign.id, OutboxMessage.kind == MailKind.INVITATION)))
        bounced = _bounced_addresses(campaign.id)
        rows, already, no_email, skipped = [], 0, 0, 0
        for respondent_id, email in _unfinished_by_respondent(campaign.id, group, unit).items():
            if respondent_id in done:
                already += 1
            elif not email or not email.strip():
                no_email += 1
            elif email.strip().lower() in bounced:
                skipped += 1
            else:
                rows.append(_row(campaign.id, respondent_id, email, MailKind.INVITATION, 0,
                                 language, now))
        if rows:
            s.execute(insert(OutboxMessage), rows)
        record_audit("invite.queue", province_code=campaign.province_code, object_type="campaign",
                     object_id=campaign.code, detail={"queued": len(rows), "group": group,
                                                      "unit": unit, "language": language})
    return QueueReport(len(rows), already, no_email, skipped)


def _row(campaign_id: int, respondent_id: int, email: str, kind: MailKind, round_: int,
         language: str, now: dt.datetime) -> dict[str, Any]:
    return {"campaign_id": campaign_id, "form_id": None, "respondent_id": respondent_id,
            "to_address": email.strip(), "kind": kind, "round": round_, "language": language,
            "status": OutboxStatus.QUEUED, "attempts": 0, "next_attempt_at": now,
            "created_at": now}


_IN_FLIGHT = (OutboxStatus.QUEUED, OutboxStatus.CLAIMED, OutboxStatus.SENDING)


def queue_reminders(campaign: Campaign, *, after_days: float, group: str | None = None,
                    unit: str | None = None, now: dt.datetime | None = None) -> QueueReport:
    """Queue a reminder for each respondent with a web form not submitted whose invitation
    (and last reminder) was sent at least ``after_days`` ago; none while an earlier reminder
    is still on its way. The message lists only what is unfinished (see :func:`_claim`)."""
    now = now or utcnow()
    cutoff = now - dt.timedelta(days=after_days)
    with db.write_transaction() as s:
        invited: dict[int, OutboxMessage] = {}
        last: dict[int, OutboxMessage] = {}
        busy: set[int] = set()
        for m in s.scalars(select(OutboxMessage).where(OutboxMessage.campaign_id == campaign.id)
                           .order_by(OutboxMessage.round, OutboxMessage.id)):
            if m.kind is MailKind.INVITATION and m.status is OutboxStatus.SENT:
                invited[m.respondent_id] = m
            elif m.kind is MailKind.REMINDER:
                last[m.respondent_id] = m
                if m.status in _IN_FLIGHT:
                    busy.add(m.respondent_id)
        bounced = _bounced_addresses(campaign.id)
        rows, already, no_email, skipped = [], 0, 0, 0
        for respondent_id, email in _unfinished_by_respondent(campaign.id, group, unit).items():
            invitation = invited.get(respondent_id)
            if invitation is None or invitation.sent_at is None or invitation.sent_at > cutoff:
                continue
            previous = last.get(respondent_id)
            if respondent_id in busy or (
                    previous is not None and (previous.sent_at or previous.created_at) > cutoff):
                already += 1
                continue
            if not email or not email.strip():
                no_email += 1
            elif email.strip().lower() in bounced:
                skipped += 1
            else:
                rows.append(_row(campaign.id, respondent_id, email, MailKind.REMINDER,
                                 previous.round + 1 if previous else 1, invitation.language,
                                 utcnow()))
        if rows:
            s.execute(insert(OutboxMessage), rows)
        record_audit("invite.remind", province_code=campaign.province_code, object_type="campaign",
                     object_id=campaign.code, detail={"queued": len(rows),
                                                      "after_days": after_days})
    return QueueReport(len(rows), already, no_email, skipped)


def due_count(campaign_id: int | None = None) -> int:
    stmt = select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.status == OutboxStatus.QUEUED, OutboxMessage.next_attempt_at <= utcnow())
    if campaign_id is not None:
        stmt = stmt.where(OutboxMessage.campaign_id == campaign_id)
    return db.session().scalar(stmt) or 0


# ---------------------------------------------------------------------------- delivery

@dataclass
class _Job:
    id: int
    claim_id: str
    to_address: str
    name: str
    language: str
    kind: MailKind
    campaign_id: int
    context: dict[str, Any]
    token_id: int


@dataclass
class WorkReport:
    sent: int = 0
    bounced: int = 0
    retried: int = 0
    failed: int = 0
    uncertain: int = 0
    released: int = 0
    skipped: int = 0
    outcomes: list[tuple[int, str]] = field(default_factory=list)

    def count(self, outbox_id: int, status: OutboxStatus) -> None:
        self.outcomes.append((outbox_id, status.value))
        if status is OutboxStatus.SENT:
            self.sent += 1
        elif status is OutboxStatus.BOUNCED:
            self.bounced += 1
        elif status is OutboxStatus.UNCERTAIN:
            self.uncertain += 1
        elif status is OutboxStatus.FAILED:
            self.failed += 1
        else:
            self.retried += 1

    @property
    def processed(self) -> int:
        return self.sent + self.bounced + self.retried + self.failed + self.uncertain


def _deadline(closes_at: dt.datetime, language: str) -> str:
    tz = ZoneInfo(current_app.config.get("BABEL_DEFAULT_TIMEZONE") or "Asia/Ho_Chi_Minh")
    local = closes_at.astimezone(tz)
    return local.strftime("%d/%m/%Y") if language == "vi" else local.strftime("%d %B %Y")


def sweep_stale_claims(now: dt.datetime | None = None) -> tuple[int, int]:
    """Claims past the lease (their worker died): ``claimed`` rows go back to the queue (never
    attempted) and ``sending`` rows become ``uncertain`` (never resent). Returns both counts."""
    now = now or utcnow()
    stale = now - dt.timedelta(seconds=_cfg("MAIL_CLAIM_LEASE_SECONDS", 600))
    with db.write_transaction() as s:
        tokens = list(s.scalars(select(OutboxMessage.access_token_id).where(
            OutboxMessage.status == OutboxStatus.CLAIMED, OutboxMessage.claimed_at < stale,
            OutboxMessage.access_token_id.is_not(None))))
        _revoke(s, [t for t in tokens if t is not None])
        released = s.execute(update(OutboxMessage).where(
            OutboxMessage.status == OutboxStatus.CLAIMED, OutboxMessage.claimed_at < stale)
            .values(status=OutboxStatus.QUEUED, claim_id=None, access_token_id=None,
                    next_attempt_at=now))
        uncertain = s.execute(update(OutboxMessage).where(
            OutboxMessage.status == OutboxStatus.SENDING, OutboxMessage.claimed_at < stale)
            .values(status=OutboxStatus.UNCERTAIN,
                    last_error="worker stopped during delivery; delivery unknown"))
    return int(released.rowcount or 0), int(uncertain.rowcount or 0)  # type: ignore[attr-defined]


def _claim(batch: int, rate: int) -> tuple[list[_Job], list[str], float]:
    """Claim up to ``batch`` due rows; return jobs, their raw tokens, and seconds to wait when
    the rate limit allows none now."""
    now = utcnow()
    with db.own_transaction() as s:
        if rate > 0:
            if s.get_bind().dialect.name == "postgresql":
                s.execute(select(func.pg_advisory_xact_lock(_ADVISORY_LOCK_KEY)))
            window = now - dt.timedelta(seconds=60)
            recent = s.scalar(select(func.count()).select_from(OutboxMessage)
                              .where(OutboxMessage.claimed_at >= window)) or 0
            allowed = rate - recent
            if allowed <= 0:
                oldest = s.scalar(select(func.min(OutboxMessage.claimed_at))
                                  .where(OutboxMessage.claimed_at >= window))
                wait = ((oldest or now) + dt.timedelta(seconds=60) - now).total_seconds()
                return [], [], max(wait, 0.05)
            batch = min(batch, allowed)
        rows = list(s.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.status == OutboxStatus.QUEUED,
                   OutboxMessage.next_attempt_at <= now)
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(batch).with_for_update(skip_locked=True)))
        if not rows:
            return [], [], 0.0
        claim_id = uuid.uuid4().hex
        legacy = [r for r in rows if r.form_id is not None]
        forms = {f.id: f for f in s.scalars(
            select(Form).where(Form.id.in_([r.form_id for r in legacy])).options(
                selectinload(Form.respondent), selectinload(Form.campaign),
                selectinload(Form.assignments).selectinload(Assignment.rated_unit)))} \
            if legacy else {}
        people = _unfinished_units(s, [r.respondent_id for r in rows if r.form_id is None])
        campaigns = {c.id: c for c in s.scalars(select(Campaign).where(
            Campaign.id.in_({r.campaign_id for r in rows})))}
        public = str(current_app.config.get("PUBLIC_URL") or "").rstrip("/")
        claimed: list[tuple[OutboxMessage, str, dict[str, Any]]] = []
        for r in rows:
            lang = r.language
            if r.form_id is not None:  # queued per form before homes (leads home too)
                form = forms[r.form_id]
                raw = issue_token(form)
                name = form.respondent.full_name if form.respondent else ""
                units = [a.rated_unit.name(lang) for a in form.assignments]
            else:
                name, unfinished = people.get(r.respondent_id, ("", []))
                if not unfinished:
                    # everything was submitted after it was queued: nothing to ask for
                    r.status, r.last_error = OutboxStatus.CANCELLED, "nothing left unfinished"
                    continue
                raw = issue_respondent_token(r.respondent_id)
                units = list(dict.fromkeys(u.name(lang) for u in unfinished))
            r.status, r.claim_id, r.claimed_at = OutboxStatus.CLAIMED, claim_id, now
            campaign = campaigns[r.campaign_id]
            claimed.append((r, raw, {
                "name": name,
                "campaign": campaign.name(lang),
                "units": units,
                "deadline": _deadline(campaign.closes_at, lang),
                "link": f"{public}/s/{raw}",
            }))
        new_tokens = {t.token_hash: t for t in s.new if isinstance(t, AccessToken)}
        s.flush()
        jobs: list[_Job] = []
        raws: list[str] = []
        for r, raw, context in claimed:
            r.access_token_id = new_tokens[hash_token(raw)].id
            raws.append(raw)
            jobs.append(_Job(r.id, claim_id, r.to_address, context["name"], r.language, r.kind,
                             r.campaign_id, context, r.access_token_id))
    if not jobs:  # every row of the batch was cancelled: claim the next ones
        return _claim(batch, rate)
    return jobs, raws, 0.0


_TABLE = cast(Table, OutboxMessage.__table__)  # the per-message UPDATEs go through Core: no ORM objects


def _unfinished_units(s: Any, respondent_ids: list[int]
                      ) -> dict[int, tuple[str, list[Unit]]]:
    """Per respondent: their name and the units their web forms not yet submitted rate, in
    form and assignment order (one query for the batch)."""
    out: dict[int, tuple[str, list[Unit]]] = {}
    if not respondent_ids:
        return out
    for rid, name in s.execute(select(Respondent.id, Respondent.full_name)
                               .where(Respondent.id.in_(respondent_ids))):
        out[rid] = (name, [])
    for rid, unit in s.execute(
            select(Form.respondent_id, Unit)
            .join(Assignment, Assignment.form_id == Form.id)
            .join(Unit, Unit.id == Assignment.rated_unit_id)
            .where(Form.respondent_id.in_(respondent_ids), Form.mode == Mode.WEB,
                   Form.status != FormStatus.SUBMITTED)
            .order_by(Form.id, Assignment.id)):
        out[rid][1].append(unit)
    return out


def _ours(job: _Job, *statuses: OutboxStatus) -> Any:
    return and_(OutboxMessage.id == job.id, OutboxMessage.claim_id == job.claim_id,
                OutboxMessage.status.in_(statuses or (OutboxStatus.SENDING,
                                                      OutboxStatus.UNCERTAIN)))


def _revoke(s: Any, token_ids: list[int]) -> None:
    if token_ids:
        s.execute(update(AccessToken).where(AccessToken.id.in_(token_ids),
                                            AccessToken.revoked_at.is_(None))
                  .values(revoked_at=utcnow()))


def _start(s: Any, job: _Job | None) -> bool:
    """Mark ``job`` sending if it is still ours and unattempted (in the caller's transaction)."""
    if job is None:
        return False
    result = s.execute(update(_TABLE).where(_ours(job, OutboxStatus.CLAIMED))
                       .values(status=OutboxStatus.SENDING))
    return bool(result.rowcount)


def _release(jobs: list[_Job], at: dt.datetime, *statuses: OutboxStatus) -> None:
    """Claimed but not attempted (or refused before anything was sent): back to the queue,
    their tokens revoked."""
    if not jobs:
        return
    with db.own_transaction() as s:
        for job in jobs:
            s.execute(update(_TABLE).where(
                _ours(job, *(statuses or (OutboxStatus.CLAIMED,)))).values(
                status=OutboxStatus.QUEUED, claim_id=None, next_attempt_at=at,
                access_token_id=None))
        _revoke(s, [j.token_id for j in jobs])


def _record(job: _Job, outcome: Outcome, detail: str, message_id: str,
            following: _Job | None) -> tuple[OutboxStatus, bool]:
    """Record ``job``'s outcome and mark ``following`` sending, in one commit (on a Core
    connection: this runs once a message, and the ORM session adds nothing here)."""
    now = utcnow()
    with db.engine().connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
        status = _record_in(conn, job, outcome, detail, message_id, now)
        return status, _start(conn, following)


def _record_in(s: Any, job: _Job, outcome: Outcome, detail: str, message_id: str,
               now: dt.datetime) -> OutboxStatus:
    if outcome is Outcome.ACCEPTED:
        s.execute(update(_TABLE).where(_ours(job)).values(
            status=OutboxStatus.SENT, sent_at=now, message_id=message_id, last_error=None))
        return OutboxStatus.SENT
    if outcome is Outcome.UNKNOWN:
        s.execute(update(_TABLE).where(_ours(job)).values(
            status=OutboxStatus.UNCERTAIN, message_id=message_id, last_error=detail))
        return OutboxStatus.UNCERTAIN
    _revoke(s, [job.token_id])
    if outcome is Outcome.PERMANENT:
        s.execute(update(_TABLE).where(_ours(job)).values(
            status=OutboxStatus.BOUNCED, last_error=detail, access_token_id=None))
        s.execute(update(_TABLE).where(
            OutboxMessage.campaign_id == job.campaign_id,
            func.lower(OutboxMessage.to_address) == job.to_address.lower(),
            OutboxMessage.status == OutboxStatus.QUEUED).values(
                status=OutboxStatus.BOUNCED, last_error=f"address bounced earlier: {detail}"))
        return OutboxStatus.BOUNCED
    attempts = (s.scalar(select(_TABLE.c.attempts).where(_TABLE.c.id == job.id)) or 0) + 1
    status = (OutboxStatus.FAILED if attempts >= _cfg("MAIL_MAX_ATTEMPTS", 8)
              else OutboxStatus.QUEUED)
    s.execute(update(_TABLE).where(_ours(job)).values(
        status=status, attempts=attempts, last_error=detail, claim_id=None,
        access_token_id=None,
        next_attempt_at=now + dt.timedelta(seconds=backoff_seconds(attempts))))
    return status


class _Pacer:
    """At most ``rate`` sends a minute from this worker, evenly spaced."""

    def __init__(self, rate: int) -> None:
        self.interval = 60.0 / rate if rate > 0 else 0.0
        self.next_at = time.monotonic()

    def wait(self) -> None:
        if self.interval:
            now = time.monotonic()
            if self.next_at > now:
                time.sleep(self.next_at - now)
            self.next_at = max(self.next_at, now) + self.interval


def work(*, once: bool = True, batch_size: int = 100, settings: SmtpSettings | None = None,
         progress: Callable[[int], None] | None = None, poll_seconds: float = 5.0,
         max_messages: int | None = None,
         after_send: Callable[[int, Outcome], None] | None = None) -> WorkReport:
    """Deliver due messages. ``once``: until none is due now (sleeping for the rate limit);
    otherwise forever, polling. ``after_send`` (tests) runs between the SMTP outcome and its
    record, where a crash leaves the row uncertain.
    """
    settings = settings or smtp_settings()
    rate = settings.rate_per_minute
    if rate > 0:
        batch_size = max(1, min(batch_size, rate))
    sender = SmtpSender(settings)
    pacer = _Pacer(rate)
    report = WorkReport()
    templates: dict[tuple[int, MailKind, str], TemplateSource] = {}
    sweep_stale_claims()
    try:
        while max_messages is None or report.processed < max_messages:
            limit = batch_size if max_messages is None else min(
                batch_size, max_messages - report.processed)
            jobs, _raws, wait = _claim(limit, rate)
            if wait:
                time.sleep(min(wait, 1.0))
                continue
            if not jobs:
                if once:
                    break
                time.sleep(poll_seconds)
                sweep_stale_claims()
                continue
            _deliver(jobs, sender, pacer, settings, templates, report, progress, after_send)
    finally:
        sender.close()
    return report


def _deliver(jobs: list[_Job], sender: SmtpSender, pacer: _Pacer, settings: SmtpSettings,
             templates: dict[tuple[int, MailKind, str], TemplateSource], report: WorkReport,
             progress: Callable[[int], None] | None,
             after_send: Callable[[int, Outcome], None] | None) -> None:
    for key in {(j.campaign_id, j.kind, j.language) for j in jobs} - set(templates):
        templates[key] = template_for(*key)
    with db.own_transaction() as s:
        ours = _start(s, jobs[0])
    for i, job in enumerate(jobs):
        following = jobs[i + 1] if i + 1 < len(jobs) else None
        if not ours:  # swept away from us (we were too slow): someone else's now
            report.skipped += 1
            with db.own_transaction() as s:
                ours = _start(s, following)
            continue
        key = (job.campaign_id, job.kind, job.language)
        message_id = make_message_id(job.id, job.claim_id, settings.from_domain)
        msg = build_message(settings, to_name=job.name, to_address=job.to_address,
                            language=job.language, rendered=render(templates[key], job.context),
                            message_id=message_id)
        pacer.wait()
        result = sender.send(msg, job.to_address)
        if after_send is not None:
            after_send(job.id, result.outcome)
        if result.outcome is Outcome.SENDER_REFUSED:
            _release([job], utcnow(), OutboxStatus.SENDING)
            _release(jobs[i + 1:], utcnow())
            raise MailConfigError("MAIL-SENDER-REFUSED", sender=settings.mail_from, detail=result.detail)
        connection_lost = sender.conn is None
        status, ours = _record(job, result.outcome, result.detail, message_id,
                               None if connection_lost else following)
        report.count(job.id, status)
        if progress is not None:
            progress(1)
        if connection_lost and following is not None:
            # the server went away: leave the rest for the next run (after the same backoff
            # when the failure was temporary, at once after an uncertain one)
            rest = jobs[i + 1:]
            delay = 0 if status is OutboxStatus.UNCERTAIN else backoff_seconds(1)
            _release(rest, utcnow() + dt.timedelta(seconds=delay))
            report.released += len(rest)
            if progress is not None:
                progress(len(rest))
            return


# ---------------------------------------------------------------------------- for the contractor

@dataclass(frozen=True)
class Problem:
    outbox_id: int
    respondent_id: int
    full_name: str
    email: str
    kind: str
    status: str
    detail: str | None
    at: dt.datetime | None


def _problems(campaign_id: int, statuses: list[OutboxStatus]) -> list[Problem]:
    rows = db.session().execute(
        select(OutboxMessage, Respondent.full_name)
        .join(Respondent, Respondent.id == OutboxMessage.respondent_id)
        .where(OutboxMessage.campaign_id == campaign_id, OutboxMessage.status.in_(statuses))
        .order_by(OutboxMessage.id))
    return [Problem(m.id, m.respondent_id, name, m.to_address, m.kind.value, m.status.value,
                    m.last_error, m.claimed_at) for m, name in rows]


def bounced_recipients(campaign_id: int) -> list[Problem]:
    """Messages refused for good (5xx): wrong addresses to correct in the list."""
    return _problems(campaign_id, [OutboxStatus.BOUNCED])


def uncertain_messages(campaign_id: int) -> list[Problem]:
    """Messages that may or may not have arrived (includes claims past their lease)."""
    sweep_stale_claims()
    return _problems(campaign_id, [OutboxStatus.UNCERTAIN])


def failed_messages(campaign_id: int) -> list[Problem]:
    return _problems(campaign_id, [OutboxStatus.FAILED])


class NotUncertain(ProblemError, ValueError):
    """The message is not waiting for a decision (OUTBOX-NOT-UNCERTAIN)."""


def resolve_uncertain(outbox_id: int, *, delivered: bool, actor_email: str | None = None) -> None:
    """The contractor's decision on an uncertain message (e.g. after asking the respondent or
    reading the mail server's log for its Message-ID)."""
    with db.write_transaction() as s:
        m = s.get(OutboxMessage, outbox_id)
        if m is None or m.status is not OutboxStatus.UNCERTAIN:
            raise NotUncertain("OUTBOX-NOT-UNCERTAIN", id=outbox_id)
        if delivered:
            m.status, m.sent_at = OutboxStatus.SENT, m.claimed_at or utcnow()
        else:
            _revoke(s, [m.access_token_id] if m.access_token_id else [])
            m.status, m.claim_id, m.access_token_id = OutboxStatus.QUEUED, None, None
            m.next_attempt_at = utcnow()
        campaign = s.get(Campaign, m.campaign_id)
        record_audit("invite.resolve", actor_email=actor_email,
                     province_code=campaign.province_code if campaign else None,
                     object_type="outbox_message", object_id=outbox_id,
                     detail={"delivered": delivered})


def status_counts(model: Any, statuses: type[enum.Enum], campaign_id: int) -> dict[str, int]:
    """How many rows of ``model`` (a queue: the mail outbox, webhook deliveries) the campaign
    has in each of ``statuses``, every status named (0 when none)."""
    rows = db.session().execute(
        select(model.status, func.count()).where(model.campaign_id == campaign_id)
        .group_by(model.status))
    summary = {s.value: 0 for s in statuses}
    summary.update({status.value: n for status, n in rows})
    return summary


def outbox_summary(campaign_id: int) -> dict[str, int]:
    """The campaign's mail messages per status."""
    return status_counts(OutboxMessage, OutboxStatus, campaign_id)


@dataclass(frozen=True)
class RespondentTracking:
    respondent_id: int
    full_name: str
    email: str | None
    form_id: int
    form_status: str
    invitation_status: str | None  # queued, sending, sent, bounced, failed, uncertain
    invited_at: dt.datetime | None
    reminders_sent: int
    last_reminded_at: dt.datetime | None
    bounced: bool
    opened_at: dt.datetime | None
    started_at: dt.datetime | None
    submitted_at: dt.datetime | None


def respondent_tracking(campaign_id: int) -> list[RespondentTracking]:
    """Per respondent and form: invited, bounced, link opened, started, completed (a message
    to a respondent's home counts for each of their forms)."""
    s = db.session()
    mails: dict[int, list[OutboxMessage]] = {}
    to_person: dict[int, list[OutboxMessage]] = {}
    for m in s.scalars(select(OutboxMessage).where(OutboxMessage.campaign_id == campaign_id)
                       .order_by(OutboxMessage.id)):
        if m.form_id is None:
            to_person.setdefault(m.respondent_id, []).append(m)
        else:
            mails.setdefault(m.form_id, []).append(m)
    out = []
    for form, person in s.execute(
            select(Form, Respondent).join(Respondent, Respondent.id == Form.respondent_id)
            .where(Form.campaign_id == campaign_id).order_by(Respondent.id, Form.id)):
        ms = mails.get(form.id, []) + to_person.get(person.id, [])
        invitation = next((m for m in ms if m.kind is MailKind.INVITATION), None)
        reminders = [m for m in ms if m.kind is MailKind.REMINDER
                     and m.status is OutboxStatus.SENT]
        out.append(RespondentTracking(
            respondent_id=person.id, full_name=person.full_name, email=person.email,
            form_id=form.id, form_status=form.status.value,
            invitation_status=invitation.status.value if invitation else None,
            invited_at=invitation.sent_at if invitation else None,
            reminders_sent=len(reminders),
            last_reminded_at=max((m.sent_at for m in reminders if m.sent_at), default=None),
            bounced=any(m.status is OutboxStatus.BOUNCED for m in ms),
            opened_at=form.opened_at, started_at=form.started_at,
            submitted_at=form.submitted_at))
    return out
