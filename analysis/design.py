"""Survey design object: weights, strata, primary sampling units and fpc.

The design mirrors R survey's ``survey.design2`` (``svydesign``): it is immutable,
estimators are pure functions of ``(design, variable)`` and every weighting step
returns a new design. Only one-stage (ultimate-cluster) variance is modelled, which
is what ``svyrecvar`` computes for ``svydesign(ids=~psu, strata=~h, fpc=~N)``.

Two row masks reproduce R's bookkeeping exactly:

* ``weights`` are R's ``1/design$prob``; a row outside the current domain has weight 0.
* ``_present`` marks rows R would still hold in the design object.  R's
  ``[.survey.design2`` *drops* rows from an uncalibrated design but keeps them
  (with ``prob = Inf``) in a calibrated one.  Variances agree either way because
  ``onestrat`` pads dropped PSUs with zeros; the difference only shows in the
  lonely-PSU check and in later post-stratification, so it is tracked.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "Calibration",
    "LonelyPSU",
    "PostStratification",
    "RakeReport",
    "Raking",
    "SurveyDesign",
    "factorize",
    "group_sum",
    "label",
    "missing_mask",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

# R's onestrat(): a stratum whose finite population correction is below this
# is self-representing (a census) and contributes no variance.
_CENSUS_TOLERANCE = 1e-7


class LonelyPSU(StrEnum):
    """What a stratum with a single PSU adds to a variance (R ``options(survey.lonely.psu=)``).

    ``fail`` raises; ``remove`` and ``certainty`` add nothing; ``adjust`` centres the
    stratum's PSU total at zero, the population mean of a linearised variable, so it adds
    ``f_h t_h^2``; ``average`` replaces it by the average contribution of the other strata
    (the sum over strata with two PSUs or more, times ``#strata / #strata with two or more``).
    """

    FAIL = "fail"
    REMOVE = "remove"
    CERTAINTY = "certainty"
    ADJUST = "adjust"
    AVERAGE = "average"


def factorize(values: ArrayLike) -> tuple[NDArray[Any], IntArray]:
    """Split a column into sorted distinct levels and an integer code per row.

    Missing values get code -1: NaN in float columns, ``None`` or NaN in object
    columns.  Levels are sorted like R sorts factor levels of a character column
    (plain code-point order here, not locale collation).

    Returns
    -------
    levels, codes
        ``levels[codes[i]] == values[i]`` for every non-missing row.
    """
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"expected a 1-d column, got shape {arr.shape}")
    if arr.dtype.kind in "iub":
        ints = arr.astype(np.int64, copy=False)
        if ints.size and ints.min() >= 0 and ints.max() < 16 * ints.size + 1024:
            # Small non-negative codes (the usual case for unit/stratum ids, and for
            # stratum x level keys): marking them is O(n + range) where np.unique sorts.
            seen = np.zeros(int(ints.max()) + 1, dtype=bool)
            seen[ints] = True
            levels = np.flatnonzero(seen)
            lookup = np.cumsum(seen, dtype=np.int64 if seen.size >= 2**31 else np.int32) - 1
            return levels.astype(arr.dtype), lookup[ints].astype(np.int64)
        levels, codes = np.unique(arr, return_inverse=True)
        return levels, codes.astype(np.int64)
    missing = missing_mask(arr)
    codes = np.full(arr.size, -1, dtype=np.int64)
    if missing.all():
        return arr[:0], codes
    present = arr[~missing] if missing.any() else arr
    if arr.dtype.kind != "O":
        try:
            levels, inner = np.unique(present, return_inverse=True)
        except TypeError as exc:
            raise ValueError(f"column mixes values that cannot be ordered: {exc}") from None
        codes[~missing] = inner
        return levels, codes
    # Python objects (strings, mostly): the distinct values by hashing, then sorted; a sort
    # of the whole column compares objects a million times over
    items: list[Any] = present.tolist()
    try:
        distinct = sorted(set(items))
    except TypeError as exc:
        raise ValueError(f"column mixes values that cannot be ordered: {exc}") from None
    position = {v: k for k, v in enumerate(distinct)}
    codes[~missing] = np.fromiter(map(position.__getitem__, items), dtype=np.int64, count=len(items))
    levels = np.empty(len(distinct), dtype=object)
    for k, v in enumerate(distinct):
        levels[k] = v
    return levels, codes


def group_sum(index: IntArray, values: FloatArray, size: int) -> FloatArray:
    """``out[g] = sum(values[index == g])`` for ``g < size`` (a typed ``np.bincount``)."""
    out: FloatArray = np.bincount(index, weights=values, minlength=size).astype(np.float64, copy=False)
    return out


def label(values: NDArray[Any], index: int) -> Any:
    """``values[index]`` as a plain Python value, for error messages and dict keys."""
    item = values[index]
    return item.item() if isinstance(item, np.generic) else item


def missing_mask(values: NDArray[Any]) -> BoolArray:
    """Missing entries of a column: NaN for floats, ``None`` or NaN for objects."""
    kind = values.dtype.kind
    if kind == "f":
        return np.asarray(np.isnan(values), dtype=bool)
    if kind == "O":  # None, or a value unequal to itself (a float NaN), compared in C
        none: BoolArray = values == np.array(None, dtype=object)
        return np.asarray(none | np.not_equal(values, values), dtype=bool)
    return np.zeros(values.size, dtype=bool)


@dataclass(frozen=True, eq=False)
class _Structure:
    """Sampling structure fixed at construction and shared by derived designs."""

    n_rows: int
    stratum: IntArray  # stratum code per row
    stratum_levels: NDArray[Any]
    psu: IntArray  # PSU code per row, nested within strata (R nest=TRUE)
    psu_stratum: IntArray  # stratum code per PSU
    n_psu: IntArray  # PSUs per stratum in the full sample (R fpc$sampsize)
    popsize: FloatArray | None  # population PSUs per stratum (R fpc$popsize), inf = none
    scale: FloatArray  # (1 - f_h) n_h / (n_h - 1); 0 for census strata
    lonely: BoolArray  # stratum has one PSU and is not a census
    psu_is_row: bool


@dataclass(frozen=True)
class RakeReport:
    """Convergence of iterative proportional fitting (R ``rake``).

    Attributes
    ----------
    iterations
        Full passes over the margins that were run.
    max_change
        Largest absolute change of a cell of the joint margin table in the last pass.
    converged
        ``max_change < threshold``.
    threshold
        Absolute threshold used: ``epsilon * sum(weights)`` when ``epsilon < 1``
        (as R does), else ``epsilon``.
    """

    iterations: int
    max_change: float
    converged: bool
    threshold: float


@dataclass(frozen=True, eq=False)
class PostStratification:
    """One ``postStratify`` step as R stores it in ``design$postStrata``.

    ``cells`` is R's post-stratum ``index`` (-1 for rows R no longer held),
    ``weights`` and ``old_weights`` are its ``"weights"`` / ``"oldweights"``
    attributes: the weights right after and right before this step.
    """

    variable: str
    levels: tuple[Any, ...]
    population: tuple[float, ...]
    cells: IntArray
    weights: FloatArray
    old_weights: FloatArray


@dataclass(frozen=True, eq=False)
class Raking:
    """A ``rake`` result: the margins' post-stratifications of the final pass.

    ``svyrecvar`` projects the linearised variable on these margins in turn,
    ten sweeps, which is what :mod:`analysis.taylor` reproduces.
    """

    margins: tuple[PostStratification, ...]
    report: RakeReport


Calibration = PostStratification | Raking


def _as_column(values: Any, name: str, n: int | None) -> NDArray[Any]:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"column {name!r} must be 1-d, got shape {arr.shape}")
    if n is not None and arr.size != n:
        raise ValueError(f"column {name!r} has {arr.size} rows, expected {n} like the other columns")
    view = arr.view()
    # The design never writes to its data; a read-only view keeps it that way
    # without copying a million-row column.
    view.flags.writeable = False
    return view


@dataclass(frozen=True, init=False, eq=False, repr=False)
class SurveyDesign:
    """An immutable survey design (R ``svydesign`` / ``survey.design2``).

    Parameters
    ----------
    data
        Column name -> 1-d sequence.  Numeric columns use NaN for missing;
        categorical columns may hold strings (``None`` = missing).  Columns are
        wrapped as read-only views, not copied.
    weights
        Name of the sampling-weight column (``1/pi``), all finite and > 0.  When
        omitted the weight is ``N_h / n_h`` if ``fpc`` is given (R derives the
        probabilities from the fpc) and 1 otherwise.
    strata
        Name of the stratum column (no missing values).  Omitted: one stratum.
    ids
        Name of the PSU (cluster) column.  Omitted: every row is its own PSU
        (R ``ids=~1``).  PSU labels are taken within strata (R ``nest=TRUE``).
    fpc
        Name of the finite-population-correction column, constant within a
        stratum: either the stratum population size in PSUs (all values >= 1,
        R ``fpc=~N``) or the sampling fraction (all values <= 1).
    lonely_psu
        The single-PSU stratum rule, :class:`LonelyPSU` (default ``fail``, as R).

    Attributes
    ----------
    weights : ndarray
        Current analysis weights, R's ``weights(design)``; 0 outside the domain.
    calibration : tuple
        Post-stratification / raking steps applied, in order (R ``postStrata``).

    Notes
    -----
    Variance is the one-stage Taylor linearisation of ``svyrecvar``:
    ``V = sum_h (1 - n_h/N_h) n_h/(n_h - 1) sum_{i in h} (t_hi - tbar_h)^2``
    over PSU totals ``t_hi`` of the linearised variable, with
    ``options(survey.lonely.psu = "fail")`` by default: a stratum with a single
    PSU that is not a census raises ``ValueError`` when a variance needs it;
    ``lonely_psu`` selects R's other rules.
    """

    data: Mapping[str, NDArray[Any]]
    weights: FloatArray
    strata: str | None
    ids: str | None
    fpc: str | None
    lonely_psu: LonelyPSU
    calibration: tuple[Calibration, ...]
    _present: BoolArray = field(repr=False)
    _structure: _Structure = field(repr=False)
    _cache: dict[Any, Any] = field(repr=False)

    def __init__(
        self,
        data: Mapping[str, Sequence[Any] | NDArray[Any]],
        weights: str | None = None,
        strata: str | None = None,
        ids: str | None = None,
        fpc: str | None = None,
        lonely_psu: LonelyPSU | str = LonelyPSU.FAIL,
    ) -> None:
        rule = LonelyPSU(lonely_psu)
        if not data:
            raise ValueError("data has no columns")
        n: int | None = None
        columns: dict[str, NDArray[Any]] = {}
        for name, values in data.items():
            columns[name] = _as_column(values, name, n)
            n = columns[name].size
        assert n is not None
        for role, col in (("weights", weights), ("strata", strata), ("ids", ids), ("fpc", fpc)):
            if col is not None and col not in columns:
                raise ValueError(f"{role}={col!r} is not a column of data (columns: {sorted(columns)})")
        if n == 0:
            raise ValueError("data has no rows")
        structure = _build_structure(columns, n, strata, ids, fpc)
        if weights is not None:
            w = np.asarray(columns[weights], dtype=np.float64).copy()
            bad = ~np.isfinite(w) | (w <= 0)
            if bad.any():
                row = int(np.flatnonzero(bad)[0])
                raise ValueError(
                    f"weights column {weights!r} row {row}: weight {w[row].item()!r} must be finite and > 0 "
                    "(drop the row or fix the weight)"
                )
        elif structure.popsize is not None:
            # R: probs <- 1/weights(fpc) = sampsize/popsize when only fpc is given.
            w = (structure.popsize / structure.n_psu)[structure.stratum]
        else:
            w = np.ones(n, dtype=np.float64)
        w.flags.writeable = False
        present = np.ones(n, dtype=bool)
        present.flags.writeable = False
        setattr_ = object.__setattr__
        setattr_(self, "data", MappingProxyType(columns))
        setattr_(self, "weights", w)
        setattr_(self, "strata", strata)
        setattr_(self, "ids", ids)
        setattr_(self, "fpc", fpc)
        setattr_(self, "lonely_psu", rule)
        setattr_(self, "calibration", ())
        setattr_(self, "_present", present)
        setattr_(self, "_structure", structure)
        setattr_(self, "_cache", {})

    def __repr__(self) -> str:
        return (
            f"SurveyDesign(rows={self.n_rows}, domain={int(self.domain.sum())}, "
            f"strata={self.strata!r}, ids={self.ids!r}, fpc={self.fpc!r}, lonely_psu={self.lonely_psu.value!r}, "
            f"calibration={len(self.calibration)} step(s))"
        )

    # -- derived views -------------------------------------------------------------
    @property
    def n_rows(self) -> int:
        """Number of rows, in or out of the domain."""
        return self._structure.n_rows

    @property
    def domain(self) -> BoolArray:
        """Rows of the current domain (weight > 0)."""
        return self.weights > 0

    @property
    def is_calibrated(self) -> bool:
        """True after post-stratification or raking (R ``is.calibrated``)."""
        return bool(self.calibration)

    @property
    def degf(self) -> int:
        """Design degrees of freedom, R ``degf``: #PSUs - #strata among rows with weight != 0."""
        cached = self._cache.get("degf")
        if cached is None:
            s = self._structure
            inset = self.weights != 0
            n_psu = np.bincount(s.psu[inset], minlength=1).astype(bool).sum()
            n_strata = np.bincount(s.stratum[inset], minlength=1).astype(bool).sum()
            cached = int(n_psu - n_strata)
            self._cache["degf"] = cached
        return int(cached)

    @property
    def rake_report(self) -> RakeReport | None:
        """Convergence report of the most recent raking step, if any."""
        for step in reversed(self.calibration):
            if isinstance(step, Raking):
                return step.report
        return None

    def column(self, name: str) -> NDArray[Any]:
        """The raw column ``name`` (read-only view)."""
        try:
            return self.data[name]
        except KeyError:
            raise KeyError(f"{name!r} is not a column of the design (columns: {sorted(self.data)})") from None

    def numeric(self, name: str) -> FloatArray:
        """Column ``name`` as float64 with NaN for missing values."""
        col = self.column(name)
        try:
            return np.asarray(col, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(
                f"column {name!r} is not numeric (dtype {col.dtype}); "
                "use proportion() for a categorical column"
            ) from None

    # -- new designs -----------------------------------------------------------------
    def subset(self, mask: ArrayLike) -> SurveyDesign:
        """Domain design, R ``subset(design, mask)``.

        Rows outside ``mask`` get weight 0 but keep their strata and PSUs, so the
        domain variance uses the full design (R pads the dropped PSUs with zeros).
        Combined with any existing domain (logical AND).
        """
        m = np.asarray(mask)
        if m.shape != (self.n_rows,):
            raise ValueError(f"subset mask has shape {m.shape}, expected ({self.n_rows},)")
        if m.dtype != np.bool_:
            raise ValueError(f"subset mask must be boolean, got dtype {m.dtype}")
        w = np.where(m, self.weights, 0.0)
        # An uncalibrated R design drops the rows; a calibrated one keeps them.
        present = self._present if self.is_calibrated else self._present & m
        return self._derive(weights=w, present=present)

    def with_columns(self, **columns: Sequence[Any] | NDArray[Any]) -> SurveyDesign:
        """The same design with extra (or replaced) data columns, e.g. derived scores."""
        used = {name for name in (self.strata, self.ids, self.fpc) if name is not None}
        clash = used & columns.keys()
        if clash:
            raise ValueError(f"cannot replace design columns {sorted(clash)}")
        data = dict(self.data)
        for name, values in columns.items():
            data[name] = _as_column(values, name, self.n_rows)
        return self._derive(data=MappingProxyType(data))

    def _derive(
        self,
        *,
        weights: FloatArray | None = None,
        present: BoolArray | None = None,
        calibration: tuple[Calibration, ...] | None = None,
        data: Mapping[str, NDArray[Any]] | None = None,
    ) -> SurveyDesign:
        new = copy.copy(self)
        setattr_ = object.__setattr__
        if weights is not None:
            weights = np.asarray(weights, dtype=np.float64)
            weights.flags.writeable = False
            setattr_(new, "weights", weights)
        if present is not None:
            present = np.asarray(present, dtype=bool)
            present.flags.writeable = False
            setattr_(new, "_present", present)
        if calibration is not None:
            setattr_(new, "calibration", calibration)
        if data is not None:
            setattr_(new, "data", data)
        # Cached groupings depend on the domain and calibration: never share them.
        setattr_(new, "_cache", {})
        return new


def _build_structure(
    columns: Mapping[str, NDArray[Any]], n: int, strata: str | None, ids: str | None, fpc: str | None
) -> _Structure:
    if strata is None:
        stratum_levels: NDArray[Any] = np.array([1])
        stratum = np.zeros(n, dtype=np.int64)
    else:
        stratum_levels, stratum = factorize(columns[strata])
        if (stratum < 0).any():
            row = int(np.flatnonzero(stratum < 0)[0])
            raise ValueError(f"strata column {strata!r} row {row} is missing; every row needs a stratum")
    n_strata = stratum_levels.size
    if ids is None:
        psu = np.arange(n, dtype=np.int64)
        psu_is_row = True
    else:
        _, id_code = factorize(columns[ids])
        if (id_code < 0).any():
            row = int(np.flatnonzero(id_code < 0)[0])
            raise ValueError(f"ids column {ids!r} row {row} is missing; every row needs a PSU")
        _, psu = factorize(stratum * (int(id_code.max()) + 1) + id_code)
        psu_is_row = False
    n_psu_total = int(psu.max()) + 1
    psu_stratum = np.empty(n_psu_total, dtype=np.int64)
    psu_stratum[psu] = stratum
    n_psu = np.bincount(psu_stratum, minlength=n_strata).astype(np.int64)

    popsize: FloatArray | None = None
    f = np.ones(n_strata, dtype=np.float64)
    if fpc is not None:
        values = np.asarray(columns[fpc], dtype=np.float64)
        if not np.isfinite(values).all() or (values <= 0).any():
            row = int(np.flatnonzero(~np.isfinite(values) | (values <= 0))[0])
            raise ValueError(
                f"fpc column {fpc!r} row {row}: {values[row].item()!r} must be a finite number > 0"
            )
        first = np.empty(n_strata, dtype=np.float64)
        first[stratum[::-1]] = values[::-1]
        varies = values != first[stratum]
        if varies.any():
            row = int(np.flatnonzero(varies)[0])
            raise ValueError(
                f"fpc column {fpc!r} varies within stratum "
                f"{label(stratum_levels, stratum[row])!r} (row {row}); "
                "give one population size per stratum"
            )
        # R as.fpc(): any value > 1 means population sizes, else sampling fractions.
        if (values > 1).any():
            if (values < 1).any():
                raise ValueError(
                    f"fpc column {fpc!r} mixes population sizes (> 1) and sampling fractions (< 1)"
                )
            popsize = first
        else:
            popsize = n_psu / first
        too_small = popsize < n_psu
        if too_small.any():
            h = int(np.flatnonzero(too_small)[0])
            raise ValueError(
                f"fpc implies more than 100% sampling in stratum {label(stratum_levels, h)!r}: "
                f"population {popsize[h]:g} < {n_psu[h]} sampled PSUs"
            )
        with np.errstate(invalid="ignore"):
            f = np.where(np.isinf(popsize), 1.0, (popsize - n_psu) / popsize)
    census = f < _CENSUS_TOLERANCE
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(n_psu > 1, f * n_psu / (n_psu - 1), f)
    scale = np.where(census, 0.0, scale)
    lonely = (n_psu == 1) & ~census
    return _Structure(
        n_rows=n,
        stratum=stratum,
        stratum_levels=stratum_levels,
        psu=psu,
        psu_stratum=psu_stratum,
        n_psu=n_psu,
        popsize=popsize,
        scale=scale,
        lonely=lonely,
        psu_is_row=psu_is_row,
    )
