"""Frame sampling: sizes, reproducibility, and inclusion probabilities that hold empirically."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sampling.draw import (
    Draw,
    DrawMethod,
    draw_per_unit,
    draw_pps_systematic,
    draw_srs,
    draw_systematic,
    pps_inclusion_probabilities,
    proportion_sample_size,
    sipas_sample_size,
)
from sampling.errors import ERROR_CODES, DrawError

DRAWS = 2000
ElementDraw = Callable[..., Draw]


def test_every_draw_code_has_a_test() -> None:
    tested = {"DRAW-SIZE-INVALID", "DRAW-MEASURE-INVALID"}  # see the tests below
    assert tested == {c for c in ERROR_CODES if c.startswith("DRAW-")}


def _within_binomial_se(hits: np.ndarray, pi: np.ndarray, draws: int) -> None:
    """Empirical frequencies within 4 binomial standard errors of the nominal probabilities."""
    freq = hits / draws
    se = np.sqrt(pi * (1 - pi) / draws)
    assert np.all(np.abs(freq - pi) <= 4 * se + 1e-12), (freq, pi)


@pytest.mark.parametrize("draw", [draw_srs, draw_systematic], ids=["srs", "systematic"])
@given(data=st.data())
@settings(max_examples=60, deadline=None)
def test_element_draws_have_right_sizes_and_no_duplicates(draw: ElementDraw,
                                                          data: st.DataObject) -> None:
    N = data.draw(st.integers(1, 300))
    n = data.draw(st.integers(0, N))
    reserve = data.draw(st.integers(0, N - n))
    seed = data.draw(st.integers(0, 2**63))
    result = draw(N, n, seed=seed, reserve=reserve)
    assert len(result.selected) == n and len(result.reserve) == reserve
    both = result.selected + result.reserve
    assert len(set(both)) == len(both) and all(0 <= i < N for i in both)
    assert all(p.inclusion_probability == pytest.approx(n / N) for p in result.picks)
    assert result.seed == seed
    assert draw(N, n, seed=seed, reserve=reserve) == result  # reproducible from the seed


@pytest.mark.parametrize("draw", [draw_srs, draw_systematic], ids=["srs", "systematic"])
def test_element_inclusion_probabilities_hold_over_many_draws(draw: ElementDraw) -> None:
    N, n = 23, 5
    hits = np.zeros(N)
    reserve_hits = np.zeros(N)
    for seed in range(DRAWS):
        result = draw(N, n, seed=seed, reserve=2)
        hits[list(result.selected)] += 1
        reserve_hits[list(result.reserve)] += 1
    _within_binomial_se(hits, np.full(N, n / N), DRAWS)
    # Reserves come uniformly from the rest: P(reserve) = (1 - n/N) · 2/(N - n).
    _within_binomial_se(reserve_hits, np.full(N, 2 / N), DRAWS)


def test_systematic_sample_is_evenly_spread() -> None:
    result = draw_systematic(100, 7, seed=11)
    gaps = np.diff(result.selected)
    k = 100 / 7
    assert set(gaps) <= {math.floor(k), math.ceil(k)}
    assert result.interval == pytest.approx(k) and 0 <= (result.start or 0) < k


def test_seed_is_recorded_when_not_given() -> None:
    result = draw_srs(50, 10)
    assert draw_srs(50, 10, seed=result.seed) == result


# -- PPS ------------------------------------------------------------------------------------

SIZES = np.array([120, 45, 300, 80, 2500, 60, 15, 0, 210, 95, 40, 700], dtype=float)


def test_pps_certainty_units_and_probabilities() -> None:
    pi, certain = pps_inclusion_probabilities(SIZES, 4)
    # 2500 > 4165/4; after removing it, 700 ≥ 1665/3: both are certain.
    assert list(np.flatnonzero(certain)) == [4, 11]
    assert pi.sum() == pytest.approx(4)
    rest = ~certain
    assert pi[rest] == pytest.approx(2 * SIZES[rest] / SIZES[rest].sum())
    assert np.all(pi <= 1) and pi[7] == 0


def test_pps_inclusion_probabilities_hold_over_many_draws() -> None:
    n = 4
    pi, certain = pps_inclusion_probabilities(SIZES, n)
    hits = np.zeros(SIZES.size)
    for seed in range(DRAWS):
        result = draw_pps_systematic(SIZES, n, seed=seed)
        assert len(set(result.selected)) == n
        hits[list(result.selected)] += 1
        assert {p.index for p in result.picks if p.certainty} == {4, 11}
    assert np.all(hits[certain] == DRAWS)
    assert hits[7] == 0  # zero size: never selected
    _within_binomial_se(hits, pi, DRAWS)


def test_pps_picks_carry_their_probability_and_reserves_are_disjoint() -> None:
    pi, _ = pps_inclusion_probabilities(SIZES, 4)
    result = draw_pps_systematic(SIZES, 4, seed=5, reserve=3)
    assert len(result.reserve) == 3
    assert not set(result.reserve) & set(result.selected)
    for pick in result.picks:
        assert pick.inclusion_probability == pytest.approx(pi[pick.index])
        assert pick.design_weight == pytest.approx(1 / pi[pick.index])
    assert 7 not in result.reserve


@given(st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=60),
       st.integers(0, 2**32), st.data())
@settings(max_examples=80, deadline=None)
def test_pps_properties(sizes: list[float], seed: int, data: st.DataObject) -> None:
    positive = sum(1 for s in sizes if s > 0)
    n = data.draw(st.integers(0, positive))
    pi, certain = pps_inclusion_probabilities(sizes, n)
    assert pi.sum() == pytest.approx(n, abs=1e-6)
    assert np.all((pi >= 0) & (pi <= 1 + 1e-12))
    result = draw_pps_systematic(sizes, n, seed=seed)
    assert len(result.selected) == n == len(set(result.selected))
    assert set(np.flatnonzero(certain)) <= set(result.selected)
    assert all(sizes[i] > 0 for i in result.selected)


def test_draw_errors_are_coded(vi) -> None:
    with pytest.raises(DrawError) as info:
        draw_srs(5, 6, seed=1)
    assert info.value.code == "DRAW-SIZE-INVALID" and info.value.message(vi)
    with pytest.raises(DrawError) as info:
        draw_systematic(5, 3, seed=1, reserve=3)
    assert info.value.code == "DRAW-SIZE-INVALID"
    with pytest.raises(DrawError) as info:
        draw_pps_systematic([1.0, 0.0, 2.0], 3, seed=1)  # only two positive sizes
    assert info.value.code == "DRAW-SIZE-INVALID"
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(DrawError) as info:
            draw_pps_systematic([1.0, bad, 2.0], 1, seed=1)
        assert info.value.code == "DRAW-MEASURE-INVALID"


# -- per unit -------------------------------------------------------------------------------


def test_per_unit_draws_are_independent_of_other_units() -> None:
    frames = {"S-NOIVU": 140, "S-YTE": 60, "H-CAUKE": 12}
    first = draw_per_unit(frames, 20, seed=2023, reserve=5)
    again = draw_per_unit({"S-YTE": 60}, 20, seed=2023, reserve=5)
    assert again["S-YTE"] == first["S-YTE"]
    assert first["S-NOIVU"].selected != first["S-YTE"].selected[:20]
    # A frame smaller than the quota is taken whole, with no reserve left.
    assert sorted(first["H-CAUKE"].selected) == list(range(12))
    assert first["H-CAUKE"].reserve == ()
    assert all(p.inclusion_probability == 1 for p in first["H-CAUKE"].picks)


def test_per_unit_systematic_and_sizes_by_unit() -> None:
    out = draw_per_unit({"A": 30, "B": 10}, {"A": 6, "B": 2}, method=DrawMethod.SYSTEMATIC,
                        seed=1)
    assert out["A"].method is DrawMethod.SYSTEMATIC
    assert (len(out["A"].selected), len(out["B"].selected)) == (6, 2)


# -- sample sizes ---------------------------------------------------------------------------


def test_sipas_sample_size_examples() -> None:
    assert sipas_sample_size(400) == 200  # exact: 400 / (1 + 400·0.0025) = 200
    assert sipas_sample_size(10_000) == 385
    assert sipas_sample_size(100) == 80
    assert sipas_sample_size(0) == 0
    assert sipas_sample_size(1000, e=0.1) == 91


@given(st.integers(1, 10**7), st.sampled_from([0.01, 0.03, 0.05, 0.1]))
def test_sipas_sample_size_is_the_formula_rounded_up(N: int, e: float) -> None:
    n = sipas_sample_size(N, e)
    exact = N / (1 + N * e * e)
    assert exact - 1e-9 <= n < exact + 1 and 1 <= n <= N


def test_proportion_sample_size_examples() -> None:
    assert proportion_sample_size() == 385  # 1.96² · 0.25 / 0.05² = 384.1
    assert proportion_sample_size(deff=2) == 769
    assert proportion_sample_size(N=1000) == 278
    assert proportion_sample_size(N=50) <= 50
    assert proportion_sample_size(p=0.1, e=0.03) == 385  # 1.96² · 0.09 / 0.0009 = 384.1


@given(st.floats(0.05, 0.95), st.sampled_from([0.03, 0.05]), st.sampled_from([1.0, 1.5, 2.0]),
       st.integers(50, 100_000))
@settings(max_examples=100)
def test_proportion_sample_size_meets_the_margin_with_fpc(p: float, e: float, deff: float,
                                                          N: int) -> None:
    n = proportion_sample_size(p=p, e=e, deff=deff, N=N)
    z = 1.959963984540054

    def margin(k: int) -> float:
        return z * math.sqrt((N - k) / (N - 1) * p * (1 - p) * deff / k)

    assert margin(n) <= e + 1e-9
    if 1 < n < N:
        assert margin(n - 1) > e - 1e-9  # the smallest such n


def test_sample_size_arguments_are_checked() -> None:
    with pytest.raises(ValueError):
        sipas_sample_size(100, e=0)
    with pytest.raises(ValueError):
        proportion_sample_size(p=1.0)
