"""Public QR links: a poster per unit at its service counter; each visit gets a fresh form.

A link is one row per (campaign, group, questionnaire version, rated unit). Its printed code is
``base32(HMAC(SECRET_KEY, "public:<id>:<generation>"))[:20]`` (100 bits), derived and never
stored: the row keeps only the code's SHA-256, so posters can be printed again at any time,
and :func:`rotate_public_links` (``generation + 1``) retires every printed copy at once.

Pressing "Start" (:func:`start_public_form`) creates a form with mode ``public`` and no
respondent, one assignment for the unit and a fresh access token (its hash only; the visit runs
on the signed session, like a personal link after it is opened). Limits, all counted in the
shared store of :func:`survey.services.ratelimit.failure_counter` under hashed keys:

1. a browser that holds an unsubmitted public form of the link resumes it, creating nothing;
2. per browser (a random id in the signed session cookie) per link per local day:
   ``PUBLIC_PER_DEVICE_PER_DAY``;
3. per device as the server sees it (keyed hash of user agent + network prefix) per link per
   local day: ``PUBLIC_PER_AGENT_PER_DAY``. Higher than (2) because phones of one model share
   a user agent and everyone at a counter's Wi-Fi (or behind a carrier's NAT) shares a network:
   it stops private windows from resetting (2) without turning away the next citizen;
4. per network prefix per link per hour: ``PUBLIC_PER_NETWORK_PER_HOUR``;
5. per link per local day, ``daily_cap`` public forms: counted inside the write transaction
   after locking the link row (``FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE``
   already serialises writers), so concurrent scans cannot overshoot.

A refused visit writes nothing. Invalid codes count against the network like invalid personal
links (:func:`survey.services.responding.open_link`). Codes and tokens are never logged.
"""

from __future__ import annotations

import base64
import datetime as dt
import enum
import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session, selectinload

from questionnaires.problems import ProblemError
from survey import db
from survey.models import (
    Assignment,
    Campaign,
    Form,
    FormStatus,
    Mode,
    PublicLink,
    QuotaCell,
    RespondentGroup,
    Unit,
    utcnow,
)
from survey.services.audit import record_audit
from survey.services.cards import Poster
from survey.services.paradata import ClientInfo
from survey.services.quotas import closed_units
from survey.services.ratelimit import failure_counter
from survey.services.responding import (
    Availability,
    TooManyAttempts,
    campaign_availability,
    create_public_form,
    lookup_limited,
)
from survey.services.tokens import hash_token

log = logging.getLogger(__name__)

CODE_LENGTH = 20  # base32 characters: 100 bits
CODE_RE = re.compile(rf"^[a-z2-7]{{{CODE_LENGTH}}}$")
DAY = dt.timedelta(days=1)
HOUR = dt.timedelta(hours=1)
SESSION_FORMS_KEPT = 20  # public forms a browser remembers (one per link)


class PublicLinkError(ProblemError, ValueError):
    """A request to create or change links that names something that does not exist."""


class Refusal(enum.Enum):
    NOT_FOUND = "not_found"  # unknown, rotated or revoked code: the same 404 as bad links
    TOO_MANY_INVALID = "too_many_invalid"  # the network opened too many invalid links
    CLOSED = "closed"
    NOT_YET = "not_yet"
    QUOTA_FULL = "quota_full"  # the unit's close-when-full cells are full
    DEVICE_LIMIT = "device_limit"  # this browser / device started enough forms today
    NETWORK_LIMIT = "network_limit"  # this network started enough forms this hour
    DAILY_CAP = "daily_cap"  # the link's cap for today is reached


@dataclass(frozen=True)
class Visitor:
    """What the browser's signed session says: its random id and its public forms by link."""

    browser: str = ""
    forms: Mapping[int, int] | None = None  # link id -> form id


@dataclass(frozen=True)
class PublicStart:
    """The outcome of pressing "Start": a form to enter (new or resumed) or a refusal."""

    form_id: int | None = None
    link_id: int | None = None
    resumed: bool = False
    begun: bool = False  # the resumed form has a page saved: enter it at the landing page
    refusal: Refusal | None = None
    campaign: Campaign | None = None  # for the closed / not-yet pages
    unit: Unit | None = None  # named on the refusal page


@dataclass(frozen=True)
class PublicLinkRow:
    """One link as staff see it (``par-survey public list``)."""

    link_id: int
    group: str
    unit_code: str
    unit_name: str
    daily_cap: int
    today: int
    generation: int
    revoked: bool
    url: str


# --- codes -----------------------------------------------------------------------------

def public_code(link: PublicLink) -> str:
    """The printed code of ``link``'s current generation (derived from the server secret)."""
    secret = current_app.config["SECRET_KEY"].encode("utf-8")
    digest = hmac.new(secret, f"public:{link.id}:{link.generation}".encode(),
                      hashlib.sha256).digest()
    return base64.b32encode(digest).decode("ascii").lower()[:CODE_LENGTH]


def public_url(link: PublicLink, base_url: str | None = None) -> str:
    """``<PUBLIC_URL>/q/<code>``: what the poster's QR holds."""
    base = base_url or current_app.config["PUBLIC_URL"]
    return f"{base.rstrip('/')}/q/{public_code(link)}"


def _normal(code: str) -> str | None:
    code = (code or "").strip().lower()
    return code if CODE_RE.match(code) else None


def find_public_link(code: str) -> PublicLink | None:
    """The live link a code opens, or None (unknown, rotated and revoked look the same)."""
    normal = _normal(code)
    if normal is None:
        return None
    return db.session().scalar(
        select(PublicLink).where(PublicLink.code_hash == hash_token(normal),
                                 PublicLink.revoked_at.is_(None))
        .options(selectinload(PublicLink.campaign), selectinload(PublicLink.rated_unit),
                 selectinload(PublicLink.group), selectinload(PublicLink.questionnaire_version)))


def open_public_link(code: str, client: ClientInfo) -> PublicLink | Refusal:
    """The link for the landing page, or why not; an invalid code counts against the network
    like an invalid personal link (:func:`survey.services.responding.lookup_limited`)."""
    try:
        link = lookup_limited(lambda: find_public_link(code), client, "public code")
    except TooManyAttempts:
        return Refusal.TOO_MANY_INVALID
    return link if link is not None else Refusal.NOT_FOUND


# --- starting a form -------------------------------------------------------------------

def local_day_start(now: dt.datetime) -> dt.datetime:
    """Midnight of ``now``'s day in the campaign time zone, in UTC ("today" for the caps)."""
    tz = ZoneInfo(current_app.config.get("BABEL_DEFAULT_TIMEZONE") or "Asia/Ho_Chi_Minh")
    local = now.astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0)
    return local.astimezone(dt.UTC)


def _public_forms(link: PublicLink) -> tuple[ColumnElement[bool], ...]:
    """Conditions selecting the public forms of ``link`` (joined to their assignment)."""
    return (Form.campaign_id == link.campaign_id, Form.group_id == link.group_id,
            Form.questionnaire_version_id == link.questionnaire_version_id,
            Form.mode == Mode.PUBLIC, Assignment.form_id == Form.id,
            Assignment.rated_unit_id == link.rated_unit_id)


def count_public_forms(s: Session, link: PublicLink, since: dt.datetime) -> int:
    """Public forms of ``link`` created since ``since`` (submitted or not)."""
    return s.scalar(select(func.count(Form.id)).select_from(Form).join(Assignment).where(
        *_public_forms(link), Form.created_at >= since)) or 0


def _resumable(s: Session, link: PublicLink, form_id: int | None) -> FormStatus | None:
    """The status of ``form_id`` if it is an unsubmitted public form of ``link``, else None."""
    if not isinstance(form_id, int):
        return None
    return s.scalar(select(Form.status).join(Assignment).where(
        *_public_forms(link), Form.id == form_id,
        Form.status != FormStatus.SUBMITTED))


def can_resume(link: PublicLink, visitor: Visitor) -> bool:
    """Whether this browser holds an unsubmitted form of ``link`` (pressing Start resumes it)."""
    return _resumable(db.session(), link, (visitor.forms or {}).get(link.id)) is not None


def _limit_keys(link: PublicLink, client: ClientInfo, browser: str) -> dict[str, str]:
    """The counter keys of this visit: hashes only (the address and agent are already keyed)."""
    mask = (1 << 64) - 1
    net = f"{client.network_hash & mask:016x}"
    keys: dict[str, str] = {}
    if client.network_hash:  # an unknown address (0) cannot tell visitors apart: not counted
        keys = {"network": f"pub-n:{link.id}:{net}",
                "agent": f"pub-d:{link.id}:{net}{client.device_hash & mask:016x}"}
    if browser:
        secret = current_app.config["SECRET_KEY"].encode("utf-8")
        b = hmac.new(secret, f"public-browser:{browser}".encode(), hashlib.sha256).hexdigest()
        keys["browser"] = f"pub-b:{link.id}:{b[:32]}"
    return keys


def start_public_form(code: str, client: ClientInfo, visitor: Visitor) -> PublicStart:
    """Start (or resume) this browser's form for the link ``code`` names; see the module doc.

    Everything is decided in one write transaction with the link row locked; a refusal writes
    nothing (only an invalid code is counted, against the network).
    """
    found = open_public_link(code, client)
    if isinstance(found, Refusal):
        return PublicStart(refusal=found)
    link = found
    availability = campaign_availability(link.campaign)
    if availability is not Availability.OPEN:
        return PublicStart(refusal=Refusal.CLOSED if availability is Availability.CLOSED
                           else Refusal.NOT_YET, campaign=link.campaign)
    config = current_app.config
    counter = failure_counter()
    keys = _limit_keys(link, client, visitor.browser)
    with db.write_transaction() as s:
        locked = s.scalar(select(PublicLink).where(PublicLink.id == link.id)
                          .with_for_update())
        if locked is None or locked.revoked_at is not None or locked.code_hash != link.code_hash:
            return PublicStart(refusal=Refusal.NOT_FOUND)  # rotated or revoked meanwhile
        previous = (visitor.forms or {}).get(link.id)
        status = _resumable(s, link, previous)
        if status is not None:
            return PublicStart(form_id=previous, link_id=link.id, resumed=True,
                               begun=status is FormStatus.STARTED)
        now = utcnow()
        today = local_day_start(now)
        refusal = None
        if closed_units(s, link.campaign_id, link.group_id, link.questionnaire_version_id,
                        [link.rated_unit_id]):
            refusal = Refusal.QUOTA_FULL
        elif count_public_forms(s, link, today) >= locked.daily_cap:
            refusal = Refusal.DAILY_CAP
        elif ("browser" in keys and counter.count(keys["browser"], today)
              >= config["PUBLIC_PER_DEVICE_PER_DAY"]):
            refusal = Refusal.DEVICE_LIMIT
        elif ("agent" in keys and counter.count(keys["agent"], today)
              >= config["PUBLIC_PER_AGENT_PER_DAY"]):
            refusal = Refusal.DEVICE_LIMIT
        elif ("network" in keys and counter.count(keys["network"], now - HOUR)
              >= config["PUBLIC_PER_NETWORK_PER_HOUR"]):
            refusal = Refusal.NETWORK_LIMIT
        if refusal is not None:
            log.info("public link %d: visit refused (%s)", link.id, refusal.value)
            return PublicStart(refusal=refusal, campaign=link.campaign, unit=link.rated_unit)
        form_id = create_public_form(s, link, client, now)
        # the day-long keys outlive the day on purpose: counts start at local midnight
        daily = [k for name, k in keys.items() if name != "network"]
        if daily:
            counter.add(daily, now, DAY)
        if "network" in keys:
            counter.add([keys["network"]], now, HOUR)
    return PublicStart(form_id=form_id, link_id=link.id)


def new_browser_id() -> str:
    """A random id for a browser's session (only its keyed hash reaches the counters)."""
    return secrets.token_urlsafe(12)


# --- staff: create, list, rotate, revoke -------------------------------------------------

def _group(s: Session, campaign: Campaign, group: str) -> RespondentGroup:
    row = s.scalar(select(RespondentGroup).filter_by(campaign_id=campaign.id, code=group))
    if row is None:
        raise PublicLinkError("PUBLIC-GROUP-UNKNOWN", campaign=campaign.code, group=group)
    return row


def _units(s: Session, campaign: Campaign, codes: Sequence[str]) -> dict[str, Unit]:
    rows = {u.code: u for u in s.scalars(select(Unit).where(
        Unit.campaign_id == campaign.id, Unit.code.in_(list(codes))))}
    unknown = [c for c in codes if c not in rows]
    if unknown:
        raise PublicLinkError("PUBLIC-UNIT-UNKNOWN", campaign=campaign.code,
                              units=", ".join(unknown))
    return rows


def create_public_links(campaign: Campaign, group: str, units: Sequence[str] = (),
                        daily_cap: int | None = None) -> list[PublicLink]:
    """Links for ``group`` rating ``units`` (default: every unit the group's quota cells rate),
    one per (questionnaire version, unit) of those cells; idempotent: existing links are kept
    (with ``daily_cap`` updated when given). Returns the selected links. Audited."""
    if daily_cap is not None and daily_cap < 0:
        raise PublicLinkError("PUBLIC-DAILY-CAP")
    cap = daily_cap if daily_cap is not None else int(current_app.config["PUBLIC_DAILY_CAP"])
    with db.write_transaction() as s:
        g = _group(s, campaign, group)
        wanted = _units(s, campaign, units) if units else {}
        pairs = s.execute(select(QuotaCell.questionnaire_version_id, QuotaCell.rated_unit_id)
                          .distinct().where(QuotaCell.campaign_id == campaign.id,
                                            QuotaCell.group_id == g.id)).all()
        if wanted:
            ids = {u.id for u in wanted.values()}
            pairs = [p for p in pairs if p[1] in ids]
            rated = {p[1] for p in pairs}
            missing = [c for c, u in wanted.items() if u.id not in rated]
            if missing:
                raise PublicLinkError("PUBLIC-UNIT-NOT-RATED", group=group, campaign=campaign.code,
                                      units=", ".join(missing))
        if not pairs:
            raise PublicLinkError("PUBLIC-GROUP-NO-CELLS", group=group, campaign=campaign.code)
        existing = {(x.questionnaire_version_id, x.rated_unit_id): x for x in s.scalars(
            select(PublicLink).where(PublicLink.campaign_id == campaign.id,
                                     PublicLink.group_id == g.id))}
        out: list[PublicLink] = []
        created = 0
        for version_id, unit_id in sorted(set(pairs)):
            link = existing.get((version_id, unit_id))
            if link is None:
                # a unique placeholder until the id (which the code depends on) is known
                link = PublicLink(campaign_id=campaign.id, group_id=g.id,
                                  questionnaire_version_id=version_id, rated_unit_id=unit_id,
                                  generation=1, daily_cap=cap, created_at=utcnow(),
                                  code_hash=secrets.token_hex(32))
                s.add(link)
                s.flush()
                link.code_hash = hash_token(public_code(link))
                created += 1
            elif daily_cap is not None:
                link.daily_cap = daily_cap
            out.append(link)
        record_audit("public.create", province_code=campaign.province_code,
                     object_type="campaign", object_id=campaign.code,
                     detail={"group": group, "links": len(out), "created": created,
                             "daily_cap": daily_cap})
    return out


def select_public_links(campaign: Campaign, group: str | None = None,
                        units: Sequence[str] = ()) -> list[PublicLink]:
    """The campaign's links (revoked ones too), optionally of one group and some units."""
    s = db.session()
    stmt = (select(PublicLink).join(Unit, Unit.id == PublicLink.rated_unit_id)
            .join(RespondentGroup, RespondentGroup.id == PublicLink.group_id)
            .where(PublicLink.campaign_id == campaign.id)
            .options(selectinload(PublicLink.rated_unit), selectinload(PublicLink.group),
                     selectinload(PublicLink.questionnaire_version))
            .order_by(Unit.code, RespondentGroup.code, PublicLink.id))
    if group:
        stmt = stmt.where(PublicLink.group_id == _group(s, campaign, group).id)
    if units:
        stmt = stmt.where(PublicLink.rated_unit_id.in_(
            [u.id for u in _units(s, campaign, units).values()]))
    return list(s.scalars(stmt))


def list_public_links(campaign: Campaign, group: str | None = None, units: Sequence[str] = (),
                      lang: str = "vi") -> list[PublicLinkRow]:
    """Each link with its cap, today's public forms and its URL (the code is derived)."""
    links = select_public_links(campaign, group, units)
    today = local_day_start(utcnow())
    counts = {(g, v, u): n for g, v, u, n in db.session().execute(
        select(Form.group_id, Form.questionnaire_version_id, Assignment.rated_unit_id,
               func.count(Form.id)).join(Assignment)
        .where(Form.campaign_id == campaign.id, Form.mode == Mode.PUBLIC,
               Form.created_at >= today)
        .group_by(Form.group_id, Form.questionnaire_version_id, Assignment.rated_unit_id))}
    return [PublicLinkRow(
        link_id=x.id, group=x.group.code, unit_code=x.rated_unit.code,
        unit_name=x.rated_unit.name(lang), daily_cap=x.daily_cap,
        today=counts.get((x.group_id, x.questionnaire_version_id, x.rated_unit_id), 0),
        generation=x.generation, revoked=x.revoked_at is not None, url=public_url(x))
        for x in links]


def public_posters(campaign: Campaign, group: str | None = None, units: Sequence[str] = (),
                   base_url: str | None = None) -> tuple[list[PublicLink], list[Poster]]:
    """The live links selected and a poster for each (their codes are derived, so printing
    again gives the same posters until the links are rotated)."""
    links = [x for x in select_public_links(campaign, group, units) if x.revoked_at is None]
    return links, [Poster(unit_vi=x.rated_unit.name_vi, unit_en=x.rated_unit.name_en or "",
                          group=x.group.name("vi"), url=public_url(x, base_url)) for x in links]


def rotate_public_links(campaign: Campaign, group: str | None = None,
                        units: Sequence[str] = ()) -> list[PublicLink]:
    """New codes for the selected links (revoked ones come back to life): every poster
    printed before stops working; print them again. Audited."""
    return _change(campaign, group, units, rotate=True)


def revoke_public_links(campaign: Campaign, group: str | None = None,
                        units: Sequence[str] = ()) -> list[PublicLink]:
    """Stop the selected links (their posters answer 404); forms already started go on.
    :func:`rotate_public_links` brings a link back with a new code. Audited."""
    return _change(campaign, group, units, rotate=False)


def _change(campaign: Campaign, group: str | None, units: Sequence[str],
            rotate: bool) -> list[PublicLink]:
    ids = [x.id for x in select_public_links(campaign, group, units)]
    with db.write_transaction() as s:
        links = list(s.scalars(select(PublicLink).where(PublicLink.id.in_(ids))
                               .order_by(PublicLink.id).with_for_update()))
        now = utcnow()
        for link in links:
            if rotate:
                link.generation += 1
                link.code_hash = hash_token(public_code(link))
                link.revoked_at = None
            elif link.revoked_at is None:
                link.revoked_at = now
        record_audit("public.rotate" if rotate else "public.revoke",
                     province_code=campaign.province_code, object_type="campaign",
                     object_id=campaign.code,
                     detail={"group": group, "units": list(units), "links": len(links)})
    return links
