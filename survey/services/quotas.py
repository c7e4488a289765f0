"""Quota progress: targets against invitations, starts and responses, per cell and in total.

Responses carry no form or respondent (privacy, see :mod:`survey.models.response`), so
completed and valid counts come from ``responses`` per (group, questionnaire version, rated
unit); invitations and starts are counted per cell as forms are made and begun: each
assignment carries the cell it counts in (``cell_id``, where the respondent's own unit tells
source cells apart: :class:`CellFinder`), and each cell its counts (:func:`recount_cells`
after bulk changes; the respondent's writes add one as a form is begun, see
:mod:`survey.services.responding`), so quota state never reads every form.

Public QR forms (``Mode.PUBLIC``: no respondent, one assignment) are a self-selected sample:
they never count as invited, started, completed, valid or over quota in a cell, nor towards
closing a full cell; they are counted apart (``public_started``, ``public_completed``,
``public_valid``) in the cell their key falls to without a respondent (see
:class:`CellFinder`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Generic, Protocol, TypeVar

from sampling import RateMode
from sqlalchemy import and_, bindparam, case, func, select, update
from sqlalchemy.orm import Session, aliased

from survey import db
from survey.models import (
    Assignment,
    Form,
    FormStatus,
    Mode,
    QuestionnaireVersion,
    Respondent,
    RespondentGroup,
    Response,
    ResponseStatus,
    Unit,
)
from survey.models.quota import QuotaCell

ResponseKey = tuple[int, int, int]  # group, questionnaire version, rated unit


def _distance(unit_id: int | None, target: int | None, parents: Mapping[int, int | None]
              ) -> int | None:
    """Steps up from ``unit_id`` to ``target`` (0: the same unit), or None if not above it."""
    steps = 0
    current = unit_id
    while current is not None:
        if current == target:
            return steps
        current = parents.get(current)
        steps += 1
    return None


def cells_for_member(cells: Iterable[QuotaCell], unit_id: int,
                     parents: Mapping[int, int | None]) -> list[QuotaCell]:
    """The cells of one group that a member whose own unit is ``unit_id`` fills forms for.

    Per questionnaire: cells whose source unit is the member's unit, or whose rated unit is
    it for "rate their own" rules (the nearest enclosing unit when the member sits below,
    e.g. a commune leader for a per-district cell); failing those, the group's pooled
    "rate each" cells, which any member fills.
    """
    best: dict[int, tuple[int, list[QuotaCell]]] = {}
    pooled: dict[int, list[QuotaCell]] = defaultdict(list)
    for cell in cells:
        if cell.source_unit_id is not None:
            d = _distance(unit_id, cell.source_unit_id, parents)
        elif cell.rate is RateMode.OWN:
            d = _distance(unit_id, cell.rated_unit_id, parents)
        else:
            pooled[cell.questionnaire_version_id].append(cell)
            continue
        if d is None:
            continue
        q = cell.questionnaire_version_id
        if q not in best or d < best[q][0]:
            best[q] = (d, [cell])
        elif d == best[q][0]:
            best[q][1].append(cell)
    out = [c for _, found in best.values() for c in found]
    out += [c for q, found in pooled.items() if q not in best for c in found]
    return out


@dataclass
class Tally:
    """Counts summed over cells; ``target`` sums known targets, ``unknown_targets`` counts
    census cells still without one (then ``target`` is a lower bound). The ``public_*``
    counts are public QR forms, kept out of every other count."""

    target: int = 0
    unknown_targets: int = 0
    invited: int = 0
    started: int = 0
    completed: int = 0
    valid: int = 0
    over_quota: int = 0
    public_started: int = 0
    public_completed: int = 0
    public_valid: int = 0

    def add(self, other: Tally) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


@dataclass(frozen=True)
class CellState:
    """One quota cell and its progress; ``invited`` to ``valid`` count sampled forms only,
    ``public_*`` the public QR forms of the cell's key."""

    cell_id: int
    group: str
    questionnaire: str
    rated_unit: str
    source_unit: str | None
    rule: str
    close_when_full: bool
    target: int | None
    invited: int
    started: int
    completed: int
    valid: int
    public_started: int = 0
    public_completed: int = 0
    public_valid: int = 0

    @property
    def over_quota(self) -> int:
        """Completed forms beyond the target (0 while the target is unknown)."""
        return 0 if self.target is None else max(0, self.completed - self.target)

    @property
    def full(self) -> bool:
        """Whether the target is known and met."""
        return self.target is not None and self.completed >= self.target

    def tally(self) -> Tally:
        return Tally(*self.tally_row())

    def tally_row(self) -> tuple[int, ...]:
        """The cell's :class:`Tally` as a tuple in field order (cheap to sum by column)."""
        return (self.target or 0, int(self.target is None), self.invited, self.started,
                self.completed, self.valid, self.over_quota, self.public_started,
                self.public_completed, self.public_valid)


@dataclass(frozen=True)
class QuotaState:
    """Progress of a campaign: per cell, per group, per rated unit and overall."""

    cells: tuple[CellState, ...]
    by_group: dict[str, Tally] = field(default_factory=dict)
    by_unit: dict[str, Tally] = field(default_factory=dict)
    total: Tally = field(default_factory=Tally)


class _CellLike(Protocol):
    """What finding a cell needs of it: a :class:`QuotaCell` or a row with its columns."""

    @property
    def id(self) -> int: ...
    @property
    def group_id(self) -> int: ...
    @property
    def questionnaire_version_id(self) -> int: ...
    @property
    def rated_unit_id(self) -> int: ...
    @property
    def source_unit_id(self) -> int | None: ...


_CellT = TypeVar("_CellT", bound=_CellLike)


def _by_key(cells: Iterable[_CellT]) -> dict[ResponseKey, list[_CellT]]:
    out: dict[ResponseKey, list[_CellT]] = defaultdict(list)
    for c in cells:
        out[(c.group_id, c.questionnaire_version_id, c.rated_unit_id)].append(c)
    return out


def _home_cell(members: list[_CellT]) -> _CellT:
    """Of the cells sharing a key (in id order), the one a form without a nearer source cell
    counts in: the one without a source, else the first."""
    return next((c for c in members if c.source_unit_id is None), members[0])


class CellFinder(Generic[_CellT]):
    """Which of a campaign's cells an assignment counts in (the one rule, used wherever an
    assignment's ``cell_id`` is set).

    Among the cells of the assignment's (group, questionnaire version, rated unit), in id
    order: the one whose source unit is nearest above the respondent's own unit (the first of
    that unit and its ancestors that is some cell's source); else the one without a source;
    else the first (e.g. a public QR form, which has no respondent). None when no cell has
    the key (a form outside the plan, e.g. made by hand).
    """

    def __init__(self, cells: Iterable[_CellT], parents: Mapping[int, int | None]) -> None:
        self.parents = parents
        self._by_source: dict[ResponseKey, dict[int, _CellT]] = {}
        self._fallback: dict[ResponseKey, _CellT] = {}
        for key, members in _by_key(sorted(cells, key=lambda c: c.id)).items():
            by_source: dict[int, _CellT] = {}
            for c in members:
                if c.source_unit_id is not None:
                    by_source.setdefault(c.source_unit_id, c)
            self._by_source[key] = by_source
            self._fallback[key] = _home_cell(members)

    def find(self, group_id: int, questionnaire_version_id: int, rated_unit_id: int,
             unit_id: int | None) -> _CellT | None:
        """The cell for an assignment rating ``rated_unit_id`` by a member of ``unit_id``."""
        key = (group_id, questionnaire_version_id, rated_unit_id)
        fallback = self._fallback.get(key)
        if fallback is None:
            return None
        by_source = self._by_source[key]
        current = unit_id
        while current is not None and by_source:
            cell = by_source.get(current)
            if cell is not None:
                return cell
            current = self.parents.get(current)
        return fallback


def unit_parents(s: Session, campaign_id: int) -> dict[int, int | None]:
    """Parent unit id of every unit of a campaign."""
    return dict(s.execute(select(Unit.id, Unit.parent_id).where(Unit.campaign_id == campaign_id))
                .tuples().all())


# What a CellFinder reads of a cell.
_FINDER_COLUMNS = (QuotaCell.id, QuotaCell.group_id, QuotaCell.questionnaire_version_id,
                   QuotaCell.rated_unit_id, QuotaCell.source_unit_id)


def cell_finder(s: Session, campaign_id: int) -> CellFinder[Any]:
    """A :class:`CellFinder` over the campaign's stored cells."""
    cells = s.execute(select(*_FINDER_COLUMNS).where(QuotaCell.campaign_id == campaign_id)).all()
    return CellFinder(cells, unit_parents(s, campaign_id))


def cell_of_public_form(s: Session, campaign_id: int, group_id: int,
                        questionnaire_version_id: int, rated_unit_id: int) -> int | None:
    """The cell a public QR form (no respondent) of this key counts in, or None."""
    cells = s.execute(select(*_FINDER_COLUMNS).where(
        QuotaCell.campaign_id == campaign_id, QuotaCell.group_id == group_id,
        QuotaCell.questionnaire_version_id == questionnaire_version_id,
        QuotaCell.rated_unit_id == rated_unit_id)).all()
    cell = CellFinder(cells, {}).find(group_id, questionnaire_version_id, rated_unit_id, None)
    return None if cell is None else cell.id


_CHUNK = 20_000  # rows per statement


def assign_cells(s: Session, campaign_id: int,
                 respondent_ids: Collection[int] | None = None) -> int:
    """Work out again the cell of every assignment of the campaign (or of the forms of
    ``respondent_ids``), after the cells or a respondent's unit changed; returns how many
    changed. Call :func:`recount_cells` after it, in the same transaction."""
    finder = cell_finder(s, campaign_id)
    query = (select(Assignment.id, Form.group_id, Form.questionnaire_version_id,
                    Assignment.rated_unit_id, Respondent.unit_id, Assignment.cell_id)
             .join(Form, Form.id == Assignment.form_id)
             .outerjoin(Respondent, Respondent.id == Form.respondent_id)
             .where(Form.campaign_id == campaign_id))
    ids = None if respondent_ids is None else sorted(respondent_ids)
    chunks = [query] if ids is None else [query.where(Form.respondent_id.in_(ids[i:i + _CHUNK]))
                                          for i in range(0, len(ids), _CHUNK)]
    changes = []
    for chunk in chunks:
        for a_id, group_id, qv_id, rated_id, unit_id, current in s.execute(chunk):
            cell = finder.find(group_id, qv_id, rated_id, unit_id)
            cell_id = None if cell is None else cell.id
            if cell_id != current:
                changes.append({"id": a_id, "cell_id": cell_id})
    for i in range(0, len(changes), _CHUNK):
        s.execute(update(Assignment), changes[i:i + _CHUNK])
    return len(changes)


def recount_cells(s: Session, campaign_id: int) -> None:
    """Count each cell's forms again from the assignments' ``cell_id`` (after an import,
    a change of cells, or rows written by hand), inside a write transaction.

    The cells are locked first (in id order, as every writer of them does), so a page save
    starting a form meanwhile either committed before the count, which sees it, or waits
    and adds its one after: no count is lost.
    """
    rows = s.execute(select(QuotaCell.id, QuotaCell.invited, QuotaCell.started,
                            QuotaCell.public_started)
                     .where(QuotaCell.campaign_id == campaign_id)
                     .order_by(QuotaCell.id).with_for_update()).all()
    public = Form.mode == Mode.PUBLIC
    begun = Form.status.in_((FormStatus.STARTED, FormStatus.SUBMITTED))
    counted = {
        cell_id: (int(n or 0), int(b or 0), int(p or 0))
        for cell_id, n, b, p in s.execute(
            select(Assignment.cell_id, func.sum(case((public, 0), else_=1)),
                   func.sum(case((and_(begun, ~public), 1), else_=0)),
                   func.sum(case((and_(begun, public), 1), else_=0)))
            .join(Form, Form.id == Assignment.form_id)
            .where(Form.campaign_id == campaign_id, Assignment.cell_id.is_not(None))
            .group_by(Assignment.cell_id))}
    changes = []
    for cell_id, *stored in rows:
        n, b, p = counted.get(cell_id, (0, 0, 0))
        if tuple(stored) != (n, b, p):
            changes.append({"id": cell_id, "invited": n, "started": b, "public_started": p})
    if changes:
        s.execute(update(QuotaCell), changes)


def refresh_quota_counts(campaign_id: int) -> int:
    """Assign every form of the campaign to its cell again and count the cells afresh (after
    rows were written by hand or restored from elsewhere); returns the assignments moved."""
    with db.write_transaction() as s:
        moved = assign_cells(s, campaign_id)
        recount_cells(s, campaign_id)
    return moved


def quota_state(campaign_id: int) -> QuotaState:
    """Targets and progress of every quota cell, with totals by group, rated unit and overall.

    Two queries: the cells with their stored form counts (invited, started, public
    started: see :func:`recount_cells`, and :func:`survey.services.responding.save_page`
    as a form is begun), and one aggregate
    over responses. When several source cells rate the same unit, their responses cannot be
    told apart; they are shared out by each cell's started forms (in cell order), any rest
    going to the first cell. Public QR responses carry their mode, so they are counted
    apart, in the cell a public form of their key counts in (the cell without a source,
    else the first: :class:`CellFinder`'s rule without a respondent).
    """
    s = db.session()
    rated, source = aliased(Unit), aliased(Unit)
    # Plain columns, not ORM objects: thousands of cells are read on every dashboard refresh.
    cells = s.execute(
        select(QuotaCell.id, QuotaCell.group_id, QuotaCell.questionnaire_version_id,
               QuotaCell.rated_unit_id, QuotaCell.source_unit_id, QuotaCell.target,
               QuotaCell.close_when_full, QuotaCell.rule, QuotaCell.invited,
               QuotaCell.started, QuotaCell.public_started,
               RespondentGroup.code.label("group_code"), QuestionnaireVersion.qid,
               rated.code.label("rated_code"), source.code.label("source_code"))
        .join(RespondentGroup, RespondentGroup.id == QuotaCell.group_id)
        .join(QuestionnaireVersion, QuestionnaireVersion.id == QuotaCell.questionnaire_version_id)
        .join(rated, rated.id == QuotaCell.rated_unit_id)
        .outerjoin(source, source.id == QuotaCell.source_unit_id)
        .where(QuotaCell.campaign_id == campaign_id).order_by(QuotaCell.id)).all()
    by_key = _by_key(cells)
    forms = {c.id: (c.invited, c.started, c.public_started) for c in cells}

    public = Response.mode == Mode.PUBLIC
    valid = Response.status == ResponseStatus.VALID
    responses: dict[ResponseKey, tuple[int, int, int, int]] = {
        (g, q, u): (int(n or 0), int(v or 0), int(pn or 0), int(pv or 0))
        for g, q, u, n, v, pn, pv in s.execute(
            select(Response.group_id, Response.questionnaire_version_id,
                   Response.rated_unit_id, func.sum(case((public, 0), else_=1)),
                   func.sum(case((and_(valid, ~public), 1), else_=0)),
                   func.sum(case((public, 1), else_=0)),
                   func.sum(case((and_(valid, public), 1), else_=0)))
            .where(Response.campaign_id == campaign_id)
            .group_by(Response.group_id, Response.questionnaire_version_id,
                      Response.rated_unit_id))}

    shares: dict[int, tuple[int, int, int, int]] = {}
    for key, members in by_key.items():
        completed, n_valid, public_completed, public_valid = responses.get(key, (0, 0, 0, 0))
        for c in members:
            take = min(completed, forms.get(c.id, (0, 0, 0))[1])
            keep_valid = min(n_valid, take)
            shares[c.id] = (take, keep_valid, 0, 0)
            completed -= take
            n_valid -= keep_valid
        first = members[0].id
        shares[first] = (shares[first][0] + completed, shares[first][1] + n_valid, 0, 0)
        # the cell a public form of this key counts in (CellFinder without a respondent)
        home = _home_cell(members).id
        take, keep_valid, _, _ = shares[home]
        shares[home] = (take, keep_valid, public_completed, public_valid)

    states = []
    # each cell's tally as a tuple, summed column-wise per group, per unit and overall
    group_rows: dict[str, list[tuple[int, ...]]] = defaultdict(list)
    unit_rows: dict[str, list[tuple[int, ...]]] = defaultdict(list)
    for c in cells:
        invited, started, public_started = forms.get(c.id, (0, 0, 0))
        completed, n_valid, public_completed, public_valid = shares[c.id]
        state = CellState(c.id, c.group_code, c.qid, c.rated_code, c.source_code, c.rule,
                          c.close_when_full, c.target, invited, started, completed, n_valid,
                          public_started, public_completed, public_valid)
        states.append(state)
        row = state.tally_row()
        group_rows[c.group_code].append(row)
        unit_rows[c.rated_code].append(row)
    return QuotaState(
        tuple(states), {g: _sum_tally(rows) for g, rows in group_rows.items()},
        {u: _sum_tally(rows) for u, rows in unit_rows.items()},
        _sum_tally([r for rows in group_rows.values() for r in rows]))


def _sum_tally(rows: list[tuple[int, ...]]) -> Tally:
    """The column sums of cells' tallies (as tuples in :class:`Tally`'s field order)."""
    return Tally(*map(sum, zip(*rows))) if rows else Tally()


def closed_units(s: Session, campaign_id: int, group_id: int, questionnaire_version_id: int,
                 rated_unit_ids: Iterable[int]) -> set[int]:
    """Rated units (of ``rated_unit_ids``) whose closing cells are full; call it inside the
    submit transaction, before storing responses.

    The close rule. Responses carry no source, so a closing cell is judged by what a
    response does carry: the key (group, questionnaire version, rated unit), whatever the
    source. A key is *closing* when every quota cell with that key is ``close_when_full``
    and has a known target (a census cell before its list is imported has none); it is
    *full* when its valid sampled responses (excluded ones free their place; public QR
    responses are a self-selected sample and never fill a cell) reach the sum of those
    targets. In the clear case, one cell per key, that is "valid responses >= target".
    A key shared by a closing and a non-closing cell (e.g. a pooled cell and a per-source
    cell rating the same unit, or a census cell without a target) never closes: which cell a
    response fills cannot be told, and turning away someone whose own cell is still open
    would be wrong. Units without any cell (forms made by hand) are always open.

    Exactly once under concurrency: the closing cells are locked (``SELECT ... FOR UPDATE``
    on PostgreSQL, in id order so matrix forms cannot deadlock) before the responses are
    counted, so concurrent submits into one key queue behind each other and each counts
    what the previous ones committed (READ COMMITTED takes a new snapshot per statement).
    SQLite needs no lock: :func:`survey.db.write_transaction` already serialises writers
    with ``BEGIN IMMEDIATE``. Non-closing keys take no lock.
    """
    units = set(rated_unit_ids)
    if not units:
        return set()
    key = (QuotaCell.campaign_id == campaign_id, QuotaCell.group_id == group_id,
           QuotaCell.questionnaire_version_id == questionnaire_version_id,
           QuotaCell.rated_unit_id.in_(units))
    # Cheap unlocked look first: most cells never close, and those must not serialise.
    cells = s.connection().execute(_KEY_CELLS, {
        "cid": campaign_id, "gid": group_id, "qv": questionnaire_version_id,
        "units": sorted(units)}).all()
    candidates = _closing_targets(cells)
    if not candidates:
        return set()
    # Lock and read again: the locked values are the ones that count.
    locked = s.execute(
        select(QuotaCell.id, QuotaCell.rated_unit_id, QuotaCell.close_when_full,
               QuotaCell.target)
        .where(*key[:3], QuotaCell.rated_unit_id.in_(candidates))
        .order_by(QuotaCell.id).with_for_update()).all()
    targets = _closing_targets(locked)
    if not targets:
        return set()
    counts = dict(s.execute(
        select(Response.rated_unit_id, func.count())
        .where(Response.campaign_id == campaign_id, Response.group_id == group_id,
               Response.questionnaire_version_id == questionnaire_version_id,
               Response.rated_unit_id.in_(targets), Response.status == ResponseStatus.VALID,
               Response.mode != Mode.PUBLIC)
        .group_by(Response.rated_unit_id)).tuples().all())
    return {u for u, target in targets.items() if counts.get(u, 0) >= target}


# Every submit runs it: built once (building it cost more than running it).
_KEY_CELLS = (select(QuotaCell.id, QuotaCell.rated_unit_id, QuotaCell.close_when_full,
                     QuotaCell.target)
              .where(QuotaCell.campaign_id == bindparam("cid"),
                     QuotaCell.group_id == bindparam("gid"),
                     QuotaCell.questionnaire_version_id == bindparam("qv"),
                     QuotaCell.rated_unit_id.in_(bindparam("units", expanding=True))))


def _closing_targets(cells: Iterable[Any]) -> dict[int, int]:
    """Rated unit -> summed target, for the keys whose every cell closes with a known target."""
    targets: dict[int, int] = {}
    open_units: set[int] = set()
    for _id, unit, close, target in cells:
        if not close or target is None:
            open_units.add(unit)
        else:
            targets[unit] = targets.get(unit, 0) + target
    return {u: t for u, t in targets.items() if u not in open_units}
