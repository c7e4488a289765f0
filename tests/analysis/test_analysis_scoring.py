"""Scoring: answers -> sub-criterion scores and points -> index %, rank, band; SIPAS."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from analysis import Estimate, SurveyDesign, mean, proportion
from analysis.scoring import (
    Band,
    NoSurvey,
    Pooling,
    ScoringConfig,
    SipasConfig,
    SipasElement,
    SubCriterion,
    compile_index,
    score_survey,
    sipas,
)

NAN = float("nan")
# A = 100 %, B = 60 %, C = 20 %, D = 0 %, E = don't know (the provincial default)
ABCDE = [NAN, 1.0, 0.6, 0.2, 0.0, NAN]


def responses() -> tuple[SurveyDesign, dict[str, np.ndarray[Any, Any]]]:
    data = {
        "unit": np.array(["U1", "U1", "U1", "U1", "U2", "U2", "U2"]),
        "group": np.array(["leader", "leader", "citizen", "citizen", "leader", "leader", "leader"]),
        "w": np.array([1.0, 2.0, 1.0, 1.0, 1.0, 3.0, 1.0]),
    }
    answers = {
        "i1": np.array([1, 2, 5, 0, 3, 4, 1], dtype=np.uint8),
        "i2": np.array([3, 0, 2, 0, 3, 5, 2], dtype=np.uint8),
    }
    return SurveyDesign(data, weights="w"), answers


def config(*subs: SubCriterion, **kw: Any) -> ScoringConfig:
    return ScoringConfig(sub_criteria=subs, appraised_max=70.0, **kw)


def test_pooled_single_item_excludes_dont_know_and_reports_its_rate() -> None:
    d, answers = responses()
    result = score_survey(d, answers, {"i1": ABCDE}, config(SubCriterion("1.1", 4.0, ("i1",))))
    u1 = result["U1"].sub_criteria["1.1"]
    # valid answers in U1: A (w 1) and B (w 2); E is don't know, 0 is not answered
    assert u1.score.value == pytest.approx((1.0 * 1 + 0.6 * 2) / 3)
    assert u1.points.value == pytest.approx(4 * (1.0 * 1 + 0.6 * 2) / 3)
    assert u1.points.se == pytest.approx(4 * u1.score.se)
    assert (u1.score.n, u1.answers, u1.dont_know) == (2, 3, 1)
    assert u1.dont_know_rate == pytest.approx(1 / 3)
    # the same number as the estimator on a column of option scores
    expected = mean(d.with_columns(s=np.array([1.0, 0.6, NAN, NAN, 0.2, 0.0, 1.0])), "s", by="unit")
    assert isinstance(expected, dict)
    assert u1.score == expected["U1"]
    as_zero = score_survey(
        d, answers, {"i1": ABCDE}, config(SubCriterion("1.1", 4.0, ("i1",)), dont_know_as_zero=True)
    )
    assert as_zero["U1"].sub_criteria["1.1"].score.value == pytest.approx((1.0 + 1.2 + 0.0) / 4)


def test_several_items_score_each_response_by_its_mean() -> None:
    d, answers = responses()
    result = score_survey(
        d, answers, {"i1": ABCDE, "i2": ABCDE}, config(SubCriterion("2", 10.0, ("i1", "i2")))
    )
    # per response: U1 -> (1.0+0.2)/2, 0.6, 0.6 (DK left out), none; U2 -> 0.2, 0.0 (DK out), (1.0+0.6)/2
    u1 = result["U1"].sub_criteria["2"]
    assert u1.score.value == pytest.approx((0.6 * 1 + 0.6 * 2 + 0.6 * 1) / 4)
    assert u1.score.n == 3 and (u1.answers, u1.dont_know) == (5, 1)
    u2 = result["U2"].sub_criteria["2"]
    assert u2.score.value == pytest.approx((0.2 * 1 + 0.0 * 3 + 0.8 * 1) / 5)


def test_group_weighted_pooling_renormalises_over_present_groups() -> None:
    d, answers = responses()
    sub = SubCriterion("3", 2.0, ("i1",), Pooling.GROUP_WEIGHTED, {"leader": 0.3, "citizen": 0.7})
    result = score_survey(d, answers, {"i1": ABCDE}, config(sub))
    leaders_u1 = (1.0 * 1 + 0.6 * 2) / 3
    # U1's citizens gave only "don't know" / no answer: the leader mean stands alone
    assert result["U1"].sub_criteria["3"].score.value == pytest.approx(leaders_u1)
    answers["i1"][3] = 4  # a citizen in U1 now answers D (0 %)
    result = score_survey(d, answers, {"i1": ABCDE}, config(sub))
    assert result["U1"].sub_criteria["3"].score.value == pytest.approx(0.3 * leaders_u1 + 0.7 * 0.0)
    with pytest.raises(ValueError, match="no group weight for respondent groups"):
        score_survey(
            d,
            answers,
            {"i1": ABCDE},
            config(SubCriterion("x", 1.0, ("i1",), Pooling.GROUP_WEIGHTED, {"leader": 1.0})),
        )


def test_survey_total_carries_covariance_between_sub_criteria() -> None:
    d, answers = responses()
    cfg = config(SubCriterion("a", 2.0, ("i1",)), SubCriterion("b", 3.0, ("i1",)))
    u1 = score_survey(d, answers, {"i1": ABCDE}, cfg)["U1"]
    single = u1.sub_criteria["a"].score
    # the same item twice is perfectly correlated: SE of the total is 5 x SE, not sqrt(13) x SE
    assert u1.points.value == pytest.approx(5 * single.value)
    assert u1.points.se == pytest.approx(5 * single.se)


def test_bad_inputs_name_the_item() -> None:
    d, answers = responses()
    with pytest.raises(ValueError, match="no answers or option-score table for items \\['i9'\\]"):
        score_survey(d, answers, {"i1": ABCDE}, config(SubCriterion("a", 1.0, ("i9",))))
    with pytest.raises(ValueError, match="item 'i1': option code 5 has no score"):
        score_survey(d, answers, {"i1": ABCDE[:4]}, config(SubCriterion("a", 1.0, ("i1",))))
    with pytest.raises(ValueError, match="group-weighted but has no group_weights"):
        SubCriterion("a", 1.0, ("i1",), Pooling.GROUP_WEIGHTED)


BANDS = (Band("Tốt", 80.0), Band("Khá", 65.0), Band("Trung bình", 50.0), Band("Yếu", 0.0))


def test_index_rank_and_band() -> None:
    d, answers = responses()
    cfg = config(SubCriterion("a", 30.0, ("i1",)), bands=BANDS)
    survey = score_survey(d, answers, {"i1": ABCDE}, cfg)
    s1, s2 = survey["U1"].points.value, survey["U2"].points.value
    appraised = {"U1": 56.0, "U2": 45.0, "U3": 63.0, "U4": 49.0}
    blocks = {"U1": "dept", "U2": "dept", "U3": "dept", "U4": "district"}
    rows = {r.unit: r for r in compile_index(appraised, survey, cfg, blocks)}
    assert rows["U1"].index_pct == pytest.approx((56 + s1) / 100 * 100)
    assert rows["U2"].index_pct == pytest.approx((45 + s2) / 100 * 100)
    assert rows["U3"].index_pct == pytest.approx(63 / 70 * 100) and rows["U3"].survey is None  # rescaled
    assert (s1, s2) == pytest.approx((30 * 2.2 / 3, 30 * 1.2 / 5))
    assert [rows[u].rank for u in ("U3", "U1", "U2")] == [1, 2, 3]  # 90 > 78 > 52.2
    assert (rows["U4"].rank, rows["U4"].block) == (1, "district")
    assert [rows[u].band for u in ("U3", "U1", "U2", "U4")] == ["Tốt", "Khá", "Trung bình", "Khá"]
    zero = compile_index(appraised, survey, config(SubCriterion("a", 30.0, ("i1",)), no_survey=NoSurvey.ZERO))
    assert {r.unit: r.index_pct for r in zero}["U3"] == pytest.approx(63.0)


def test_ties_share_a_rank() -> None:
    cfg = ScoringConfig(sub_criteria=(), appraised_max=100.0)
    rows = compile_index({"a": 90.0, "b": 80.0, "c": 90.0, "d": 70.0}, {}, cfg)
    assert [(r.unit, r.rank) for r in rows] == [("a", 1), ("c", 1), ("b", 3), ("d", 4)]
    with pytest.raises(ValueError, match=r"outside 0\.\.100"):
        compile_index({"a": 101.0}, {}, cfg)


def test_sipas_item_element_overall() -> None:
    data = {"w": np.array([1.0, 1.0, 2.0, 2.0]), "unit": np.array(["x", "x", "y", "y"])}
    answers = {
        "s1": np.array([5, 4, 2, 0], dtype=np.uint8),
        "s2": np.array([1, 4, 4, 4], dtype=np.uint8),
        "s3": np.array([3, 3, 5, 9], dtype=np.uint8),  # 9 = no opinion, excluded
    }
    d = SurveyDesign(data, weights="w")
    cfg = SipasConfig(
        elements=(SipasElement("access", ("s1", "s2")), SipasElement("result", ("s3",))),
        excluded_codes=frozenset({9}),
    )
    res = sipas(d, answers, cfg)
    s1, s2, s3 = (1 + 1 + 0) / 4, (0 + 1 + 2 + 2) / 6, (0 + 0 + 2) / 4
    assert isinstance(res.items["s1"], Estimate) and res.items["s1"].value == pytest.approx(s1)
    assert isinstance(res.items["s2"], Estimate) and res.items["s2"].value == pytest.approx(s2)
    assert isinstance(res.items["s3"], Estimate) and res.items["s3"].value == pytest.approx(s3)
    access, result, overall = res.elements["access"], res.elements["result"], res.overall
    assert isinstance(access, Estimate) and isinstance(result, Estimate) and isinstance(overall, Estimate)
    assert access.value == pytest.approx((s1 + s2) / 2)
    assert overall.value == pytest.approx(((s1 + s2) / 2 + s3) / 2)
    # an element of one item is that item, SE included, and equals proportion()
    satisfied = np.where(answers["s3"] == 9, np.nan, np.isin(answers["s3"], [4, 5]).astype(float))
    p = proportion(d.with_columns(sat=satisfied), "sat", 1.0)
    assert isinstance(p, Estimate)
    assert (result.value, result.se) == pytest.approx((p.value, p.se))
    by_unit = sipas(d, answers, cfg, by="unit").overall
    assert isinstance(by_unit, dict) and sorted(by_unit) == ["x", "y"]
    # unit y: s1 = 0/2 (one answer), s2 = 1, s3 = 1 (9 excluded)
    assert by_unit["y"].value == pytest.approx(((0 + 1) / 2 + 1) / 2)
