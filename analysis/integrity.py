"""Response-integrity checks: speeders, straight-lining, bursts, near-duplicates, unit anomalies.

Input is :class:`Paradata`, one row per submitted form (respondent x questionnaire x
rated unit), held as columns; output is an :class:`IntegrityReport` with flags per response
(code, family, evidence a reviewer can read) and a recommendation, plus flags per rated
unit.  Every check is a vectorised numpy pass: group-bys by sorting and ``bincount``,
time windows by ``searchsorted`` on a (group, time) key, near-duplicates by hashing bands
of the answer vector within a unit and comparing only rows that share a band.  Nothing is
quadratic in the campaign size; near-duplicate buckets are capped.

Choices (DOMAIN.md sections 4 and 7):

* A flag is never a verdict.  Checks fall into three families that fail for unrelated
  reasons -- *timing* (how long the form took), *answers* (what was answered) and
  *provenance* (where and how it was submitted).  Two flags of one family are one piece
  of evidence.  A response is recommended for exclusion only when flags from
  ``exclude_min_families`` (default 2) different families agree; one family means
  review.  A reviewer's decision (:func:`decide`) overrides either.
* Unit-level flags (an answer distribution unlike the other units', or a unit's forms
  all submitted within a short window) are reported per (unit, questionnaire) and never
  change a response's recommendation: the Ministry's sanction for interference is to
  cancel the locality's whole result, which is a decision for Home Affairs.
* Paper forms have no timing or network paradata (their submission time is when the
  contractor keyed them in), so timing, burst and time-window checks skip them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import Enum, IntEnum, StrEnum
from types import MappingProxyType
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from questionnaires.problems import ENGLISH, N_, Text, Translator

from .design import BoolArray, FloatArray, IntArray, factorize

__all__ = [
    "CHECK_FAMILY",
    "Check",
    "ConfigProblem",
    "Correction",
    "Family",
    "Flag",
    "IntegrityConfig",
    "IntegrityConfigError",
    "IntegrityReport",
    "Mode",
    "Paradata",
    "RESPONSE_CHECKS",
    "Recommendation",
    "UNIT_CHECKS",
    "UnitFlag",
    "config_problems",
    "decide",
    "scan",
]


class Mode(IntEnum):
    """How a form was submitted (stored as a small integer column)."""

    WEB = 0  # personal link sent by email
    QR = 1  # public link or QR code
    PAPER = 2  # keyed in by the survey contractor


class Family(StrEnum):
    """Independent kinds of evidence; exclusion needs flags from two of them."""

    TIMING = "timing"
    ANSWERS = "answers"
    PROVENANCE = "provenance"
    UNIT = "unit"  # about a rated unit, never counted for a response


class Check(StrEnum):
    SPEEDER_TOTAL = "speeder_total"
    SPEEDER_PAGES = "speeder_pages"
    STRAIGHT_LINE = "straight_line"
    PATTERN = "pattern"
    NEAR_DUPLICATE = "near_duplicate"
    BURST = "burst"
    SHARED_LINK = "shared_link"
    HONEYPOT = "honeypot"
    UNIT_ANOMALY = "unit_anomaly"
    UNIT_WINDOW = "unit_window"


#: The family of each check.  Within a family the checks share a cause (a fast
#: respondent trips both timing rules; a copied vector of identical answers is both a
#: straight line and a duplicate), so they count once.
CHECK_FAMILY: Mapping[Check, Family] = MappingProxyType(
    {
        Check.SPEEDER_TOTAL: Family.TIMING,
        Check.SPEEDER_PAGES: Family.TIMING,
        Check.STRAIGHT_LINE: Family.ANSWERS,
        Check.PATTERN: Family.ANSWERS,
        Check.NEAR_DUPLICATE: Family.ANSWERS,
        Check.BURST: Family.PROVENANCE,
        Check.SHARED_LINK: Family.PROVENANCE,
        Check.HONEYPOT: Family.PROVENANCE,
        Check.UNIT_ANOMALY: Family.UNIT,
        Check.UNIT_WINDOW: Family.UNIT,
    }
)
RESPONSE_CHECKS: tuple[Check, ...] = tuple(c for c in Check if CHECK_FAMILY[c] is not Family.UNIT)
UNIT_CHECKS: tuple[Check, ...] = tuple(c for c in Check if CHECK_FAMILY[c] is Family.UNIT)
_RESPONSE_FAMILIES: tuple[Family, ...] = (Family.TIMING, Family.ANSWERS, Family.PROVENANCE)

# English evidence, rendered from a flag's ``params``; the web layer translates the same
# templates with named placeholders.
EVIDENCE: Mapping[Check, str] = MappingProxyType(
    {
        Check.SPEEDER_TOTAL: "total {total:.0f} s vs median {median:.0f} s "
        "(limit {limit:.0f} s over {completes} timed forms of this questionnaire)",
        Check.SPEEDER_PAGES: "{fast} of {pages} pages faster than {per_item:g} s per item",
        Check.STRAIGHT_LINE: "{same} of {answered} answers are option {option}",
        Check.PATTERN: "answers repeat every {period} items at {share:.0%} of positions",
        Check.NEAR_DUPLICATE: "answers differ from response {other} (same unit) in {distance} of "
        "{items} items; {partners} similar form(s)",
        Check.BURST: "{count} forms for this unit from one {source} within {minutes:.0f} min",
        Check.SHARED_LINK: "personal link opened from {devices} devices",
        Check.HONEYPOT: "hidden honeypot field was filled",
        Check.UNIT_ANOMALY: "spread between respondents sd {sd:.2f} vs {sd_others:.2f} in the other units: "
        "chi-square {chi2:.1f} on {df} df, p = {p:.2g}, {method}-adjusted p = {p_adjusted:.2g}",
        Check.UNIT_WINDOW: "{count} of {forms} timed forms submitted within {minutes:.0f} min",
    }
)


class Recommendation(StrEnum):
    OK = "ok"
    REVIEW = "review"
    EXCLUDE = "exclude"


#: Position = the code stored in :attr:`IntegrityReport.recommendation`.
RECOMMENDATIONS: tuple[Recommendation, ...] = (Recommendation.OK, Recommendation.REVIEW, Recommendation.EXCLUDE)


class Correction(StrEnum):
    """Multiple-testing correction over the unit tests."""

    HOLM = "holm"  # family-wise error rate (Holm 1979)
    BH = "bh"  # false discovery rate (Benjamini and Hochberg 1995)


@dataclass(frozen=True)
class IntegrityConfig:
    """Thresholds of every check (defaults are the documented design choices).

    ``enabled`` lists the checks that run.  Relative speeding applies to a
    questionnaire only once it has ``speeder_min_completes`` timed forms.
    """

    enabled: frozenset[Check] = frozenset(Check)
    speeder_fraction: float = 1 / 3
    speeder_min_completes: int = 30
    seconds_per_item: float = 2.0
    speeder_page_share: float = 0.5  # "most pages": strictly more than this share
    straightline_min_items: int = 8
    straightline_share: float = 0.9
    pattern_share: float = 0.9
    pattern_periods: tuple[int, ...] = (2, 3)
    duplicate_max_distance: int = 2
    duplicate_min_items: int = 8
    duplicate_min_varied: int = 3  # answers off the row's own mode; fewer is a straight line
    duplicate_max_bucket: int = 256
    burst_window_seconds: float = 1800.0
    burst_min_forms: int = 5
    shared_link_devices: int = 4
    unit_min_forms: int = 10
    unit_alpha: float = 0.001  # "departs sharply": adjusted p below this
    unit_correction: Correction = Correction.HOLM
    window_seconds: float = 3600.0
    window_share: float = 0.8
    window_min_forms: int = 10
    exclude_min_families: int = 2

    def __post_init__(self) -> None:
        unknown = set(self.enabled) - set(Check)
        if unknown:
            raise ValueError(f"unknown checks in enabled: {sorted(unknown)}")
        for name in ("speeder_fraction", "straightline_share", "pattern_share", "window_share",
                     "speeder_page_share"):
            value = getattr(self, name)
            if not 0 < value <= 1:
                raise ValueError(f"{name} must be in (0, 1], got {value!r}")
        if not 0 < self.unit_alpha < 1:
            raise ValueError(f"unit_alpha must be in (0, 1), got {self.unit_alpha!r}")
        if self.duplicate_max_distance < 0:
            raise ValueError("duplicate_max_distance must be >= 0")
        if not 1 <= self.exclude_min_families <= len(_RESPONSE_FAMILIES) + 1:
            raise ValueError(f"exclude_min_families must be 1..{len(_RESPONSE_FAMILIES) + 1}")
        if any(p < 1 for p in self.pattern_periods):
            raise ValueError("pattern_periods must be >= 1")

    def without(self, *checks: Check) -> IntegrityConfig:
        """The same configuration with ``checks`` switched off."""
        return replace(self, enabled=self.enabled - frozenset(checks))

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any] | None) -> IntegrityConfig:
        """The configuration a campaign file's ``integrity`` section describes.

        Keys are the field names of this class (thresholds), plus ``checks`` (the checks to
        run) or ``disable`` (checks to switch off); missing keys keep their defaults.

        Raises
        ------
        IntegrityConfigError
            With every problem found, each located by key (see :func:`config_problems`).
        """
        problems = config_problems(raw)
        if problems:
            raise IntegrityConfigError(problems)
        return _config_from_valid(raw or {})

    def thresholds(self) -> dict[str, Any]:
        """Every threshold by name (``enabled`` excluded), as plain values for display."""
        out: dict[str, Any] = {}
        for name in _THRESHOLD_KINDS:
            value = getattr(self, name)
            out[name] = (list(value) if isinstance(value, tuple)
                         else value.value if isinstance(value, Enum) else value)
        return out


@dataclass(frozen=True)
class ConfigProblem:
    """One problem in an ``integrity`` section: the key (``burst_min_forms``,
    ``checks[2]``) and the rule broken, a catalog message the edge renders."""

    path: str
    rule: Text

    def message(self, tr: Translator = ENGLISH) -> str:
        """The rule, in ``tr``'s language."""
        return self.rule.text(tr)


class IntegrityConfigError(ValueError):
    """An ``integrity`` section is invalid; ``problems`` lists each located problem."""

    def __init__(self, problems: Iterable[ConfigProblem]):
        self.problems = tuple(problems)
        super().__init__("; ".join(f"{p.path}: {p.message()}" for p in self.problems))


# Kind of every threshold: how a file's value is checked.  "share" is in (0, 1], "alpha"
# in (0, 1), "count" a whole number >= 1, "distance" a whole number >= 0, "seconds" > 0.
_THRESHOLD_KINDS: Mapping[str, str] = MappingProxyType({
    "speeder_fraction": "share",
    "speeder_min_completes": "count",
    "seconds_per_item": "seconds",
    "speeder_page_share": "share",
    "straightline_min_items": "count",
    "straightline_share": "share",
    "pattern_share": "share",
    "pattern_periods": "periods",
    "duplicate_max_distance": "distance",
    "duplicate_min_items": "count",
    "duplicate_min_varied": "count",
    "duplicate_max_bucket": "count",
    "burst_window_seconds": "seconds",
    "burst_min_forms": "count",
    "shared_link_devices": "count",
    "unit_min_forms": "count",
    "unit_alpha": "alpha",
    "unit_correction": "correction",
    "window_seconds": "seconds",
    "window_share": "share",
    "window_min_forms": "count",
    "exclude_min_families": "families",
})

_KIND_RULE: Mapping[str, Text] = MappingProxyType({
    "share": Text(N_("a number above 0 and at most 1 (e.g. 0.33)")),
    "alpha": Text(N_("a number above 0 and below 1 (e.g. 0.001)")),
    "count": Text(N_("a whole number of at least 1")),
    "distance": Text(N_("a whole number of at least 0")),
    "seconds": Text(N_("a number of seconds above 0")),
    "periods": Text(N_("a list of whole numbers of at least 1 (e.g. [2, 3])")),
    "correction": Text(N_("one of: {allowed}"), {"allowed": ", ".join(c.value for c in Correction)}),
    "families": Text(N_("a whole number from 1 to {high}"), {"high": len(_RESPONSE_FAMILIES) + 1}),
})


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return (_is_int(v) or isinstance(v, float)) and math.isfinite(v)


def _valid_value(kind: str, v: Any) -> bool:
    if kind == "share":
        return _is_number(v) and 0 < v <= 1
    if kind == "alpha":
        return _is_number(v) and 0 < v < 1
    if kind == "count":
        return _is_int(v) and v >= 1
    if kind == "distance":
        return _is_int(v) and v >= 0
    if kind == "seconds":
        return _is_number(v) and v > 0
    if kind == "periods":
        return isinstance(v, list) and bool(v) and all(_is_int(p) and p >= 1 for p in v)
    if kind == "correction":
        return v in {c.value for c in Correction}
    if kind == "families":
        return _is_int(v) and 1 <= v <= len(_RESPONSE_FAMILIES) + 1
    raise AssertionError(kind)


def config_problems(raw: Any) -> list[ConfigProblem]:
    """Every problem in an ``integrity`` section (empty when it is valid or absent).

    The campaign loader reports these with the file and line; see
    :meth:`IntegrityConfig.from_mapping` for the accepted keys.
    """
    if raw is None:
        return []
    if not isinstance(raw, Mapping):
        return [ConfigProblem("", Text(N_("The 'integrity' section must be a mapping of 'key: value'.")))]
    problems: list[ConfigProblem] = []
    names = ", ".join(c.value for c in Check)
    if "checks" in raw and "disable" in raw:
        problems.append(ConfigProblem("disable", Text(N_(
            "Use only one of 'checks' (the checks to run) or 'disable' (checks to switch off)."))))
    for key, value in raw.items():
        if key in ("checks", "disable"):
            if not isinstance(value, list):
                problems.append(ConfigProblem(
                    str(key), Text(N_("Must be a list of check names: {names}."), {"names": names})))
                continue
            for i, item in enumerate(value):
                if item not in {c.value for c in Check}:
                    problems.append(ConfigProblem(f"{key}[{i}]", Text(
                        N_("There is no check '{check}'. Valid names: {names}."),
                        {"check": item, "names": names})))
        elif key in _THRESHOLD_KINDS:
            kind = _THRESHOLD_KINDS[key]
            if not _valid_value(kind, value):
                problems.append(ConfigProblem(str(key), Text(
                    N_("The value '{value}' is not valid: expected {expected}."),
                    {"value": value, "expected": _KIND_RULE[kind]})))
        else:
            allowed = ", ".join(("checks", "disable", *_THRESHOLD_KINDS))
            problems.append(ConfigProblem(str(key), Text(
                N_("Key '{key}' is not allowed here. Allowed keys: {allowed}."),
                {"key": key, "allowed": allowed})))
    return problems


def _config_from_valid(raw: Mapping[str, Any]) -> IntegrityConfig:
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "checks":
            values["enabled"] = frozenset(Check(v) for v in value)
        elif key == "disable":
            values["enabled"] = frozenset(Check) - {Check(v) for v in value}
        elif _THRESHOLD_KINDS[key] == "periods":
            values[key] = tuple(value)
        elif _THRESHOLD_KINDS[key] == "correction":
            values[key] = Correction(value)
        elif _THRESHOLD_KINDS[key] in ("share", "alpha", "seconds"):
            values[key] = float(value)
        else:
            values[key] = value
    return IntegrityConfig(**values)


def _column(values: ArrayLike, name: str, dtype: Any, n: int | None) -> NDArray[Any]:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"paradata column {name!r} must be 1-d, got shape {arr.shape}")
    if n is not None and arr.shape[0] != n:
        raise ValueError(f"paradata column {name!r} has {arr.shape[0]} rows, expected {n}")
    return arr.astype(dtype, copy=False)


@dataclass(frozen=True, eq=False)
class Paradata:
    """What the web layer records per submitted form, as columns (one row per form).

    Attributes
    ----------
    response_id : int64
        The form's id, used in evidence and for reviewer decisions.
    unit, group, questionnaire : int64
        Rated unit, respondent group and questionnaire (any integer codes).
    mode : int8
        :class:`Mode` value.
    submitted_at : float64
        Submission time in seconds (any epoch).
    total_seconds : float64
        Active answering time; NaN when unknown (paper).
    page_seconds : float64, shape (n, P)
        Time on each page; NaN for pages not shown or unknown.
    items_per_page : int64, shape (n, P)
        Questions shown on each page (after skip logic); 0 for no page.
    network_hash, device_hash : int64
        Keyed hash (HMAC, truncated to 64 bits) of the client network prefix and of the
        user agent; 0 = unknown.  Never the raw address.
    link_open_devices : int64
        Distinct device hashes that opened this form's personal link (0 if not a link).
    honeypot_filled : bool
        The hidden field of a public form was filled.
    codes : uint8, shape (n, K)
        Scored answers as in :meth:`questionnaires.schema.Questionnaire.item_codes`:
        1-based option position, 0 = missing; shorter questionnaires pad with 0.
    """

    response_id: IntArray
    unit: IntArray
    group: IntArray
    questionnaire: IntArray
    mode: NDArray[np.int8]
    submitted_at: FloatArray
    total_seconds: FloatArray
    page_seconds: FloatArray
    items_per_page: IntArray
    network_hash: IntArray
    device_hash: IntArray
    link_open_devices: IntArray
    honeypot_filled: BoolArray
    codes: NDArray[np.uint8]

    def __post_init__(self) -> None:
        n = np.asarray(self.response_id).shape[0]
        one_d = {
            "response_id": np.int64, "unit": np.int64, "group": np.int64, "questionnaire": np.int64,
            "mode": np.int8, "submitted_at": np.float64, "total_seconds": np.float64,
            "network_hash": np.int64, "device_hash": np.int64, "link_open_devices": np.int64,
            "honeypot_filled": np.bool_,
        }
        for name, dtype in one_d.items():
            object.__setattr__(self, name, _column(getattr(self, name), name, dtype, n))
        for name, dtype in (("page_seconds", np.float64), ("items_per_page", np.int64), ("codes", np.uint8)):
            arr = np.asarray(getattr(self, name))
            if arr.ndim != 2 or arr.shape[0] != n:
                raise ValueError(f"paradata {name!r} must have shape ({n}, k), got {arr.shape}")
            object.__setattr__(self, name, np.ascontiguousarray(arr, dtype=dtype))
        if self.page_seconds.shape != self.items_per_page.shape:
            raise ValueError(
                f"page_seconds {self.page_seconds.shape} and items_per_page {self.items_per_page.shape} differ"
            )
        bad = set(np.unique(self.mode).tolist()) - {int(m) for m in Mode}
        if bad:
            raise ValueError(f"paradata 'mode' has unknown values {sorted(bad)}; use analysis.integrity.Mode")
        if np.unique(self.response_id).size != n:
            raise ValueError("paradata 'response_id' repeats")

    @property
    def n(self) -> int:
        return int(self.response_id.shape[0])


@dataclass(frozen=True)
class Flag:
    """One check that fired on one response; ``params`` holds the numbers behind it."""

    check: Check
    family: Family
    params: Mapping[str, Any]

    @property
    def evidence(self) -> str:
        """The numbers in a sentence a reviewer can read (English)."""
        return EVIDENCE[self.check].format(**self.params)


@dataclass(frozen=True)
class UnitFlag:
    """A check that fired on one (rated unit, questionnaire, mode) cell."""

    check: Check
    unit: Any
    questionnaire: Any
    mode: Mode
    forms: int
    params: Mapping[str, Any]
    p_value: float | None = None
    p_adjusted: float | None = None

    @property
    def family(self) -> Family:
        return CHECK_FAMILY[self.check]

    @property
    def evidence(self) -> str:
        return EVIDENCE[self.check].format(**self.params)


@dataclass(frozen=True, eq=False)
class IntegrityReport:
    """Result of :func:`scan`.

    ``hits[i, j]`` says whether ``RESPONSE_CHECKS[j]`` fired on row ``i``;
    ``recommendation[i]`` indexes :data:`RECOMMENDATIONS`; ``flags`` holds the flags of
    every flagged row (by row index); ``decided`` marks rows a reviewer settled.
    """

    response_id: IntArray
    hits: BoolArray
    families: NDArray[np.int8]
    recommendation: NDArray[np.int8]
    flags: Mapping[int, tuple[Flag, ...]]
    units: tuple[UnitFlag, ...]
    config: IntegrityConfig
    decided: BoolArray = field(default_factory=lambda: np.zeros(0, dtype=bool))

    def hit(self, check: Check) -> BoolArray:
        """Rows on which ``check`` fired."""
        return self.hits[:, RESPONSE_CHECKS.index(check)]

    def recommendation_of(self, row: int) -> Recommendation:
        return RECOMMENDATIONS[int(self.recommendation[row])]

    def counts(self) -> dict[str, int]:
        """Responses per recommendation."""
        tally = np.bincount(self.recommendation, minlength=len(RECOMMENDATIONS))
        return {r.value: int(tally[k]) for k, r in enumerate(RECOMMENDATIONS)}


# --------------------------------------------------------------------------- helpers


def _group_median(index: IntArray, values: FloatArray, size: int) -> tuple[FloatArray, IntArray]:
    """Median and count of ``values`` per group (NaN where a group is empty)."""
    order = np.lexsort((values, index))
    counts = np.bincount(index, minlength=size)
    starts = np.cumsum(counts) - counts
    med = np.full(size, np.nan)
    has = counts > 0
    sv = values[order]
    lo = starts[has] + (counts[has] - 1) // 2
    hi = starts[has] + counts[has] // 2
    med[has] = (sv[lo] + sv[hi]) / 2
    return med, counts


def _group_ids(keys: Iterable[NDArray[Any]]) -> IntArray:
    """Dense group id per row for the combination of several integer key columns."""
    stacked = np.stack([np.asarray(k, dtype=np.int64) for k in keys], axis=1)
    _, inverse = np.unique(stacked, axis=0, return_inverse=True)
    return inverse.reshape(-1).astype(np.int64)


@dataclass(frozen=True)
class _Windows:
    member: BoolArray  # row lies in some window that met its group's threshold
    group_max: IntArray  # most rows of its group inside one window
    group_size: IntArray  # rows of its group


def _windows(group: IntArray, t: FloatArray, window: float, need: Callable[[IntArray], IntArray]) -> _Windows:
    """Sliding windows of length ``window`` over each group's times.

    ``need(group_size)`` gives the count a window must reach in each group.  A row is a
    member when a window [t_s, t_s + window] starting at one of its group's rows holds
    at least that many rows and contains it.  Sorting once on (group, time) and a
    ``searchsorted`` on the key ``group * span + time`` keeps this O(n log n).
    """
    m = group.shape[0]
    if m == 0:
        z = np.zeros(0, dtype=np.int64)
        return _Windows(np.zeros(0, dtype=bool), z, z)
    order = np.lexsort((t, group))
    g, ts = group[order], t[order]
    t0 = ts.min()
    span = float(ts.max() - t0) + window + 1.0
    key = g * span + (ts - t0)
    ends = np.searchsorted(key, key + window, side="right")
    count = ends - np.arange(m)
    sizes = np.bincount(g)
    threshold = need(sizes)[g]
    start = count >= threshold
    idx = np.flatnonzero(start)
    delta = np.bincount(idx, minlength=m + 1) - np.bincount(ends[start], minlength=m + 1)
    covered = np.cumsum(delta)[:m] > 0
    gmax = np.zeros(sizes.size, dtype=np.int64)
    np.maximum.at(gmax, g, count)
    member = np.empty(m, dtype=bool)
    member[order] = covered
    return _Windows(member, gmax[group], sizes[group])


def _holm(p: FloatArray) -> FloatArray:
    """Holm's step-down adjusted p-values: ``max_{j<=i} min(1, (m - j) p_(j))``."""
    m = p.size
    order = np.argsort(p)
    adj = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adj
    return out


def _adjust(p: FloatArray, method: Correction) -> FloatArray:
    if p.size == 0:
        return p
    if method is Correction.HOLM:
        return _holm(p)
    from scipy import stats  # here, not at import: scipy.stats costs 0.4 s of every app start

    return np.asarray(stats.false_discovery_control(p, method="bh"), dtype=np.float64)


# --------------------------------------------------------------------------- checks
# Each returns a mask over rows and per-row arrays for the evidence params.

_Result = tuple[BoolArray, dict[str, NDArray[Any]]]


def _speeders(d: Paradata, cfg: IntegrityConfig) -> tuple[_Result, _Result]:
    timed = (d.mode != Mode.PAPER) & np.isfinite(d.total_seconds)
    qlev, qidx = factorize(d.questionnaire)
    med, completes = _group_median(qidx[timed], d.total_seconds[timed], len(qlev))
    median = med[qidx]
    limit = cfg.speeder_fraction * median
    relative = completes[qidx] >= cfg.speeder_min_completes
    total_hit = timed & relative & (d.total_seconds < limit)
    total = (total_hit, {"total": d.total_seconds, "median": median, "limit": limit,
                         "completes": completes[qidx]})

    ip, ps = d.items_per_page, d.page_seconds
    valid = (ip > 0) & np.isfinite(ps) & (d.mode != Mode.PAPER)[:, None]
    fast = valid & (ps < cfg.seconds_per_item * ip)
    pages = valid.sum(axis=1)
    nfast = fast.sum(axis=1)
    page_hit = (pages > 0) & (nfast > cfg.speeder_page_share * pages)
    per_page = (page_hit, {"fast": nfast, "pages": pages,
                           "per_item": np.full(d.n, cfg.seconds_per_item)})
    return total, per_page


@dataclass(frozen=True)
class _Shape:
    answered: IntArray
    modal_count: IntArray
    modal_option: IntArray


def _shape(codes: NDArray[np.uint8]) -> _Shape:
    answered = (codes > 0).sum(axis=1)
    best = np.zeros(codes.shape[0], dtype=np.int64)
    option = np.zeros(codes.shape[0], dtype=np.int64)
    top = int(codes.max()) if codes.size else 0
    for v in range(1, top + 1):
        cnt = (codes == v).sum(axis=1)
        better = cnt > best
        best = np.where(better, cnt, best)
        option = np.where(better, v, option)
    return _Shape(answered, best, option)


def _answer_patterns(d: Paradata, cfg: IntegrityConfig, shape: _Shape) -> tuple[_Result, _Result]:
    c = d.codes
    enough = shape.answered >= cfg.straightline_min_items
    share = shape.modal_count / np.maximum(shape.answered, 1)
    straight = enough & (share >= cfg.straightline_share)
    option_letter = np.array([""] + [chr(ord("A") + k) for k in range(26)] + ["?"] * 229)
    line = (straight, {"same": shape.modal_count, "answered": shape.answered,
                       "option": option_letter[shape.modal_option]})

    given = c > 0
    both1 = given[:, :-1] & given[:, 1:]
    change = (both1 & (c[:, :-1] != c[:, 1:])).sum(axis=1) / np.maximum(both1.sum(axis=1), 1)
    best_share = np.zeros(d.n)
    best_period = np.zeros(d.n, dtype=np.int64)
    for p in cfg.pattern_periods:
        if p >= c.shape[1]:
            continue
        both = given[:, :-p] & given[:, p:]
        pairs = both.sum(axis=1)
        s = (both & (c[:, :-p] == c[:, p:])).sum(axis=1) / np.maximum(pairs, 1)
        s = np.where(pairs >= cfg.straightline_min_items - p, s, 0.0)
        better = s > best_share
        best_share = np.where(better, s, best_share)
        best_period = np.where(better, p, best_period)
    # A repeating cycle (A B A B ..., A B C A B C ...) that is not a straight line.
    pattern = enough & ~straight & (best_share >= cfg.pattern_share) & (change >= 0.5)
    return line, (pattern, {"period": best_period, "share": best_share})


def _pairs_within(keys: NDArray[np.uint64], rows: IntArray, cap: int) -> tuple[IntArray, IntArray]:
    """All pairs of rows that share a key, skipping groups larger than ``cap``."""
    order = np.argsort(keys, kind="stable")
    ks, rs = keys[order], rows[order]
    m = ks.size
    if m < 2:
        z = np.zeros(0, dtype=np.int64)
        return z, z
    new = np.r_[True, ks[1:] != ks[:-1]]
    gid = np.cumsum(new) - 1
    starts = np.flatnonzero(new)
    sizes = np.diff(np.r_[starts, m])[gid]
    pos = np.arange(m) - starts[gid]
    ok = (sizes > 1) & (sizes <= cap)
    per = np.where(ok, sizes - pos - 1, 0)
    total = int(per.sum())
    left = np.repeat(np.arange(m), per)
    offset = np.arange(total) - np.repeat(np.cumsum(per) - per, per)
    right = left + 1 + offset
    return rs[left], rs[right]


def _near_duplicates(d: Paradata, cfg: IntegrityConfig, shape: _Shape) -> _Result:
    """Pairs within one (unit, questionnaire) whose answers differ in <= D items.

    Split the K items into D + 1 bands: two vectors within Hamming distance D agree
    exactly on at least one band (pigeonhole), so hashing each band with the unit and
    questionnaire finds every such pair; only rows sharing a band are compared.
    Rows with fewer than ``duplicate_min_varied`` answers off their own mode are left
    out: identical straight lines are common and already flagged as such.
    """
    n, k = d.codes.shape
    dist_max = cfg.duplicate_max_distance
    eligible = (shape.answered >= cfg.duplicate_min_items) & (
        shape.answered - shape.modal_count >= cfg.duplicate_min_varied
    )
    rows = np.flatnonzero(eligible)
    hit = np.zeros(n, dtype=bool)
    other = np.full(n, -1, dtype=np.int64)
    distance = np.zeros(n, dtype=np.int64)
    partners = np.zeros(n, dtype=np.int64)
    params: dict[str, NDArray[Any]] = {"other": other, "distance": distance, "items": shape.answered,
                                       "partners": partners}
    if rows.size < 2 or k == 0:
        return hit, params
    rng = np.random.default_rng(0x5EED)  # fixed multipliers: a hash, not randomness
    mult = np.asarray(rng.integers(1, 2**63, size=k, dtype=np.uint64), dtype=np.uint64) | np.uint64(1)
    salt: NDArray[np.uint64] = rng.integers(1, 2**63, size=3, dtype=np.uint64)
    sub = d.codes[rows].astype(np.uint64)
    base = (d.unit[rows].astype(np.uint64) * salt[0]) ^ (d.questionnaire[rows].astype(np.uint64) * salt[1])
    keys, owners = [], []
    for b, cols in enumerate(np.array_split(np.arange(k), min(dist_max + 1, k))):
        h = (sub[:, cols] * mult[cols]).sum(axis=1, dtype=np.uint64)
        keys.append(h ^ base ^ (salt[2:] * np.uint64(b + 1)))
        owners.append(rows)
    a, b_ = _pairs_within(np.concatenate(keys), np.concatenate(owners), cfg.duplicate_max_bucket)
    if a.size == 0:
        return hit, params
    lo, hi = np.minimum(a, b_), np.maximum(a, b_)
    pair = np.unique(lo * n + hi)
    lo, hi = pair // n, pair % n
    same = (d.unit[lo] == d.unit[hi]) & (d.questionnaire[lo] == d.questionnaire[hi])
    lo, hi = lo[same], hi[same]
    dist = np.empty(lo.size, dtype=np.int64)
    step = 1 << 18
    for s in range(0, lo.size, step):
        dist[s:s + step] = (d.codes[lo[s:s + step]] != d.codes[hi[s:s + step]]).sum(axis=1)
    close = dist <= dist_max
    lo, hi, dist = lo[close], hi[close], dist[close]
    if lo.size == 0:  # candidate pairs, none close enough
        return hit, params
    me = np.concatenate([lo, hi])
    them = np.concatenate([hi, lo])
    dd = np.concatenate([dist, dist])
    hit[me] = True
    partners += np.bincount(me, minlength=n)
    order = np.lexsort((dd, me))
    first = np.r_[True, me[order][1:] != me[order][:-1]]
    nearest = order[first]
    other[me[nearest]] = d.response_id[them[nearest]]
    distance[me[nearest]] = dd[nearest]
    return hit, params


def _bursts(d: Paradata, cfg: IntegrityConfig) -> _Result:
    n = d.n
    hit = np.zeros(n, dtype=bool)
    count = np.zeros(n, dtype=np.int64)
    source = np.full(n, "", dtype=object)
    online = d.mode != Mode.PAPER
    for name, column in (("network", d.network_hash), ("device", d.device_hash)):
        rows = np.flatnonzero(online & (column != 0))
        if rows.size == 0:
            continue
        group = _group_ids((d.unit[rows], column[rows]))
        w = _windows(group, d.submitted_at[rows], cfg.burst_window_seconds,
                     lambda sizes: np.full(sizes.size, cfg.burst_min_forms))
        better = w.member & (w.group_max > count[rows])
        target = rows[better]
        hit[rows[w.member]] = True
        count[target] = w.group_max[better]
        source[target] = name
    return hit, {"count": count, "source": source,
                 "minutes": np.full(n, cfg.burst_window_seconds / 60)}


@dataclass(frozen=True)
class _Cells:
    """(questionnaire, unit, mode) cells: the unit checks compare like with like."""

    index: IntArray  # cell of each row
    size: int
    pool: IntArray  # (questionnaire, mode) of each cell, the reference group
    unit: NDArray[Any]
    questionnaire: NDArray[Any]
    mode: IntArray
    forms: IntArray

    @classmethod
    def of(cls, d: Paradata) -> _Cells:
        keys = np.stack([d.questionnaire, d.mode.astype(np.int64), d.unit], axis=1)
        levels, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
        index = inverse.reshape(-1).astype(np.int64)
        _, pool = np.unique(levels[:, :2], axis=0, return_inverse=True)
        return cls(index, len(levels), pool.reshape(-1).astype(np.int64), levels[:, 2], levels[:, 0],
                   levels[:, 1], np.bincount(index, minlength=len(levels)))

    def flag(self, check: Check, c: int, params: Mapping[str, Any], p: float | None = None,
             p_adjusted: float | None = None) -> UnitFlag:
        return UnitFlag(check=check, unit=self.unit[c].item(), questionnaire=self.questionnaire[c].item(),
                        mode=Mode(int(self.mode[c])), forms=int(self.forms[c]), params=MappingProxyType(dict(params)),
                        p_value=p, p_adjusted=p_adjusted)


def _unit_flags(d: Paradata, cfg: IntegrityConfig, clean: BoolArray) -> list[UnitFlag]:
    if d.n == 0:
        return []
    cells = _Cells.of(d)
    out: list[UnitFlag] = []
    if Check.UNIT_ANOMALY in cfg.enabled:
        out += _unit_anomaly(d, cfg, cells, clean)
    if Check.UNIT_WINDOW in cfg.enabled:
        timed = np.flatnonzero(d.mode != Mode.PAPER)

        def need(sizes: IntArray) -> IntArray:
            needed: IntArray = np.maximum(cfg.window_min_forms, np.ceil(cfg.window_share * sizes)).astype(np.int64)
            return needed

        if timed.size:
            w = _windows(cells.index[timed], d.submitted_at[timed], cfg.window_seconds, need)
            gmax = np.zeros(cells.size, dtype=np.int64)
            gsize = np.zeros(cells.size, dtype=np.int64)
            gmax[cells.index[timed]] = w.group_max
            gsize[cells.index[timed]] = w.group_size
            for c in np.flatnonzero((gsize > 0) & (gmax >= need(gsize))).tolist():
                out.append(cells.flag(Check.UNIT_WINDOW, c, {"count": int(gmax[c]), "forms": int(gsize[c]),
                                                              "minutes": cfg.window_seconds / 60}))
    return out


def _unit_anomaly(
d: Paradata, cfg: IntegrityConfig, cells: _Cells, clean: BoolArray) -> list[UnitFlag]:
    """Chi-square test of the spread of answers between a unit's respondents.

    A unit's *level* is what the index measures, and honest units differ in it, so
    "unlike the other units" cannot mean a different mean: with fifty respondents every
    good or bad unit would be significant.  What fabrication changes is the shape --
    forms filled by one hand, or to one instruction, are too alike (Bredl, Winker and
    Koetschau 2012 on falsified interviews; Schaefer et al. 2005).  Each form is
    summarised by its mean option position ``y_i`` over answered items; for a cell
    with ``n`` forms and sample variance ``s2``,
    ``T = (n - 1) s2 / sigma2 ~ chi-square(n - 1)`` where ``sigma2`` is the pooled
    within-unit variance of the other cells of the same questionnaire and mode.  The p-value is
    two-sided (too alike or too mixed) and adjusted over all tested cells with Holm
    or Benjamini-Hochberg.  Only forms no response check flagged (``clean``) enter,
    so a few straight-liners or bots can neither make nor mask a unit anomaly.
    """
    c = d.codes
    cidx, ncell, cell_q = cells.index, cells.size, cells.pool
    answered = (c > 0).sum(axis=1)
    y = c.sum(axis=1, dtype=np.float64) / np.maximum(answered, 1)
    use = clean & (answered > 0)
    n = np.bincount(cidx[use], minlength=ncell).astype(np.float64)
    total = np.bincount(cidx[use], weights=y[use], minlength=ncell)
    mean = total / np.maximum(n, 1)
    ss = np.bincount(cidx[use], weights=(y[use] - mean[cidx[use]]) ** 2, minlength=ncell)
    tested = (n >= cfg.unit_min_forms)
    nq = int(cell_q.max()) + 1
    q_ss = np.bincount(cell_q[tested], weights=ss[tested], minlength=nq)
    q_df = np.bincount(cell_q[tested], weights=n[tested] - 1, minlength=nq)
    q_cells = np.bincount(cell_q[tested], minlength=nq)
    other_df = q_df[cell_q] - (n - 1)
    tested &= (q_cells[cell_q] >= 3) & (other_df > 0)
    ti = np.flatnonzero(tested)
    if ti.size == 0:
        return []
    sigma2 = (q_ss[cell_q[ti]] - ss[ti]) / other_df[ti]
    df = n[ti] - 1
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = np.where(sigma2 > 0, ss[ti] / sigma2, np.inf)
    from scipy import stats  # here, not at import (see _adjust)

    p = np.minimum(1.0, 2 * np.minimum(stats.chi2.cdf(stat, df), stats.chi2.sf(stat, df)))
    p_adj = _adjust(p, cfg.unit_correction)
    out = []
    for j in np.flatnonzero(p_adj < cfg.unit_alpha):
        cc = int(ti[j])
        params = {"sd": float(np.sqrt(ss[cc] / df[j])), "sd_others": float(np.sqrt(sigma2[j])),
                  "chi2": float(stat[j]), "df": int(df[j]), "p": float(p[j]),
                  "p_adjusted": float(p_adj[j]), "method": cfg.unit_correction.value}
        out.append(cells.flag(Check.UNIT_ANOMALY, cc, params, float(p[j]), float(p_adj[j])))
    return out


# --------------------------------------------------------------------------- entry points


def scan(data: Paradata, config: IntegrityConfig | None = None) -> IntegrityReport:
    """Run every enabled check and recommend ok / review / exclude per response.

    ``families[i]`` is the number of distinct families (timing, answers, provenance)
    with a flag on row ``i``; the recommendation is ``exclude`` when it reaches
    ``config.exclude_min_families``, ``review`` when it is at least 1, else ``ok``.
    """
    cfg = config or IntegrityConfig()
    n = data.n
    results: dict[Check, _Result] = {}
    on = cfg.enabled
    if {Check.SPEEDER_TOTAL, Check.SPEEDER_PAGES} & on:
        results[Check.SPEEDER_TOTAL], results[Check.SPEEDER_PAGES] = _speeders(data, cfg)
    if {Check.STRAIGHT_LINE, Check.PATTERN, Check.NEAR_DUPLICATE} & on:
        shape = _shape(data.codes)
        results[Check.STRAIGHT_LINE], results[Check.PATTERN] = _answer_patterns(data, cfg, shape)
        if Check.NEAR_DUPLICATE in on:
            results[Check.NEAR_DUPLICATE] = _near_duplicates(data, cfg, shape)
    if Check.BURST in on:
        results[Check.BURST] = _bursts(data, cfg)
    if Check.SHARED_LINK in on:
        shared = (data.mode == Mode.WEB) & (data.link_open_devices >= cfg.shared_link_devices)
        results[Check.SHARED_LINK] = (shared, {"devices": data.link_open_devices})
    if Check.HONEYPOT in on:
        results[Check.HONEYPOT] = (data.honeypot_filled.copy(), {})

    hits = np.zeros((n, len(RESPONSE_CHECKS)), dtype=bool)
    for j, check in enumerate(RESPONSE_CHECKS):
        if check in on and check in results:
            hits[:, j] = results[check][0]
    fam = np.zeros((n, len(_RESPONSE_FAMILIES)), dtype=bool)
    for j, check in enumerate(RESPONSE_CHECKS):
        fam[:, _RESPONSE_FAMILIES.index(CHECK_FAMILY[check])] |= hits[:, j]
    families = fam.sum(axis=1).astype(np.int8)
    rec = np.where(families >= cfg.exclude_min_families, 2, np.where(families >= 1, 1, 0)).astype(np.int8)

    flags: dict[int, tuple[Flag, ...]] = {}
    rows, cols = np.nonzero(hits)
    for row, col in zip(rows.tolist(), cols.tolist(), strict=True):
        check = RESPONSE_CHECKS[col]
        params = {k: _plain(v[row]) for k, v in results[check][1].items()}
        flags[row] = (*flags.get(row, ()), Flag(check, CHECK_FAMILY[check], MappingProxyType(params)))

    return IntegrityReport(
        response_id=data.response_id,
        hits=hits,
        families=families,
        recommendation=rec,
        flags=MappingProxyType(flags),
        units=tuple(_unit_flags(data, cfg, rec == 0)),
        config=cfg,
        decided=np.zeros(n, dtype=bool),
    )


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return float("nan")
    return value


def decide(report: IntegrityReport, decisions: Mapping[int, Recommendation]) -> IntegrityReport:
    """A new report with a reviewer's decisions (response id -> recommendation) applied."""
    ids = report.response_id
    order = np.argsort(ids)
    wanted = np.fromiter(decisions.keys(), dtype=np.int64, count=len(decisions))
    pos = np.searchsorted(ids[order], wanted)
    found = (pos < ids.size) & (ids[order][np.minimum(pos, ids.size - 1)] == wanted)
    if not found.all():
        raise KeyError(f"no response with id(s) {wanted[~found].tolist()} in this report")
    rows = order[pos]
    rec = report.recommendation.copy()
    rec[rows] = [RECOMMENDATIONS.index(Recommendation(r)) for r in decisions.values()]
    decided = report.decided.copy()
    decided[rows] = True
    return replace(report, recommendation=rec, decided=decided)
