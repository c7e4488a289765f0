"""Lonely-PSU rules (R survey.lonely.psu) and the CI methods (normal, t, logit) with clipping."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from analysis import CIMethod, SurveyDesign, mean, total
from analysis.design import LonelyPSU


def _design(rule: str) -> SurveyDesign:
    # Stratum A has three PSUs (y = 1, 2, 3), stratum B one (y = 5); weights 1, no fpc.
    data = {"y": [1.0, 2.0, 3.0, 5.0], "h": ["A", "A", "A", "B"]}
    return SurveyDesign(data, strata="h", lonely_psu=rule)


@pytest.mark.parametrize(("rule", "variance"), [
    ("remove", 3.0),       # B adds nothing; A: 3/2 * sum (y - 2)^2 = 3
    ("certainty", 3.0),
    ("adjust", 3.0 + 25.0),  # B's total deviates from 0: f * 5^2
    ("average", 3.0 * 2),  # A's contribution times 2 strata / 1 stratum with >= 2 PSUs
])
def test_lonely_psu_rules_give_r_variances(rule: str, variance: float) -> None:
    est = total(_design(rule), "y")
    assert est.value == 11.0
    assert est.se == pytest.approx(math.sqrt(variance), rel=1e-14)


def test_lonely_psu_fail_raises_and_is_the_default() -> None:
    with pytest.raises(ValueError, match="only one PSU"):
        total(_design("fail"), "y")
    assert SurveyDesign({"y": [1.0]}).lonely_psu is LonelyPSU.FAIL


def test_average_counts_strata_of_each_domain() -> None:
    # Domain u=1 holds rows of A only: no lonely stratum there, factor 1.
    data = {"y": [1.0, 2.0, 3.0, 5.0], "h": ["A", "A", "A", "B"], "u": [1, 1, 2, 2]}
    d = SurveyDesign(data, strata="h", lonely_psu="average")
    by = mean(d, "y", by="u")
    plain = mean(SurveyDesign(data, strata="h", lonely_psu="remove"), "y", by="u")
    assert by[1].se == pytest.approx(plain[1].se, rel=1e-14)
    assert by[2].se == pytest.approx(plain[2].se * math.sqrt(2), rel=1e-14)


def test_t_interval_uses_design_df_and_clips_to_bounds() -> None:
    y = np.array([1.0, 1.0, 1.0, 0.0, 1.0, 1.0])
    d = SurveyDesign({"y": y})
    est = mean(d, "y", ci=CIMethod.T)
    q = stats.t.ppf(0.975, 5)
    assert est.df == 5
    assert est.ci_low == pytest.approx(est.value - q * est.se, rel=1e-14)
    # unclipped, the upper limit passes 1; the scoring layer passes bounds (0, 1)
    assert est.ci_high > 1
    from analysis.estimators import interval

    lo, hi, _ = interval(np.array([est.value]), np.array([est.se]), CIMethod.T, 0.95, 5, (0.0, 1.0))
    assert 0 <= lo[0] <= hi[0] == 1.0


def test_logit_interval_matches_svyciprop_formula_and_stays_inside() -> None:
    y = np.array([1.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 1.0])
    d = SurveyDesign({"y": y})
    est = mean(d, "y", ci="logit")
    p, se = est.value, est.se
    q = stats.t.ppf(0.975, 7)
    eta = math.log(p / (1 - p))
    half = q * se / (p * (1 - p))
    assert est.ci_low == pytest.approx(1 / (1 + math.exp(-(eta - half))), rel=1e-12)
    assert est.ci_high == pytest.approx(1 / (1 + math.exp(-(eta + half))), rel=1e-12)
    assert 0 < est.ci_low < p < est.ci_high < 1


def test_logit_interval_at_the_boundary_is_the_point() -> None:
    est = mean(SurveyDesign({"y": np.ones(5)}), "y", ci="logit")
    assert (est.ci_low, est.ci_high) == (1.0, 1.0)


def test_rules_and_logit_agree_with_r_when_installed(tmp_path) -> None:
    """The same numbers from R survey (skipped when Rscript with survey is not installed)."""
    import shutil
    import subprocess

    if shutil.which("Rscript") is None:
        pytest.skip("Rscript is not installed")
    script = tmp_path / "lonely.R"
    script.write_text(
        'suppressWarnings(suppressMessages(library(survey)))\n'
        'd <- data.frame(y=c(1,2,3,5), h=c("A","A","A","B"), u=c(1,1,2,2))\n'
        'for (rule in c("remove","certainty","adjust","average")) {\n'
        '  options(survey.lonely.psu=rule)\n'
        '  des <- suppressWarnings(svydesign(ids=~1, strata=~h, data=d))\n'
        '  b <- svyby(~y, ~u, des, svymean)\n'
        '  cat(rule, sprintf("%.15g", c(SE(svytotal(~y, des)), SE(b))), "\\n")\n'
        '}\n'
        'des2 <- suppressWarnings(svydesign(ids=~1, data=data.frame(y=c(1,1,1,0,1,1,1,1))))\n'
        'cat("logit", sprintf("%.15g", attr(svyciprop(~y, des2, method="logit"), "ci")), "\\n")\n',
        encoding="utf-8")
    run = subprocess.run(["Rscript", str(script)], capture_output=True, text=True, timeout=120)
    if run.returncode != 0 and "there is no package called" in run.stderr:
        pytest.skip("R survey package is not installed")
    assert run.returncode == 0, run.stderr
    data = {"y": [1.0, 2.0, 3.0, 5.0], "h": ["A", "A", "A", "B"], "u": [1, 1, 2, 2]}
    for line in run.stdout.splitlines():
        name, *numbers = line.split()
        r = [float(x) for x in numbers]
        if name == "logit":
            est = mean(SurveyDesign({"y": np.array([1, 1, 1, 0, 1, 1, 1, 1.0])}), "y", ci="logit")
            # R fits svyglm by IRLS: its limits carry the fit's ~1e-11 convergence error
            assert (est.ci_low, est.ci_high) == pytest.approx(tuple(r), rel=1e-9)
            continue
        d = SurveyDesign(data, strata="h", lonely_psu=name)
        by = mean(d, "y", by="u")
        assert [total(d, "y").se, by[1].se, by[2].se] == pytest.approx(r, rel=1e-12)
