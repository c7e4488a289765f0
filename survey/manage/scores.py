"""The scores page: units ranked by survey points per block, a CI chart, downloads."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from flask import Response, render_template

from survey.manage import bp
from survey.manage.access import campaign_in_scope, staff_route
from survey.models import Campaign
from survey.services.scores import (
    DOWNLOADS,
    CampaignScores,
    DesignError,
    SipasRow,
    UnitResult,
    download_scores,
    score_campaign,
    small_cell_k,
)
from survey.services.scoring_config import CampaignScoring, ScoringConfigError, scoring_for_campaign
from survey.services.yoy import COVERAGE_NOTE, year_on_year

# Chart geometry (SVG user units; the SVG scales to the page width).
CHART_W = 640
LABEL_W = 150
PLOT_W = CHART_W - LABEL_W - 20
ROW_H = 30
TOP = 26


def num(value: float | None, digits: int = 2) -> str:
    """A number for the page: fixed decimals, an en dash when missing or not finite."""
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value:.{digits}f}"


@dataclass(frozen=True)
class Bar:
    unit: UnitResult
    y: float
    width: float
    ci_low: float | None  # x of the CI ends, None when the SE is unknown
    ci_high: float | None


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
        return None, [str(p) for p in exc.problems]


@staff_route(bp, "/c/<code>/scores", "scores.view")
def scores(code: str) -> Any:
    campaign = campaign_in_scope(code)
    scoring, problems = _scoring(campaign)
    result = None
    if scoring is not None and scoring.config.sub_criteria:
        try:
            result = score_campaign(campaign.id, scoring.config)
        except DesignError as exc:  # e.g. lonely_psu: fail and a stratum with one response
            problems = [str(exc)]
    columns, sipas_rows = sipas_table(result.sipas) if result else ([], [])
    yoy = year_on_year(campaign.id, scoring.config) if result and scoring else None
    return render_template(
        "manage/scores.html", campaign=campaign, scoring=scoring, problems=problems,
        result=result, blocks=blocks_of(result) if result else [], num=num,
        chart_w=CHART_W, label_w=LABEL_W, plot_w=PLOT_W, row_h=ROW_H,
        sipas_columns=columns, sipas_rows=sipas_rows, formats=tuple(DOWNLOADS), yoy=yoy,
        small_k=small_cell_k(), coverage_note=COVERAGE_NOTE)


@staff_route(bp, "/c/<code>/scores.<fmt>", "scores.view")
def scores_download(code: str, fmt: str) -> Any:
    campaign = campaign_in_scope(code)
    if fmt not in DOWNLOADS:
        return render_template("errors.html", kind="not_found", status=404), 404
    scoring, problems = _scoring(campaign)
    if scoring is None or not scoring.config.sub_criteria:
        return render_template("manage/scores.html", campaign=campaign, scoring=scoring,
                               problems=problems, result=None, blocks=[], num=num,
                               sipas_columns=[], sipas_rows=[], formats=tuple(DOWNLOADS)), 422
    try:
        data = download_scores(campaign, scoring.config, fmt)
    except DesignError as exc:
        return render_template("manage/scores.html", campaign=campaign, scoring=scoring,
                               problems=[str(exc)], result=None, blocks=[], num=num,
                               sipas_columns=[], sipas_rows=[], formats=tuple(DOWNLOADS)), 422
    name = f"scores-{campaign.code}.{'zip' if fmt == 'csv' else fmt}"  # csv: tables, methods, codebook
    return Response(data, mimetype=DOWNLOADS[fmt], headers={
        "Content-Disposition": f'attachment; filename="{name}"'})
