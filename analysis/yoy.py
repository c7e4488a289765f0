"""Year on year across the 2025 merger: last year's score regrouped under this year's units.

A new unit (a 2025 department or commune) may continue several old units, or part of one.
Its comparable earlier score is computed again from the predecessor campaigns' responses:
every response that rated an old unit linked to the new unit is kept, with its design
weight multiplied by the link's share, inside the predecessor's own design (strata, weights,
finite-population correction).  Several predecessor campaigns are independent samples, so
their designs are stacked with their strata kept apart (``campaign|stratum``); the variance
is then the sum over all strata, as R's ``svydesign`` computes it for the stacked data.

For one new unit ``u`` with links ``(old unit o, share a_o)`` the estimate of a sub-criterion
is the domain mean

    s_u = sum_i a_o(i) w_i r_i / sum_i a_o(i) w_i      over responses i rating a linked o,

(:func:`analysis.scoring.score_survey` on the subset design), and the survey points are
``sum_s max_points_s * s_u`` with a Taylor SE that includes the covariance between
sub-criteria.  With two old units merged whole (``a = 1``) and a stratified design with
``w = N_h / n_h`` this is the pooled estimator ``sum_h N_h ybar_h / sum_h N_h`` of R's
``svymean(~y, svydesign(ids=~1, strata=~h, fpc=~N, data=pooled))``.

The comparison is between two independent samples, so the difference's SE is
``sqrt(se_now^2 + se_before^2)``; the difference *exceeds its uncertainty* when
``|d| > z_(1+level)/2 * se_d`` (with both SEs 0, as in a census, any non-zero difference does).
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .design import FloatArray, SurveyDesign
from .estimators import Estimate
from .scoring import ScoringConfig, UnitSurveyScore, score_survey

__all__ = [
    "Comparison",
    "Link",
    "PredecessorSample",
    "compare",
    "partial_reasons",
    "predecessor_scores",
    "stack_samples",
]

# Stands in for "no finite-population correction" in a stacked design where another
# predecessor has one: (N - n) / N then differs from 1 by n * 1e-15.
_NO_FPC = 1e15


@dataclass(frozen=True, eq=False)
class PredecessorSample:
    """One predecessor campaign's valid responses (one row per response x rated unit).

    ``strata`` and ``fpc`` are ``None`` for a one-stratum design without fpc; ``weights``
    are the analysis weights of the predecessor's own design (1 for a census).  Item keys
    name a questionnaire version and question, so two predecessors that used the same
    version share its keys (and its option scores).
    """

    campaign: str
    unit: NDArray[Any]
    group: NDArray[Any]
    weights: FloatArray
    answers: Mapping[str, NDArray[np.uint8]]
    option_scores: Mapping[str, Sequence[float]]
    strata: NDArray[Any] | None = None
    fpc: FloatArray | None = None

    @property
    def n_rows(self) -> int:
        return int(np.asarray(self.unit).size)


@dataclass(frozen=True, slots=True)
class Link:
    """Part ``share`` (0 < share <= 1) of ``old_unit`` of ``campaign`` went to ``new_unit``."""

    campaign: str
    old_unit: str
    new_unit: str
    share: float = 1.0


@dataclass(frozen=True)
class Stacked:
    """Predecessor samples stacked into one design's columns (see :func:`stack_samples`)."""

    campaign: NDArray[Any]
    unit: NDArray[Any]
    group: NDArray[Any]
    weights: FloatArray
    strata: NDArray[Any]
    fpc: FloatArray | None
    answers: Mapping[str, NDArray[np.uint8]]
    option_scores: Mapping[str, Sequence[float]]


def stack_samples(samples: Sequence[PredecessorSample]) -> Stacked:
    """Stack independent samples; strata become ``campaign|stratum`` so they never mix."""
    if not samples:
        raise ValueError("no predecessor samples to stack")
    n = sum(s.n_rows for s in samples)
    any_fpc = any(s.fpc is not None for s in samples)
    answers: dict[str, NDArray[np.uint8]] = {}
    option_scores: dict[str, Sequence[float]] = {}
    offset = 0
    for s in samples:
        for key, codes in s.answers.items():
            table = s.option_scores[key]
            if key in answers and not np.array_equal(np.asarray(option_scores[key], dtype=float),
                                                     np.asarray(table, dtype=float),
                                                     equal_nan=True):
                raise ValueError(f"item {key!r} has different option scores in two samples")
            full = answers.setdefault(key, np.zeros(n, dtype=np.uint8))
            full[offset:offset + s.n_rows] = codes
            option_scores[key] = table
        offset += s.n_rows
    strata = np.concatenate([
        np.asarray([f"{s.campaign}|{h}" for h in s.strata.tolist()], dtype=object)
        if s.strata is not None else np.full(s.n_rows, f"{s.campaign}|", dtype=object)
        for s in samples])
    fpc = None
    if any_fpc:
        fpc = np.concatenate([np.asarray(s.fpc, dtype=np.float64) if s.fpc is not None
                              else np.full(s.n_rows, _NO_FPC) for s in samples])
    return Stacked(
        campaign=np.concatenate([np.full(s.n_rows, s.campaign, dtype=object) for s in samples]),
        unit=np.concatenate([np.asarray(s.unit, dtype=object) for s in samples]),
        group=np.concatenate([np.asarray(s.group, dtype=object) for s in samples]),
        weights=np.concatenate([np.asarray(s.weights, dtype=np.float64) for s in samples]),
        strata=strata, fpc=fpc, answers=answers, option_scores=option_scores)


def predecessor_scores(samples: Sequence[PredecessorSample], links: Sequence[Link],
                       config: ScoringConfig) -> dict[str, UnitSurveyScore]:
    """Each new unit's score recomputed from the predecessors' responses (module notes).

    ``config`` holds the comparable sub-criteria: this year's codes and max points, with the
    predecessors' item keys.  New units whose linked old units have no response are left out.
    """
    stacked = stack_samples(samples)
    by_new: dict[str, dict[tuple[str, str], float]] = defaultdict(dict)
    for link in links:
        if not 0 < link.share <= 1:
            raise ValueError(f"link {link}: share must be in (0, 1]")
        by_new[link.new_unit][(link.campaign, link.old_unit)] = link.share
    key = np.asarray([f"{c}\x1f{u}" for c, u in zip(stacked.campaign.tolist(),
                                                    stacked.unit.tolist(), strict=True)],
                     dtype=object)
    data: dict[str, Any] = {"group": stacked.group, "stratum": stacked.strata}
    if stacked.fpc is not None:
        data["fpc"] = stacked.fpc
    answers = dict(stacked.answers)
    for sub in config.sub_criteria:
        for item in sub.items:
            if item not in answers:  # an item no predecessor response carries
                answers[item] = np.zeros(key.size, dtype=np.uint8)
    option_scores = {k: stacked.option_scores.get(k, [math.nan]) for k in answers}
    out: dict[str, UnitSurveyScore] = {}
    for new_unit in sorted(by_new):
        shares = by_new[new_unit]
        share_by_key = {f"{c}\x1f{u}": a for (c, u), a in shares.items()}
        factor = np.asarray([share_by_key.get(k, 0.0) for k in key.tolist()], dtype=np.float64)
        inside = factor > 0
        if not inside.any():
            continue
        # Rows outside the domain keep their own weight (the design needs weights > 0); the
        # subset then sets them to 0 while keeping their strata for the variance.
        weights = stacked.weights * np.where(inside, factor, 1.0)
        design = SurveyDesign({**data, "unit": np.full(key.size, new_unit, dtype=object),
                               "weight": weights}, weights="weight", strata="stratum",
                              fpc="fpc" if stacked.fpc is not None else None).subset(inside)
        scores = score_survey(design, answers, option_scores, config, unit="unit", group="group")
        if new_unit in scores:
            out[new_unit] = scores[new_unit]
    return out


def partial_reasons(links: Sequence[Link]) -> dict[str, list[str]]:
    """New units whose comparison is partial because an old unit was split, with why.

    A link with share < 1, or an old unit linked to several new units, means only part of
    that old unit's raters' experience belongs to the new unit.
    """
    targets: dict[tuple[str, str], set[str]] = defaultdict(set)
    for link in links:
        targets[(link.campaign, link.old_unit)].add(link.new_unit)
    reasons: dict[str, list[str]] = defaultdict(list)
    for link in links:
        split = len(targets[(link.campaign, link.old_unit)]) > 1
        if split or link.share < 1:
            reasons[link.new_unit].append(
                f"{link.campaign}:{link.old_unit} x{link.share:g}")
    return dict(reasons)


@dataclass(frozen=True)
class Comparison:
    """This year's score of a new unit against its recomputed predecessor score."""

    unit: str
    current: Estimate | None
    previous: Estimate | None
    difference: float
    se: float
    exceeds: bool | None      # None when there is nothing to compare
    status: str               # "compared" | "partial" | "no_predecessor" | "no_current"
    notes: tuple[str, ...] = ()


def compare(current: Mapping[str, Estimate], previous: Mapping[str, Estimate],
            partial: Mapping[str, Sequence[str]] | None = None,
            level: float = 0.95) -> list[Comparison]:
    """Difference and whether it exceeds its uncertainty, for every unit of ``current``."""
    q = statistics.NormalDist().inv_cdf((1 + level) / 2)
    partial = partial or {}
    rows: list[Comparison] = []
    for unit in sorted(set(current) | set(previous)):
        now, before = current.get(unit), previous.get(unit)
        notes = tuple(partial.get(unit, ()))
        if now is None or before is None or math.isnan(before.value) or math.isnan(now.value):
            status = "no_current" if now is None else "no_predecessor"
            rows.append(Comparison(unit, now, before, math.nan, math.nan, None, status, notes))
            continue
        diff = now.value - before.value
        se = math.hypot(now.se, before.se)
        exceeds = abs(diff) > q * se if se > 0 else diff != 0
        rows.append(Comparison(unit, now, before, diff, se, exceeds,
                               "partial" if notes else "compared", notes))
    return rows
