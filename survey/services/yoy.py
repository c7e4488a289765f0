"""Year on year across the 2025 merger: a campaign's ``predecessors`` and crosswalk, stored and
used to show last year's comparable score for every new unit (:mod:`analysis.yoy`).

Links from a predecessor's units to this campaign's units come from the province's crosswalk
(departments, and any split it settles) and, for provinces and communes, from the national
old→new table (:mod:`sampling.units_2025`) through GSO codes or names
(:mod:`sampling.crosswalk`).  Each predecessor's responses keep that campaign's design (the one
:mod:`survey.services.scores` builds); only sub-criteria both campaigns score are compared,
at this year's max points.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select

import sampling
from analysis import Estimate, Pooling, ScoringConfig, SubCriterion
from analysis.exports import Column, ColumnKind, Report, Table
from analysis.yoy import Comparison, Link, PredecessorSample, compare, partial_reasons, \
    predecessor_scores
from sampling.crosswalk import CrosswalkInvalid, match_new_units, match_units, needs_crosswalk, \
    read_crosswalk
from questionnaires import Problem
from questionnaires.problems import N_, Text
from sampling.errors import CampaignInvalid, config_problem
from sampling.units_2025 import load_unit_table
from survey import db
from survey.models import Campaign, Unit

# -- stored with the campaign ----------------------------------------------------------------


def _units_of(campaign_id: int) -> list[sampling.Unit]:
    s = db.session()
    rows = s.execute(select(Unit.id, Unit.code, Unit.name_vi, Unit.name_en, Unit.level,
                            Unit.parent_id).where(Unit.campaign_id == campaign_id)).all()
    code_of = {r.id: r.code for r in rows}
    return [sampling.Unit(r.code, r.name_vi, r.name_en, r.level,
                          code_of.get(r.parent_id) if r.parent_id else None) for r in rows]


def continuation_record(config: sampling.Campaign) -> dict[str, Any] | None:
    """Check ``predecessors`` and the crosswalk; the JSON stored on the campaign, or None.

    Every predecessor must already be loaded (its units are what the crosswalk names).
    Raises :class:`~sampling.errors.CampaignInvalid` with located errors (row and column of
    the crosswalk); reads only.
    """
    if not config.predecessors:
        return None
    s = db.session()
    errors: list[Problem] = []
    old: dict[str, tuple[Campaign, list[sampling.Unit]]] = {}
    for i, code in enumerate(config.predecessors):
        row = s.scalar(select(Campaign).where(Campaign.code == code))
        if row is None:
            errors.append(config_problem("CFG-PREDECESSOR-UNKNOWN", config.file,
                                         f"predecessors[{i}]", value=code))
        else:
            old[code] = (row, _units_of(row.id))
    if errors:
        raise CampaignInvalid(tuple(errors))
    links: list[dict[str, Any]] = []
    if config.crosswalk is not None:
        table = load_unit_table()
        try:
            cw = read_crosswalk(
                Path(config.crosswalk),
                old_units={c: {u.code: u.name_vi for u in units} for c, (_, units) in old.items()},
                required={c: needs_crosswalk(units, row.province_code, table)
                          for c, (row, units) in old.items()},
                new_units={u.code for u in config.units})
        except CrosswalkInvalid as exc:
            raise CampaignInvalid(tuple(exc.errors)) from exc
        links = [{"campaign": k.old_campaign, "old": k.old_code, "new": k.new_code,
                  "share": k.share, "row": k.row} for k in cw.links]
    return {"predecessors": list(config.predecessors),
            "crosswalk_file": Path(config.crosswalk).name if config.crosswalk else None,
            "links": links}


# -- the comparison -------------------------------------------------------------------------

#: The note (in exports) on a unit whose predecessors cover only some old provinces.
COVERAGE_NOTE = "predecessors cover only some of the old provinces (see the notes)"


@dataclass(frozen=True)
class YoYRow:
    """One unit of this campaign against its predecessors."""

    unit: str
    name: str
    level: str
    comparison: Comparison
    sources: tuple[str, ...]    # "CAMPAIGN:old unit" links with shares
    # The predecessors cover only some of the old provinces this unit's territory came from.
    partial_coverage: bool = False


@dataclass(frozen=True)
class YearOnYear:
    """The comparison for a campaign with predecessors."""

    predecessors: tuple[str, ...]
    sub_criteria: tuple[str, ...]       # the comparable sub-criteria
    survey_max: float                   # their max points
    rows: tuple[YoYRow, ...]
    notes: tuple[Text, ...]             # remarks on the whole comparison (catalog messages)


def _links(campaign: Campaign, new_units: Sequence[sampling.Unit], pred: Campaign,
           pred_units: Sequence[sampling.Unit], stored: Sequence[Mapping[str, Any]]
           ) -> list[Link]:
    """Crosswalk links first; the national table for what the crosswalk does not list."""
    table = load_unit_table()
    covered = {str(k["old"]) for k in stored if k["campaign"] == pred.code}
    links = [Link(pred.code, str(k["old"]), str(k["new"]), float(k["share"]))
             for k in stored if k["campaign"] == pred.code and k["new"]]
    new_by_gso = match_new_units(new_units, campaign.province_code, table)
    for code, m in match_units(pred_units, pred.province_code, table).items():
        if code in covered or not m.gso_code:
            continue
        if m.kind == "province":
            target = new_by_gso.get(table.old_provinces[m.gso_code].new_code)
            if target:
                links.append(Link(pred.code, code, target, 1.0))
        elif m.kind == "commune":
            for t in table.targets[m.gso_code]:
                target = new_by_gso.get(t.code)
                # A split without a known share: the old commune's raters count whole for each
                # part; the comparison is flagged partial.
                share = t.share if t.share is not None else 1.0
                if target and share > 0:
                    links.append(Link(pred.code, code, target, share))
    return links


def _comparable(current: ScoringConfig, previous: Sequence[ScoringConfig]
                ) -> tuple[ScoringConfig, ScoringConfig] | None:
    """This year's and the predecessors' configs restricted to the sub-criteria both score."""
    earlier: dict[str, list[SubCriterion]] = defaultdict(list)
    for config in previous:
        for sub in config.sub_criteria:
            earlier[sub.code].append(sub)
    now: list[SubCriterion] = []
    before: list[SubCriterion] = []
    for sub in current.sub_criteria:
        if sub.code not in earlier:
            continue
        parts = earlier[sub.code]
        items = tuple(dict.fromkeys(i for p in parts for i in p.items))
        same = len(parts) == 1 and parts[0].pooling is Pooling.GROUP_WEIGHTED
        now.append(sub)
        before.append(SubCriterion(sub.code, sub.max_points, items,
                                   parts[0].pooling if same else Pooling.POOLED,
                                   parts[0].group_weights if same else {}))
    if not now:
        return None
    return (ScoringConfig(tuple(now), 0.0, dont_know_as_zero=current.dont_know_as_zero,
                          ci=current.ci, level=current.level),
            ScoringConfig(tuple(before), 0.0, dont_know_as_zero=current.dont_know_as_zero,
                          ci=current.ci, level=current.level))


def _sample(campaign: Campaign) -> PredecessorSample | None:
    """A predecessor's valid responses with the design its own scores use."""
    from survey.services import scores

    spec = scores.design_spec_for(campaign.id)
    profile = sorted({v for w in spec.weighting.values() for m in w.margins for v in m.variables})
    inputs = scores.load_score_inputs(campaign.id, profile)
    if inputs.n_rows == 0:
        return None
    # The predecessor's own design, as its own scores use it.
    design, _info = scores.build_design(inputs, spec, scores.listed_sizes(campaign.id))
    return PredecessorSample(
        campaign=campaign.code, unit=inputs.unit, group=inputs.group,
        weights=np.asarray(design.weights, dtype=np.float64),
        answers=inputs.answers, option_scores=inputs.option_scores,
        strata=None if design.strata is None else np.asarray(design.column(design.strata)),
        fpc=None if design.fpc is None else np.asarray(design.numeric(design.fpc)))


def year_on_year(campaign_id: int, config: ScoringConfig) -> YearOnYear | None:
    """Every unit's score against last year's recomputed under it; None without predecessors."""
    from survey.services.scores import score_campaign
    from survey.services.scoring_config import ScoringConfigError, scoring_for_campaign

    s = db.session()
    campaign = s.get(Campaign, campaign_id)
    if campaign is None or not campaign.continues:
        return None
    stored = campaign.continues
    codes = tuple(stored.get("predecessors") or ())
    notes: list[Text] = []
    preds: list[Campaign] = []
    for code in codes:
        row = s.scalar(select(Campaign).where(Campaign.code == code))
        if row is None:
            notes.append(Text(N_("Predecessor {campaign} is not loaded."), {"campaign": code}))
        else:
            preds.append(row)
    new_units = _units_of(campaign_id)
    names = {u.code: u.name_vi for u in new_units}
    levels = {u.code: u.level for u in new_units}
    links: list[Link] = []
    samples: list[PredecessorSample] = []
    previous_configs: list[ScoringConfig] = []
    for pred in preds:
        links += _links(campaign, new_units, pred, _units_of(pred.id), stored.get("links") or [])
        sample = _sample(pred)
        if sample is None:
            notes.append(Text(N_("Predecessor {campaign} has no valid response."), {"campaign": pred.code}))
            continue
        try:
            previous_configs.append(scoring_for_campaign(pred.id).config)
        except ScoringConfigError:
            notes.append(Text(N_("The scoring section of {campaign} is invalid."), {"campaign": pred.code}))
            continue
        samples.append(sample)
    coverage = _province_coverage(campaign, preds)
    if coverage is not None:
        notes.append(coverage)
    pair = _comparable(config, previous_configs) if samples else None
    if pair is not None:
        now_config, before_config = pair
        kept = {x.campaign for x in samples}
        links = [k for k in links if k.campaign in kept]
        try:
            previous = predecessor_scores(samples, links, before_config)
        except ValueError as exc:   # e.g. a lonely stratum in a predecessor's design
            notes.append(Text(N_("Last year's scores could not be computed again: {reason}"),
                              {"reason": str(exc)}))
            pair = None
    elif samples:
        notes.append(Text(N_("No sub-criterion in common with the predecessors.")))
    if pair is None:
        rows = tuple(YoYRow(u.code, u.name_vi, u.level,
                            Comparison(u.code, None, None, float("nan"), float("nan"), None,
                                       "no_predecessor"), ())
                     for u in new_units if u.level != "province")
        return YearOnYear(codes, (), 0.0, rows, tuple(notes))
    current_result = score_campaign(campaign_id, now_config)
    current = {u.unit: u.points for u in current_result.units}
    partial = partial_reasons(links)
    covered_only_partly: set[str] = set()
    if coverage is not None:
        # Departments and the province took in the old provinces' whole territory; a
        # commune's old communes all lie in one province, so its links already say it all.
        covered_only_partly = {k.new_unit for k in links if levels.get(k.new_unit) != "commune"}
        for unit in covered_only_partly:
            partial.setdefault(unit, []).append(COVERAGE_NOTE)
    comparisons = compare(current, {u: p.points for u, p in previous.items()}, partial,
                          now_config.level)
    sources: dict[str, list[str]] = defaultdict(list)
    for k in links:
        sources[k.new_unit].append(f"{k.campaign}:{k.old_unit}"
                                   + ("" if k.share == 1 else f" ×{k.share:g}"))
    rows = tuple(YoYRow(c.unit, names.get(c.unit, ""), levels.get(c.unit, ""), c,
                        tuple(sources.get(c.unit, ())), c.unit in covered_only_partly)
                 for c in comparisons)
    return YearOnYear(codes, tuple(s.code for s in now_config.sub_criteria),
                      now_config.survey_max, rows, tuple(notes))


def _province_coverage(campaign: Campaign, preds: Sequence[Campaign]) -> Text | None:
    """A note when the predecessors cover only some of the old provinces of the new one."""
    table = load_unit_table()
    olds = sorted(p.code for p in table.old_provinces.values()
                  if p.new_code == campaign.province_code)
    covered = sorted({p.province_code for p in preds} & set(olds))
    if not olds or covered == olds:
        return None
    have, of = ", ".join(covered) or "-", ", ".join(olds)
    return Text(N_("Partial: the predecessors cover old province(s) {have} of {of}."),
                {"have": have, "of": of})


# -- export ---------------------------------------------------------------------------------

_N, _T = ColumnKind.NUMBER, ColumnKind.TEXT
YOY_COLUMNS = (
    Column("unit", _T), Column("name", _T), Column("level", _T),
    Column("points", _N, "this year, comparable sub-criteria"), Column("points_se", _N),
    Column("previous_points", _N, "predecessors' responses regrouped under the unit"),
    Column("previous_se", _N), Column("difference", _N), Column("difference_se", _N),
    Column("exceeds_uncertainty", _T, "yes / no: |difference| > 1.96 SE"),
    Column("status", _T, "compared / partial / no_predecessor / no_current"),
    Column("predecessor_units", _T), Column("notes", _T),
)


def yoy_table(result: YearOnYear, k: int) -> Table:
    """The comparison as an export table; estimates from fewer than ``k`` answers are blank."""
    rows = []
    for r in result.rows:
        c = r.comparison
        def shown(e: Estimate | None) -> tuple[Any, Any]:
            return (None, None) if e is None or e.n < k else (e.value, e.se)
        now, before = shown(c.current), shown(c.previous)
        hidden = now[0] is None or before[0] is None
        rows.append((r.unit, r.name, r.level, *now, *before,
                     None if hidden else c.difference, None if hidden else c.se,
                     "" if c.exceeds is None or hidden else ("yes" if c.exceeds else "no"),
                     c.status, "; ".join(r.sources), "; ".join(c.notes)))
    return Table("year_on_year", YOY_COLUMNS, tuple(rows))


def with_yoy(report: Report, campaign_id: int, config: ScoringConfig, k: int) -> Report:
    """``report`` with a ``year_on_year`` table added when the campaign has predecessors."""
    result = year_on_year(campaign_id, config)
    if result is None:
        return report
    tables = list(report.tables)
    at = next((i for i, t in enumerate(tables) if t.name == "methods"), len(tables))
    tables.insert(at, yoy_table(result, k))
    return Report(tuple(tables))
