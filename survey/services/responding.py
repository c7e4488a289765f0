"""The respondent's flow: a form's context read in one query, and every write a respondent
makes: a link opened, a page saved, the submit (responses, the quota check, the paradata
rows), a public QR form started.

How the writes reach the database is chosen once per engine, by :func:`write_path`: on
PostgreSQL a link's first opening and a page save are one statement each (data-modifying
CTEs), run in autocommit when no unit of work is open, so they cost no BEGIN and COMMIT round
trips; everywhere else, and whenever that does not apply, they run in a transaction. No
other function asks which database it runs on.

One unit of work per request or CLI command. The steps that take a session
(:func:`store_submission`, :func:`record_open`, :func:`create_public_form`) write in the
caller's transaction and only flush; the functions a view calls (:func:`open_link`,
:func:`open_form`, :func:`save_page`, :func:`submit_form`) are the edge: each opens one
:func:`survey.db.write_transaction`, which commits. A caller combining several steps (paper
entry, :mod:`survey.services.paper`) opens one transaction around them all, so they succeed
or fail together.

A :class:`FormContext` is immutable: :func:`save_page` returns the context as saved.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import hmac
import logging
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from flask import current_app
from sqlalchemy import (
    BigInteger,
    String,
    bindparam,
    cast,
    delete,
    exists,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from analysis.integrity import Mode as ScanMode
from questionnaires import Questionnaire
from survey import db
from survey.models import (
    Assignment,
    Campaign,
    CampaignStatus,
    Draft,
    Form,
    FormParadata,
    FormStatus,
    Mode,
    PublicLink,
    QuestionnaireVersion,
    RespondentGroup,
    Response,
    ResponseStatus,
    Unit,
    utcnow,
)
from survey.models.integrity import ResponseParadata
from survey.models.quota import QuotaCell
from survey.services.paradata import (
    MAX_LINK_DEVICES,
    MAX_PAGE_SECONDS,
    SCAN_MODE,
    ClientInfo,
    PageState,
    PageTiming,
    coarse_time,
)
from survey.services.questionnaires import questionnaire_by_version
from survey.services.quotas import cell_of_public_form, closed_units
from survey.services.ratelimit import failure_counter
from survey.services.tokens import Link, LinkedForm, find_link, issue_token
from survey.services.webhooks import queue_submitted

log = logging.getLogger(__name__)

Answers = dict[str, dict[str, Any]]  # assignment id (as text) -> question id -> value


class Availability(enum.Enum):
    OPEN = "open"
    NOT_YET = "not_yet"
    CLOSED = "closed"


class SubmitOutcome(enum.Enum):
    SUBMITTED = "submitted"
    ALREADY_SUBMITTED = "already_submitted"
    INCOMPLETE = "incomplete"
    CLOSED = "closed"
    QUOTA_FULL = "quota_full"  # every unit it rates is in a full close-when-full cell


class _Named:
    name_vi: str
    name_en: str | None

    def name(self, lang: str) -> str:
        return self.name_en if lang == "en" and self.name_en else self.name_vi


@dataclass(frozen=True)
class UnitInfo(_Named):
    id: int
    code: str
    name_vi: str
    name_en: str | None


@dataclass(frozen=True)
class GroupInfo(_Named):
    id: int
    code: str
    name_vi: str
    name_en: str | None


@dataclass(frozen=True)
class CampaignInfo(_Named):
    """What the respondent's pages need of a campaign; status and dates are read every request."""

    id: int
    code: str
    province_code: str
    name_vi: str
    name_en: str | None
    status: CampaignStatus
    opens_at: dt.datetime
    closes_at: dt.datetime


@dataclass(frozen=True)
class FormInfo:
    id: int
    campaign_id: int
    group_id: int
    questionnaire_version_id: int
    mode: Mode
    status: FormStatus
    group: GroupInfo


@dataclass(frozen=True)
class AssignmentInfo:
    id: int
    rated_unit_id: int
    rated_unit: UnitInfo
    cell_id: int | None = None  # the quota cell it counts in


@dataclass(frozen=True)
class FormContext:
    """A form as its pages need it: plain values read in one query (see :func:`load_form`).

    Never changed in place (nor its ``answers``): :func:`save_page` returns the context as
    saved."""

    form: FormInfo
    campaign: CampaignInfo
    questionnaire: Questionnaire
    assignments: tuple[AssignmentInfo, ...]
    answers: Answers
    paradata: PageState = field(default_factory=PageState)

    @property
    def units(self) -> tuple[UnitInfo, ...]:
        return tuple(a.rated_unit for a in self.assignments)

    @property
    def submitted(self) -> bool:
        return self.form.status is FormStatus.SUBMITTED

    def answers_for(self, assignment: AssignmentInfo) -> dict[str, Any]:
        return self.answers.get(str(assignment.id), {})

    def page_has_questions(self, index: int, assignment: AssignmentInfo) -> bool:
        visible = self.questionnaire.visible_answers(self.answers_for(assignment))
        return any(q.visible(visible) for q in self.questionnaire.sections[index].questions)

    def first_incomplete_section(self) -> int | None:
        """Index of the first page with a visible required question left unanswered."""
        for a in self.assignments:
            missing = {q.id for q in self.questionnaire.missing_required(self.answers_for(a))}
            for i, section in enumerate(self.questionnaire.sections):
                if any(q.id in missing for q in section.questions):
                    return i
        return None


def campaign_availability(campaign: Campaign | CampaignInfo, now: dt.datetime | None = None) -> Availability:
    now = now or utcnow()
    if campaign.status is CampaignStatus.CLOSED or now >= campaign.closes_at:
        return Availability.CLOSED
    if campaign.status is CampaignStatus.DRAFT or now < campaign.opens_at:
        return Availability.NOT_YET
    return Availability.OPEN


class TooManyAttempts(Exception):
    """Too many invalid links from one network: guessing tokens is slowed down."""


T = TypeVar("T")

TOKEN_FAILURE_WINDOW = dt.timedelta(minutes=15)
MAX_TOKEN_FAILURES = 50  # per network prefix; offices share one address, so not too low


def lookup_limited(lookup: Callable[[], T | None], client: ClientInfo | None,
                   what: str) -> T | None:
    """``lookup()`` of a link or code under the per-network limit on invalid ones.

    Invalid links (personal tokens and public QR codes alike) are counted per network prefix
    in storage all workers share; past the limit every lookup from that network raises
    :class:`TooManyAttempts` for a while. A miss is logged as a count, never the value.
    """
    counter = failure_counter()
    key = f"token:{client.network_hash if client else 0:x}"
    now = utcnow()
    if counter.count(key, now - TOKEN_FAILURE_WINDOW) >= MAX_TOKEN_FAILURES:
        raise TooManyAttempts
    found = lookup()
    if found is None:
        with db.write_transaction():
            counter.add([key], now, TOKEN_FAILURE_WINDOW)
        log.warning("invalid %s from network %s: %d in the last %d minutes", what, key[6:14],
                    counter.count(key, now - TOKEN_FAILURE_WINDOW),
                    TOKEN_FAILURE_WINDOW.seconds // 60)
    return found


# --- how the writes reach the database ----------------------------------------------------

class WritePath:
    """How the respondent's reads and writes reach the database: the generic path, every
    write in a transaction (:func:`survey.db.write_transaction`); its one-statement writes
    write nothing and say so. Chosen once per engine by :func:`write_path`."""

    def reads(self, s: Session) -> Connection:
        """The connection a request's first reads run on."""
        return s.connection()

    def first_open(self, s: Session, form_id: int, client: ClientInfo, now: dt.datetime
                   ) -> bool:
        """A pending form's first opening in one statement: whether it was written (False:
        not here, or opened meanwhile; write it in a transaction)."""
        return False

    def save_page(self, s: Session, ctx: FormContext, values: dict[str, Any]
                  ) -> tuple[bool, bool] | None:
        """A page save in one statement (``values``: :func:`page_params` with the draft's):
        whether it wrote the draft and the page's paradata, the rest being left to the
        transaction; None: refused, the form was submitted meanwhile (or is gone)."""
        return False, False


class OneStatementPath(WritePath):
    """PostgreSQL: reads that start a request run in autocommit (each statement its own
    snapshot), saving BEGIN and COMMIT; so does a write that fits in one statement
    (data-modifying CTEs: :data:`_FIRST_OPEN`, :data:`_SAVE_STARTED`, :data:`_SAVE_BEGUN`)
    when no unit of work is open in the session."""

    def reads(self, s: Session) -> Connection:
        if not s.in_transaction():
            return s.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        return s.connection()

    def _alone(self, s: Session) -> Connection | None:
        """The session's connection if it runs each statement as its own transaction."""
        conn = self.reads(s)
        return conn if conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT" else None

    def first_open(self, s: Session, form_id: int, client: ClientInfo, now: dt.datetime
                   ) -> bool:
        conn = self._alone(s)
        return conn is not None and bool(conn.execute(_FIRST_OPEN, {
            "fid": form_id, "now": now, "v_link_devices": opening_devices(client)}).rowcount)

    def save_page(self, s: Session, ctx: FormContext, values: dict[str, Any]
                  ) -> tuple[bool, bool] | None:
        conn = self._alone(s)
        cells = sorted({a.cell_id for a in ctx.assignments if a.cell_id is not None})
        started = ctx.form.status is FormStatus.STARTED
        if conn is None or not (started or len(cells) <= 1):
            return False, False  # (begun here in several cells: locked in order, in a transaction)
        one = (_SAVE_STARTED if started
               else _SAVE_BEGUN[(ctx.form.mode is Mode.PUBLIC) if cells else None])
        gate, draft, page, *_ = conn.execute(one, {**values, "cid": cells[0] if cells else 0}
                                             ).one()
        if gate:
            return bool(draft), bool(page)
        if started:
            return None  # gone, or submitted meanwhile
        return False, False  # begun meanwhile: saved in a transaction as a started form


def write_path() -> WritePath:
    """The app's :class:`WritePath`, chosen once for its engine."""
    path: WritePath | None = current_app.extensions.get("respondent_write_path")
    if path is None:
        path = (OneStatementPath() if db.engine().dialect.name == "postgresql"
                else WritePath())
        current_app.extensions["respondent_write_path"] = path
    return path


# --- reading a form ----------------------------------------------------------------------

#: How long a worker keeps unit names (they are not edited during fieldwork; a rename shows
#: within this time). Campaign status and dates are never cached: they are read every request.
UNIT_CACHE_SECONDS = 300.0


def _assignment_list() -> Any:
    """``"<assignment id>:<unit id>:<cell id or 0>,..."`` of a form, as one column of the
    form's query."""
    pair = (cast(Assignment.id, String) + ":" + cast(Assignment.rated_unit_id, String) + ":"
            + cast(func.coalesce(Assignment.cell_id, 0), String))
    return (select(func.aggregate_strings(pair, ","))
            .where(Assignment.form_id == Form.id).scalar_subquery())


# The hot path's statements are built once: building a statement (and its cache key) cost
# more CPU than running it. They run on the session's connection, skipping the ORM layer.
_FORM_COLUMNS = (
    select(Form.id, Form.campaign_id, Form.group_id, Form.questionnaire_version_id,
           Form.mode, Form.status,
           Campaign.code.label("c_code"), Campaign.province_code,
           Campaign.name_vi.label("c_name_vi"), Campaign.name_en.label("c_name_en"),
           Campaign.status.label("c_status"), Campaign.opens_at, Campaign.closes_at,
           RespondentGroup.code.label("g_code"), RespondentGroup.name_vi.label("g_name_vi"),
           RespondentGroup.name_en.label("g_name_en"), QuestionnaireVersion.content_hash,
           Draft.answers, FormParadata.form_id.label("para_id"), FormParadata.page_seconds,
           FormParadata.page_items, FormParadata.honeypot_filled,
           _assignment_list().label("assigned"))
    .select_from(Form)
    .join(Campaign, Campaign.id == Form.campaign_id)
    .join(RespondentGroup, RespondentGroup.id == Form.group_id)
    .join(QuestionnaireVersion, QuestionnaireVersion.id == Form.questionnaire_version_id)
    .outerjoin(Draft, Draft.form_id == Form.id)
    .outerjoin(FormParadata, FormParadata.form_id == Form.id))
_FORM_QUERY = _FORM_COLUMNS.where(Form.id == bindparam("fid"))
# a respondent's home: every form of theirs, as load_form reads one
_FORMS_OF = _FORM_COLUMNS.where(Form.respondent_id == bindparam("rid")).order_by(Form.id)
_UNITS_QUERY = (select(Unit.id, Unit.code, Unit.name_vi, Unit.name_en)
                .where(Unit.id.in_(bindparam("ids", expanding=True))))

def _units(conn: Connection, ids: list[int]) -> dict[int, UnitInfo]:
    """Units by id from this worker's cache (per app; entries expire), reading the misses."""
    cache: dict[int, tuple[float, UnitInfo]] = current_app.extensions.setdefault(
        "respond_units", {})
    now = time.monotonic()
    out = {i: hit[1] for i in ids if (hit := cache.get(i)) is not None and hit[0] > now}
    missing = [i for i in ids if i not in out]
    if missing:
        if len(cache) > 20_000:
            cache.clear()
        for row in conn.execute(_UNITS_QUERY, {"ids": missing}):
            out[row.id] = UnitInfo(row.id, row.code, row.name_vi, row.name_en)
            cache[row.id] = (now + UNIT_CACHE_SECONDS, out[row.id])
    return out


def load_form(form_id: int) -> FormContext | None:
    """The form with its campaign, rated units, draft and paradata: one query.

    On PostgreSQL a request that starts with this read runs it outside a transaction (one
    statement sees one snapshot), saving BEGIN and COMMIT. The parsed questionnaire and unit
    names come from per-worker caches (see :func:`questionnaire_by_version`, ``_units``).
    """
    conn = write_path().reads(db.session())
    row = conn.execute(_FORM_QUERY, {"fid": form_id}).first()
    if row is None:
        return None
    return _context(row, _units(conn, [u for _, u, _ in _triples(row)]))


def load_forms_of(respondent_id: int) -> list[FormContext]:
    """Every form of a respondent (their home), in form id order, as :func:`load_form` reads
    each: one query for all of them."""
    conn = write_path().reads(db.session())
    rows = conn.execute(_FORMS_OF, {"rid": respondent_id}).all()
    units = _units(conn, sorted({u for row in rows for _, u, _ in _triples(row)}))
    return [_context(row, units) for row in rows]


def _triples(row: Any) -> list[tuple[int, ...]]:
    """(assignment id, unit id, cell id or 0) of a form's row, in assignment id order."""
    return sorted(tuple(int(x) for x in p.split(":"))
                  for p in (row.assigned or "").split(",") if p)


def _context(row: Any, units: dict[int, UnitInfo]) -> FormContext:
    group = GroupInfo(row.group_id, row.g_code, row.g_name_vi, row.g_name_en)
    return FormContext(
        form=FormInfo(row.id, row.campaign_id, row.group_id, row.questionnaire_version_id,
                      row.mode, row.status, group),
        campaign=CampaignInfo(row.campaign_id, row.c_code, row.province_code, row.c_name_vi,
                              row.c_name_en, row.c_status, row.opens_at, row.closes_at),
        questionnaire=questionnaire_by_version(row.questionnaire_version_id, row.content_hash),
        assignments=tuple(AssignmentInfo(a, u, units[u], c or None)
                          for a, u, c in _triples(row)),
        answers={k: dict(v) for k, v in (row.answers or {}).items()},
        paradata=PageState(row.para_id is not None, row.page_seconds, row.page_items,
                           bool(row.honeypot_filled)),
    )


# --- the writes' statements ---------------------------------------------------------------
# Built once (as the reads above); each runs on the connection of the caller's transaction,
# or, for the one-statement ones, alone (OneStatementPath).

_OPEN_FORM = (update(Form)
              .where(Form.id == bindparam("fid"), Form.status == FormStatus.PENDING)
              .values(status=FormStatus.OPENED, opened_at=bindparam("now")))
# A page save's gate: locks the form's row (a submit takes the same lock) and matches nothing
# once the form is submitted. A form not begun yet (as the page loaded it) is first started
# by _START_FORM, whose row count says whether this save began it (then its quota cells count
# one more started form); a form only ever moves on (pending, opened, started, submitted; a
# reopened one goes back to started), so when that matches nothing the gate finds it started
# or submitted.
_START_FORM = (update(Form)
               .where(Form.id == bindparam("fid"),
                      Form.status.in_([FormStatus.PENDING, FormStatus.OPENED]))
               .values(status=FormStatus.STARTED, started_at=bindparam("now")))
_GATE_FORM = (update(Form)
              .where(Form.id == bindparam("fid"), Form.status == FormStatus.STARTED)
              .values(status=FormStatus.STARTED))
_UPDATE_DRAFT = (update(Draft).where(Draft.form_id == bindparam("fid"))
                 .values(answers=bindparam("v_answers"), updated_at=bindparam("now")))
_INSERT_DRAFT = insert(Draft)
_CLAIM_UNBEGUN = (update(Form)
                  .where(Form.id == bindparam("fid"),
                         Form.status.in_([FormStatus.PENDING, FormStatus.OPENED]))
                  .values(status=FormStatus.SUBMITTED, submitted_at=bindparam("now"),
                          started_at=bindparam("now")))
_CLAIM_FORM = (update(Form)
               .where(Form.id == bindparam("fid"), Form.status != FormStatus.SUBMITTED)
               .values(status=FormStatus.SUBMITTED, submitted_at=bindparam("now")))
_DELETE_DRAFT = delete(Draft).where(Draft.form_id == bindparam("fid"))
_INSERT_RESPONSES = insert(Response).returning(Response.id, sort_by_parameter_order=True)

#: One more begun form in the quota cell ``cid``: its sampled count, or (key True) its public
#: count. Every writer of cells updates them in id order (see :func:`_count_begun`).
_COUNT_BEGUN = {public: (update(QuotaCell).where(QuotaCell.id == bindparam("cid"))
                         .values({column: column + 1}))
                for public, column in ((False, QuotaCell.started),
                                       (True, QuotaCell.public_started))}

# A form's paradata row (identity side) and the scan's rows (answer side).
_OPEN_STATE = (select(Form.status, FormParadata.form_id, FormParadata.link_devices)
               .outerjoin(FormParadata, FormParadata.form_id == Form.id)
               .where(Form.id == bindparam("fid")))
_INSERT_PARADATA = insert(FormParadata)
_UPDATE_OPEN = (update(FormParadata).where(FormParadata.form_id == bindparam("fid"))
                .values(link_devices=bindparam("v_link_devices"), updated_at=bindparam("now")))
#: One visit to a page: the values of :func:`page_params`.
_UPDATE_PAGE = (update(FormParadata).where(FormParadata.form_id == bindparam("fid"))
                .values(page_seconds=bindparam("v_page_seconds"),
                        page_items=bindparam("v_page_items"),
                        # 0 = unknown: keep the hash seen before
                        network_hash=func.coalesce(func.nullif(bindparam("v_network_hash",
                                                                         type_=BigInteger), 0),
                                                   FormParadata.network_hash),
                        device_hash=func.coalesce(func.nullif(bindparam("v_device_hash",
                                                                        type_=BigInteger), 0),
                                                  FormParadata.device_hash),
                        honeypot_filled=bindparam("v_honeypot_filled"),
                        updated_at=bindparam("now")))
#: A new paradata row's values, but for its form, times and what the caller passes.
_NEW_PARADATA: dict[str, object] = {"page_seconds": {}, "page_items": {}, "network_hash": 0,
                                    "device_hash": 0, "link_devices": [],
                                    "honeypot_filled": False}
# Read and delete in one statement (PostgreSQL and SQLite 3.35+ both have RETURNING).
_TAKE_PARADATA = (delete(FormParadata).where(FormParadata.form_id == bindparam("fid"))
                  .returning(FormParadata.page_seconds, FormParadata.page_items,
                             FormParadata.network_hash, FormParadata.device_hash,
                             FormParadata.link_devices, FormParadata.honeypot_filled))
_INSERT_RESPONSE_PARADATA = insert(ResponseParadata)


def _first_open_insert() -> Any:
    """A link's first opening in one statement (PostgreSQL): the form marked opened and the
    paradata row :func:`record_open` inserts when ``first``, for the form it marked.
    Parameters ``fid``, ``now`` and ``v_link_devices``."""
    opened = _OPEN_FORM.returning(Form.id).cte("opened")
    c = FormParadata.__table__.c
    fixed = {k: v for k, v in _NEW_PARADATA.items() if k != "link_devices"}
    return insert(FormParadata).from_select(
        [c.form_id, c.first_opened_at, c.link_devices, c.updated_at, *fixed],
        select(opened.c.id, bindparam("now", type_=c.first_opened_at.type),
               bindparam("v_link_devices", type_=c.link_devices.type),
               bindparam("now", type_=c.updated_at.type),
               *(bindparam(f"v_{k}", v, type_=c[k].type) for k, v in fixed.items())),
        include_defaults=False).add_cte(opened)


def _page_after(gate: Any) -> Any:
    """_UPDATE_PAGE of the form ``gate`` returned, if it returned it."""
    return (_UPDATE_PAGE.where(FormParadata.form_id.in_(select(gate.c.id)))
            .returning(FormParadata.form_id).cte("page"))


def _row_counts(*ctes: Any) -> Any:
    """One statement running ``ctes``, returning how many rows each changed."""
    return select(*(select(func.count()).select_from(cte).scalar_subquery().label(cte.name)
                    for cte in ctes))


# The one-statement writes (OneStatementPath):
# - a link's first opening: the form marked opened and its paradata row added;
_FIRST_OPEN = _first_open_insert()
# - a page save of a started form: _GATE_FORM, then only if it matched, _UPDATE_DRAFT and
#   _UPDATE_PAGE (the gate's row lock is held to the end of the statement, as it is to the
#   end of a transaction);
_GATED = _GATE_FORM.returning(Form.id).cte("gate")
_SAVE_STARTED = _row_counts(
    _GATED,
    _UPDATE_DRAFT.where(Draft.form_id.in_(select(_GATED.c.id)))
    .returning(Draft.form_id).cte("draft"),
    _page_after(_GATED))
# - the first page save of a form in at most one quota cell: _START_FORM, then only if it
#   matched, the draft inserted (there is none yet), _UPDATE_PAGE and _COUNT_BEGUN of the
#   cell ``cid``. Keyed by the cell's kind: None (no cell), False (the list's), True (public).
_STARTED = _START_FORM.returning(Form.id).cte("gate")
_STARTED_WRITES = (
    _STARTED,
    insert(Draft).from_select(
        [Draft.form_id, Draft.answers, Draft.updated_at],
        select(_STARTED.c.id, bindparam("v_answers", type_=Draft.__table__.c.answers.type),
               bindparam("now", type_=Draft.__table__.c.updated_at.type)))
    .returning(Draft.form_id).cte("draft"),
    _page_after(_STARTED))
_SAVE_BEGUN: dict[bool | None, Any] = {None: _row_counts(*_STARTED_WRITES), **{
    public: _row_counts(*_STARTED_WRITES, _COUNT_BEGUN[public]
                        .where(exists(select(_STARTED.c.id))).returning(literal(1)).cte("cell"))
    for public in (False, True)}}


# --- opening a link --------------------------------------------------------------------------

def open_link(raw_token: str, client: ClientInfo | None = None) -> Link | None:
    """What a token opens (:class:`~survey.services.tokens.Link`), or None for unknown/revoked.

    A link to a respondent with several forms opens their home and changes no form (each is
    opened when entered from the home, :func:`open_form`); a link to one form (a respondent's
    only form, or a form without a respondent) opens that form at once, as ``forms[0]``.

    ``client``: the opener's keyed hashes, kept as paradata (devices that opened the link).
    Invalid links are counted per network prefix in storage all workers share; past the limit
    every link from that network is refused for a while (:class:`TooManyAttempts`). Only the
    count is logged, never the token.
    """
    write_path().reads(db.session())  # the lookup is the request's first read
    found = lookup_limited(lambda: find_link(raw_token), client, "link")
    if found is None or len(found.forms) != 1:
        return found
    return Link(found.respondent_id, (open_form(found.forms[0], client),))


def open_form(found: LinkedForm, client: ClientInfo | None = None) -> LinkedForm:
    """Record that a form was opened (the first opening marks it opened; ``client`` is kept as
    paradata) and return it with its status. Opening changes nothing a respondent did."""
    now = utcnow()
    if (found.status is FormStatus.PENDING and client is not None
            and write_path().first_open(db.session(), found.form_id, client, now)):
        return LinkedForm(found.form_id, FormStatus.OPENED)
    with db.write_transaction() as s:
        first = found.status is FormStatus.PENDING and bool(
            s.connection().execute(_OPEN_FORM, {"fid": found.form_id, "now": now}).rowcount)
        if first:
            found = LinkedForm(found.form_id, FormStatus.OPENED)
        if client is not None:
            record_open(s, found.form_id, client, now, first=first)
    return found


def opening_devices(client: ClientInfo) -> list[int]:
    """A first opening's device list."""
    return [client.device_hash] if client.device_hash else []


def _insert_paradata(conn: Connection, form_id: int, now: dt.datetime,
                     values: dict[str, object]) -> None:
    conn.execute(_INSERT_PARADATA, {
        "form_id": form_id, "first_opened_at": now, **_NEW_PARADATA, "updated_at": now,
        **{k: v for k, v in values.items() if k != "now"}})


def record_open(s: Session, form_id: int, client: ClientInfo, now: dt.datetime,
                first: bool = False) -> None:
    """A personal link was opened: note the first opening and the opening device, in the
    caller's transaction.

    ``first``: this transaction has just moved the form out of *pending* (or created it),
    holding its row: a form gets paradata only once opened, so there is no row to read.
    """
    conn = s.connection()
    if first:
        _insert_paradata(conn, form_id, now, {"link_devices": opening_devices(client)})
        return
    found = conn.execute(_OPEN_STATE, {"fid": form_id}).first()
    if found is None or found.status is FormStatus.SUBMITTED:
        return
    devices = list(found.link_devices or [])
    if client.device_hash and client.device_hash not in devices and len(devices) < MAX_LINK_DEVICES:
        devices.append(client.device_hash)
    params = {"fid": form_id, "v_link_devices": devices, "now": now}
    # Writers of one form's row are serialised by the form's lock or SQLite's write lock.
    if found.form_id is None or not conn.execute(_UPDATE_OPEN, params).rowcount:
        _insert_paradata(conn, form_id, now, {"link_devices": devices})


def create_public_form(s: Session, link: PublicLink, client: ClientInfo, now: dt.datetime
                       ) -> int:
    """A fresh public QR form of ``link`` (mode ``public``, no respondent, its one rated unit
    counted in its cell, a one-time token, the opening recorded), in the caller's
    transaction; its id. Whether a visit may start one is :mod:`survey.services.public`'s."""
    form = Form(campaign_id=link.campaign_id, respondent_id=None, group_id=link.group_id,
                questionnaire_version_id=link.questionnaire_version_id, mode=Mode.PUBLIC,
                status=FormStatus.OPENED, opened_at=now, created_at=now)
    s.add(form)
    s.flush()
    s.add(Assignment(form_id=form.id, rated_unit_id=link.rated_unit_id,
                     cell_id=cell_of_public_form(s, link.campaign_id, link.group_id,
                                                 link.questionnaire_version_id,
                                                 link.rated_unit_id)))
    issue_token(form)  # this visit's token; the raw value is dropped here, unseen
    record_open(s, form.id, client, now, first=True)
    return form.id


# --- saving a page -----------------------------------------------------------------------

def page_params(state: PageState, form_id: int, section_index: int, items: int,
                timing: PageTiming, now: dt.datetime, honeypot: bool = False
                ) -> dict[str, object]:
    """The values :data:`_UPDATE_PAGE` writes for one visit to a page, from ``state`` (the
    row as read with the form): this visit's seconds added, the latest client hashes."""
    key = str(section_index)
    seconds = dict(state.page_seconds or {})
    if timing.seconds is not None and math.isfinite(timing.seconds) and timing.seconds >= 0:
        seconds[key] = float(seconds.get(key, 0.0)) + min(float(timing.seconds), MAX_PAGE_SECONDS)
    return {"fid": form_id, "v_page_seconds": seconds,
            "v_page_items": {**(state.page_items or {}), key: int(items)},
            "v_network_hash": timing.client.network_hash,
            "v_device_hash": timing.client.device_hash,
            "v_honeypot_filled": bool(state.honeypot_filled or honeypot), "now": now}


def _page_state(params: dict[str, Any]) -> PageState:
    """The page state once ``params`` (:func:`page_params`) are written."""
    return PageState(True, params["v_page_seconds"], params["v_page_items"],
                     bool(params["v_honeypot_filled"]))


def save_page(ctx: FormContext, section_index: int, page_answers: Answers,
              timing: PageTiming | None = None, honeypot: bool = False) -> FormContext | None:
    """Merge one page's answers into the draft; answers hidden by show-if are dropped. Returns
    the context as saved (``ctx`` is left as it was), or None, saving nothing, when the form
    was submitted meanwhile (or is gone).

    ``timing`` (time on the page, client hashes) and ``honeypot`` (a public form's hidden
    field was filled) are recorded as the form's paradata.

    The form's row is updated first, only if it is not submitted (which also marks a new
    form as started): that locks it, and a submit of the same form takes the same lock, so a
    page can never be saved as a draft after its form was submitted (SQLite's ``BEGIN
    IMMEDIATE`` already serialises writers). On PostgreSQL the save is one statement when
    it can be (:class:`OneStatementPath`), else what that left undone runs in a transaction.
    """
    section = ctx.questionnaire.sections[section_index]
    page_ids = {q.id for q in section.questions}
    merged: Answers = {}
    for a in ctx.assignments:
        key = str(a.id)
        current = {k: v for k, v in ctx.answers.get(key, {}).items() if k not in page_ids}
        current.update({k: v for k, v in page_answers.get(key, {}).items()
                        if k in page_ids and v not in (None, "", [])})
        merged[key] = ctx.questionnaire.visible_answers(current)
    now = utcnow()
    params = {"fid": ctx.form.id, "v_answers": merged, "now": now}
    page: dict[str, Any] | None = None
    if timing is not None or honeypot:
        items = sum(sum(1 for q in section.questions if q.visible(v)) for v in merged.values())
        page = page_params(ctx.paradata, ctx.form.id, section_index, items,
                           timing or PageTiming(None, ClientInfo()), now, honeypot)
    saved = (False, False)  # the draft, the page's paradata
    if page is not None and ctx.paradata.exists:  # a row to update, none to insert
        alone = write_path().save_page(db.session(), ctx, {**params, **page})
        if alone is None:
            return None
        saved = alone
    if not all(saved):
        with db.write_transaction() as s:
            if not _write_page(s.connection(), ctx, params, page, saved):
                return None
    return replace(ctx, form=replace(ctx.form, status=FormStatus.STARTED), answers=merged,
                   paradata=ctx.paradata if page is None else _page_state(page))


def _write_page(conn: Connection, ctx: FormContext, params: dict[str, Any],
                page: dict[str, Any] | None, saved: tuple[bool, bool]) -> bool:
    """The page save in the caller's transaction, but for what ``saved`` says is written
    (the draft, the page's paradata); False, writing nothing, when the form was submitted
    meanwhile or is gone."""
    began = _begin_form(conn, ctx, _START_FORM, params)
    if not began and conn.execute(_GATE_FORM, params).rowcount != 1:
        return False
    draft_saved, page_saved = saved
    # A form this save began has no draft yet: only a page save (which starts its form) and
    # a reopen (which leaves it started) write one.
    if not draft_saved and (began or not conn.execute(_UPDATE_DRAFT, params).rowcount):
        conn.execute(_INSERT_DRAFT, {"form_id": ctx.form.id, "answers": params["v_answers"],
                                     "updated_at": params["now"]})
    if page is not None and not page_saved:
        _write_page_paradata(conn, page, ctx.paradata)
    return True


def _write_page_paradata(conn: Connection, params: dict[str, Any], state: PageState) -> None:
    """Write one visit to a page (``params`` from :func:`page_params`), inserting the row if
    there is none yet (``state``: the row as read with the form). Two tabs saving pages of
    one form at the same moment may lose one visit's seconds, as a read-modify-write under
    READ COMMITTED always could."""
    if not (state.exists and conn.execute(_UPDATE_PAGE, params).rowcount):
        _insert_paradata(conn, params["fid"], params["now"], {
            "page_seconds": params["v_page_seconds"], "page_items": params["v_page_items"],
            "honeypot_filled": params["v_honeypot_filled"],
            "network_hash": params["v_network_hash"], "device_hash": params["v_device_hash"]})


def _begin_form(conn: Connection, ctx: FormContext, statement: Any,
                params: dict[str, Any]) -> bool:
    """Begin a form that was not begun when its page loaded (``statement``: start it on a
    page save, or submit it with no page saved), counting it in its quota cells; whether
    this call began it (False: begun meanwhile, submitted, gone, or begun before)."""
    if ctx.form.status not in (FormStatus.PENDING, FormStatus.OPENED):
        return False
    if conn.execute(statement, params).rowcount != 1:
        return False
    _count_begun(conn, (a.cell_id for a in ctx.assignments), public=ctx.form.mode is Mode.PUBLIC)
    return True


def _count_begun(conn: Connection, cell_ids: Iterable[int | None], public: bool) -> None:
    """A form's first page was saved (or it was submitted unsaved): one more started form in
    each of its cells, in the transaction that changed its status. Cells are updated in id
    order, as :func:`~survey.services.quotas.closed_units` and
    :func:`~survey.services.quotas.recount_cells` lock them, so writers of overlapping cells
    (matrix forms) queue instead of deadlocking."""
    ids = sorted({c for c in cell_ids if c is not None})
    if ids:
        conn.execute(_COUNT_BEGUN[public], [{"cid": c} for c in ids])


# --- submitting -----------------------------------------------------------------------------

def response_key(assignment_id: int) -> str:
    """HMAC of the assignment id: unique per response, joinable only with the server secret."""
    secret = current_app.config["SECRET_KEY"].encode("utf-8")
    return hmac.new(secret, f"response:{assignment_id}".encode(), hashlib.sha256).hexdigest()


class SubmitRefused(Exception):
    """A submit turned away after it began writing (:attr:`outcome`: already submitted, quota
    full): the caller rolls back its transaction, or the savepoint it ran the submit in."""

    def __init__(self, outcome: SubmitOutcome) -> None:
        super().__init__(outcome.value)
        self.outcome = outcome


def submit_form(ctx: FormContext) -> SubmitOutcome:
    """Store one response per rated unit, exactly once, in one transaction
    (:func:`store_submission`)."""
    if ctx.submitted:
        return SubmitOutcome.ALREADY_SUBMITTED
    if campaign_availability(ctx.campaign) is not Availability.OPEN:
        return SubmitOutcome.CLOSED
    if ctx.first_incomplete_section() is not None:
        return SubmitOutcome.INCOMPLETE
    try:
        with db.write_transaction() as s:
            store_submission(s, ctx, utcnow())
    except SubmitRefused as refused:
        return refused.outcome
    return SubmitOutcome.SUBMITTED


def store_submission(s: Session, ctx: FormContext, now: dt.datetime) -> None:
    """Submit ``ctx`` (its answers as they stand) in the caller's transaction: the form
    claimed, one response per rated unit, the webhooks' events, the paradata moved to the
    answer side, the draft deleted. Raises :class:`SubmitRefused` when the form was
    submitted meanwhile or every unit it rates is full; the caller then rolls back.

    The conditional update on the form's status is the gate: of many concurrent submits only
    one sees a row to update; the unique ``response_key`` backs it up at the database level.

    Close-when-full cells are checked in the same transaction (see
    :func:`survey.services.quotas.closed_units` for the rule and the locking): a form whose
    every rated unit is full is turned away (:attr:`SubmitOutcome.QUOTA_FULL`; rolled back,
    the form stays open and its draft kept); a matrix form with only some full units stores
    the others.
    """
    q = ctx.questionnaire
    conn = s.connection()
    params = {"fid": ctx.form.id, "now": now}
    # (a form with nothing required may be submitted before any page was saved)
    if (not _begin_form(conn, ctx, _CLAIM_UNBEGUN, params)
            and conn.execute(_CLAIM_FORM, params).rowcount != 1):
        raise SubmitRefused(SubmitOutcome.ALREADY_SUBMITTED)
    # After the claim, so duplicate submits of one form never wait on a cell lock.
    full = closed_units(s, ctx.campaign.id, ctx.form.group_id,
                        ctx.form.questionnaire_version_id,
                        (a.rated_unit_id for a in ctx.assignments))
    if full and all(a.rated_unit_id in full for a in ctx.assignments):
        raise SubmitRefused(SubmitOutcome.QUOTA_FULL)
    rows: list[dict[str, Any]] = []
    for a in ctx.assignments:
        if a.rated_unit_id in full:
            continue  # a matrix form: the full units are left out, the others stored
        answers = q.visible_answers(ctx.answers_for(a))
        rows.append(dict(
            campaign_id=ctx.campaign.id,
            questionnaire_version_id=ctx.form.questionnaire_version_id,
            content_hash=q.content_hash, group_id=ctx.form.group_id,
            rated_unit_id=a.rated_unit_id, mode=ctx.form.mode,
            status=ResponseStatus.VALID, submitted_on=now.date(),
            response_key=response_key(a.id), answers=answers,
            item_codes=q.item_codes(answers)))
    try:
        ids = list(conn.execute(_INSERT_RESPONSES, rows).scalars()) if rows else []
    except IntegrityError as exc:  # another submit of the same form won; its responses stand
        raise SubmitRefused(SubmitOutcome.ALREADY_SUBMITTED) from exc
    if rows:  # webhooks: in this transaction, so the events commit with the responses
        queue_submitted(s, ctx.campaign, ctx.form.group_id, ctx.form.questionnaire_version_id,
                        ctx.form.mode, [r["rated_unit_id"] for r in rows], now.date())
    _move_paradata(conn, ctx.form, ids, len(q.sections), now)
    conn.execute(_DELETE_DRAFT, {"fid": ctx.form.id})


def _move_paradata(conn: Connection, form: FormInfo, response_ids: list[int], sections: int,
                   now: dt.datetime) -> None:
    """Write the scan's paradata for each response of ``form`` and drop the form-side row
    (:mod:`survey.services.paradata`), after the responses are inserted."""
    row = conn.execute(_TAKE_PARADATA, {"fid": form.id}).first()
    pages: list[float | None] = [None] * sections
    items: list[int] = [0] * sections
    if row is not None:
        for k, v in (row.page_seconds or {}).items():
            if k.isdigit() and int(k) < sections:
                pages[int(k)] = float(v)
        for k, v in (row.page_items or {}).items():
            if k.isdigit() and int(k) < sections:
                items[int(k)] = int(v)
    timed = [p for p in pages if p is not None]
    mode = SCAN_MODE[form.mode]
    paper = mode == int(ScanMode.PAPER)
    rows = [dict(
        response_id=rid, mode=mode, submitted_at=coarse_time(now),
        total_seconds=None if paper or not timed else float(sum(timed)),
        page_seconds=[None] * sections if paper else pages, page_items=items,
        network_hash=0 if row is None or paper else row.network_hash,
        device_hash=0 if row is None or paper else row.device_hash,
        link_open_devices=0 if row is None else len(row.link_devices or []),
        honeypot_filled=bool(row.honeypot_filled) if row is not None else False)
        for rid in response_ids]
    if rows:
        conn.execute(_INSERT_RESPONSE_PARADATA, rows)
