"""From answers to PAR-index points, index %, ranks, bands, and SIPAS indices.

Everything the provinces vary is configuration (frozen dataclasses below); the
formulas are fixed here and documented per function.  Estimates carry
design-based SEs: every score is a domain mean (or a linear combination of
domain means) whose linearised variable is summed before the variance is taken
(:mod:`analysis.taylor`), so composite scores get correct SEs, covariances
between their parts included.

Choices (DOMAIN.md section 6, documented so they stay consistent):

* An answer is an option code (uint8); 0 = not answered.  Each item has a table
  ``code -> score`` in [0, 1]; NaN marks "don't know".  "Don't know" is excluded
  from numerator and denominator by default and its rate is reported; with
  ``dont_know_as_zero`` it is a valid answer scoring 0.
* A sub-criterion fed by several items scores each *response* as the mean of
  its valid item scores, then averages responses with the design weights.  One
  response is one observation, so the design variance stays valid; a response
  with no valid item is left out of that sub-criterion.
* ``Pooling.POOLED``: one weighted mean over all respondent groups.
  ``Pooling.GROUP_WEIGHTED``: a weighted mean per group, then
  ``sum_g lambda_g m_g / sum_g lambda_g`` over the groups that have valid
  answers for that unit (weights re-normalised when a group is absent).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from . import taylor
from .design import BoolArray, FloatArray, IntArray, SurveyDesign, factorize, group_sum
from .estimators import (
    CIMethod,
    CodedPart,
    ColumnEstimates,
    Estimate,
    Linearised,
    linearised_mean,
    mean_codes,
    mean_columns,
    summarise,
)

__all__ = [
    "Band",
    "EstimateArrays",
    "ItemEstimates",
    "ItemScore",
    "NoSurvey",
    "Pooling",
    "ScoringConfig",
    "SipasConfig",
    "SipasElement",
    "SipasResult",
    "SubCriterion",
    "SubCriterionScore",
    "UnitIndex",
    "UnitSurveyScore",
    "compile_index",
    "item_estimates",
    "score_items",
    "score_survey",
    "sipas",
    "survey_estimates",
    "SurveyEstimates",
]


class Pooling(StrEnum):
    """How respondent groups are combined for one sub-criterion."""

    POOLED = "pooled"
    GROUP_WEIGHTED = "group_weighted"


class NoSurvey(StrEnum):
    """Index of a unit without survey answers."""

    RESCALE = "rescale"  # appraised / appraised_max x 100 (Ha Noi's rule)
    ZERO = "zero"  # survey points count as 0 of the full maximum


@dataclass(frozen=True)
class SubCriterion:
    """A sub-criterion scored from the survey.

    ``group_weights`` (group label -> weight) is required for
    ``Pooling.GROUP_WEIGHTED`` and must cover every group that answers it.
    """

    code: str
    max_points: float
    items: tuple[str, ...]
    pooling: Pooling = Pooling.POOLED
    group_weights: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.items:
            raise ValueError(f"sub-criterion {self.code!r} has no items")
        if not self.max_points > 0:
            raise ValueError(f"sub-criterion {self.code!r}: max_points must be > 0, got {self.max_points!r}")
        if self.pooling is Pooling.GROUP_WEIGHTED:
            if not self.group_weights:
                raise ValueError(f"sub-criterion {self.code!r} is group-weighted but has no group_weights")
            if (
                any(not (w >= 0) for w in self.group_weights.values())
                or sum(self.group_weights.values()) <= 0
            ):
                raise ValueError(f"sub-criterion {self.code!r}: group weights must be >= 0 and not all 0")


@dataclass(frozen=True)
class Band:
    """A classification band: units with index % >= ``min_pct`` (highest band first)."""

    label: str
    min_pct: float


@dataclass(frozen=True)
class ScoringConfig:
    """The points table and rules of one campaign (never hard-coded)."""

    sub_criteria: tuple[SubCriterion, ...]
    appraised_max: float
    bands: tuple[Band, ...] = ()
    dont_know_as_zero: bool = False
    no_survey: NoSurvey = NoSurvey.RESCALE
    ci: CIMethod = CIMethod.NORMAL
    level: float = 0.95

    def __post_init__(self) -> None:
        codes = [s.code for s in self.sub_criteria]
        if len(set(codes)) != len(codes):
            raise ValueError(f"sub-criterion codes repeat: {codes}")
        if self.appraised_max < 0:
            raise ValueError(f"appraised_max must be >= 0, got {self.appraised_max!r}")
        labels = [b.label for b in self.bands]
        if len(set(labels)) != len(labels):
            raise ValueError(f"band labels repeat: {labels}")

    @property
    def survey_max(self) -> float:
        return float(sum(s.max_points for s in self.sub_criteria))

    @property
    def total_max(self) -> float:
        return self.appraised_max + self.survey_max


class SubCriterionScore(NamedTuple):  # a tuple: made once per unit and item
    """One unit's result on one sub-criterion.

    ``score`` is the weighted mean option score (0..1), ``points`` is
    ``max_points * score`` (SE and CI scaled alike).  ``answers`` counts item
    answers given (code != 0) and ``dont_know`` those that were "don't know".
    """

    code: str
    score: Estimate
    points: Estimate
    answers: int
    dont_know: int

    @property
    def dont_know_rate(self) -> float:
        """Unweighted share of given answers that were "don't know" (NaN if none given)."""
        return self.dont_know / self.answers if self.answers else float("nan")


@dataclass(frozen=True)
class UnitSurveyScore:
    """Survey result of one rated unit: sub-criteria and their point total.

    ``points`` sums ``max_points * score`` over sub-criteria with valid answers
    (a sub-criterion nobody answered adds 0); its SE accounts for the
    covariance between sub-criteria answered by the same respondents.
    """

    unit: Any
    sub_criteria: Mapping[str, SubCriterionScore]
    points: Estimate

    @property
    def has_survey(self) -> bool:
        """Some response feeds a sub-criterion: the total counts the rows any sub-criterion
        uses (``points.n``), so this is ``any(s.score.n > 0 for s in sub_criteria.values())``."""
        return self.points.n > 0


class EstimateArrays(NamedTuple):
    """:class:`Estimate` fields as arrays of one shape (e.g. sub-criteria x units)."""

    value: FloatArray
    se: FloatArray
    ci_low: FloatArray
    ci_high: FloatArray
    n: IntArray
    n_eff: FloatArray
    df: FloatArray

    def at(self, k: int, j: int) -> Estimate:
        return Estimate(float(self.value[k, j]), float(self.se[k, j]), float(self.ci_low[k, j]),
                        float(self.ci_high[k, j]), int(self.n[k, j]), float(self.n_eff[k, j]), float(self.df[k, j]))


class SurveyEstimates(NamedTuple):
    """Every sub-criterion at every unit (level of the ``unit`` grouping) as arrays of shape
    (sub-criteria, levels), and each unit's point total: what :func:`score_survey` gives as
    objects per unit."""

    levels: list[Any]  # the unit grouping's levels, in its order
    codes: tuple[str, ...]  # the sub-criteria, in the configuration's order
    score: EstimateArrays  # weighted mean option score, 0..1
    points: EstimateArrays  # max_points x score (SE and CI alike; df the normal's)
    answers: IntArray  # item answers given, don't know included
    dont_know: IntArray
    totals: list[Estimate]  # per level: the survey points

    def scores(self) -> dict[Any, UnitSurveyScore]:
        """Unit -> :class:`UnitSurveyScore`; each unit's sub-criteria are read from the arrays
        when asked for."""
        index = {code: k for k, code in enumerate(self.codes)}
        return {u: UnitSurveyScore(u, _UnitSubScores(self, index, j), self.totals[j])
                for j, u in enumerate(self.levels)}


class _UnitSubScores(Mapping[str, SubCriterionScore]):
    """One unit's sub-criteria (code -> :class:`SubCriterionScore`), made from
    :class:`SurveyEstimates` when read."""

    __slots__ = ("_est", "_index", "_j")

    def __init__(self, est: SurveyEstimates, index: Mapping[str, int], j: int):
        self._est, self._index, self._j = est, index, j

    def __getitem__(self, code: str) -> SubCriterionScore:
        k, j, est = self._index[code], self._j, self._est
        return SubCriterionScore(code, est.score.at(k, j), est.points.at(k, j), int(est.answers[k, j]),
                                 int(est.dont_know[k, j]))

    def __iter__(self) -> Iterator[str]:
        return iter(self._est.codes)

    def __len__(self) -> int:
        return len(self._est.codes)


@dataclass(frozen=True)
class UnitIndex:
    """Published index of one unit: ``(appraised + survey) / max x 100``."""

    unit: Any
    appraised: float
    survey: float | None
    index_pct: float
    block: Any
    rank: int
    band: str | None


def _score_tables(item: str, table: Sequence[float], as_zero: bool) -> tuple[FloatArray, BoolArray]:
    """Score by option code (NaN for code 0 and for "don't know" unless ``as_zero``) and the
    don't-know codes, checked: option scores in [0, 1], NaN = don't know."""
    lookup = np.asarray(table, dtype=np.float64)
    real = lookup[1:][~np.isnan(lookup[1:])]
    if ((real < 0) | (real > 1)).any():
        raise ValueError(
            f"item {item!r}: option scores must lie in [0, 1] (NaN = don't know), got {list(table)}"
        )
    dont_know = np.isnan(lookup)
    dont_know[0] = False
    score = np.where(dont_know, 0.0, lookup) if as_zero else lookup.copy()
    score[0] = np.nan
    return score, dont_know


def _checked_codes(item: str, codes: NDArray[Any], size: int) -> NDArray[Any]:
    c = np.asarray(codes)
    if c.dtype.kind not in "iu":
        raise ValueError(f"item {item!r}: option codes must be integers (uint8), got dtype {c.dtype}")
    if c.size and ((c.dtype.kind == "i" and int(c.min()) < 0) or int(c.max()) >= size):  # uint8: no minimum
        bad = int(c.max()) if int(c.max()) >= size else int(c.min())
        raise ValueError(
            f"item {item!r}: option code {bad} has no score (the table covers codes 1..{size - 1})"
        )
    return c


def _answer_counts(
    codes: NDArray[Any], dont_know: BoolArray, level: IntArray, in_domain: BoolArray, n_levels: int,
    bases: dict[int, IntArray] | None = None,
) -> tuple[IntArray, IntArray]:
    """Answers given and "don't know" answers per level, over the domain rows (one count pass).

    ``bases`` keeps ``level * size`` per table size across calls on the same rows."""
    size = dont_know.size
    inside = codes if level.size == codes.size else codes[in_domain]  # every row in the domain: no copy
    base = None if bases is None else bases.get(size)
    if base is None:
        base = level * size
        if bases is not None:
            bases[size] = base
    by_code = np.bincount(base + inside, minlength=n_levels * size).reshape(n_levels, size)
    return by_code[:, 1:].sum(axis=1), by_code[:, dont_know].sum(axis=1)


# Variables estimated together by mean_columns: bounds the (rows x block) arrays it holds.
_BLOCK = 8
# A pooled sub-criterion with at most this many combinations of its items' codes is
# estimated from the combinations (mean_codes); beyond, from the response scores.
_MAX_COMBOS = 4096


def _response(coded: Sequence[tuple[NDArray[Any], FloatArray]], combos: IntArray | None) -> FloatArray:
    """Mean valid item score per response (NaN: none valid); ``combos``: per combination of
    the items' codes (mixed radix, first item fastest) instead of per response."""
    total: FloatArray | None = None
    valid: FloatArray | None = None
    stride = 1
    for codes, table in coded:
        at = codes if combos is None else (combos // stride) % table.size
        stride *= table.size
        score = table[at]
        ok = ~np.isnan(score)
        total = np.where(ok, score, 0.0) if total is None else total + np.where(ok, score, 0.0)
        valid = ok.astype(np.float64) if valid is None else valid + ok
    assert total is not None and valid is not None
    with np.errstate(divide="ignore", invalid="ignore"):
        out: FloatArray = np.where(valid > 0, total / valid, np.nan)
    return out


def _combine(
    design: SurveyDesign, parts: Sequence[Linearised | CodedPart], coef: FloatArray, average: bool
) -> Linearised:
    """Linear combination of estimates on one grouping, per level.

    ``average=False``: ``sum_k coef_k theta_k`` over parts with data (others add 0).
    ``average=True``: ``sum_k coef_k theta_k / sum_k coef_k`` over parts with data.
    The linearised variable combines the same way row by row, so the variance
    includes the covariances between parts.  ``n`` counts rows used by any part;
    ``n_eff`` is the Kish size of the design weights of those rows.  Parts of
    :func:`mean_codes` (:class:`CodedPart`) combine their small tables first, then
    gather once per part: ``z_i = w_i * sum_k factor_k a_k[group_i, code_ik]``.
    """
    groups = parts[0].groups
    has = np.array([p.n > 0 for p in parts], dtype=bool)  # parts x levels
    c = coef[:, None] * has
    denom = c.sum(axis=0) if average else np.ones(groups.n_levels)
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(denom > 0, c / denom, 0.0)  # parts x levels
        value = np.where(
            has.any(axis=0), (factor * np.nan_to_num(np.array([p.value for p in parts]))).sum(axis=0), np.nan
        )
    level = groups.row_level
    in_level = level >= 0
    z = np.zeros(design.n_rows)
    used = np.zeros(design.n_rows, dtype=bool)
    coded = [(k, p) for k, p in enumerate(parts) if isinstance(p, CodedPart)]
    if coded:
        first = coded[0][1]
        total = np.zeros(first.rows.size)
        any_valid = np.zeros(first.rows.size, dtype=bool)
        bases: dict[int, IntArray] = {}  # cell_group * size, per table size
        at = np.empty(first.rows.size, dtype=np.int64)  # buffers filled once per part
        picked = np.empty(first.rows.size)
        valid = np.empty(first.rows.size, dtype=bool)
        for k, p in coded:
            size = p.a.shape[1]
            if size not in bases:
                bases[size] = groups.cell_group * size
            scaled = factor[k][groups.group_level][:, None] * p.a
            total += np.take(scaled.ravel(), np.add(bases[size], p.codes, out=at), out=picked, mode="clip")
            any_valid |= np.take(p.valid, p.codes, out=valid, mode="clip")  # codes checked: in range
        z[first.rows] = first.w * total
        used[first.rows] = any_valid
    for k, part in enumerate(parts):
        if isinstance(part, CodedPart):
            continue
        z[in_level] += factor[k][level[in_level]] * part.z[in_level]
        used |= part.used
    idx = level[used]
    w = design.weights[used]
    n = np.bincount(idx, minlength=groups.n_levels).astype(np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        n_eff = np.where(
            n > 0, group_sum(idx, w, groups.n_levels) ** 2 / group_sum(idx, w * w, groups.n_levels), 0.0
        )
    return Linearised(groups, value, z, used, n, n_eff)


def _group_weighted(
    design: SurveyDesign, y: FloatArray, unit: str, group: str, sub: SubCriterion
) -> Linearised:
    """``sum_g lambda_g m_ug / sum_g lambda_g`` per unit; z_i = lambda_g / Lambda_u * z_i(u, g)."""
    unit_groups = taylor.grouping(design, unit)
    group_levels, group_code = factorize(design.column(group))
    lam = np.array([sub.group_weights.get(g, np.nan) for g in group_levels.tolist()], dtype=np.float64)
    answered = ~np.isnan(y) & design.domain & (group_code >= 0)
    names = group_levels.tolist()
    unknown = sorted({names[g] for g in np.unique(group_code[answered]).tolist() if np.isnan(lam[g])})
    if unknown:
        raise ValueError(f"sub-criterion {sub.code!r}: no group weight for respondent groups {unknown}")
    n_groups = group_levels.size
    # One domain per (unit, group) cell, coded unit * n_groups + group; NaN = no cell.
    inside = (unit_groups.row_level >= 0) & (group_code >= 0)
    key = np.where(inside, unit_groups.row_level * n_groups + group_code, np.nan)
    cells = linearised_mean(design.with_columns(_unit_group=key), y, by="_unit_group")
    cell_key = np.asarray(cells.groups.levels, dtype=np.int64)
    cell_unit, cell_group = cell_key // n_groups, cell_key % n_groups
    weight = np.where(cells.n > 0, np.nan_to_num(lam[cell_group]), 0.0)
    lam_unit = group_sum(cell_unit, weight, unit_groups.n_levels)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(lam_unit[cell_unit] > 0, weight / lam_unit[cell_unit], 0.0)
        value = np.where(
            lam_unit > 0,
            group_sum(cell_unit, share * np.nan_to_num(cells.value), unit_groups.n_levels),
            np.nan,
        )
    row_cell = cells.groups.row_level
    in_cell = row_cell >= 0
    z = np.zeros(design.n_rows)
    z[in_cell] = share[row_cell[in_cell]] * cells.z[in_cell]
    # Rows of groups with weight 0 do not feed the estimate.
    used = cells.used & np.isin(row_cell, np.flatnonzero(share > 0))
    idx = unit_groups.row_level[used]
    n = np.bincount(idx, minlength=unit_groups.n_levels).astype(np.int64)
    # Kish size of the implied per-row coefficients a_i = share_g w_i / W_ug.
    w = design.weights[used]
    cell_of_row = row_cell[used]
    a = share[cell_of_row] * w / group_sum(cell_of_row, w, cell_key.size)[cell_of_row]
    with np.errstate(divide="ignore", invalid="ignore"):
        n_eff = np.where(
            n > 0,
            group_sum(idx, a, unit_groups.n_levels) ** 2 / group_sum(idx, a * a, unit_groups.n_levels),
            0.0,
        )
    return Linearised(unit_groups, value, z, used, n, n_eff)


def survey_estimates(
    design: SurveyDesign,
    answers: Mapping[str, NDArray[Any]],
    option_scores: Mapping[str, Sequence[float]],
    config: ScoringConfig,
    unit: str = "unit",
    group: str = "group",
    item_estimates: dict[str, tuple[ColumnEstimates, int]] | None = None,
    item_counts: dict[str, IntArray] | None = None,
) -> SurveyEstimates:
    """Survey points per rated unit and sub-criterion.

    Parameters
    ----------
    design
        One row per (response, rated unit); its data hold the ``unit`` and
        ``group`` columns and its weights are the analysis weights.
    answers
        Item code -> option code per row (uint8, 0 = not answered).
    option_scores
        Item code -> table indexed by option code: score in [0, 1], NaN = don't know.
        Index 0 is never read.
    item_estimates
        When given, filled with the item of every pooled sub-criterion of one item: its
        estimate is that item's (same rows, same scores, same rule), for :func:`item_estimates`
        to take instead of estimating it again.
    item_counts
        When given, filled with the items of every pooled sub-criterion of several items
        estimated from their combinations: each item's rows per (weight class, code), summed
        from the combinations' counts, for :func:`item_estimates` to take instead of a pass
        over the rows.

    Returns
    -------
    SurveyEstimates
        Every sub-criterion at every unit with rows in the domain, as arrays, and each
        unit's total (:meth:`SurveyEstimates.scores` gives them per unit).

    Notes
    -----
    Sub-criterion score ``s_u = sum_i w_i r_i / sum_i w_i`` over responses ``i`` of
    unit ``u`` with a valid answer, ``r_i`` = mean valid item score of response
    ``i`` (or the group-weighted combination, see the module notes); points
    ``= max_points * s_u``; survey total ``= sum_s max_points_s * s_u``.  SEs are
    Taylor-linearised on ``design`` (R ``svyby(..., svymean)`` for pooled scores,
    ``svycontrast`` of ``svyby`` means for group-weighted ones).
    """
    missing = sorted(
        {i for s in config.sub_criteria for i in s.items} - (answers.keys() & option_scores.keys())
    )
    if missing:
        raise ValueError(f"no answers or option-score table for items {missing}")
    unit_groups = taylor.grouping(design, unit)
    in_domain = unit_groups.row_level >= 0
    level = unit_groups.row_level[in_domain]
    n_levels = unit_groups.n_levels
    bases: dict[int, IntArray] = {}
    subs = config.sub_criteria
    parts: list[Linearised | CodedPart | None] = [None] * len(subs)
    estimates: list[ColumnEstimates | dict[Any, Estimate] | None] = [None] * len(subs)
    slots: list[tuple[int, int]] = [(0, 0)] * len(subs)  # (estimates index, column) of a pooled score
    counts: list[tuple[IntArray, IntArray]] = []
    pending: list[tuple[int, FloatArray]] = []

    def flush() -> None:
        # Pooled sub-criteria are plain domain means: estimated a block at a time.
        block = np.column_stack([response for _, response in pending])
        est = mean_columns(design, block, unit, config.ci, config.level, (0.0, 1.0), with_parts=True)
        for j, (k, _) in enumerate(pending):
            parts[k], estimates[k], slots[k] = est.parts[j], est, (k, j)
        pending.clear()

    for k, sub in enumerate(subs):
        given_n = np.zeros(n_levels, dtype=np.int64)
        dk_n = np.zeros(n_levels, dtype=np.int64)
        coded: list[tuple[NDArray[Any], FloatArray]] = []
        dont_knows: list[BoolArray] = []
        for item in sub.items:
            codes = np.asarray(answers[item])
            if codes.shape != (design.n_rows,):
                raise ValueError(f"item {item!r} has {codes.size} answers for {design.n_rows} design rows")
            table, dont_know = _score_tables(item, option_scores[item], config.dont_know_as_zero)
            coded.append((_checked_codes(item, codes, table.size), table))
            dont_knows.append(dont_know)
        counts.append((given_n, dk_n))
        combos = int(np.prod([t.size for _, t in coded]))
        fast = sub.pooling is Pooling.POOLED and combos <= _MAX_COMBOS
        if not fast:
            for (codes, _table), dont_know in zip(coded, dont_knows, strict=True):
                given, dk = _answer_counts(codes, dont_know, level, in_domain, n_levels, bases)
                given_n += given
                dk_n += dk
        if fast:
            # A response's score is a function of its answer codes to the sub-criterion's items:
            # one code per combination, its score computed as below, then estimated like an item.
            # _MAX_COMBOS fits 16 bits: a third of the memory traffic of int64 per pass
            combo = np.zeros(design.n_rows, dtype=np.uint16)
            stride = 1
            for codes, table in coded:
                combo += np.multiply(codes, stride, dtype=np.uint16)
                stride *= table.size
            several = item_counts is not None and len(sub.items) > 1
            est = mean_codes(design, [combo], [_response(coded, np.arange(combos))], unit, config.ci,
                             config.level, (0.0, 1.0), with_parts=True, with_counts=True, with_class_counts=several)
            parts[k], estimates[k], slots[k] = est.parts[0], est, (k, 0)
            if item_estimates is not None and len(sub.items) == 1 and est.code_counts:
                item_estimates[sub.items[0]] = (est, 0)  # one item: its combination code is its code
            if several and est.class_counts:
                # an item's rows per (weight class, code): the combinations' counts summed over the
                # other items' codes (the combination's digits, first item fastest)
                assert item_counts is not None
                cube = est.class_counts[0].reshape(-1, *[t.size for _, t in reversed(coded)])
                for i, item in enumerate(sub.items):
                    axis = len(coded) - i
                    item_counts.setdefault(item, cube.sum(axis=tuple(a for a in range(1, cube.ndim) if a != axis)))
            if est.code_counts:  # answers per item from the counts of the combinations
                by_combo = est.code_counts[0]
                stride = 1
                for (_codes, table), dont_know in zip(coded, dont_knows, strict=True):
                    digit = (np.arange(combos) // stride) % table.size
                    given_n += by_combo[:, digit > 0].sum(axis=1)
                    dk_n += by_combo[:, dont_know[digit]].sum(axis=1)
                    stride *= table.size
            else:
                for (codes, _table), dont_know in zip(coded, dont_knows, strict=True):
                    given, dk = _answer_counts(codes, dont_know, level, in_domain, n_levels, bases)
                    given_n += given
                    dk_n += dk
            continue
        response = _response(coded, None)
        if sub.pooling is Pooling.POOLED:
            pending.append((k, response))
            if len(pending) == _BLOCK:
                flush()
        else:
            parts[k] = _group_weighted(design, response, unit, group, sub)
    if pending:
        flush()
    done = [p for p in parts if p is not None]
    assert len(done) == len(subs)
    max_points = np.array([s.max_points for s in subs])
    total_points = _combine(design, done, max_points, average=False)
    unit_bounds = (0.0, 1.0)
    for k, part in enumerate(done):
        if estimates[k] is None:  # a group-weighted score (pooled ones were estimated with their part)
            assert isinstance(part, Linearised)
            estimates[k] = summarise(design, part, config.ci, config.level, bounds=unit_bounds)
    totals = summarise(design, total_points, config.ci, config.level, bounds=(0.0, config.survey_max))
    assert isinstance(totals, dict)
    fields: list[NDArray[Any]] = [np.empty((len(subs), n_levels)) for _ in range(7)]
    fields[4] = np.empty((len(subs), n_levels), dtype=np.int64)
    for k, found in enumerate(estimates):
        if isinstance(found, ColumnEstimates):
            j = slots[k][1]
            for out, values in zip(fields, (found.value, found.se, found.ci_low, found.ci_high, found.n,
                                            found.n_eff), strict=False):
                out[k] = values[j]
            fields[6][k] = found.df
        elif found:  # a dict of estimates in level order (summarise); empty without levels
            for out, column in zip(fields, zip(*found.values(), strict=True), strict=True):
                out[k] = column
    score = EstimateArrays(*fields)
    scale = max_points[:, None]  # points: the same IEEE products as max_points * each estimate
    points = EstimateArrays(score.value * scale, score.se * scale, score.ci_low * scale, score.ci_high * scale,
                            score.n, score.n_eff, np.full(score.df.shape, np.inf))
    return SurveyEstimates(unit_groups.levels.tolist(), tuple(sub.code for sub in subs), score, points,
                           np.array([given for given, _ in counts], dtype=np.int64).reshape(len(subs), n_levels),
                           np.array([dk for _, dk in counts], dtype=np.int64).reshape(len(subs), n_levels),
                           [totals[u] for u in unit_groups.levels.tolist()])


def score_survey(
    design: SurveyDesign,
    answers: Mapping[str, NDArray[Any]],
    option_scores: Mapping[str, Sequence[float]],
    config: ScoringConfig,
    unit: str = "unit",
    group: str = "group",
    item_estimates: dict[str, tuple[ColumnEstimates, int]] | None = None,
) -> dict[Any, UnitSurveyScore]:
    """:func:`survey_estimates` per unit: unit -> :class:`UnitSurveyScore`, for every unit
    with rows in the domain."""
    return survey_estimates(design, answers, option_scores, config, unit, group, item_estimates).scores()


class ItemScore(NamedTuple):  # a tuple: made once per unit and item
    """One item on one unit: the weighted mean option score (0..1) and answer counts."""

    item: str
    unit: Any
    score: Estimate
    answers: int
    dont_know: int


class ItemEstimates(NamedTuple):
    """Every item at every unit (level of the ``unit`` grouping), as arrays of shape
    (items, levels): what :func:`score_items` gives as one object per item and unit."""

    items: tuple[str, ...]
    levels: list[Any]  # the unit grouping's levels, in its order
    score: EstimateArrays  # weighted mean option score, 0..1
    answers: IntArray  # answers given, don't know included
    dont_know: IntArray


def item_estimates(
    design: SurveyDesign,
    answers: Mapping[str, NDArray[Any]],
    option_scores: Mapping[str, Sequence[float]],
    items: Sequence[str],
    config: ScoringConfig,
    unit: str = "unit",
    known: Mapping[str, tuple[ColumnEstimates, int]] | None = None,
    counted: Mapping[str, IntArray] | None = None,
) -> ItemEstimates:
    """Per item and unit: ``sum_i w_i s_i / sum_i w_i`` over valid answers (R ``svyby(~s, ~unit,
    svymean, na.rm = TRUE)``), with the CI of ``config`` kept within [0, 1], and the answers
    and don't-knows counted; a unit where an item has no answer has ``answers`` 0.

    ``known``: items already estimated on this design and ``unit`` with their per-code counts
    (``score_survey``'s ``item_estimates``), taken as they are. ``counted``: items' rows per
    (weight class, code) on this design and ``unit`` (``survey_estimates``'s ``item_counts``),
    estimated from those counts.
    """
    known = known or {}
    unit_groups = taylor.grouping(design, unit)
    in_domain = unit_groups.row_level >= 0
    level = unit_groups.row_level[in_domain]
    bases: dict[int, IntArray] = {}
    columns: list[NDArray[Any]] = []
    tables: list[FloatArray] = []
    dont_knows: list[BoolArray] = []
    todo = [item for item in items if item not in known]
    for item in items:
        table, dont_know = _score_tables(item, option_scores[item], config.dont_know_as_zero)
        dont_knows.append(dont_know)
        if item in known:
            continue
        columns.append(_checked_codes(item, np.asarray(answers[item]), table.size))
        tables.append(table)
    # Option scores take a handful of values: sums per (stratum, unit, option) carry the estimate.
    found: dict[str, tuple[ColumnEstimates, int]] = {}
    if todo:
        by_class = {j: counted[item] for j, item in enumerate(todo) if counted and item in counted}
        est = mean_codes(design, columns, tables, unit, config.ci, config.level, (0.0, 1.0), with_counts=True,
                         counted=by_class)
        found = {item: (est, j) for j, item in enumerate(todo)}
    found.update(known)
    shape = (len(items), unit_groups.n_levels)
    value, se, ci_low, ci_high, n_eff, df = (np.empty(shape) for _ in range(6))
    n, given, dk = (np.empty(shape, dtype=np.int64) for _ in range(3))
    for j, (item, dont_know) in enumerate(zip(items, dont_knows, strict=True)):
        source, at = found[item]
        if source.code_counts:  # the answers per (unit, code) the estimate counted
            by_code = source.code_counts[at]
            given[j], dk[j] = by_code[:, 1:].sum(axis=1), by_code[:, dont_know].sum(axis=1)
        else:
            given[j], dk[j] = _answer_counts(columns[todo.index(item)], dont_know, level, in_domain,
                                             unit_groups.n_levels, bases)
        for out, field_ in ((value, source.value), (se, source.se), (ci_low, source.ci_low),
                            (ci_high, source.ci_high), (n, source.n), (n_eff, source.n_eff)):
            out[j] = field_[at]
        df[j] = source.df
    return ItemEstimates(tuple(items), unit_groups.levels.tolist(),
                         EstimateArrays(value, se, ci_low, ci_high, n, n_eff, df), given, dk)


def score_items(
    design: SurveyDesign,
    answers: Mapping[str, NDArray[Any]],
    option_scores: Mapping[str, Sequence[float]],
    items: Sequence[str],
    config: ScoringConfig,
    unit: str = "unit",
    known: Mapping[str, tuple[ColumnEstimates, int]] | None = None,
) -> list[ItemScore]:
    """:func:`item_estimates` as one :class:`ItemScore` per item and unit, items in the order
    given; units where an item has no answer at all are left out."""
    est = item_estimates(design, answers, option_scores, items, config, unit, known)
    out: list[ItemScore] = []
    for j, item in enumerate(est.items):
        given, dk = est.answers[j].tolist(), est.dont_know[j].tolist()
        by_level = list(map(Estimate._make, zip(*(field[j].tolist() for field in est.score), strict=True)))
        out.extend(ItemScore(item, u, by_level[i], given[i], dk[i])
                   for i, u in enumerate(est.levels) if given[i] > 0)
    return out


def compile_index(
    appraised: Mapping[Any, float],
    survey: Mapping[Any, UnitSurveyScore],
    config: ScoringConfig,
    blocks: Mapping[Any, Any] | None = None,
) -> list[UnitIndex]:
    """Index %, rank within block and band for every unit of ``appraised``.

    ``index = (appraised + survey points) / (appraised_max + survey_max) * 100``.
    A unit without survey answers gets ``appraised / appraised_max * 100``
    (``NoSurvey.RESCALE``) or ``appraised / total_max * 100`` (``NoSurvey.ZERO``).
    Ranks are 1 = best within each block of comparable units (``blocks``: unit
    -> block; default one block), ties share the best rank ("1224"); indices
    equal to 1e-9 % count as ties.  The band is the first of ``config.bands``
    (highest ``min_pct`` first) whose threshold the index reaches, else None.
    """
    extra = sorted(map(str, survey.keys() - appraised.keys()))
    if extra:
        raise ValueError(f"units {extra} have survey scores but no appraised points")
    if blocks is not None:
        unblocked = sorted(map(str, appraised.keys() - blocks.keys()))
        if unblocked:
            raise ValueError(f"units {unblocked} have no block")
    bands = sorted(config.bands, key=lambda b: b.min_pct, reverse=True)
    rows: list[tuple[Any, float, float | None, float, Any]] = []
    for u, points in appraised.items():
        if not 0 <= points <= config.appraised_max:
            raise ValueError(f"unit {u!r}: appraised points {points!r} outside 0..{config.appraised_max}")
        s = survey.get(u)
        if s is not None and s.has_survey:
            pct = (points + s.points.value) / config.total_max * 100
            rows.append((u, float(points), s.points.value, pct, None))
        elif config.no_survey is NoSurvey.RESCALE:
            if config.appraised_max <= 0:
                raise ValueError(f"unit {u!r} has no survey and appraised_max is 0: nothing to rescale")
            rows.append((u, float(points), None, points / config.appraised_max * 100, None))
        else:
            rows.append((u, float(points), None, points / config.total_max * 100, None))
    block_of = (lambda u: blocks[u]) if blocks is not None else (lambda u: None)
    out: list[UnitIndex] = []
    by_block: dict[Any, list[tuple[Any, float, float | None, float, Any]]] = {}
    for row in rows:
        by_block.setdefault(block_of(row[0]), []).append(row)
    for block, members in by_block.items():
        keys = [round(r[3], 9) for r in members]
        ordered = sorted(keys)
        for (u, points, surv, pct, _), key in zip(members, keys, strict=True):
            rank = 1 + len(ordered) - bisect.bisect_right(ordered, key)  # 1 + #keys above
            band = next((b.label for b in bands if pct >= b.min_pct), None)
            out.append(UnitIndex(u, points, surv, pct, block, rank, band))
    out.sort(key=lambda r: (str(r.block), r.rank, str(r.unit)))
    return out


@dataclass(frozen=True)
class SipasElement:
    """A SIPAS element (e.g. access to the service) and the items that measure it."""

    code: str
    items: tuple[str, ...]


@dataclass(frozen=True)
class SipasConfig:
    """SIPAS rules (Decision 1001/QD-BNV reading): which codes count as satisfied.

    A valid answer has a code != 0 that is not in ``excluded_codes`` (e.g. a
    "no opinion" code).
    """

    elements: tuple[SipasElement, ...]
    satisfied_codes: frozenset[int] = frozenset({4, 5})
    excluded_codes: frozenset[int] = frozenset()


@dataclass(frozen=True)
class SipasResult:
    """Item, element and overall satisfaction indices (shares in 0..1).

    Each value is an :class:`Estimate`, or ``{level: Estimate}`` when computed ``by`` a column.
    """

    items: Mapping[str, Estimate | dict[Any, Estimate]]
    elements: Mapping[str, Estimate | dict[Any, Estimate]]
    overall: Estimate | dict[Any, Estimate]


def sipas(
    design: SurveyDesign,
    answers: Mapping[str, NDArray[Any]],
    config: SipasConfig,
    by: str | None = None,
    ci: CIMethod | str = CIMethod.NORMAL,
    level: float = 0.95,
) -> SipasResult:
    """SIPAS indices: item = weighted share satisfied among valid answers;
    element = mean of its item indices; overall = mean of the element indices.

    Means skip components without valid answers in a level.  SEs linearise the
    means of shares, covariances between items included.
    """
    item_lin: dict[str, Linearised] = {}
    for element in config.elements:
        for item in element.items:
            if item in item_lin:
                continue
            if item not in answers:
                raise ValueError(f"SIPAS item {item!r} has no answers")
            codes = np.asarray(answers[item])
            valid = (codes != 0) & ~np.isin(codes, list(config.excluded_codes))
            satisfied = np.isin(codes, list(config.satisfied_codes)).astype(np.float64)
            item_lin[item] = linearised_mean(design, np.where(valid, satisfied, np.nan), by=by)
    element_lin = {
        e.code: _combine(design, [item_lin[i] for i in e.items], np.ones(len(e.items)), average=True)
        for e in config.elements
    }
    overall_lin = _combine(design, list(element_lin.values()), np.ones(len(element_lin)), average=True)
    as_dict = by is not None

    def done(lin: Linearised) -> Estimate | dict[Any, Estimate]:
        return summarise(design, lin, ci, level, as_dict=as_dict, bounds=(0.0, 1.0))

    return SipasResult(
        items={k: done(v) for k, v in item_lin.items()},
        elements={k: done(v) for k, v in element_lin.items()},
        overall=done(overall_lin),
    )
