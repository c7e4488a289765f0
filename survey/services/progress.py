"""The contractor's progress page: a group × unit matrix, totals per group, the units behind
schedule (with their focal point and unfinished respondents), completions per day.

Everything here is read from :func:`survey.services.quotas.quota_state` (one aggregate over
the quota cells) plus three small queries; the page and its CSV/XLSX download are built from
the same :class:`Progress`, so the download holds exactly what the page shows.

Pace: fieldwork runs from ``opens_at`` to ``closes_at``; a unit on pace has completed at least
``target × elapsed share`` of its forms. A unit is *behind* when it has fewer; the list orders
units by how far below that pace they are (completed / expected, lowest first) and says how
many forms a day it needs from now to reach its target by the deadline.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import func, select

from analysis.exports import Column, ColumnKind, Table, table_bytes
from survey import db
from survey.models import (
    Assignment,
    Campaign,
    Form,
    FormStatus,
    Mode,
    RespondentGroup,
    Role,
    StaffUser,
    Unit,
    utcnow,
)
from survey.models.staff import StaffProvince
from survey.services.audit import record_audit
from survey.services.console import daily_completions
from survey.services.quotas import CellState, QuotaState

#: heat steps of completion against target (lower bounds, percent)
HEAT_STEPS = (0, 25, 50, 75, 100)
BEHIND_LIST = 10  # units shown in the behind-schedule list


@dataclass(frozen=True)
class MatrixCell:
    completed: int
    target: int | None  # None: a census cell whose size is not known yet

    @property
    def share(self) -> float | None:
        return None if not self.target else self.completed / self.target

    @property
    def heat(self) -> int:
        """0..5: the step of :data:`HEAT_STEPS` the share reaches (5: no target known)."""
        share = self.share
        if share is None:
            return 5
        return sum(1 for s in HEAT_STEPS[1:] if share * 100 >= s)


@dataclass(frozen=True)
class UnitRow:
    code: str
    name: str
    level: str
    cells: dict[str, MatrixCell]  # group code -> cell
    completed: int
    target: int
    expected: float  # forms completed by now at a steady pace to the target
    behind: bool
    per_day: float | None  # forms a day needed from now to reach the target (None: done)
    contact: tuple[str, str] | None = None  # focal point: name, email
    unfinished: int = 0  # web forms rating this unit not submitted (reminder candidates)

    @property
    def pace(self) -> float:
        """Completed / expected (1 = on pace)."""
        return self.completed / self.expected if self.expected > 0 else math.inf


@dataclass(frozen=True)
class GroupTotal:
    code: str
    name: str
    completed: int
    target: int

    @property
    def share(self) -> float | None:
        return None if not self.target else self.completed / self.target


@dataclass(frozen=True)
class Progress:
    groups: list[tuple[str, str]]  # (code, name) of the matrix columns
    rows: list[UnitRow]  # matrix rows, filtered and sorted as shown
    totals: list[GroupTotal]
    behind: list[UnitRow]  # the most behind first
    daily: list[tuple[dt.date, int]]
    elapsed: float  # share of fieldwork time gone, 0..1
    days_left: float
    levels: list[tuple[str, str]] = field(default_factory=list)  # (code, name) for the filter
    units: list[tuple[str, str]] = field(default_factory=list)  # (code, name) for the filter
    # every group, for the filter
    group_choices: list[tuple[str, str]] = field(default_factory=list)


def fieldwork_clock(campaign: Campaign, now: dt.datetime) -> tuple[float, float]:
    """(share of fieldwork time gone, days left)."""
    span = (campaign.closes_at - campaign.opens_at).total_seconds() or 1.0
    gone = (now - campaign.opens_at).total_seconds()
    return (min(1.0, max(0.0, gone / span)),
            max(0.0, (campaign.closes_at - now).total_seconds() / 86400))


def _names(campaign: Campaign, lang: str) -> tuple[dict[str, tuple[str, str]], dict[str, str]]:
    s = db.session()
    units = {code: (vi if lang != "en" or not en else en, level) for code, vi, en, level in
             s.execute(select(Unit.code, Unit.name_vi, Unit.name_en, Unit.level)
                       .where(Unit.campaign_id == campaign.id))}
    groups = {code: (vi if lang != "en" or not en else en) for code, vi, en in
              s.execute(select(RespondentGroup.code, RespondentGroup.name_vi,
                               RespondentGroup.name_en)
                        .where(RespondentGroup.campaign_id == campaign.id)
                        .order_by(RespondentGroup.id))}
    return units, groups


def focal_contacts(campaign: Campaign) -> dict[str, tuple[str, str]]:
    """Unit code -> (name, email) of an active focal point of the campaign's province."""
    rows = db.session().execute(
        select(StaffUser.agency_code, StaffUser.full_name, StaffUser.email)
        .join(StaffProvince, StaffProvince.user_id == StaffUser.id)
        .where(StaffUser.role == Role.FOCAL_POINT, StaffUser.active.is_(True),
               StaffProvince.province_code == campaign.province_code)
        .order_by(StaffUser.id)).all()
    out: dict[str, tuple[str, str]] = {}
    for code, name, email in rows:
        if code:
            out.setdefault(code, (name, email))
    return out


def unfinished_by_unit(campaign: Campaign, codes: Sequence[str]) -> dict[str, int]:
    """Web forms not submitted, per rated unit code (those a reminder would reach)."""
    if not codes:
        return {}
    rows = db.session().execute(
        select(Unit.code, func.count(func.distinct(Form.id)))
        .select_from(Form).join(Assignment, Assignment.form_id == Form.id)
        .join(Unit, Unit.id == Assignment.rated_unit_id)
        .where(Form.campaign_id == campaign.id, Form.mode == Mode.WEB,
               Form.status != FormStatus.SUBMITTED, Unit.code.in_(list(codes)))
        .group_by(Unit.code)).all()
    return {code: n for code, n in rows}


def _every_day(daily: Sequence[tuple[dt.date, int]]) -> list[tuple[dt.date, int]]:
    """Responses per day (:func:`survey.services.console.daily_completions`, the unit the
    quota targets count in), with the days nobody answered as zeros."""
    if not daily:
        return []
    counts = dict(daily)
    first, last = min(counts), max(counts)
    return [(first + dt.timedelta(days=k), counts.get(first + dt.timedelta(days=k), 0))
            for k in range((last - first).days + 1)]


def matrix_cells_html(row: UnitRow, groups: Sequence[tuple[str, str]], elapsed: float) -> str:
    """A matrix row's cells (numbers and fixed class names only, so nothing to escape):
    built here rather than in the template, the page's hot loop at 2,000 cells."""
    out = []
    for g, _ in groups:
        c = row.cells.get(g)
        if c is None:
            out.append('<td class="na">·</td>')
            continue
        lag = bool(c.target) and c.completed < (c.target or 0) * elapsed
        target = "?" if c.target is None else str(c.target)
        out.append(f'<td class="h{c.heat}{" lag" if lag else ""}">{c.completed}/{target}'
                   f'{"▾" if lag else ""}</td>')
    return "".join(out)


SORTS = ("behind", "name", "completed")


def build_progress(campaign: Campaign, state: QuotaState, cells: Sequence[CellState], lang: str,
                   *, group: str = "", level: str = "", unit: str = "", only_behind: bool = False,
                   sort: str = "behind", with_contacts: bool = True, with_daily: bool = True,
                   now: dt.datetime | None = None) -> Progress:
    """The progress page's numbers for ``cells`` (a focal point's are its own unit's only)."""
    now = now or utcnow()
    elapsed, days_left = fieldwork_clock(campaign, now)
    unit_names, group_names = _names(campaign, lang)
    per: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0, 0]))
    for c in cells:
        slot = per[c.rated_unit][c.group]
        slot[0] += c.completed
        slot[1] += c.target or 0
        slot[2] += c.target is None
    present_groups = [g for g in group_names if any(g in v for v in per.values())]
    levels = sorted({unit_names.get(u, (u, ""))[1] for u in per})
    all_rows: list[UnitRow] = []
    for code, by_group in per.items():
        name, lvl = unit_names.get(code, (code, ""))
        matrix = {g: MatrixCell(v[0], None if v[2] and not v[1] else v[1])
                  for g, v in by_group.items() if not group or g == group}
        if not matrix:
            continue
        completed = sum(m.completed for m in matrix.values())
        target = sum(m.target or 0 for m in matrix.values())
        expected = target * elapsed
        left = max(0, target - completed)
        all_rows.append(UnitRow(
            code, name, lvl, matrix, completed, target, expected,
            behind=target > 0 and completed < expected,
            per_day=(left / max(days_left, 1.0)) if left else None))
    def shown(r: UnitRow) -> bool:
        return ((not level or r.level == level) and (not unit or r.code == unit)
                and (not only_behind or r.behind))
    rows = [r for r in all_rows if shown(r)]
    behind = sorted((r for r in rows if r.behind), key=lambda r: (r.pace, r.name))[:BEHIND_LIST]
    if with_contacts and behind:
        contacts = focal_contacts(campaign)
        unfinished = unfinished_by_unit(campaign, [r.code for r in behind])
        behind = [UnitRow(r.code, r.name, r.level, r.cells, r.completed, r.target, r.expected,
                          r.behind, r.per_day, contacts.get(r.code), unfinished.get(r.code, 0))
                  for r in behind]
    keys = {"name": lambda r: (r.level, r.name),
            "completed": lambda r: (-r.completed, r.name),
            "behind": lambda r: (r.pace, r.name)}
    rows.sort(key=keys.get(sort, keys["behind"]))
    # columns: the groups that have a cell among the rows shown
    groups = [(g, group_names[g]) for g in present_groups if (not group or g == group)
              and any(g in r.cells for r in rows)]
    totals = []
    for g, gname in groups:
        done = sum(r.cells[g].completed for r in rows if g in r.cells)
        target = sum(r.cells[g].target or 0 for r in rows if g in r.cells)
        totals.append(GroupTotal(g, gname, done, target))
    return Progress(groups, rows, totals, behind,
                    _every_day(daily_completions(campaign)) if with_daily else [], elapsed,
                    days_left,
                    levels=[(lv, lv) for lv in levels],
                    units=sorted(((r.code, r.name) for r in all_rows), key=lambda u: u[1]),
                    group_choices=[(g, group_names[g]) for g in present_groups])


def progress_table(progress: Progress, headers: dict[str, str]) -> Table:
    """The matrix as shown: one row per (unit, group) cell, names in the page's language."""
    cols = (Column(headers["unit"], ColumnKind.TEXT), Column(headers["level"], ColumnKind.TEXT),
            Column(headers["group"], ColumnKind.TEXT),
            Column(headers["completed"], ColumnKind.INTEGER),
            Column(headers["target"], ColumnKind.INTEGER),
            Column(headers["percent"], ColumnKind.NUMBER),
            Column(headers["behind"], ColumnKind.INTEGER),
            Column("unit_code", ColumnKind.TEXT), Column("group_code", ColumnKind.TEXT))
    names = dict(progress.groups)
    rows = []
    for r in progress.rows:
        for g, _ in progress.groups:
            cell = r.cells.get(g)
            if cell is None:
                continue
            share = cell.share
            rows.append((r.name, headers.get("level:" + r.level, r.level), names[g],
                         cell.completed, cell.target,
                         None if share is None else round(100 * share, 1),
                         int(r.behind), r.code, g))
    return Table("progress", cols, tuple(rows))


def export_progress(campaign: Campaign, table: Table, fmt: str) -> bytes:
    """The shown matrix as CSV or XLSX; audited like the quota download."""
    data = table_bytes(table, fmt)
    with db.write_transaction():
        record_audit("export.progress", province_code=campaign.province_code,
                     object_type="campaign", object_id=campaign.code,
                     detail={"format": fmt, "rows": len(table.rows)})
    return data
