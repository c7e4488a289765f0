"""Drawing samples from frames, with recorded seeds and inclusion probabilities.

All randomness goes through :class:`numpy.random.Generator` built from a recorded integer
seed, so any draw can be repeated exactly from its :class:`Draw` record.  Frames are
addressed by position (``0 .. N-1``); callers map positions to their own rows.

Methods
-------
Simple random sampling without replacement (SRS)
    Each element has inclusion probability ``n / N``.
Systematic sampling with a fractional interval
    ``k = N / n``, random start ``u ~ U[0, k)``, selects ``floor(u + i k)``; each element
    has inclusion probability exactly ``n / N`` (Cochran 1977, §8.1; Särndal et al. 1992,
    §3.4), and frame order gives implicit stratification.
Systematic probability-proportional-to-size (PPS)
    As PAPI selects districts and communes: cumulate sizes, interval ``I = X / n``,
    random start in ``[0, I)``.  Units with ``x_i >= I`` are taken with certainty and the
    interval is recomputed on the rest until none remains (Särndal et al. 1992, §3.6).
    Inclusion probability ``n' x_i / X'`` for non-certainty units, 1 for certainty units.

Reserve lists
-------------
Each draw can add a reserve list used, in order, to replace refusals or ineligible
elements.  Reserves are drawn from the elements not selected; each reserve pick records
the element's first-order inclusion probability under the main design, the weight
conventionally used when a replacement stands in for a selected element.
"""

from __future__ import annotations

import enum
import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import numpy.typing as npt
from scipy.special import ndtri  # the normal quantile (scipy.stats.norm.ppf calls it)

from sampling.errors import DrawError


class DrawMethod(enum.StrEnum):
    """How a draw selected its elements."""

    SRS = "srs"
    SYSTEMATIC = "systematic"
    PPS_SYSTEMATIC = "pps_systematic"


class Role(enum.StrEnum):
    """Whether a pick is in the sample or on the reserve list."""

    SELECTED = "selected"
    RESERVE = "reserve"


@dataclass(frozen=True, slots=True)
class Pick:
    """One drawn element.

    Attributes
    ----------
    index : int
        Position in the frame.
    role : Role
        Sample or reserve.
    order : int
        0-based position within its role; reserves are used in this order.
    inclusion_probability : float
        First-order inclusion probability under the main design.
    certainty : bool
        Taken with probability 1 because its size exceeded the PPS interval.
    """

    index: int
    role: Role
    order: int
    inclusion_probability: float
    certainty: bool = False

    @property
    def design_weight(self) -> float:
        """``1 / inclusion_probability`` (Horvitz–Thompson base weight)."""
        return 1.0 / self.inclusion_probability


@dataclass(frozen=True, slots=True)
class Draw:
    """A reproducible record of one draw.

    Attributes
    ----------
    method : DrawMethod
    seed : int
        The integer the generator was built from (``np.random.default_rng(seed)``).
    frame_size : int
    n : int
        Sample size requested.
    picks : tuple of Pick
        Selected elements first (in selection order), then reserves (in use order).
    interval, start : float or None
        Systematic interval and random start (for PPS, of the final non-certainty pass).
    """

    method: DrawMethod
    seed: int
    frame_size: int
    n: int
    picks: tuple[Pick, ...]
    interval: float | None = None
    start: float | None = None

    @property
    def selected(self) -> tuple[int, ...]:
        """Frame positions of the sample."""
        return tuple(p.index for p in self.picks if p.role is Role.SELECTED)

    @property
    def reserve(self) -> tuple[int, ...]:
        """Frame positions of the reserve list, in the order to use them."""
        return tuple(p.index for p in self.picks if p.role is Role.RESERVE)


def new_seed() -> int:
    """A fresh seed from OS entropy, to be recorded with the draw it feeds."""
    return int(np.random.SeedSequence().generate_state(1, dtype=np.uint64)[0])


def unit_seed(seed: int, key: str) -> np.random.SeedSequence:
    """A seed sequence for one unit, stable for a (seed, key) pair.

    Per-unit streams make a unit's draw independent of which other units are drawn and in
    what order, so re-drawing one agency does not change any other.
    """
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    words = tuple(int.from_bytes(digest[i:i + 4], "little") for i in range(0, 16, 4))
    return np.random.SeedSequence(entropy=seed, spawn_key=words)


def _rng(seed: int | np.random.SeedSequence) -> np.random.Generator:
    return np.random.default_rng(seed)


def _check_sizes(n: int, reserve: int, available: int) -> None:
    if n < 0 or reserve < 0 or n + reserve > available:
        raise DrawError("DRAW-SIZE-INVALID", n=n, reserve=reserve, available=available)


def draw_srs(frame_size: int, n: int, *, seed: int | None = None, reserve: int = 0,
             key: str | None = None) -> Draw:
    """Simple random sample without replacement, plus an optional reserve list.

    The first ``n`` elements of a uniform random permutation form the sample and the next
    ``reserve`` the reserve list, so any prefix "sample + first k reserves" is itself an
    SRS.  Inclusion probability ``n / N``.

    Parameters
    ----------
    frame_size : int
        N.
    n, reserve : int
        Sample and reserve sizes, ``n + reserve <= N``.
    seed : int, optional
        Recorded in the result; a fresh one is made when omitted.
    key : str, optional
        Unit key: the stream is :func:`unit_seed` ``(seed, key)``.
    """
    _check_sizes(n, reserve, frame_size)
    seed = new_seed() if seed is None else seed
    rng = _rng(seed if key is None else unit_seed(seed, key))
    order = rng.permutation(frame_size)[: n + reserve]
    pi = n / frame_size if frame_size else 0.0
    picks = tuple(
        Pick(int(ix), Role.SELECTED if k < n else Role.RESERVE, k if k < n else k - n, pi)
        for k, ix in enumerate(order)
    )
    return Draw(DrawMethod.SRS, seed, frame_size, n, picks)


def draw_systematic(frame_size: int, n: int, *, seed: int | None = None, reserve: int = 0,
                    key: str | None = None) -> Draw:
    """Systematic sample with a random start and fractional interval ``N / n``.

    Selects ``floor(u + i N/n)`` for ``i = 0..n-1`` with ``u ~ U[0, N/n)``; each element's
    inclusion probability is exactly ``n / N``.  The reserve list is an SRS of the
    remaining elements in random order.  See :func:`draw_srs` for the parameters.
    """
    _check_sizes(n, reserve, frame_size)
    seed = new_seed() if seed is None else seed
    rng = _rng(seed if key is None else unit_seed(seed, key))
    picks: list[Pick] = []
    interval = start = None
    if n > 0:
        interval = frame_size / n
        start = float(rng.uniform(0.0, interval))
        positions = np.floor(start + interval * np.arange(n)).astype(np.int64)
        # u + (n-1)k < N in exact arithmetic; rounding can land on N itself.
        np.minimum(positions, frame_size - 1, out=positions)
        pi = n / frame_size
        picks = [Pick(int(ix), Role.SELECTED, k, pi) for k, ix in enumerate(positions)]
    if reserve:
        mask = np.ones(frame_size, dtype=bool)
        mask[[p.index for p in picks]] = False
        rest = np.flatnonzero(mask)
        chosen = rest[rng.permutation(rest.size)[:reserve]]
        pi = n / frame_size
        picks += [Pick(int(ix), Role.RESERVE, k, pi) for k, ix in enumerate(chosen)]
    return Draw(DrawMethod.SYSTEMATIC, seed, frame_size, n, tuple(picks), interval, start)


def pps_inclusion_probabilities(sizes: Sequence[float] | npt.NDArray[np.float64], n: int
                                ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """First-order inclusion probabilities of PPS sampling of ``n`` units, with certainty units.

    Units whose size is at least the interval ``X' / n'`` are taken with certainty
    (probability 1) and the interval is recomputed over the others until none is left;
    the others get ``n' x_i / X'``.

    Returns
    -------
    pi, certain
        Probabilities (summing to ``n``) and the certainty mask.

    Raises
    ------
    DrawError
        ``DRAW-MEASURE-INVALID`` for a negative or non-finite size; ``DRAW-SIZE-INVALID`` if
        ``n`` exceeds the number of units with positive size.
    """
    x = np.asarray(sizes, dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(x) | (x < 0))
    if bad.size:
        raise DrawError("DRAW-MEASURE-INVALID", index=int(bad[0]), value=x[bad[0]])
    positive = int(np.count_nonzero(x > 0))
    _check_sizes(n, 0, positive)
    certain = np.zeros(x.size, dtype=bool)
    while True:
        n_rest = n - int(certain.sum())
        if n_rest == 0:
            break
        total = float(x[~certain].sum())
        new = ~certain & (x * n_rest >= total)
        if not new.any():
            break
        certain |= new
    pi = np.where(certain, 1.0, 0.0)
    n_rest = n - int(certain.sum())
    if n_rest:
        total = float(x[~certain].sum())
        pi[~certain] = n_rest * x[~certain] / total
    return pi, certain


def draw_pps_systematic(sizes: Sequence[float] | npt.NDArray[np.float64], n: int, *,
                        seed: int | None = None, reserve: int = 0, key: str | None = None
                        ) -> Draw:
    """Systematic PPS selection of ``n`` units by size (e.g. population), with reserves.

    Frame order matters (sort by region or urban/rural for implicit stratification).
    Certainty units come first among the picks.  Reserves are a second systematic PPS pass
    over the units not selected; each pick carries the probability from
    :func:`pps_inclusion_probabilities` for the main design.

    Parameters
    ----------
    sizes : sequence of float
        Size measure per unit, non-negative; zero-size units are never selected.
    n, reserve : int
        Sample and reserve sizes; ``n + reserve`` at most the number of positive sizes.
    seed, key
        As in :func:`draw_srs`.
    """
    x = np.asarray(sizes, dtype=np.float64)
    pi, certain = pps_inclusion_probabilities(x, n)
    _check_sizes(n, reserve, int(np.count_nonzero(x > 0)))
    seed = new_seed() if seed is None else seed
    rng = _rng(seed if key is None else unit_seed(seed, key))

    picks = [Pick(int(i), Role.SELECTED, k, 1.0, True)
             for k, i in enumerate(np.flatnonzero(certain))]
    n_rest = n - len(picks)
    interval = start = None
    if n_rest:
        chosen, interval, start = _systematic_pps_pass(x, ~certain, n_rest, rng)
        picks += [Pick(int(i), Role.SELECTED, len(picks) + k, float(pi[i]))
                  for k, i in enumerate(chosen)]
    if reserve:
        taken = np.zeros(x.size, dtype=bool)
        taken[[p.index for p in picks]] = True
        # The reserve pass is PPS over what is left; its own certainty units come first.
        _, r_certain = pps_inclusion_probabilities(np.where(taken, 0.0, x), reserve)
        reserve_ix = list(np.flatnonzero(r_certain))
        r_rest = reserve - len(reserve_ix)
        if r_rest:
            more, _, _ = _systematic_pps_pass(x, ~taken & ~r_certain, r_rest, rng)
            reserve_ix += list(more)
        picks += [Pick(int(i), Role.RESERVE, k, float(pi[i]))
                  for k, i in enumerate(reserve_ix)]
    return Draw(DrawMethod.PPS_SYSTEMATIC, seed, x.size, n, tuple(picks), interval, start)


def _systematic_pps_pass(x: npt.NDArray[np.float64], eligible: npt.NDArray[np.bool_], n: int,
                         rng: np.random.Generator
                         ) -> tuple[npt.NDArray[np.int64], float, float]:
    index = np.flatnonzero(eligible & (x > 0))
    cum = np.cumsum(x[index])
    total = float(cum[-1])
    interval = total / n
    start = float(rng.uniform(0.0, interval))
    points = start + interval * np.arange(n)
    # The unit whose cumulative range [cum[j-1], cum[j]) contains the point.
    hit = np.searchsorted(cum, points, side="right")
    np.minimum(hit, index.size - 1, out=hit)
    return index[hit], interval, start


def draw_per_unit(frames: Mapping[str, int], n: Mapping[str, int] | int, *,
                  method: DrawMethod = DrawMethod.SRS, seed: int | None = None,
                  reserve: Mapping[str, int] | int = 0) -> dict[str, Draw]:
    """Draw an element sample in each unit (stratum) with its own reproducible stream.

    Parameters
    ----------
    frames : mapping of unit code to frame size
    n, reserve : int or mapping of unit code to int
        Per-unit sizes; a unit's sample is capped at its frame (a census when smaller),
        and its reserve at what is left.
    method : DrawMethod
        ``SRS`` or ``SYSTEMATIC``.
    seed : int, optional
        One seed for the whole draw; unit streams are :func:`unit_seed` ``(seed, unit)``.
    """
    if method is DrawMethod.PPS_SYSTEMATIC:
        raise ValueError("draw_per_unit draws elements; use draw_pps_systematic for units")
    seed = new_seed() if seed is None else seed
    fn = draw_srs if method is DrawMethod.SRS else draw_systematic
    out: dict[str, Draw] = {}
    for unit, size in frames.items():
        want = n if isinstance(n, int) else n.get(unit, 0)
        spare = reserve if isinstance(reserve, int) else reserve.get(unit, 0)
        take = min(want, size)
        out[unit] = fn(size, take, seed=seed, reserve=min(spare, size - take), key=unit)
    return out


# -- sample sizes ---------------------------------------------------------------------------


def sipas_sample_size(N: int, e: float = 0.05) -> int:
    """SIPAS sample size ``n = N / (1 + N e²)``, rounded up.

    The formula of the SIPAS method (Decision 1001/QĐ-BNV, 2023), also known as Yamane's
    (1967); computed in exact rational arithmetic so that ``N = 400, e = 0.05`` gives 200,
    not 201.
    """
    if N < 0 or not 0 < e < 1:
        raise ValueError("N must be >= 0 and 0 < e < 1")
    margin = Fraction(str(e))
    return math.ceil(Fraction(N) / (1 + N * margin * margin))


def proportion_sample_size(*, p: float = 0.5, e: float = 0.05, confidence: float = 0.95,
                           deff: float = 1.0, N: int | None = None) -> int:
    """Sample size to estimate a proportion within ``±e``, with design effect and optional fpc.

    ``n0 = z² p (1 − p) deff / e²`` with ``z`` the two-sided normal quantile; with a finite
    population ``n = n0 / (1 + (n0 − 1) / N)``, which solves
    ``z² (N − n)/(N − 1) · p(1 − p) deff / n = e²`` (Cochran 1977, eq. 4.2 and §4.4).
    Rounded up, and never above ``N``.
    """
    if not 0 < p < 1 or not 0 < e < 1 or not 0 < confidence < 1 or deff <= 0:
        raise ValueError("need 0 < p, e, confidence < 1 and deff > 0")
    z = float(ndtri(0.5 + confidence / 2))
    n0 = z * z * p * (1 - p) * deff / (e * e)
    if N is None:
        return math.ceil(n0 - 1e-9)
    if N <= 0:
        raise ValueError("N must be positive")
    n = n0 / (1 + (n0 - 1) / N)
    return min(N, math.ceil(n - 1e-9))
