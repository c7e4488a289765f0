"""Year on year across the merger: a synthetic pair of campaigns known by construction.

Last year two old units A and B (strata, citizens sampled with w = N/n and fpc) were rated;
this year they are one new unit U.  U's recomputed predecessor score must be the pooled
score ``sum_h N_h ybar_h / sum_h N_h`` and its SE that of R ``survey`` for the pooled design
(``svydesign(ids=~1, strata=~h, fpc=~N)``; skipped without R).
"""

from __future__ import annotations

import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from analysis import Estimate, Pooling, ScoringConfig, SubCriterion
from analysis.yoy import Link, PredecessorSample, compare, partial_reasons, predecessor_scores

ITEM = "q@v1/x"
SCORES = [math.nan, 1.0, 0.6, 0.2, 0.0, math.nan]          # A..D, E = don't know
POP = {"A": 50.0, "B": 80.0}
CODES = {"A": [1, 1, 2, 3, 1, 2], "B": [2, 4, 4, 3, 1, 2, 2, 3, 1]}
CONFIG = ScoringConfig((SubCriterion("1.1", 2.0, (ITEM,), Pooling.POOLED),), appraised_max=0.0)


def _sample(campaign: str, units: tuple[str, ...], item: str = ITEM) -> PredecessorSample:
    unit = np.array([u for u in units for _ in CODES[u]], dtype=object)
    n = {u: len(CODES[u]) for u in units}
    return PredecessorSample(
        campaign=campaign, unit=unit, group=np.full(unit.size, "citizen", dtype=object),
        weights=np.array([POP[u] / n[u] for u in unit.tolist()]),
        answers={item: np.array([c for u in units for c in CODES[u]], dtype=np.uint8)},
        option_scores={item: SCORES}, strata=unit.copy(),
        fpc=np.array([POP[u] for u in unit.tolist()]))


def _hand_pooled() -> float:
    means = {u: float(np.mean([SCORES[c] for c in codes])) for u, codes in CODES.items()}
    return sum(POP[u] * means[u] for u in POP) / sum(POP.values())


def test_two_old_units_merged_give_the_pooled_score() -> None:
    got = predecessor_scores([_sample("P-2024", ("A", "B"))],
                             [Link("P-2024", "A", "U"), Link("P-2024", "B", "U")], CONFIG)
    score = got["U"].sub_criteria["1.1"].score
    assert score.value == pytest.approx(_hand_pooled(), rel=1e-12)
    assert got["U"].points.value == pytest.approx(2 * _hand_pooled(), rel=1e-12)
    assert score.n == 15


def test_two_predecessor_campaigns_stack_as_one_design() -> None:
    one = predecessor_scores([_sample("P-2024", ("A", "B"))],
                             [Link("P-2024", "A", "U"), Link("P-2024", "B", "U")], CONFIG)
    two = predecessor_scores([_sample("P1", ("A",), "p1@v1/x"), _sample("P2", ("B",), "p2@v1/x")],
                             [Link("P1", "A", "U"), Link("P2", "B", "U")],
                             ScoringConfig((SubCriterion("1.1", 2.0, ("p1@v1/x", "p2@v1/x")),),
                                           appraised_max=0.0))
    assert two["U"].points.value == pytest.approx(one["U"].points.value, rel=1e-12)
    assert two["U"].points.se == pytest.approx(one["U"].points.se, rel=1e-12)
    # Provinces that used the same questionnaire version share its item keys.
    same = predecessor_scores([_sample("P1", ("A",)), _sample("P2", ("B",))],
                              [Link("P1", "A", "U"), Link("P2", "B", "U")], CONFIG)
    assert same["U"].points.value == pytest.approx(one["U"].points.value, rel=1e-12)
    assert same["U"].points.se == pytest.approx(one["U"].points.se, rel=1e-12)


def test_a_kept_unit_equals_its_own_stratum_and_shares_scale_weights() -> None:
    sample = _sample("P-2024", ("A", "B"))
    got = predecessor_scores([sample], [Link("P-2024", "A", "UA"), Link("P-2024", "B", "UB"),
                                        Link("P-2024", "B", "UA", 0.5)], CONFIG)
    mean_a = float(np.mean([SCORES[c] for c in CODES["A"]]))
    mean_b = float(np.mean([SCORES[c] for c in CODES["B"]]))
    assert got["UB"].sub_criteria["1.1"].score.value == pytest.approx(mean_b, rel=1e-12)
    expected = (POP["A"] * mean_a + 0.5 * POP["B"] * mean_b) / (POP["A"] + 0.5 * POP["B"])
    assert got["UA"].sub_criteria["1.1"].score.value == pytest.approx(expected, rel=1e-12)
    assert partial_reasons([Link("P-2024", "B", "UA", 0.5), Link("P-2024", "B", "UB", 0.5),
                            Link("P-2024", "A", "UA")]) == {
        "UA": ["P-2024:B x0.5"], "UB": ["P-2024:B x0.5"]}


def test_compare_says_whether_the_difference_exceeds_its_uncertainty() -> None:
    def est(v: float, se: float) -> Estimate:
        return Estimate(v, se, v - 2 * se, v + 2 * se, 10, 10.0)
    rows = {r.unit: r for r in compare(
        {"U": est(1.5, 0.1), "V": est(1.2, 0.1), "W": est(1.0, 0.0), "N": est(1.0, 0.1)},
        {"U": est(1.0, 0.1), "V": est(1.1, 0.1), "W": est(1.0, 0.0)},
        partial={"V": ["P:B x0.5"]})}
    assert rows["U"].difference == pytest.approx(0.5)
    assert rows["U"].se == pytest.approx(math.hypot(0.1, 0.1))
    assert rows["U"].exceeds is True and rows["U"].status == "compared"
    assert rows["V"].exceeds is False and rows["V"].status == "partial"
    assert rows["W"].exceeds is False                   # census both years, no change
    assert rows["N"].status == "no_predecessor" and rows["N"].exceeds is None


def _rscript() -> str:
    path = shutil.which("Rscript")
    if path is None:
        pytest.skip("Rscript not found (apt-get install r-cran-survey)")
    probe = subprocess.run([path, "-e", "suppressMessages(library(survey))"],
                           capture_output=True, text=True, timeout=60)
    if probe.returncode != 0:
        pytest.skip("R survey package not installed (apt-get install r-cran-survey)")
    return path


def test_se_equals_r_survey_for_the_pooled_design(tmp_path: Path) -> None:
    rscript = _rscript()
    data = tmp_path / "pooled.csv"
    lines = ["h,N,y"] + [f"{u},{POP[u]:g},{SCORES[c]!r}" for u in ("A", "B") for c in CODES[u]]
    data.write_text("\n".join(lines) + "\n")
    script = (
        "suppressMessages(library(survey))\n"
        f"d <- read.csv('{data}')\n"
        "des <- svydesign(ids=~1, strata=~h, fpc=~N, data=d)\n"
        "m <- svymean(~y, des)\n"
        "cat(sprintf('%.17g %.17g', coef(m)[[1]], SE(m)[[1]]))\n")
    done = subprocess.run([rscript, "-e", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    r_mean, r_se = (float(x) for x in done.stdout.split())
    got = predecessor_scores([_sample("P-2024", ("A", "B"))],
                             [Link("P-2024", "A", "U"), Link("P-2024", "B", "U")], CONFIG)
    score = got["U"].sub_criteria["1.1"].score
    assert score.value == pytest.approx(r_mean, rel=1e-12)
    assert score.se == pytest.approx(r_se, rel=1e-9)
    assert got["U"].points.se == pytest.approx(2 * r_se, rel=1e-9)
