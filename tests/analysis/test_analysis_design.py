"""Design, estimator and weighting behaviour on small hand-checked cases."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest
from scipy import stats

from analysis import (
    Estimate,
    SurveyDesign,
    design_weights,
    mean,
    nh_weights,
    poststratify,
    proportion,
    rake,
    ratio,
    total,
    trim_weights,
    weights_summary,
)


def tiny() -> dict[str, np.ndarray[Any, Any]]:
    """Two strata of three rows; stratum populations 10 and 30."""
    return {
        "h": np.array(["a", "a", "a", "b", "b", "b"]),
        "N": np.array([10.0, 10, 10, 30, 30, 30]),
        "w": np.array([10 / 3, 10 / 3, 10 / 3, 10.0, 10, 10]),
        "y": np.array([1.0, 2, 3, 4, 6, np.nan]),
        "g": np.array(["x", "y", "x", "y", "x", "y"], dtype=object),
    }


def test_stratified_mean_by_hand() -> None:
    d = SurveyDesign(tiny(), weights="w", strata="h", fpc="N")
    est = mean(d, "y")
    assert isinstance(est, Estimate)
    w = np.array([10 / 3] * 3 + [10, 10])
    y = np.array([1.0, 2, 3, 4, 6])
    ybar = np.sum(w * y) / w.sum()
    z = w * (y - ybar) / w.sum()
    za, zb = z[:3], np.append(z[3:], 0.0)  # the NaN row stays in its stratum with z = 0
    var = (1 - 3 / 10) * 3 / 2 * np.sum((za - za.mean()) ** 2) + (1 - 3 / 30) * 3 / 2 * np.sum(
        (zb - zb.mean()) ** 2
    )
    assert est.value == pytest.approx(ybar, rel=1e-14)
    assert est.se == pytest.approx(np.sqrt(var), rel=1e-12)
    q = stats.norm.ppf(0.975)
    assert (est.ci_low, est.ci_high) == pytest.approx((ybar - q * est.se, ybar + q * est.se), rel=1e-14)
    assert est.n == 5
    assert est.n_eff == pytest.approx(w.sum() ** 2 / np.sum(w * w))


def test_t_interval_uses_design_degrees_of_freedom() -> None:
    d = SurveyDesign(tiny(), weights="w", strata="h", fpc="N")
    assert d.degf == 6 - 2
    est = mean(d, "y", ci="t", level=0.9)
    assert isinstance(est, Estimate)
    q = stats.t.ppf(0.95, 4)
    assert est.ci_high - est.value == pytest.approx(q * est.se, rel=1e-13)
    with pytest.raises(ValueError, match="level"):
        mean(d, "y", level=95)


def test_fpc_as_fraction_equals_population_size_and_gives_default_weights() -> None:
    data = tiny()
    data["f"] = 3 / data["N"]
    by_size = mean(SurveyDesign(data, strata="h", fpc="N"), "y")
    by_fraction = mean(SurveyDesign(data, strata="h", fpc="f"), "y")
    explicit = mean(SurveyDesign(data, weights="w", strata="h", fpc="N"), "y")
    assert by_size == pytest.approx(by_fraction) and by_size == explicit
    assert SurveyDesign(data, strata="h").weights.tolist() == [1.0] * 6


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"N": np.array([10.0, 10, 10, 30, 30, 2])}, "varies within stratum"),
        ({"N": np.array([10.0, 10, 10, 0.5, 0.5, 0.5])}, "mixes population sizes"),
        ({"N": np.array([2.0, 2, 2, 30, 30, 30])}, "more than 100% sampling"),
        ({"w": np.array([1.0, 1, 1, 1, 0, 1])}, "row 4: weight 0.0 must be finite and > 0"),
        (
            {"h": np.array(["a", "a", "a", "b", "b", None], dtype=object)},
            "strata column 'h' row 5 is missing",
        ),
    ],
)
def test_invalid_designs_are_rejected_with_the_row(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SurveyDesign({**tiny(), **change}, weights="w", strata="h", fpc="N")


def test_unknown_column_and_ragged_data() -> None:
    with pytest.raises(ValueError, match="strata='nope' is not a column"):
        SurveyDesign(tiny(), strata="nope")
    with pytest.raises(ValueError, match="has 2 rows"):
        SurveyDesign({"a": [1, 2, 3], "b": [1, 2]})


def test_lonely_psu_fails_like_r_unless_census_or_outside_an_uncalibrated_domain() -> None:
    data = {
        "h": np.array(["a", "a", "b"]),
        "y": np.array([1.0, 2, 3]),
        "N": np.array([5.0, 5, 9]),
        "w": np.ones(3),
    }
    d = SurveyDesign(data, weights="w", strata="h", fpc="N")
    with pytest.raises(ValueError, match="stratum 'b' has only one PSU"):
        mean(d, "y")
    in_a = d.subset(data["h"] == "a")
    assert isinstance(mean(in_a, "y"), Estimate)  # R drops stratum b from this domain
    calibrated = poststratify(d, "h", {"a": 10.0, "b": 9.0}).subset(data["h"] == "a")
    with pytest.raises(ValueError, match="only one PSU"):
        mean(calibrated, "y")  # a calibrated R design keeps every row
    census = SurveyDesign({**data, "N": np.array([5.0, 5, 1])}, weights="w", strata="h", fpc="N")
    assert isinstance(mean(census, "y"), Estimate)


def test_design_is_immutable_and_subset_keeps_the_full_design() -> None:
    data = tiny()
    d = SurveyDesign(data, weights="w", strata="h", fpc="N")
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.weights = np.ones(6)
    with pytest.raises(ValueError):
        d.weights[0] = 1.0
    with pytest.raises(ValueError):
        d.data["y"][0] = 1.0
    sub = d.subset(data["g"] == "x")
    assert sub.weights.tolist() == [10 / 3, 0, 10 / 3, 0, 10, 0]
    assert d.weights.tolist() == data["w"].tolist()
    assert sub.n_rows == 6 and sub.degf == 3 - 2
    with pytest.raises(ValueError, match="boolean"):
        d.subset(np.array([1, 0, 1, 0, 1, 0]))


def test_by_levels_are_the_domain_levels_and_empty_levels_are_nan() -> None:
    data = tiny()
    data["y2"] = np.where(data["g"] == "y", np.nan, data["y"])
    d = SurveyDesign(data, weights="w", strata="h", fpc="N")
    assert list(mean(d.subset(data["g"] == "x"), "y", by="g")) == ["x"]
    res = mean(d, "y2", by="g")
    assert isinstance(res, dict)
    assert res["y"].n == 0 and np.isnan(res["y"].value) and np.isnan(res["y"].se)
    assert res["x"].n == 3


def test_total_ratio_and_proportion_are_consistent() -> None:
    data = tiny()
    data["one"] = np.ones(6)
    d = SurveyDesign(data, weights="w", strata="h", fpc="N")
    t = total(d, "one")
    assert isinstance(t, Estimate) and t.value == pytest.approx(40.0)
    m, r = mean(d, "y"), ratio(d, "y", "one")
    assert isinstance(m, Estimate) and isinstance(r, Estimate)
    assert (m.value, m.se) == pytest.approx((r.value, r.se), rel=1e-13)
    data["g"][1] = None  # missing category leaves the domain
    p = proportion(SurveyDesign(data, weights="w", strata="h", fpc="N"), "g", "x")
    assert isinstance(p, Estimate)
    w = data["w"]
    keep = np.array([True, False, True, True, True, True])
    assert p.value == pytest.approx(np.sum(w[keep] * (data["g"][keep] == "x")) / w[keep].sum())
    assert p.n == 5


def test_poststratify_checks_levels() -> None:
    d = SurveyDesign(tiny(), weights="w", strata="h")
    with pytest.raises(ValueError, match=r"'x' .* not a level of the population"):
        poststratify(d, "g", {"y": 5.0})
    with pytest.raises(ValueError, match=r"\['z'\] of 'g' have a population but no sampled weight"):
        poststratify(d, "g", {"x": 5.0, "y": 5.0, "z": 1.0})
    partial = poststratify(d, "g", {"x": 5.0, "y": 5.0, "z": 1.0}, partial=True)
    assert partial.weights.sum() == pytest.approx(10.0)


def test_rake_reports_non_convergence_instead_of_warning() -> None:
    data = {"a": np.array(["p", "p", "q"]), "b": np.array(["r", "s", "s"]), "w": np.ones(3)}
    d = SurveyDesign(data, weights="w")
    # cell (q, r) is empty: the margins below cannot both be met, IPF only creeps
    raked = rake(d, {"a": {"p": 1.0, "q": 9.0}, "b": {"r": 9.0, "s": 1.0}}, max_iter=5)
    report = raked.rake_report
    assert report is not None and not report.converged and report.iterations == 5
    assert report.max_change >= report.threshold
    assert d.rake_report is None


def test_base_weights_and_trimming() -> None:
    data = tiny()
    d = SurveyDesign(data, strata="h")
    assert nh_weights(d, {"a": 10, "b": 30}).weights == pytest.approx(data["w"])
    assert nh_weights(SurveyDesign(data, strata="h", fpc="N")).weights == pytest.approx(data["w"])
    with pytest.raises(ValueError, match="population sizes"):
        nh_weights(d)
    assert design_weights(d, 1 / data["w"]).weights == pytest.approx(data["w"])
    with pytest.raises(ValueError, match=r"must be in \(0, 1\]"):
        design_weights(d, np.full(6, 2.0))
    with pytest.raises(ValueError, match="discard the calibration"):
        design_weights(poststratify(d, "h", {"a": 3.0, "b": 3.0}), np.ones(6))
    w = np.array([1.0, 2, 3, 4, 9, 30])
    trimmed = trim_weights(SurveyDesign({"w": w}, weights="w"), lower=1.5, upper=10)
    # clipped to [1.5, 10]: net excess 20 - 0.5 = 19.5 spread over the 4 weights inside
    assert trimmed.weights.tolist() == pytest.approx(
        [1.5, 2 + 19.5 / 4, 3 + 19.5 / 4, 4 + 19.5 / 4, 9 + 19.5 / 4, 10]
    )
    strict = trim_weights(SurveyDesign({"w": w}, weights="w"), lower=1.5, upper=10, strict=True)
    assert strict.weights.max() <= 10 and strict.weights.min() >= 1.5
    assert strict.weights.sum() == pytest.approx(w.sum())


def test_weights_summary() -> None:
    w = np.array([1.0, 1, 2, 4])
    s = weights_summary(SurveyDesign({"w": w}, weights="w"))
    assert (s.n, s.total, s.min, s.max, s.mean) == (4, 8.0, 1.0, 4.0, 2.0)
    assert s.cv == pytest.approx(np.sqrt(1.5) / 2)
    assert s.deff == pytest.approx(4 * 22 / 64) and s.deff == pytest.approx(1 + s.cv**2)
    assert s.n_eff == pytest.approx(64 / 22)


def test_factorize_of_python_objects_sorts_levels_and_marks_missing():
    """A column of strings with None and NaN: levels in code-point order (as R sorts a
    character factor), -1 for the missing rows, and the same codes as a sort-based unique."""
    from analysis.design import factorize, missing_mask

    column = np.array(["b", None, "a", float("nan"), "Đ", "b", "a"], dtype=object)
    levels, codes = factorize(column)
    assert levels.dtype == object and levels.tolist() == ["a", "b", "Đ"]
    assert codes.tolist() == [1, -1, 0, -1, 2, 1, 0]
    assert missing_mask(column).tolist() == [False, True, False, True, False, False, False]
    present = np.array([v for v in column if isinstance(v, str)], dtype=object)
    assert factorize(present)[1].tolist() == np.unique(present, return_inverse=True)[1].tolist()
    with pytest.raises(ValueError, match="cannot be ordered"):
        factorize(np.array(["a", 1, None], dtype=object))
    assert factorize(np.array([None, None], dtype=object))[0].size == 0
