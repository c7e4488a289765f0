"""The scores page: units ranked by survey points per block, a CI chart, downloads."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from flask import Response, abort, render_template
from flask_babel import lazy_gettext as _l

from analysis.exports import Column, ColumnKind, Table, table_bytes
from survey import db
from survey.i18n import current_language, translator
from survey.manage import bp
from survey.manage.campaigns import level_name
from survey.manage.access import campaign_in_scope, staff_route
from survey.models import Campaign, Unit
from survey.services.scores import (
    DOWNLOADS,
    CampaignScores,
    DesignError,
    SipasRow,
    UnitResult,
    download_scores,
    item_key,
    load_campaign_questionnaires,
    score_campaign,
    small_cell_k,
)
from survey.services.scoring_config import CampaignScoring, ScoringConfigError, scoring_for_campaign, \
    scoring_problems
from survey.services.yoy import COVERAGE_NOTE, year_on_year

# Chart geometry (SVG user units; the SVG scales to the page width).
CHART_W = 760
LABEL_W = 290  # unit names, not codes
PLOT_W = CHART_W - LABEL_W - 20
ROW_H = 26
TOP = 26


SIPAS_NAMES = {"SIPAS": _l("SIPAS index"), "S1": _l("Access to the service"),
               "S2": _l("Administrative procedures"), "S3": _l("Civil servants"),
               "S4": _l("The service's result"), "S5": _l("Feedback received and handled")}


def num(value: float | None, digits: int = 2) -> str:
    """A number for the page: fixed decimals, an en dash when missing or not finite."""
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value:.{digits}f}"


@dataclass(frozen=True)
class Bar:
    """One row of the forest plot: the estimate's x and its 95 % CI's ends."""

    unit: UnitResult
    y: float
    width: float  # x of the estimate, from the plot's left edge
    ci_low: float | None  # x of the CI ends, None when the SE is unknown
    ci_high: float | None

    @property
    def x(self) -> float:
        return round(LABEL_W + self.width, 1)


@dataclass(frozen=True)
class Block:
    """One ranking block (a unit level): its units in rank order and the chart geometry."""

    level: str
    units: tuple[UnitResult, ...]
    bars: tuple[Bar, ...]
    height: float
    ticks: tuple[tuple[float, str], ...]  # (x, label)


def _x(points: float, top: float) -> float:
    share = min(max(points / top, 0.0), 1.0) if top > 0 else 0.0
    return round(LABEL_W + share * PLOT_W, 1)


def blocks_of(result: CampaignScores) -> list[Block]:
    top = result.config.survey_max
    levels: dict[str, list[UnitResult]] = {}
    for u in result.units:
        if u.has_survey:  # units without a survey response have no bar
            levels.setdefault(u.level, []).append(u)
    out = []
    for level, units in levels.items():
        units.sort(key=lambda u: (u.rank is None, u.rank or 0, u.unit))
        bars = []
        for k, u in enumerate(units):
            p = u.points
            known = math.isfinite(p.ci_low) and math.isfinite(p.ci_high)
            bars.append(Bar(u, TOP + k * ROW_H, round(_x(p.value, top) - LABEL_W, 1),
                            _x(p.ci_low, top) if known else None,
                            _x(p.ci_high, top) if known else None))
        ticks = tuple((_x(top * f, top), f"{top * f:g}") for f in (0, 0.25, 0.5, 0.75, 1))
        out.append(Block(level, tuple(units), tuple(bars), TOP + len(units) * ROW_H + 8, ticks))
    return out


def sipas_table(rows: tuple[SipasRow, ...]) -> tuple[list[str], list[tuple[str, dict[str, SipasRow]]]]:
    """Columns (SIPAS then the elements) and one row per unit."""
    elements = sorted({r.code for r in rows if r.kind == "element"})
    by_unit: dict[str, dict[str, SipasRow]] = {}
    for r in rows:
        if r.kind in ("overall", "element"):
            by_unit.setdefault(r.unit, {})[r.code] = r
    return ["SIPAS", *elements], list(by_unit.items())


def _scoring(campaign: Campaign) -> tuple[CampaignScoring | None, list[str]]:
    try:
        return scoring_for_campaign(campaign.id), []
    except ScoringConfigError as exc:
        tr = translator()
        return None, [p.render(tr) for p in scoring_problems(exc)]


@staff_route(bp, "/c/<code>/scores", "scores.view")
def scores(code: str) -> Any:
    campaign = campaign_in_scope(code)
    scoring, problems = _scoring(campaign)
    result = None
    if scoring is not None and scoring.config.sub_criteria:
        try:
            result = score_campaign(campaign.id, scoring.config)
        except DesignError as exc:  # e.g. lonely_psu: fail and a stratum with one response
            problems = [exc.problem.render(translator())]
    columns, sipas_rows = sipas_table(result.sipas) if result else ([], [])
    yoy = year_on_year(campaign.id, scoring.config) if result and scoring else None
    return render_template(
        "manage/scores.html", campaign=campaign, scoring=scoring, problems=problems,
        result=result, blocks=blocks_of(result) if result else [], num=num,
        chart_w=CHART_W, label_w=LABEL_W, plot_w=PLOT_W, row_h=ROW_H,
        sipas_columns=columns, sipas_rows=sipas_rows, formats=tuple(DOWNLOADS), yoy=yoy,
        small_k=small_cell_k(), coverage_note=COVERAGE_NOTE,
        names=unit_names(campaign), level_name=level_name, short=short_name,
        sipas_names=SIPAS_NAMES)


def unit_names(campaign: Campaign) -> dict[str, str]:
    """Unit code -> name in the page language."""
    lang = current_language()
    return {u.code: u.name(lang) for u in db.session().scalars(
        select(Unit).where(Unit.campaign_id == campaign.id))}


def short_name(name: str, limit: int = 38) -> str:
    """A name cut to fit the chart's label column (the full name is in the row's title)."""
    return name if len(name) <= limit else name[:limit - 1].rstrip() + "…"


def _unit_detail(campaign: Campaign, unit: str) -> dict[str, Any]:
    """The unit's scores; ``me`` is None while it has no valid response (or no scoring)."""
    row = db.session().scalar(select(Unit).where(Unit.campaign_id == campaign.id,
                                                 Unit.code == unit))
    if row is None:
        abort(404)
    scoring, problems = _scoring(campaign)
    lang = current_language()
    empty: dict[str, Any] = {"campaign": campaign, "scoring": scoring, "me": None, "subs": [], "sipas": [],
             "described": {}, "of": 0, "result": None, "unit": row, "problems": problems}
    if scoring is None or not scoring.config.sub_criteria:
        return empty
    result = score_campaign(campaign.id, scoring.config)
    me = next((u for u in result.units if u.unit == unit), None)
    if me is None:
        return empty
    texts: dict[str, str] = {}
    for q in load_campaign_questionnaires(campaign.id):
        for question in q.scored_questions:
            texts.setdefault(item_key(q, question.id), question.text.get(lang))
    described = {sub.code: next((texts[i] for i in sub.items if i in texts), "")
                 for sub in scoring.config.sub_criteria}
    subs = [result.sub_criteria[i] for i, code in enumerate(result.sub_criteria.unit) if code == unit]
    sipas = [r for r in result.sipas if r.unit == unit]
    same = [u for u in result.units if u.level == me.level]
    return {"campaign": campaign, "scoring": scoring, "me": me, "subs": subs, "sipas": sipas,
            "described": described, "of": len(same), "result": result, "unit": row,
            "problems": problems}


@staff_route(bp, "/c/<code>/scores/u/<unit>", "scores.view")
def scores_unit(code: str, unit: str) -> Any:
    campaign = campaign_in_scope(code)
    detail = _unit_detail(campaign, unit)
    return render_template("manage/scores_unit.html", num=num, names=unit_names(campaign),
                           level_name=level_name, sipas_names=SIPAS_NAMES, **detail)


@staff_route(bp, "/c/<code>/scores/u/<unit>.<fmt>", "scores.view")
def scores_unit_download(code: str, unit: str, fmt: str) -> Any:
    campaign = campaign_in_scope(code)
    if fmt not in ("csv", "xlsx"):
        return render_template("errors.html", kind="not_found", status=404), 404
    detail = _unit_detail(campaign, unit)
    rows = [(r.sub_criterion, detail["described"].get(r.sub_criterion, ""), r.max_points,
             r.points.value, r.points.se, r.points.ci_low, r.points.ci_high, r.answers,
             r.dont_know) for r in detail["subs"]]
    rows += [(r.code, r.kind, None, r.estimate.value * 100, r.estimate.se * 100,
              r.estimate.ci_low * 100, r.estimate.ci_high * 100, r.estimate.n, None)
             for r in detail["sipas"]]
    table = Table(f"unit-{unit}", (
        Column("code"), Column("description"), Column("max_points", ColumnKind.NUMBER),
        Column("value", ColumnKind.NUMBER), Column("se", ColumnKind.NUMBER),
        Column("ci_low", ColumnKind.NUMBER), Column("ci_high", ColumnKind.NUMBER),
        Column("n", ColumnKind.INTEGER), Column("dont_know", ColumnKind.INTEGER)),
        tuple(rows))
    mime = ("text/csv; charset=utf-8" if fmt == "csv" else
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    return Response(table_bytes(table, fmt), mimetype=mime, headers={
        "Content-Disposition": f'attachment; filename="scores-{campaign.code}-{unit}.{fmt}"'})


@staff_route(bp, "/c/<code>/scores.<fmt>", "scores.view")
def scores_download(code: str, fmt: str) -> Any:
    campaign = campaign_in_scope(code)
    if fmt not in DOWNLOADS:
        return render_template("errors.html", kind="not_found", status=404), 404
    scoring, problems = _scoring(campaign)
    if scoring is None or not scoring.config.sub_criteria:
        return render_template("manage/scores.html", campaign=campaign, scoring=scoring,
                               problems=problems, result=None, blocks=[], num=num,
                               sipas_columns=[], sipas_rows=[], formats=tuple(DOWNLOADS),
                               names={}, level_name=level_name, short=short_name,
                               sipas_names=SIPAS_NAMES), 422
    try:
        data = download_scores(campaign, scoring.config, fmt)
    except DesignError as exc:
        return render_template("manage/scores.html", campaign=campaign, scoring=scoring,
                               problems=[exc.problem.render(translator())], result=None, blocks=[], num=num,
                               sipas_columns=[], sipas_rows=[], formats=tuple(DOWNLOADS),
                               names={}, level_name=level_name, short=short_name,
                               sipas_names=SIPAS_NAMES), 422
    name = f"scores-{campaign.code}.{'zip' if fmt == 'csv' else fmt}"  # csv: tables, methods, codebook
    return Response(data, mimetype=DOWNLOADS[fmt], headers={
        "Content-Disposition": f'attachment; filename="{name}"'})
