"""The respondent's flow: open a link, save pages, submit exactly once."""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import hmac
import logging
import time
from dataclasses import dataclass, field
from collections.abc import Callable
from typing import Any, TypeVar

from flask import current_app
from sqlalchemy import (
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
from sqlalchemy.exc import IntegrityError
from sqlalchemy.engine import Connection

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
    QuestionnaireVersion,
    RespondentGroup,
    Response,
    ResponseStatus,
    Unit,
    utcnow,
)
from survey.services.paradata import (
    ClientInfo,
    PageState,
    PageTiming,
    UPDATE_PAGE,
    copy_to_responses,
    first_open_insert,
    opening_devices,
    page_params,
    page_written,
    record_open,
    record_page,
)
from survey.services.questionnaires import questionnaire_by_version
from survey.services.quotas import begun_statement, closed_units, count_form_begun
from survey.services.webhooks import queue_submitted
from survey.services.ratelimit import failure_counter
from survey.services.tokens import Link, LinkedForm, find_link

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
    """A form as its pages need it: plain values read in one query (see :func:`load_form`)."""

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
    reads = _read_outside_transaction()
    found = lookup_limited(lambda: find_link(raw_token), client, "link")
    if found is None or len(found.forms) != 1:
        return found
    return Link(found.respondent_id, (open_form(found.forms[0], client, reads),))


def open_form(found: LinkedForm, client: ClientInfo | None = None,
              reads: Connection | None = None) -> LinkedForm:
    """Record that a form was opened (the first opening marks it opened; ``client`` is kept as
    paradata) and return it with its status. Opening changes nothing a respondent did."""
    reads = reads if reads is not None else _read_outside_transaction()
    now = utcnow()
    if found.status is FormStatus.PENDING and client is not None and _autocommits(reads):
        # PostgreSQL: the first opening in one statement, its own transaction (see
        # record_open's ``first``); matching nothing, it was opened meanwhile: as below
        if reads.execute(_FIRST_OPEN, {"fid": found.form_id, "now": now,
                                       "v_link_devices": opening_devices(client)}).rowcount:
            return LinkedForm(found.form_id, FormStatus.OPENED)
    with db.write_transaction() as s:
        first = found.status is FormStatus.PENDING and bool(
            s.connection().execute(_OPEN_FORM, {"fid": found.form_id, "now": now}).rowcount)
        if first:
            found = LinkedForm(found.form_id, FormStatus.OPENED)
        if client is not None:
            record_open(s, found.form_id, client, now, first=first)
    return found


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
# PostgreSQL only (data-modifying CTEs), each one statement run in autocommit:
# - a link's first opening: the form marked opened and its paradata row added;
_FIRST_OPEN = first_open_insert(_OPEN_FORM.returning(Form.id).cte("opened"))


def _page_after(gate: Any) -> Any:
    """UPDATE_PAGE of the form ``gate`` returned, if it returned it."""
    return (UPDATE_PAGE.where(FormParadata.form_id.in_(select(gate.c.id)))
            .returning(FormParadata.form_id).cte("page"))


def _row_counts(*ctes: Any) -> Any:
    """One statement running ``ctes``, returning how many rows each changed."""
    return select(*(select(func.count()).select_from(cte).scalar_subquery().label(cte.name)
                    for cte in ctes))


# - a page save of a started form: _GATE_FORM, then only if it matched, _UPDATE_DRAFT and
#   UPDATE_PAGE (the gate's row lock is held to the end of the statement, as it is to the
#   end of a transaction);
_GATED = _GATE_FORM.returning(Form.id).cte("gate")
_SAVE_STARTED = _row_counts(
    _GATED,
    _UPDATE_DRAFT.where(Draft.form_id.in_(select(_GATED.c.id)))
    .returning(Draft.form_id).cte("draft"),
    _page_after(_GATED))
# - the first page save of a form in at most one quota cell: _START_FORM, then only if it
#   matched, the draft inserted (there is none yet), UPDATE_PAGE and count_form_begun's
#   UPDATE of the cell ``cid``. Keyed by the cell's kind: None (no cell), False (the list's),
#   True (public).
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
    public: _row_counts(*_STARTED_WRITES, begun_statement(public)
                        .where(exists(select(_STARTED.c.id))).returning(literal(1)).cte("cell"))
    for public in (False, True)}}
_INSERT_RESPONSES = insert(Response).returning(Response.id, sort_by_parameter_order=True)


def _read_outside_transaction() -> Connection:
    """The session's connection; on PostgreSQL, when the session has no transaction yet, one
    whose reads run in autocommit (each statement its own snapshot): a request's first reads
    then cost no BEGIN and COMMIT round trips. Writes still go through
    :func:`survey.db.write_transaction`."""
    s = db.session()
    if not s.in_transaction() and s.get_bind().dialect.name == "postgresql":
        return s.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    return s.connection()


def _autocommits(conn: Connection) -> bool:
    """Whether ``conn`` (from :func:`_read_outside_transaction`) runs each statement as its
    own transaction (PostgreSQL only). A write that fits in one statement then costs no
    BEGIN and COMMIT round trips: see :data:`_FIRST_OPEN` and :data:`_SAVE_STARTED`."""
    return conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT"


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
    conn = _read_outside_transaction()
    row = conn.execute(_FORM_QUERY, {"fid": form_id}).first()
    if row is None:
        return None
    return _context(row, _units(conn, [u for _, u, _ in _triples(row)]))


def load_forms_of(respondent_id: int) -> list[FormContext]:
    """Every form of a respondent (their home), in form id order, as :func:`load_form` reads
    each: one query for all of them."""
    conn = _read_outside_transaction()
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


def save_page(ctx: FormContext, section_index: int, page_answers: Answers,
              timing: PageTiming | None = None, honeypot: bool = False) -> bool:
    """Merge one page's answers into the draft; answers hidden by show-if are dropped.

    ``timing`` (time on the page, client hashes) and ``honeypot`` (a public form's hidden
    field was filled) are recorded as the form's paradata. Returns False, saving nothing,
    when the form was submitted meanwhile.

    The form's row is updated first, only if it is not submitted (which also marks a new
    form as started): that locks it, and a submit of the same form takes the same lock, so a
    page can never be saved as a draft after its form was submitted (SQLite's ``BEGIN
    IMMEDIATE`` already serialises writers).
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
    saved = {"draft": 0, "page": 0}
    reads = _read_outside_transaction()
    if page is not None and ctx.paradata.exists and _autocommits(reads):
        # PostgreSQL: the save in one statement, its own transaction (see _SAVE_STARTED)
        cells = sorted({a.cell_id for a in ctx.assignments if a.cell_id is not None})
        started = ctx.form.status is FormStatus.STARTED
        if started or len(cells) <= 1:  # else begun here: cells are locked in order, below
            one = (_SAVE_STARTED if started
                   else _SAVE_BEGUN[(ctx.form.mode is Mode.PUBLIC) if cells else None])
            gate, *done = reads.execute(one, {**params, **page,
                                              "cid": cells[0] if cells else 0}).one()
            if gate:
                saved = dict(zip(saved, done))
            elif started:
                return False  # gone, or submitted meanwhile
            # (not begun here: begun meanwhile, so saved below as a started form)
    if not all(saved.values()):  # not saved in one statement: a row to insert, or SQLite
        with db.write_transaction() as s:
            conn = s.connection()
            began = _begin_form(conn, ctx, _START_FORM, params)
            if not began and conn.execute(_GATE_FORM, params).rowcount != 1:
                return False  # gone, or submitted meanwhile
            # A form this save began has no draft yet: only a page save (which starts its
            # form) and a reopen (which leaves it started) write one.
            if not saved["draft"] and (began or not conn.execute(_UPDATE_DRAFT, params).rowcount):
                conn.execute(_INSERT_DRAFT, {"form_id": ctx.form.id, "answers": merged,
                                             "updated_at": now})
            if page is not None and not saved["page"]:
                record_page(conn, page, ctx.paradata)
    if page is not None and saved["page"]:
        page_written(ctx.paradata, page)
    ctx.answers.clear()
    ctx.answers.update(merged)
    return True


def _begin_form(conn: Connection, ctx: FormContext, statement: Any,
                params: dict[str, Any]) -> bool:
    """Begin a form that was not begun when its page loaded (``statement``: start it on a
    page save, or submit it with no page saved), counting it in its quota cells; whether
    this call began it (False: begun meanwhile, submitted, gone, or begun before)."""
    if ctx.form.status not in (FormStatus.PENDING, FormStatus.OPENED):
        return False
    if conn.execute(statement, params).rowcount != 1:
        return False
    count_form_begun(conn, (a.cell_id for a in ctx.assignments),
                     public=ctx.form.mode is Mode.PUBLIC)
    return True


def response_key(assignment_id: int) -> str:
    """HMAC of the assignment id: unique per response, joinable only with the server secret."""
    secret = current_app.config["SECRET_KEY"].encode("utf-8")
    return hmac.new(secret, f"response:{assignment_id}".encode(), hashlib.sha256).hexdigest()


def submit_form(ctx: FormContext) -> SubmitOutcome:
    """Store one response per rated unit, exactly once, in one transaction.

    The conditional update on the form's status is the gate: of many concurrent submits only
    one sees a row to update; the unique ``response_key`` backs it up at the database level.

    Close-when-full cells are checked in the same transaction (see
    :func:`survey.services.quotas.closed_units` for the rule and the locking): a form whose
    every rated unit is full is turned away (:attr:`SubmitOutcome.QUOTA_FULL`), nothing is
    stored and the draft stays; a matrix form with only some full units stores the others.
    """
    if ctx.submitted:
        return SubmitOutcome.ALREADY_SUBMITTED
    if campaign_availability(ctx.campaign) is not Availability.OPEN:
        return SubmitOutcome.CLOSED
    if ctx.first_incomplete_section() is not None:
        return SubmitOutcome.INCOMPLETE
    q = ctx.questionnaire
    now = utcnow()
    try:
        _store_responses(ctx, q, now)
    except IntegrityError:
        # Another submit of the same form won the race; its responses stand.
        return SubmitOutcome.ALREADY_SUBMITTED
    except _QuotaFull:
        return SubmitOutcome.QUOTA_FULL
    return SubmitOutcome.SUBMITTED


class _QuotaFull(Exception):
    """Raised inside the submit transaction to roll it back: every rated unit is full."""


def _store_responses(ctx: FormContext, q: Questionnaire, now: dt.datetime) -> None:
    with db.write_transaction() as s:
        conn = s.connection()
        params = {"fid": ctx.form.id, "now": now}
        # (a form with nothing required may be submitted before any page was saved)
        if (not _begin_form(conn, ctx, _CLAIM_UNBEGUN, params)
                and conn.execute(_CLAIM_FORM, params).rowcount != 1):
            raise IntegrityError("form already submitted", None, ValueError("claimed"))
        # After the claim, so duplicate submits of one form never wait on a cell lock.
        full = closed_units(s, ctx.campaign.id, ctx.form.group_id,
                            ctx.form.questionnaire_version_id,
                            (a.rated_unit_id for a in ctx.assignments))
        if full and all(a.rated_unit_id in full for a in ctx.assignments):
            raise _QuotaFull()  # rolls back the claim: the form stays open, its draft kept
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
        ids = list(conn.execute(_INSERT_RESPONSES, rows).scalars()) if rows else []
        if rows:  # webhooks: in this transaction, so the events commit with the responses
            queue_submitted(s, ctx.campaign, ctx.form.group_id, ctx.form.questionnaire_version_id,
                            ctx.form.mode, [r["rated_unit_id"] for r in rows], now.date())
        copy_to_responses(s, ctx.form, ids, len(q.sections), now)
        conn.execute(_DELETE_DRAFT, {"fid": ctx.form.id})
