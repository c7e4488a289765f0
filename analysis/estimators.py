"""Design-based estimators: means, totals, ratios and proportions with Taylor SEs.

Each function is pure: ``f(design, variable, by=None, ...)`` returns an
:class:`Estimate` or, with ``by=``, a ``{level: Estimate}`` dict sorted by level.
Missing values are handled like R's ``na.rm=TRUE``: a row with a missing value
leaves the domain (R ``design[nas == 0, ]``) but keeps its stratum and PSU for
the variance.  All ``by`` levels are computed in one vectorised pass.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
import functools
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal, NamedTuple, overload

import numpy as np
from numpy.typing import NDArray
from scipy import special  # quantiles as scipy.stats computes them, without importing scipy.stats

from . import taylor
from .design import BoolArray, FloatArray, IntArray, LonelyPSU, SurveyDesign, group_sum, missing_mask

__all__ = [
    "CIMethod",
    "ColumnEstimates",
    "Estimate",
    "interval",
    "Linearised",
    "linearised_mean",
    "mean",
    "mean_codes",
    "mean_columns",
    "proportion",
    "ratio",
    "summarise",
    "total",
]


class CIMethod(StrEnum):
    """Confidence-interval reference distribution (R ``confint(..., df=)``)."""

    NORMAL = "normal"  # qnorm, R's default df = Inf
    T = "t"  # qt with the design degrees of freedom, R df = degf(design)
    LOGIT = "logit"  # expit(logit(p) +- qt(df) se / (p (1 - p))), R svyciprop(method = "logit")


class Estimate(NamedTuple):
    """A design-based estimate (a named tuple: a campaign's scores make hundreds of thousands,
    and a tuple is made in a third of the time of a frozen dataclass).

    Attributes
    ----------
    value
        Point estimate (NaN when the domain has no valid rows).
    se
        Taylor-linearisation standard error.
    ci_low, ci_high
        ``value + se * q((1 -/+ level)/2)`` with ``q`` the normal or t quantile
        (R ``confint`` / ``tconfint``).
    n
        Unweighted count of rows in the domain with a valid (non-missing) value.
    n_eff
        Kish effective sample size ``(sum w)^2 / sum w^2`` over those rows: the
        size of an equal-weight sample with the same precision loss due to
        unequal weights (clustering and stratification are not reflected).
    df
        Degrees of freedom of the interval's reference distribution: the
        design's ``degf`` for t and logit intervals, ``inf`` for the normal one.
    """

    value: float
    se: float
    ci_low: float
    ci_high: float
    n: int
    n_eff: float
    df: float = float("inf")


EstimateResult = Estimate | dict[Any, Estimate]


@dataclass(frozen=True, eq=False)
class Linearised:
    """Per-level point estimates plus the linearised variable that carries their variance.

    ``z`` has one value per design row (0 outside every level); summing the ``z``
    of several estimates over the same grouping linearises their sum, which is
    how :mod:`analysis.scoring` gets SEs of composite scores.
    """

    groups: taylor.Grouping
    value: FloatArray
    z: FloatArray
    used: BoolArray
    n: IntArray
    n_eff: FloatArray


@dataclass(frozen=True, eq=False)
class CodedPart:
    """A domain mean of coded values as :func:`mean_codes` linearises it, kept small:
    ``z_i = w_i * a[group_i, code_i]`` on the grouping's cell rows (0 elsewhere).

    Reads like a :class:`Linearised` (``z`` and ``used`` are made on first use);
    :func:`analysis.scoring._combine` sums several without making them.
    """

    groups: taylor.Grouping
    value: FloatArray
    n: IntArray
    n_eff: FloatArray
    n_rows: int
    rows: IntArray  # the grouping's cell rows
    w: FloatArray  # their weights
    codes: NDArray[np.integer[Any]]  # their codes
    a: FloatArray  # (stratum-level groups x codes)
    valid: BoolArray  # per code: a value, not missing

    @functools.cached_property
    def z(self) -> FloatArray:
        z = np.zeros(self.n_rows)
        z[self.rows] = self.w * self.a.ravel()[self.groups.cell_group * self.a.shape[1] + self.codes]
        return z

    @functools.cached_property
    def used(self) -> BoolArray:
        used = np.zeros(self.n_rows, dtype=bool)
        used[self.rows] = self.valid[self.codes]
        return used


def _level_sums(
    groups: taylor.Grouping, valid: BoolArray, weights: FloatArray
) -> tuple[IntArray, BoolArray, IntArray, FloatArray, FloatArray, FloatArray]:
    lev: IntArray = np.where(valid, groups.row_level, -1)
    used = lev >= 0
    idx = lev[used]
    w = weights[used]
    n_levels = groups.n_levels
    n = np.bincount(idx, minlength=n_levels).astype(np.int64)
    w_sum = group_sum(idx, w, n_levels)
    w2_sum = group_sum(idx, w * w, n_levels)
    return lev, used, n, w_sum, w2_sum, w


def _linearise(
    design: SurveyDesign,
    numerator: FloatArray,
    denominator: FloatArray | None,
    valid: BoolArray,
    by: str | None,
) -> Linearised:
    """Ratio-type linearisation shared by mean, total and ratio.

    total:  value = sum w y,             z_i = w_i y_i                 (R svytotal)
    ratio:  value = sum w y / sum w x,   z_i = w_i (y_i - R x_i) / X   (R svyratio)
    mean is the ratio with x = 1                                        (R svymean)
    """
    groups = taylor.grouping(design, by)
    lev, used, n, w_sum, w2_sum, w = _level_sums(groups, valid, design.weights)
    idx = lev[used]
    y = numerator[used]
    n_levels = groups.n_levels
    y_tot = group_sum(idx, w * y, n_levels)
    z = np.zeros(design.n_rows)
    with np.errstate(divide="ignore", invalid="ignore"):
        if denominator is None:
            value = y_tot
            z[used] = w * y
        else:
            x = denominator[used]
            x_tot = group_sum(idx, w * x, n_levels)
            value = y_tot / x_tot
            z[used] = w * (y - value[idx] * x) / x_tot[idx]
        n_eff = np.where(n > 0, w_sum**2 / w2_sum, 0.0)
    value = np.where(n > 0, value, np.nan)
    return Linearised(groups, value, z, used, n, n_eff)


@overload
def summarise(
    design: SurveyDesign,
    lin: Linearised,
    ci: CIMethod | str = ...,
    level: float = ...,
    *,
    as_dict: Literal[False],
    bounds: tuple[float, float] | None = ...,
) -> Estimate: ...
@overload
def summarise(
    design: SurveyDesign,
    lin: Linearised,
    ci: CIMethod | str = ...,
    level: float = ...,
    as_dict: Literal[True] = ...,
    bounds: tuple[float, float] | None = ...,
) -> dict[Any, Estimate]: ...
@overload
def summarise(
    design: SurveyDesign,
    lin: Linearised,
    ci: CIMethod | str = ...,
    level: float = ...,
    *,
    as_dict: bool,
    bounds: tuple[float, float] | None = ...,
) -> EstimateResult: ...
def summarise(
    design: SurveyDesign,
    lin: Linearised,
    ci: CIMethod | str = CIMethod.NORMAL,
    level: float = 0.95,
    as_dict: bool = True,
    bounds: tuple[float, float] | None = None,
) -> EstimateResult:
    """Turn a :class:`Linearised` into estimates with SEs and CIs.

    ``var = svyrecvar(z)`` per level; CI per :func:`interval`.  Levels without
    valid rows get NaN.
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    var = taylor.variance(design, lin.z, lin.groups, lin.used)
    se, low, high, df = _se_interval(design, lin.value, var, lin.n, ci, level, bounds)
    estimates = [
        Estimate(float(v), float(s), float(lo), float(hi), int(k), float(ne), df)
        for v, s, lo, hi, k, ne in zip(lin.value, se, low, high, lin.n, lin.n_eff, strict=True)
    ]
    if not as_dict:
        return estimates[0]
    return {lvl: est for lvl, est in zip(lin.groups.levels.tolist(), estimates, strict=True)}


def _se_interval(
    design: SurveyDesign,
    value: FloatArray,
    var: FloatArray,
    n: IntArray,
    ci: CIMethod | str,
    level: float,
    bounds: tuple[float, float] | None,
) -> tuple[FloatArray, FloatArray, FloatArray, float]:
    """SE (NaN where a level has no valid row) and the CI of :func:`interval`."""
    method = CIMethod(ci)
    se: FloatArray = np.where(n > 0, np.sqrt(var), np.nan)
    degf = design.degf if method is not CIMethod.NORMAL else 0
    low, high, df = interval(value, se, method, level, degf, bounds)
    return se, low, high, df


def interval(
    value: FloatArray,
    se: FloatArray,
    method: CIMethod,
    level: float,
    degf: int,
    bounds: tuple[float, float] | None = None,
) -> tuple[FloatArray, FloatArray, float]:
    """Confidence limits and their degrees of freedom.

    ``normal``: ``value + se * qnorm(tail)`` (R ``confint``).  ``t``: the same with
    ``qt(tail, degf)`` (R ``confint(..., df = degf(design))``).  ``logit``: with
    ``(a, b) = bounds`` (default ``(0, 1)``) and ``p = (value - a) / (b - a)``,
    ``a + (b - a) expit(logit(p) +- qt(tail, degf) se_p / (p (1 - p)))``, the Wald
    interval of the intercept of ``svyglm(y ~ 1, family = quasibinomial)`` that
    R ``svyciprop(method = "logit", df = degf(design))`` back-transforms; ``p`` at 0
    or 1 gives the point.  Normal and t limits are then clipped to ``bounds``, so
    every interval lies within the estimate's range.
    """
    tail = (1 - level) / 2
    if method is CIMethod.NORMAL:
        df = float("inf")
        q = float(special.ndtri(1 - tail))  # stats.norm.ppf
    else:
        if degf < 1:
            raise ValueError(f"{method.value} interval needs design degrees of freedom >= 1, the design has {degf}")
        df = float(degf)
        q = float(special.stdtrit(degf, 1 - tail))  # stats.t.ppf
    if method is CIMethod.LOGIT:
        a, b = bounds if bounds is not None else (0.0, 1.0)
        p = (value - a) / (b - a)
        with np.errstate(divide="ignore", invalid="ignore"):
            inner = (p > 0) & (p < 1)
            safe = np.where(inner, p, 0.5)
            eta = np.log(safe / (1 - safe))
            half = q * (se / (b - a)) / (safe * (1 - safe))
            lo_p = np.where(inner, 1 / (1 + np.exp(-(eta - half))), p)
            hi_p = np.where(inner, 1 / (1 + np.exp(-(eta + half))), p)
        # The back-transform can miss the estimate by an ulp (SE 0): the limits enclose it.
        low: FloatArray = np.fmin(a + (b - a) * lo_p, value)
        high: FloatArray = np.fmax(a + (b - a) * hi_p, value)
        return low, high, df
    low = value - se * q
    high = value + se * q
    if bounds is not None:
        low = np.clip(low, bounds[0], bounds[1])
        high = np.clip(high, bounds[0], bounds[1])
    return low, high, df


def _finish(
    design: SurveyDesign, lin: Linearised, by: str | None, ci: CIMethod | str, level: float
) -> EstimateResult:
    return summarise(design, lin, ci, level, as_dict=by is not None)


def linearised_mean(design: SurveyDesign, y: FloatArray, by: str | None = None) -> Linearised:
    """Domain means of the values ``y`` (NaN = missing) with their linearised variable."""
    y = np.asarray(y, dtype=np.float64)
    if y.shape != (design.n_rows,):
        raise ValueError(f"values have shape {y.shape}, expected ({design.n_rows},)")
    valid = ~np.isnan(y)
    return _linearise(design, np.where(valid, y, 0.0), np.ones(design.n_rows), valid, by)


@overload
def mean(
    design: SurveyDesign, var: str, by: None = None, ci: CIMethod | str = ..., level: float = ...
) -> Estimate: ...
@overload
def mean(
    design: SurveyDesign, var: str, by: str, ci: CIMethod | str = ..., level: float = ...
) -> dict[Any, Estimate]: ...
def mean(
    design: SurveyDesign,
    var: str,
    by: str | None = None,
    ci: CIMethod | str = CIMethod.NORMAL,
    level: float = 0.95,
) -> EstimateResult:
    """Weighted mean of ``var`` (R ``svymean(~var, design, na.rm=TRUE)``, ``svyby``).

    ``ybar = sum w y / sum w`` over valid domain rows; linearised variable
    ``z_i = w_i (y_i - ybar) / sum w``.
    """
    return _finish(design, linearised_mean(design, design.numeric(var), by), by, ci, level)


@overload
def total(
    design: SurveyDesign, var: str, by: None = None, ci: CIMethod | str = ..., level: float = ...
) -> Estimate: ...
@overload
def total(
    design: SurveyDesign, var: str, by: str, ci: CIMethod | str = ..., level: float = ...
) -> dict[Any, Estimate]: ...
def total(
    design: SurveyDesign,
    var: str,
    by: str | None = None,
    ci: CIMethod | str = CIMethod.NORMAL,
    level: float = 0.95,
) -> EstimateResult:
    """Weighted total of ``var`` (R ``svytotal(~var, design, na.rm=TRUE)``).

    ``Y = sum w y``; linearised variable ``z_i = w_i y_i``.
    """
    y = design.numeric(var)
    valid = ~np.isnan(y)
    lin = _linearise(design, np.where(valid, y, 0.0), None, valid, by)
    return _finish(design, lin, by, ci, level)


@overload
def ratio(
    design: SurveyDesign, num: str, den: str, by: None = None, ci: CIMethod | str = ..., level: float = ...
) -> Estimate: ...
@overload
def ratio(
    design: SurveyDesign, num: str, den: str, by: str, ci: CIMethod | str = ..., level: float = ...
) -> dict[Any, Estimate]: ...
def ratio(
    design: SurveyDesign,
    num: str,
    den: str,
    by: str | None = None,
    ci: CIMethod | str = CIMethod.NORMAL,
    level: float = 0.95,
) -> EstimateResult:
    """Ratio of totals ``sum w y / sum w x`` (R ``svyratio(~num, ~den, design, na.rm=TRUE)``).

    A row missing either variable leaves the domain.  Linearised variable
    ``z_i = w_i (y_i - R x_i) / X``.
    """
    y = design.numeric(num)
    x = design.numeric(den)
    valid = ~np.isnan(y) & ~np.isnan(x)
    lin = _linearise(design, np.where(valid, y, 0.0), np.where(valid, x, 0.0), valid, by)
    return _finish(design, lin, by, ci, level)


@overload
def proportion(
    design: SurveyDesign,
    var: str,
    level_value: Any,
    by: None = None,
    ci: CIMethod | str = ...,
    level: float = ...,
) -> Estimate: ...
@overload
def proportion(
    design: SurveyDesign, var: str, level_value: Any, by: str, ci: CIMethod | str = ..., level: float = ...
) -> dict[Any, Estimate]: ...
def proportion(
    design: SurveyDesign,
    var: str,
    level_value: Any,
    by: str | None = None,
    ci: CIMethod | str = CIMethod.NORMAL,
    level: float = 0.95,
) -> EstimateResult:
    """Share of valid rows with ``var == level_value`` (R ``svymean(~I(var == v), na.rm=TRUE)``).

    Missing values of ``var`` (NaN, ``None``) leave the domain.  The CI is the
    symmetric Wald interval, as ``confint(svymean(...))`` gives.
    """
    col = design.column(var)
    indicator = _indicator(col, level_value)
    return _finish(design, linearised_mean(design, indicator, by), by, ci, level)


def _indicator(col: np.ndarray[Any, Any], level_value: Any) -> FloatArray:
    missing = missing_mask(col)
    hit = np.asarray(col == level_value, dtype=bool)
    return np.where(missing, np.nan, hit.astype(np.float64))


@dataclass(frozen=True, eq=False)
class ColumnEstimates:
    """Domain means of several variables on one grouping, as arrays of shape (variables, levels).

    Row ``j`` holds what ``summarise(design, linearised_mean(design, y[:, j], by))`` gives for
    each level, field by field (:class:`Estimate`), without an object per cell.
    """

    levels: Any  # the ``by`` levels, as :attr:`taylor.Grouping.levels`
    value: FloatArray
    se: FloatArray
    ci_low: FloatArray
    ci_high: FloatArray
    n: IntArray
    n_eff: FloatArray
    df: float
    #: each variable's :class:`Linearised` (as :func:`linearised_mean` gives it), when asked for
    parts: tuple[Linearised | CodedPart, ...] = ()
    #: per variable, rows per (level, code) (:func:`mean_codes` with ``with_counts``)
    code_counts: tuple[IntArray, ...] = ()
    #: per variable, rows per (weight class, code) (:func:`mean_codes` with ``with_class_counts``)
    class_counts: tuple[IntArray, ...] = ()

    def estimates(self, j: int) -> list[Estimate]:
        """Variable ``j`` at every level, as :class:`Estimate` objects in level order."""
        cols = (self.value[j].tolist(), self.se[j].tolist(), self.ci_low[j].tolist(), self.ci_high[j].tolist(),
                self.n[j].tolist(), self.n_eff[j].tolist(), [self.df] * self.value.shape[1])
        return list(map(Estimate._make, zip(*cols, strict=True)))

    def estimate(self, j: int, level_index: int) -> Estimate:
        """Variable ``j`` at level ``level_index`` as an :class:`Estimate`."""
        return Estimate(float(self.value[j, level_index]), float(self.se[j, level_index]),
                        float(self.ci_low[j, level_index]), float(self.ci_high[j, level_index]),
                        int(self.n[j, level_index]), float(self.n_eff[j, level_index]), self.df)


def _columns_fast(design: SurveyDesign) -> bool:
    """True when :func:`mean_columns` may take the batched path: every PSU is a row, no
    calibration, and no lonely stratum under the rules whose effect depends on the variable
    (``fail`` checks the rows used, ``average`` counts the strata used)."""
    s = design._structure
    if not s.psu_is_row or design.is_calibrated:
        return False
    return not (s.lonely.any() and design.lonely_psu in (LonelyPSU.FAIL, LonelyPSU.AVERAGE))


def mean_columns(
    design: SurveyDesign,
    y: FloatArray,
    by: str | None = None,
    ci: CIMethod | str = CIMethod.NORMAL,
    level: float = 0.95,
    bounds: tuple[float, float] | None = None,
    with_parts: bool = False,
) -> ColumnEstimates:
    """Domain means of every column of ``y`` (rows x variables, NaN = missing) in one pass.

    The same numbers as :func:`linearised_mean` then :func:`summarise` column by column, with
    the same operations in the same order (the test suite checks them against each other on
    random designs): the per-level and per-(stratum, level) sums of :func:`taylor.variance`
    become products of sparse 0/1 matrices with the ``(rows x variables)`` block, one pass
    over the rows for every variable at once. Designs with clusters, calibration, or a
    lonely stratum under ``fail`` / ``average`` take the column-by-column path.
    ``with_parts`` keeps each variable's linearised variable (to combine estimates).
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    y = np.asarray(y, dtype=np.float64)
    if y.ndim != 2 or y.shape[0] != design.n_rows:
        raise ValueError(f"values have shape {y.shape}, expected ({design.n_rows}, variables)")
    groups = taylor.grouping(design, by)
    k, n_levels = y.shape[1], groups.n_levels
    if not _columns_fast(design):
        out = [np.empty((k, n_levels)) for _ in range(5)]
        counts = np.zeros((k, n_levels), dtype=np.int64)
        df = float("inf")
        kept: list[Linearised] = []
        for j in range(k):
            lin = linearised_mean(design, y[:, j], by)
            var = taylor.variance(design, lin.z, lin.groups, lin.used)
            se, low, high, df = _se_interval(design, lin.value, var, lin.n, ci, level, bounds)
            for arr, col in zip(out, (lin.value, se, low, high, lin.n_eff), strict=True):
                arr[j] = col
            counts[j] = lin.n
            if with_parts:
                kept.append(lin)
        return ColumnEstimates(groups.levels, out[0], out[1], out[2], out[3], counts, out[4], df, tuple(kept))
    from scipy import sparse

    s = design._structure
    assert groups.cell_rows is not None
    rows = groups.cell_rows  # domain rows with a level, in row order: the cells
    m = rows.size
    lev = groups.row_level[rows]
    ones = np.ones(m)
    # x @ block sums the block's rows per level (per (stratum, level) group) in row order,
    # as np.bincount does; the rows outside a variable's domain carry zeros, which add nothing.
    by_level = sparse.csr_matrix((ones, (lev, np.arange(m))), shape=(n_levels, m))
    n_groups = groups.group_stratum.size
    by_group = sparse.csr_matrix((ones, (groups.cell_group, np.arange(m))), shape=(n_groups, m))
    group_to_level = sparse.csr_matrix((np.ones(n_groups), (groups.group_level, np.arange(n_groups))),
                                       shape=(n_levels, n_groups))
    block = y[rows]
    valid = ~np.isnan(block)
    w = design.weights[rows][:, None]
    wv = np.where(valid, w, 0.0)
    n = np.rint(by_level @ valid.astype(np.float64)).astype(np.int64)
    w_sum = by_level @ wv
    w2_sum = by_level @ (wv * wv)
    yv = np.where(valid, block, 0.0)
    y_tot = by_level @ (wv * yv)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = y_tot / w_sum
        z = np.where(valid, wv * (yv - value[lev]) / w_sum[lev], 0.0)
        n_eff = np.where(n > 0, w_sum**2 / w2_sum, 0.0)
    value = np.where(n > 0, value, np.nan)
    parts: tuple[Linearised, ...] = ()
    if with_parts:
        parts = tuple(_part(design, groups, rows, value[:, j], z[:, j], valid[:, j], n[:, j], n_eff[:, j])
                      for j in range(k))
    del block, valid, wv, yv
    # taylor.variance on the cells (every PSU a row, uncalibrated)
    n_h = s.n_psu[groups.group_stratum].astype(np.float64)[:, None]
    g_sum = by_group @ z
    g_mean = g_sum / n_h
    dev = z - g_mean[groups.cell_group]
    ss = by_group @ (dev * dev) + (n_h - groups.group_cells[:, None]) * g_mean**2
    del z, dev
    lonely_group = s.lonely[groups.group_stratum][:, None]
    if design.lonely_psu is LonelyPSU.ADJUST:
        ss = np.where(lonely_group, g_sum**2, ss)
    else:
        ss = np.where(lonely_group, 0.0, ss)
    var = np.maximum(group_to_level @ (s.scale[groups.group_stratum][:, None] * ss), 0.0)
    se, low, high, df = _se_interval(design, value, var, n, ci, level, bounds)
    return ColumnEstimates(groups.levels, value.T, se.T, low.T, high.T, n.T, n_eff.T, df, parts)


def _part(design: SurveyDesign, groups: taylor.Grouping, rows: IntArray, value: FloatArray, z_cells: FloatArray,
          valid: BoolArray, n: IntArray, n_eff: FloatArray) -> Linearised:
    """One variable of the batched path as the :class:`Linearised` of :func:`linearised_mean`."""
    z = np.zeros(design.n_rows)
    z[rows] = z_cells
    used = np.zeros(design.n_rows, dtype=bool)
    used[rows] = valid
    return Linearised(groups, value.copy(), z, used, n.copy(), n_eff.copy())


#: Above this many (group, weight) classes per row, :func:`mean_codes` sums row by row.
_MAX_CLASS_SHARE = 0.25


def _weight_classes(design: SurveyDesign, groups: taylor.Grouping, w: FloatArray
                    ) -> tuple[IntArray, IntArray, FloatArray] | None:
    """The domain rows as classes of equal (stratum-level group, weight): the class of each
    row, and each class's group and weight; None when there are too many classes to gain.

    Design weights are set per stratum (and per weighting cell): a million rows fall into a
    few thousand classes, so sums over rows become sums over (class, code) counts.
    """
    key = ("weight classes", id(groups))
    cached = design._cache.get(key)
    if cached is not None:
        found: tuple[IntArray, IntArray, FloatArray] | None = cached[1]
        return found
    found = None
    if w.size:
        # (group, weight) pairs: sort by weight within group, new class where either changes
        order = np.lexsort((w, groups.cell_group))
        g_sorted, w_sorted = groups.cell_group[order], w[order]
        start = np.empty(w.size, dtype=bool)
        start[0] = True
        start[1:] = (g_sorted[1:] != g_sorted[:-1]) | (w_sorted[1:] != w_sorted[:-1])
        n_classes = int(start.sum())
        if n_classes <= max(1, int(_MAX_CLASS_SHARE * w.size)):
            cls = np.empty(w.size, dtype=np.int64)
            cls[order] = np.cumsum(start) - 1
            found = (cls, g_sorted[start].astype(np.int64), w_sorted[start].astype(np.float64))
    design._cache[key] = (groups, found)  # the grouping is kept so its id is not reused
    return found


def _scratch(design: SurveyDesign, size: int) -> IntArray:
    """An int64 buffer of ``size`` kept with the design, for per-variable keys: filling memory
    the process already holds is faster than having the kernel map fresh pages each time."""
    key = ("scratch", size)
    buf = design._cache.get(key)
    if buf is None:
        buf = np.empty(size, dtype=np.int64)
        design._cache[key] = buf
    out: IntArray = buf
    return out


def mean_codes(
    design: SurveyDesign,
    codes: Sequence[NDArray[np.integer[Any]]],
    tables: Sequence[FloatArray],
    by: str | None = None,
    ci: CIMethod | str = CIMethod.NORMAL,
    level: float = 0.95,
    bounds: tuple[float, float] | None = None,
    with_parts: bool = False,
    with_counts: bool = False,
    with_class_counts: bool = False,
    counted: Mapping[int, IntArray] | None = None,
) -> ColumnEstimates:
    """Domain means of variables coded by small integers: variable ``j`` is
    ``tables[j][codes[j]]`` (NaN = missing), e.g. option scores of answer codes.

    The same estimates as :func:`mean_columns` on those values, to rounding (about 1e-15
    relative; the test suite checks 1e-12): each row's weight enters sums per (stratum,
    level, code) cell, from which the level totals, the means and the linearised variable
    of every code follow; one pass over the rows then sums the squared deviations of the
    linearised variable from its stratum mean (no cancellation). Designs the batched path
    does not cover (:func:`mean_columns`) take the general one. ``with_parts`` keeps each
    variable's linearised variable (to combine estimates); ``with_counts`` the rows per
    (level, code) of each variable, on the batched path (``code_counts`` stays empty on the
    general one); ``with_class_counts`` the rows per (weight class, code), where the rows
    fall into weight classes (``class_counts``). ``counted``: for variable ``j``, those
    counts as an earlier call on this design and ``by`` gave them (or summed from a joint
    code's), used instead of a pass over the rows when their shape fits.
    """
    if len(codes) != len(tables):
        raise ValueError(f"{len(codes)} code columns for {len(tables)} tables")
    if not _columns_fast(design):
        blocks = [mean_columns(design, np.column_stack([np.asarray(t, dtype=np.float64)[c]
                                                        for c, t in zip(codes[b : b + 8], tables[b : b + 8],
                                                                        strict=True)]),
                               by, ci, level, bounds, with_parts)
                  for b in range(0, len(codes), 8)]
        if not blocks:
            return mean_columns(design, np.empty((design.n_rows, 0)), by, ci, level, bounds)
        return ColumnEstimates(blocks[0].levels, np.vstack([b.value for b in blocks]),
                               np.vstack([b.se for b in blocks]), np.vstack([b.ci_low for b in blocks]),
                               np.vstack([b.ci_high for b in blocks]), np.vstack([b.n for b in blocks]),
                               np.vstack([b.n_eff for b in blocks]), blocks[0].df,
                               tuple(p for b in blocks for p in b.parts))
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    groups = taylor.grouping(design, by)
    s = design._structure
    assert groups.cell_rows is not None
    rows = groups.cell_rows
    every_row = rows.size == design.n_rows  # then rows is 0..n-1: no gather needed
    n_levels, n_groups, k = groups.n_levels, groups.group_stratum.size, len(codes)
    w = design.weights if every_row else design.weights[rows]
    cell_group = groups.cell_group
    n_h = s.n_psu[groups.group_stratum].astype(np.float64)
    scale = s.scale[groups.group_stratum]
    lonely_group = s.lonely[groups.group_stratum]
    classes = _weight_classes(design, groups, w)
    out = [np.empty((k, n_levels)) for _ in range(5)]
    counts = np.zeros((k, n_levels), dtype=np.int64)
    df = float("inf") if CIMethod(ci) is CIMethod.NORMAL else float(design.degf)
    parts: list[Linearised | CodedPart] = []
    code_counts: list[IntArray] = []
    class_counts: list[IntArray] = []
    for j, (column, raw) in enumerate(zip(codes, tables, strict=True)):
        table = np.asarray(raw, dtype=np.float64)
        size = table.size
        c = np.asarray(column)
        if c.shape != (design.n_rows,):
            raise ValueError(f"code column {j} has shape {c.shape}, expected ({design.n_rows},)")
        at = c if every_row else c[rows]
        valid = ~np.isnan(table)
        yv = np.where(valid, table, 0.0)
        kept: IntArray | None = None  # the codes worked on, when not all (see below)
        valid_k, yv_k, size_k = valid, yv, size
        if classes is not None:
            # Rows of one class (group, weight) and one code have one z: count them, then work
            # on (class x code) arrays; the squared deviations are exact per class.
            cls, class_group, class_w = classes
            n_classes = class_group.size
            cnt_c = None if counted is None else counted.get(j)
            if cnt_c is None or cnt_c.shape != (n_classes, size):
                base = design._cache.get(("class base", id(groups), size))
                if base is None:  # cls * size, kept for the next variable with as many codes
                    base = cls * size
                    design._cache[("class base", id(groups), size)] = base
                key_c = np.add(base, at, out=_scratch(design, base.size))  # no fresh 8 MB per variable
                cnt_c = np.bincount(key_c, minlength=n_classes * size).reshape(n_classes, size)
            if with_class_counts:
                class_counts.append(cnt_c)
            # Codes no row has add nothing: the (class x code) work is done on the others (a
            # sub-criterion's combinations of several questionnaires' items are mostly empty).
            kept = np.flatnonzero(cnt_c.any(axis=0))
            if kept.size < size:
                cnt_c, valid_k, yv_k, size_k = cnt_c[:, kept], valid[kept], yv[kept], kept.size
            else:
                kept = None
            w1_c = cnt_c * class_w[:, None]
            to_group = (class_group[:, None] * size_k + np.arange(size_k)).ravel()
            cells = n_groups * size_k
            cnt = np.bincount(to_group, weights=cnt_c.ravel(), minlength=cells).reshape(n_groups, size_k)
            w1 = np.bincount(to_group, weights=w1_c.ravel(), minlength=cells).reshape(n_groups, size_k)
            wsq = np.bincount(to_group, weights=(w1_c * class_w[:, None]).ravel(),
                              minlength=cells).reshape(n_groups, size_k)
        else:
            key = cell_group * size + at
            cells = n_groups * size
            cnt = np.bincount(key, minlength=cells).reshape(n_groups, size)
            w1 = np.bincount(key, weights=w, minlength=cells).reshape(n_groups, size)
            wsq = np.bincount(key, weights=w * w, minlength=cells).reshape(n_groups, size)
        n = group_sum(groups.group_level, cnt[:, valid_k].sum(axis=1).astype(np.float64), n_levels)
        w_sum = group_sum(groups.group_level, w1[:, valid_k].sum(axis=1), n_levels)
        w2_sum = group_sum(groups.group_level, wsq[:, valid_k].sum(axis=1), n_levels)
        y_tot = group_sum(groups.group_level, (w1 * yv_k).sum(axis=1), n_levels)
        has = n > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            value = np.where(has, y_tot / w_sum, np.nan)
            n_eff = np.where(has, w_sum**2 / w2_sum, 0.0)
            # z_i = w_i * a[group, code], a = (y_code - mean) / sum of weights, 0 when missing
            a = np.where(valid_k, (yv_k - value[groups.group_level][:, None]) / w_sum[groups.group_level][:, None],
                         0.0)
        a = np.where(has[groups.group_level][:, None], a, 0.0)
        g_sum = (a * w1).sum(axis=1)
        g_mean = g_sum / n_h
        if classes is not None:
            dev_c = class_w[:, None] * a[class_group] - g_mean[class_group][:, None]
            ss = group_sum(class_group, (cnt_c * dev_c * dev_c).sum(axis=1), n_groups)
        else:
            dev = w * a.ravel()[key] - g_mean[cell_group]  # z_i minus its stratum's mean
            ss = group_sum(cell_group, dev * dev, n_groups)
        ss = ss + (n_h - groups.group_cells) * g_mean**2
        if design.lonely_psu is LonelyPSU.ADJUST:
            ss = np.where(lonely_group, g_sum**2, ss)
        else:
            ss = np.where(lonely_group, 0.0, ss)
        var = np.maximum(group_sum(groups.group_level, scale * ss, n_levels), 0.0)
        n_int = np.rint(n).astype(np.int64)
        se, low, high, _ = _se_interval(design, value, var, n_int, ci, level, bounds)
        for arr, col in zip(out, (value, se, low, high, n_eff), strict=True):
            arr[j] = col
        counts[j] = n_int
        if with_counts:
            to_level = (groups.group_level[:, None] * size_k + np.arange(size_k)).ravel()
            by_level = np.bincount(to_level, weights=cnt.ravel(), minlength=n_levels * size_k)
            level_counts = np.rint(by_level).astype(np.int64).reshape(n_levels, size_k)
            if kept is not None:  # back to every code (the codes left out: 0)
                level_counts_k, level_counts = level_counts, np.zeros((n_levels, size), dtype=np.int64)
                level_counts[:, kept] = level_counts_k
            code_counts.append(level_counts)
        if with_parts:
            if kept is not None:
                a_k, a = a, np.zeros((n_groups, size))
                a[:, kept] = a_k
            parts.append(CodedPart(groups, value, n_int, n_eff, design.n_rows, rows, w, at, a, valid))
    return ColumnEstimates(groups.levels, out[0], out[1], out[2], out[3], counts, out[4], df, tuple(parts),
                           tuple(code_counts), tuple(class_counts))
