"""Quota progress: targets against invitations, starts and responses, per cell and in total.

Responses carry no form or respondent (privacy, see :mod:`survey.models.response`), so
completed and valid counts come from ``responses`` per (group, questionnaire version, rated
unit); invitations and starts come from ``forms`` and ``assignments``, where the
respondent's own unit tells source cells apart.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sampling import RateMode
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session, aliased

from survey import db
from survey.models import (
    Assignment,
    Form,
    FormStatus,
    QuestionnaireVersion,
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


def cell_for_assignment(cells: Sequence[QuotaCell], unit_id: int | None,
                        parents: Mapping[int, int | None]) -> QuotaCell:
    """Which of the cells sharing (group, questionnaire, rated unit) an invitation counts in.

    The one whose source unit is nearest above the respondent's own unit; else a cell
    without a source; else the first (e.g. a public-link form with no respondent).
    """
    if len(cells) == 1:
        return cells[0]
    ranked = [(d, c) for c in cells if c.source_unit_id is not None
              and (d := _distance(unit_id, c.source_unit_id, parents)) is not None]
    if ranked:
        return min(ranked, key=lambda x: x[0])[1]
    return next((c for c in cells if c.source_unit_id is None), cells[0])


def _nearest_source_cell(by_source: Mapping[int, QuotaCell], unit_id: int | None,
                         parents: Mapping[int, int | None]) -> QuotaCell | None:
    current = unit_id
    while current is not None and by_source:
        cell = by_source.get(current)
        if cell is not None:
            return cell
        current = parents.get(current)
    return None


@dataclass
class Tally:
    """Counts summed over cells; ``target`` sums known targets, ``unknown_targets`` counts
    census cells still without one (then ``target`` is a lower bound)."""

    target: int = 0
    unknown_targets: int = 0
    invited: int = 0
    started: int = 0
    completed: int = 0
    valid: int = 0
    over_quota: int = 0

    def add(self, other: Tally) -> None:
        for name in ("target", "unknown_targets", "invited", "started", "completed", "valid",
                     "over_quota"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass(frozen=True)
class CellState:
    """One quota cell and its progress."""

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

    @property
    def over_quota(self) -> int:
        """Completed forms beyond the target (0 while the target is unknown)."""
        return 0 if self.target is None else max(0, self.completed - self.target)

    @property
    def full(self) -> bool:
        """Whether the target is known and met."""
        return self.target is not None and self.completed >= self.target

    def tally(self) -> Tally:
        return Tally(self.target or 0, int(self.target is None), self.invited, self.started,
                     self.completed, self.valid, self.over_quota)


@dataclass(frozen=True)
class QuotaState:
    """Progress of a campaign: per cell, per group, per rated unit and overall."""

    cells: tuple[CellState, ...]
    by_group: dict[str, Tally] = field(default_factory=dict)
    by_unit: dict[str, Tally] = field(default_factory=dict)
    total: Tally = field(default_factory=Tally)


def invitations_by_cell(s: Session, campaign_id: int, cells: Sequence[QuotaCell],
                        parents: Mapping[int, int | None]) -> dict[int, tuple[int, int]]:
    """(invited, started) per cell id, from one aggregate over forms and assignments."""
    from survey.models import Respondent

    by_key: dict[ResponseKey, list[QuotaCell]] = defaultdict(list)
    for c in cells:
        by_key[(c.group_id, c.questionnaire_version_id, c.rated_unit_id)].append(c)
    started = case((Form.status.in_((FormStatus.STARTED, FormStatus.SUBMITTED)), 1), else_=0)
    rows = s.execute(
        select(Form.group_id, Form.questionnaire_version_id, Assignment.rated_unit_id,
               Respondent.unit_id, func.count(), func.sum(started))
        .join(Assignment, Assignment.form_id == Form.id)
        .outerjoin(Respondent, Respondent.id == Form.respondent_id)
        .where(Form.campaign_id == campaign_id)
        .group_by(Form.group_id, Form.questionnaire_version_id, Assignment.rated_unit_id,
                  Respondent.unit_id))
    # cell_for_assignment, without a distance per candidate: the nearest source cell is the
    # first of the respondent's unit and its ancestors that is some cell's source (a key has
    # at most one cell per source unit).
    by_source: dict[ResponseKey, dict[int, QuotaCell]] = {}
    fallback: dict[ResponseKey, QuotaCell] = {}
    for key, members in by_key.items():
        by_source[key] = {}
        for c in members:
            if c.source_unit_id is not None:
                by_source[key].setdefault(c.source_unit_id, c)
        fallback[key] = next((c for c in members if c.source_unit_id is None), members[0])
    out: dict[int, tuple[int, int]] = {}
    for group_id, qv_id, rated_id, unit_id, n, n_started in rows:
        key = (group_id, qv_id, rated_id)
        candidates = by_key.get(key)
        if not candidates:
            continue  # a form outside the plan (e.g. made by hand)
        cell = _nearest_source_cell(by_source[key], unit_id, parents) or fallback[key]
        invited, begun = out.get(cell.id, (0, 0))
        out[cell.id] = (invited + n, begun + int(n_started or 0))
    return out


def unit_parents(s: Session, campaign_id: int) -> dict[int, int | None]:
    """Parent unit id of every unit of a campaign."""
    return dict(s.execute(select(Unit.id, Unit.parent_id).where(Unit.campaign_id == campaign_id))
                .tuples().all())


def quota_state(campaign_id: int) -> QuotaState:
    """Targets and progress of every quota cell, with totals by group, rated unit and overall.

    Four aggregate queries (cells, units, forms × assignments, responses). When several
    source cells rate the same unit, their responses cannot be told apart; they are shared
    out by each cell's started forms (in cell order), any rest going to the first cell.
    """
    s = db.session()
    rated, source = aliased(Unit), aliased(Unit)
    rows = s.execute(
        select(QuotaCell, RespondentGroup.code, QuestionnaireVersion.qid, rated.code,
               source.code)
        .join(RespondentGroup, RespondentGroup.id == QuotaCell.group_id)
        .join(QuestionnaireVersion, QuestionnaireVersion.id == QuotaCell.questionnaire_version_id)
        .join(rated, rated.id == QuotaCell.rated_unit_id)
        .outerjoin(source, source.id == QuotaCell.source_unit_id)
        .where(QuotaCell.campaign_id == campaign_id).order_by(QuotaCell.id)).tuples().all()
    cells = [r[0] for r in rows]
    parents = unit_parents(s, campaign_id)
    invitations = invitations_by_cell(s, campaign_id, cells, parents)

    valid_case = case((Response.status == ResponseStatus.VALID, 1), else_=0)
    responses: dict[ResponseKey, tuple[int, int]] = {
        (g, q, u): (n, int(v or 0)) for g, q, u, n, v in s.execute(
            select(Response.group_id, Response.questionnaire_version_id,
                   Response.rated_unit_id, func.count(), func.sum(valid_case))
            .where(Response.campaign_id == campaign_id)
            .group_by(Response.group_id, Response.questionnaire_version_id,
                      Response.rated_unit_id))}

    shares: dict[int, tuple[int, int]] = {}
    by_key: dict[ResponseKey, list[QuotaCell]] = defaultdict(list)
    for c in cells:
        by_key[(c.group_id, c.questionnaire_version_id, c.rated_unit_id)].append(c)
    for key, members in by_key.items():
        completed, valid = responses.get(key, (0, 0))
        for c in members:
            take = min(completed, invitations.get(c.id, (0, 0))[1])
            keep_valid = min(valid, take)
            shares[c.id] = (take, keep_valid)
            completed -= take
            valid -= keep_valid
        first = members[0].id
        shares[first] = (shares[first][0] + completed, shares[first][1] + valid)

    states = []
    by_group: dict[str, Tally] = defaultdict(Tally)
    by_unit: dict[str, Tally] = defaultdict(Tally)
    total = Tally()
    for cell, group, qid, rated_code, source_code in rows:
        invited, started = invitations.get(cell.id, (0, 0))
        completed, valid = shares[cell.id]
        state = CellState(cell.id, group, qid, rated_code, source_code, cell.rule,
                          cell.close_when_full, cell.target, invited, started, completed, valid)
        states.append(state)
        tally = state.tally()
        by_group[group].add(tally)
        by_unit[rated_code].add(tally)
        total.add(tally)
    return QuotaState(tuple(states), dict(by_group), dict(by_unit), total)


def closed_units(s: Session, campaign_id: int, group_id: int, questionnaire_version_id: int,
                 rated_unit_ids: Iterable[int]) -> set[int]:
    """Rated units (of ``rated_unit_ids``) whose closing cells are full; call it inside the
    submit transaction, before storing responses.

    The close rule. Responses carry no source, so a closing cell is judged by what a
    response does carry: the key (group, questionnaire version, rated unit), whatever the
    source. A key is *closing* when every quota cell with that key is ``close_when_full``
    and has a known target (a census cell before its list is imported has none); it is
    *full* when its valid responses (excluded ones free their place) reach the sum of those
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
    cells = s.execute(select(QuotaCell.id, QuotaCell.rated_unit_id, QuotaCell.close_when_full,
                             QuotaCell.target).where(*key)).all()
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
               Response.rated_unit_id.in_(targets), Response.status == ResponseStatus.VALID)
        .group_by(Response.rated_unit_id)).tuples().all())
    return {u for u, target in targets.items() if counts.get(u, 0) >= target}


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
