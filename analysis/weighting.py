"""Weighting steps; each returns a new :class:`~analysis.design.SurveyDesign`.

Base weights (``design_weights``, ``nh_weights``), calibration to population
counts (``poststratify``, ``rake``, recorded on the design so variances use the
calibration residuals exactly as R survey's ``svyrecvar`` does), trimming
(``trim_weights``) and a diagnostic summary (``weights_summary``).

Calibration and trimming act on the rows of the current domain (weight > 0),
as R acts on the rows its design object still holds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .design import (
    FloatArray,
    IntArray,
    PostStratification,
    RakeReport,
    Raking,
    SurveyDesign,
    factorize,
    group_sum,
    label,
)

__all__ = [
    "WeightsSummary",
    "design_weights",
    "nh_weights",
    "poststratify",
    "rake",
    "trim_weights",
    "weights_summary",
]

_TRIM_MAX_PASSES = 1000


def _require_uncalibrated(design: SurveyDesign, action: str) -> None:
    if design.is_calibrated:
        raise ValueError(
            f"{action} would discard the calibration of this design; set base weights first, then calibrate"
        )


def design_weights(design: SurveyDesign, pi: str | ArrayLike) -> SurveyDesign:
    """Set base weights ``w_i = 1 / pi_i`` from inclusion probabilities.

    ``pi`` is a column name or an array with ``0 < pi <= 1``.  Rows outside the
    domain keep weight 0.
    """
    _require_uncalibrated(design, "design_weights")
    p = design.numeric(pi) if isinstance(pi, str) else np.asarray(pi, dtype=np.float64)
    if p.shape != (design.n_rows,):
        raise ValueError(f"pi has shape {p.shape}, expected ({design.n_rows},)")
    bad = design.domain & ~((p > 0) & (p <= 1))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValueError(f"inclusion probability at row {row} is {p[row].item()!r}; it must be in (0, 1]")
    with np.errstate(divide="ignore"):
        w = np.where(design.domain, 1.0 / np.where(design.domain, p, 1.0), 0.0)
    return design._derive(weights=w)


def nh_weights(design: SurveyDesign, population: Mapping[Any, float] | None = None) -> SurveyDesign:
    """Set stratified-SRS base weights ``w_hi = N_h / n_h``.

    ``n_h`` is the number of sampled PSUs of stratum ``h`` in the full sample;
    ``N_h`` comes from ``population`` (stratum label -> population size) or, if
    omitted, from the design's fpc, which is what R ``svydesign(fpc=~N)`` uses
    when no weights are given.
    """
    _require_uncalibrated(design, "nh_weights")
    s = design._structure
    if population is None:
        if s.popsize is None:
            raise ValueError(
                "nh_weights needs population sizes: pass population= or build the design with fpc="
            )
        big_n = s.popsize
    else:
        big_n = np.empty(s.stratum_levels.size)
        for h, name in enumerate(s.stratum_levels.tolist()):
            if name not in population:
                raise ValueError(f"population has no size for stratum {name!r}")
            big_n[h] = float(population[name])
        short = big_n < s.n_psu
        if short.any():
            h = int(np.flatnonzero(short)[0])
            raise ValueError(
                f"stratum {label(s.stratum_levels, h)!r}: population {big_n[h]:g} "
                f"is smaller than its sample {s.n_psu[h]}"
            )
    w = np.where(design.domain, (big_n / s.n_psu)[s.stratum], 0.0)
    return design._derive(weights=w)


@dataclass(frozen=True)
class _Cells:
    variable: str
    levels: tuple[Any, ...]
    population: FloatArray
    cells: IntArray


def _cells(design: SurveyDesign, var: str, population: Mapping[Any, float]) -> _Cells:
    """Map rows to the post-strata of ``population`` (R ``postStratify``'s ``index``)."""
    if not population:
        raise ValueError(f"population for {var!r} is empty")
    levels = tuple(population)
    pop = np.array([float(population[k]) for k in levels])
    if not np.isfinite(pop).all() or (pop < 0).any():
        raise ValueError(f"population counts for {var!r} must be finite and >= 0")
    sample_levels, codes = factorize(design.column(var))
    rows = design._present
    if (codes[rows] < 0).any():
        row = int(np.flatnonzero(rows & (codes < 0))[0])
        raise ValueError(
            f"{var!r} is missing at row {row}; post-strata need a value on every row (R na.fail)"
        )
    position = {k: i for i, k in enumerate(levels)}
    lookup = np.array([position.get(v, -1) for v in sample_levels.tolist()], dtype=np.int64)
    cells = np.where((codes >= 0) & rows, lookup[np.maximum(codes, 0)] if lookup.size else -1, -1)
    weighted_unknown = (cells < 0) & (design.weights > 0)
    if weighted_unknown.any():
        row = int(np.flatnonzero(weighted_unknown)[0])
        raise ValueError(
            f"{var!r} = {label(design.column(var), row)!r} (row {row}) "
            "is not a level of the population table "
            f"{list(levels)!r}; add its population count or recode it"
        )
    return _Cells(var, levels, pop, cells.astype(np.int64))


def _post_stratify_weights(weights: FloatArray, c: _Cells, partial: bool) -> PostStratification:
    inside = c.cells >= 0
    sample = group_sum(c.cells[inside], weights[inside], len(c.levels))
    absent = (sample == 0) & (c.population > 0)
    if absent.any() and not partial:
        missing = [c.levels[i] for i in np.flatnonzero(absent)]
        raise ValueError(
            f"post-strata {missing!r} of {c.variable!r} have a population but no sampled weight; "
            "merge them with a neighbour or pass partial=True to ignore them"
        )
    no_pop = (sample > 0) & (c.population == 0)
    if no_pop.any():
        missing = [c.levels[i] for i in np.flatnonzero(no_pop)]
        raise ValueError(f"post-strata {missing!r} of {c.variable!r} are in the sample but have population 0")
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(sample > 0, c.population / sample, 0.0)
    new = np.where(c.cells >= 0, weights * factor[np.maximum(c.cells, 0)], weights)
    return PostStratification(c.variable, c.levels, tuple(c.population.tolist()), c.cells, new, weights)


def poststratify(
    design: SurveyDesign, var: str, population: Mapping[Any, float], partial: bool = False
) -> SurveyDesign:
    """Post-stratify to known population counts (R ``postStratify``).

    ``w_i <- w_i * N_g / sum_{j in g} w_j`` for the post-stratum ``g`` of row ``i``.
    The step is recorded so that variances use the residual of the linearised
    variable from its post-stratum means (``svyrecvar``).  ``partial=True``
    ignores post-strata that have population but no sample (R warns instead).
    """
    step = _post_stratify_weights(design.weights, _cells(design, var, population), partial)
    return design._derive(weights=step.weights, calibration=(*design.calibration, step))


def rake(
    design: SurveyDesign,
    margins: Mapping[str, Mapping[Any, float]],
    max_iter: int = 100,
    epsilon: float = 1e-10,
    partial: bool = False,
) -> SurveyDesign:
    """Rake to several population margins by iterative post-stratification (R ``rake``).

    Each pass post-stratifies on every margin in turn.  The pass stops when the
    largest absolute change of any cell of the joint table of all margin
    variables falls below ``epsilon * sum(w)`` (``epsilon < 1``, as R scales
    it) or below ``epsilon`` itself (``epsilon >= 1``), or after ``max_iter``
    passes.  The returned design records the final pass's post-stratifications;
    ``design.rake_report`` tells whether it converged (R only warns).
    """
    if not margins:
        raise ValueError("rake needs at least one margin")
    if max_iter < 1:
        raise ValueError(f"max_iter must be >= 1, got {max_iter}")
    prepared = [_cells(design, var, pop) for var, pop in margins.items()]
    threshold = epsilon * float(design.weights.sum()) if epsilon < 1 else float(epsilon)
    # svytable(~ all margin variables): the joint table whose change R monitors.
    joint = np.zeros(design.n_rows, dtype=np.int64)
    for c in prepared:
        joint = np.where((joint >= 0) & (c.cells >= 0), joint * len(c.levels) + c.cells, -1)
    inside = joint >= 0
    _, joint_code = factorize(joint[inside])
    n_joint = int(joint_code.max()) + 1 if joint_code.size else 0

    def table(w: FloatArray) -> FloatArray:
        return group_sum(joint_code, w[inside], n_joint)

    weights = design.weights
    old_table = table(weights)
    steps: list[PostStratification] = []
    change = math.inf
    converged = False
    passes = 0
    while passes < max_iter:
        passes += 1
        steps = []
        for c in prepared:
            steps.append(_post_stratify_weights(weights, c, partial))
            weights = steps[-1].weights
        new_table = table(weights)
        change = float(np.max(np.abs(old_table - new_table))) if new_table.size else 0.0
        if change < threshold:
            converged = True
            break
        old_table = new_table
    report = RakeReport(iterations=passes, max_change=change, converged=converged, threshold=threshold)
    raking = Raking(margins=tuple(steps), report=report)
    return design._derive(weights=weights, calibration=(*design.calibration, raking))


def trim_weights(
    design: SurveyDesign, lower: float = -math.inf, upper: float = math.inf, strict: bool = False
) -> SurveyDesign:
    """Trim weights to ``[lower, upper]`` and spread the excess (R ``trimWeights``).

    Weights outside the bounds are set to the bound; the total trimmed amount is
    added in equal parts to the weights that were inside, so the weight total is
    unchanged.  That can push a weight past ``upper`` again; ``strict=True``
    repeats until none is.  Only domain rows are touched (R would also lift the
    zero weights of a calibrated domain to ``lower``).  Calibration records are
    kept, as R keeps ``postStrata``.
    """
    if lower > upper:
        raise ValueError(f"lower={lower} is above upper={upper}")
    rows = design.domain
    pw = design.weights[rows]
    for _ in range(_TRIM_MAX_PASSES):
        outside = (pw < lower) | (pw > upper)
        if not outside.any():
            break
        if outside.all():
            raise ValueError(f"every weight is outside [{lower}, {upper}]; nothing to spread the excess over")
        clipped = np.clip(pw, lower, upper)
        clipped[~outside] += (pw - clipped).sum() / np.count_nonzero(~outside)
        pw = clipped
        if not strict:
            break
    else:
        raise ValueError(f"trimming to [{lower}, {upper}] did not settle in {_TRIM_MAX_PASSES} passes")
    w = np.zeros(design.n_rows)
    w[rows] = pw
    return design._derive(weights=w)


@dataclass(frozen=True)
class WeightsSummary:
    """Distribution of the domain weights.

    ``cv = sd / mean`` with the population sd (ddof = 0), so that the Kish design
    effect due to weighting is ``deff = n sum w^2 / (sum w)^2 = 1 + cv^2`` and the
    effective sample size ``n_eff = n / deff``.
    """

    n: int
    total: float
    min: float
    max: float
    mean: float
    cv: float
    deff: float
    n_eff: float


def weights_summary(design: SurveyDesign) -> WeightsSummary:
    """Summary of the weights of the domain rows (weight > 0)."""
    w = design.weights[design.domain]
    if w.size == 0:
        raise ValueError("the design's domain is empty")
    total = float(w.sum())
    mean_w = total / w.size
    cv = float(np.std(w) / mean_w)
    deff = float(w.size * np.sum(w * w) / total**2)
    return WeightsSummary(
        n=int(w.size),
        total=total,
        min=float(w.min()),
        max=float(w.max()),
        mean=mean_w,
        cv=cv,
        deff=deff,
        n_eff=w.size / deff,
    )
