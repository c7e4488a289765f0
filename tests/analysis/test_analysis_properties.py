"""Property tests: invariances of the estimators and an independent, loop-by-loop
transliteration of R's svyrecvar as an oracle for the vectorised variance."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis import Estimate, SurveyDesign, mean, poststratify, rake, ratio, total
from analysis.design import PostStratification, Raking

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True)


def random_design_data(seed: int, clusters: bool) -> dict[str, np.ndarray[Any, Any]]:
    """A small stratified sample: 1-4 strata, 3-6 PSUs each, 1-3 rows per PSU when clustered.

    The first six rows cover every sex x age cell, so post-strata and raking are feasible.
    """
    rng = np.random.default_rng(seed)
    rows: dict[str, list[Any]] = {k: [] for k in ("h", "psu", "N", "w", "y", "x", "unit", "sex", "age")}
    for h in range(int(rng.integers(1, 5))):
        n_psu = 6 if h == 0 else int(rng.integers(3, 7))
        pop = n_psu + int(rng.integers(0, 30))
        for p in range(n_psu):
            for _ in range(int(rng.integers(1, 4)) if clusters else 1):
                rows["h"].append(f"h{h}")
                rows["psu"].append(p)
                rows["N"].append(pop)
                rows["w"].append(float(rng.uniform(0.5, 20)))
                rows["y"].append(np.nan if rng.random() < 0.15 else float(rng.normal(3, 1)))
                rows["x"].append(float(rng.uniform(1, 3)))
                rows["unit"].append(f"u{int(rng.integers(0, 3))}")
                rows["sex"].append("FM"[int(rng.integers(0, 2))])
                rows["age"].append("abc"[int(rng.integers(0, 3))])
    data = {k: np.array(v) for k, v in rows.items()}
    # Every post-stratum needs sampled weight; force both sexes and all ages to appear.
    data["sex"][:6] = ["F", "M"] * 3
    data["age"][:6] = ["a", "a", "b", "b", "c", "c"]
    return data


def make_design(data: dict[str, np.ndarray[Any, Any]], clusters: bool, fpc: bool) -> SurveyDesign:
    return SurveyDesign(
        data, weights="w", strata="h", ids="psu" if clusters else None, fpc="N" if fpc else None
    )


designs = st.tuples(st.integers(0, 10**6), st.booleans(), st.booleans())


def close(a: Estimate, b: Estimate, rel: float = 1e-9) -> None:
    for field in ("value", "se", "ci_low", "ci_high"):
        # a level whose values are all missing is NaN on both sides
        assert getattr(a, field) == pytest.approx(getattr(b, field), rel=rel, abs=1e-12, nan_ok=True), field
    assert (a.n, a.n_eff) == (b.n, pytest.approx(b.n_eff, rel=rel))


@SETTINGS
@given(designs, st.floats(0.01, 1000))
def test_mean_and_se_are_invariant_to_weight_scale(spec: tuple[int, bool, bool], factor: float) -> None:
    seed, clusters, fpc = spec
    data = random_design_data(seed, clusters)
    scaled = dict(data, w=data["w"] * factor)
    a = mean(make_design(data, clusters, fpc), "y", by="unit")
    b = mean(make_design(scaled, clusters, fpc), "y", by="unit")
    assert isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys()
    for level in a:
        close(a[level], b[level])


@SETTINGS
@given(designs)
def test_census_with_fpc_has_zero_se(spec: tuple[int, bool, bool]) -> None:
    seed, clusters, _ = spec
    data = random_design_data(seed, clusters)
    d0 = make_design(data, clusters, fpc=False)
    data["N"] = d0._structure.n_psu[d0._structure.stratum].astype(float)  # population = sample
    d = make_design(data, clusters, fpc=True)
    overall = mean(d, "y")
    assert isinstance(overall, Estimate)
    assert overall.se == 0.0 and overall.ci_low == overall.ci_high == overall.value
    by_unit = mean(d, "y", by="unit")
    assert isinstance(by_unit, dict)
    assert all(e.se == 0.0 for e in by_unit.values() if e.n > 0)


@SETTINGS
@given(designs)
def test_subset_then_mean_equals_by_level(spec: tuple[int, bool, bool]) -> None:
    seed, clusters, fpc = spec
    data = random_design_data(seed, clusters)
    d = make_design(data, clusters, fpc)
    for design in (d, poststratify(d, "sex", {"F": 500.0, "M": 450.0})):
        for level, est in mean(design, "y", by="unit").items():
            close(mean(design.subset(data["unit"] == level), "y"), est)
        for level, est in ratio(design, "y", "x", by="unit").items():
            close(ratio(design.subset(data["unit"] == level), "y", "x"), est)


@SETTINGS
@given(designs, st.floats(100, 10_000), st.floats(100, 10_000))
def test_poststratify_reproduces_its_margin(spec: tuple[int, bool, bool], pop_f: float, pop_m: float) -> None:
    seed, clusters, fpc = spec
    data = random_design_data(seed, clusters)
    ps = poststratify(make_design(data, clusters, fpc), "sex", {"F": pop_f, "M": pop_m})
    assert ps.weights[data["sex"] == "F"].sum() == pytest.approx(pop_f, rel=1e-12)
    assert ps.weights[data["sex"] == "M"].sum() == pytest.approx(pop_m, rel=1e-12)
    # The total of a post-stratum indicator is known exactly, so its SE is 0 in
    # exact arithmetic.  The quadratic-form variance (analysis.taylor) leaves
    # rounding noise of about 1e-8 of the SE the same weights give uncalibrated.
    female = (data["sex"] == "F").astype(float)
    est = total(ps.with_columns(female=female), "female")
    same_weights = dict(data, w=ps.weights, female=female)
    before = total(make_design(same_weights, clusters, fpc), "female")
    assert isinstance(est, Estimate) and isinstance(before, Estimate)
    assert est.value == pytest.approx(pop_f, rel=1e-12)
    assert est.se <= 1e-6 * before.se


@SETTINGS
@given(designs, st.lists(st.floats(50, 5000), min_size=5, max_size=5))
def test_rake_reproduces_every_margin(spec: tuple[int, bool, bool], pops: list[float]) -> None:
    seed, clusters, fpc = spec
    data = random_design_data(seed, clusters)
    sex = {"F": pops[0], "M": pops[1]}
    scale = sum(sex.values()) / sum(pops[2:])  # margins must describe the same population
    age = {"a": pops[2] * scale, "b": pops[3] * scale, "c": pops[4] * scale}
    raked = rake(make_design(data, clusters, fpc), {"sex": sex, "age": age}, max_iter=1000, epsilon=1e-12)
    report = raked.rake_report
    assert report is not None and report.converged
    assert report.max_change < report.threshold == pytest.approx(1e-12 * data["w"].sum())
    for var, margin in (("sex", sex), ("age", age)):
        for level, pop in margin.items():
            assert raked.weights[data[var] == level].sum() == pytest.approx(pop, rel=1e-8)


# --- an oracle: svyrecvar written out the way R runs it, one domain at a time -----------------


def naive_domain_variance(design: SurveyDesign, z: np.ndarray[Any, Any]) -> float:
    s = design._structure
    x = z.astype(float).copy()
    for step in design.calibration:
        if isinstance(step, Raking):
            for _ in range(10):
                for m in step.margins:
                    psw = m.weights
                    for g in range(len(m.levels)):
                        rows = m.cells == g
                        x[rows] -= psw[rows] * np.mean(x[rows] / psw[rows])
        else:
            assert isinstance(step, PostStratification)
            psw, oldw = step.weights, step.old_weights
            means = [
                np.sum((x * oldw / psw)[step.cells == g]) / np.sum(oldw[step.cells == g])
                for g in range(len(step.levels))
            ]
            x = x - np.array(means)[step.cells] * psw
    var = 0.0
    for h in range(s.stratum_levels.size):
        psus = np.flatnonzero(s.psu_stratum == h)
        totals = np.array([x[s.psu == p].sum() for p in psus])
        var += s.scale[h] * np.sum((totals - totals.mean()) ** 2)
    return var


@SETTINGS
@given(designs, st.sampled_from(["none", "poststratify", "rake", "rake+poststratify"]), st.booleans())
def test_vectorised_variance_matches_naive_svyrecvar(
    spec: tuple[int, bool, bool], calibration: str, domain: bool
) -> None:
    seed, clusters, fpc = spec
    data = random_design_data(seed, clusters)
    d = make_design(data, clusters, fpc)
    if "rake" in calibration:
        d = rake(d, {"sex": {"F": 900.0, "M": 800.0}, "age": {"a": 500.0, "b": 600.0, "c": 600.0}})
    if "poststratify" in calibration:
        d = poststratify(d, "sex", {"F": 1000.0, "M": 700.0})
    if domain:
        d = d.subset(data["age"] != "c")
    by_unit = mean(d, "y", by="unit")
    assert isinstance(by_unit, dict)
    y = data["y"]
    for level, est in by_unit.items():
        if est.n == 0:
            continue
        rows = (data["unit"] == level) & d.domain & ~np.isnan(y)
        w = d.weights * rows
        ybar = np.sum(w[rows] * y[rows]) / w.sum()
        z = np.where(rows, w * (np.where(rows, y, 0) - ybar) / w.sum(), 0.0)
        assert est.value == pytest.approx(ybar, rel=1e-12)
        assert est.se**2 == pytest.approx(naive_domain_variance(d, z), rel=1e-9, abs=1e-20)
