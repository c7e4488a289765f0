"""The batched domain means (mean_columns) give the numbers of the general path, column by column."""

from __future__ import annotations

import numpy as np
import pytest

from analysis import SurveyDesign, rake
from analysis.design import LonelyPSU
from analysis.estimators import CIMethod, ColumnEstimates, linearised_mean, mean_codes, mean_columns, summarise

FIELDS = ("value", "se", "ci_low", "ci_high", "n", "n_eff")


def _random_design(rng: np.random.Generator, rule: LonelyPSU, fpc: bool, n: int = 400,
                   lonely: bool = True, cell_weights: bool = False) -> SurveyDesign:
    n_strata = int(rng.integers(3, 30))
    stratum = rng.integers(0, n_strata, size=n)
    stratum[:3] = n_strata  # one stratum of three rows, then a lonely stratum of one row
    stratum[3] = n_strata + 1 if lonely else n_strata
    sizes = np.bincount(stratum)
    data: dict[str, object] = {
        "h": stratum,
        "unit": np.where(rng.random(n) < 0.05, None, rng.choice(["u1", "u2", "u3", "u4", "u5"], size=n)),
        "w": rng.uniform(0.5, 4.0, size=n),
    }
    if cell_weights:  # as a campaign's design has them: N/n per stratum, times a weighting cell's factor
        cell = rng.integers(0, 2, size=n)
        data["w"] = rng.uniform(0.5, 4.0, size=(sizes.size, 2))[stratum, cell]
    if fpc:
        extra = rng.integers(0, 20, size=sizes.size)
        extra[rng.random(sizes.size) < 0.2] = 0  # some census strata
        data["N"] = (sizes + extra)[stratum].astype(np.float64)
    return SurveyDesign(data, weights="w", strata="h", fpc="N" if fpc else None, lonely_psu=rule)


def _values(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    y = rng.choice([0.0, 0.2, 0.6, 1.0, np.nan], size=(n, k), p=[0.2, 0.2, 0.2, 0.3, 0.1])
    y[:, 0] = 0.6  # every answer the same: SE 0 where the strata are censuses or the level is pure
    y[: n // 3, 1] = np.nan  # a variable some levels never answered
    return y


def _general(design: SurveyDesign, y: np.ndarray, by: str | None, ci: CIMethod,
             bounds: tuple[float, float] | None) -> list[dict[object, object]]:
    out = []
    for j in range(y.shape[1]):
        est = summarise(design, linearised_mean(design, y[:, j], by), ci, 0.9, as_dict=True, bounds=bounds)
        out.append(est)
    return out


def _assert_same(fast: ColumnEstimates, general: list[dict[object, object]], exact: bool) -> None:
    for j, by_level in enumerate(general):
        assert list(by_level) == fast.levels.tolist()
        for i, est in enumerate(by_level.values()):
            got = fast.estimate(j, i)
            assert got.df == est.df  # type: ignore[attr-defined]
            for name in FIELDS:
                a, b = getattr(got, name), getattr(est, name)
                if exact:  # same operations in the same order: the same bits
                    assert a == b or (np.isnan(a) and np.isnan(b)), (j, i, name, a, b)
                else:
                    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15, err_msg=f"{j} {i} {name}")


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("rule", [LonelyPSU.REMOVE, LonelyPSU.CERTAINTY, LonelyPSU.ADJUST,
                                  LonelyPSU.AVERAGE, LonelyPSU.FAIL])
def test_mean_columns_equals_the_general_path(seed: int, rule: LonelyPSU) -> None:
    rng = np.random.default_rng(seed)
    # fail needs a design without a lonely stratum (fpc designs may still have census ones)
    design = _random_design(rng, rule, fpc=bool(seed % 2), lonely=rule is not LonelyPSU.FAIL)
    domain = rng.random(design.n_rows) < 0.85
    y = _values(rng, design.n_rows, 7)
    ci = [CIMethod.NORMAL, CIMethod.T, CIMethod.LOGIT][seed % 3]
    for d, by in ((design, "unit"), (design.subset(domain), "unit"), (design, None)):
        bounds = (0.0, 1.0) if seed % 2 else None
        fast = mean_columns(d, y, by, ci, 0.9, bounds)
        _assert_same(fast, _general(d, y, by, ci, bounds), exact=True)


def test_lonely_stratum_under_fail_raises_as_the_general_path() -> None:
    rng = np.random.default_rng(3)
    design = _random_design(rng, LonelyPSU.FAIL, fpc=False)
    with pytest.raises(ValueError, match="only one PSU"):
        mean_columns(design, _values(rng, design.n_rows, 3), "unit")


def test_clusters_and_calibration_take_the_general_path() -> None:
    rng = np.random.default_rng(11)
    n = 300
    data = {"h": rng.integers(0, 4, size=n), "psu": rng.integers(0, 12, size=n),
            "unit": rng.choice(["a", "b", "c"], size=n), "sex": rng.choice(["m", "f"], size=n),
            "w": rng.uniform(1.0, 3.0, size=n)}
    clustered = SurveyDesign(data, weights="w", strata="h", ids="psu", lonely_psu="adjust")
    plain = SurveyDesign(data, weights="w", strata="h", lonely_psu="adjust")
    raked = rake(plain, {"sex": {"m": 300.0, "f": 320.0}, "unit": {"a": 200.0, "b": 210.0, "c": 210.0}})
    y = _values(rng, n, 4)
    for design in (clustered, raked):
        fast = mean_columns(design, y, "unit", CIMethod.T, 0.9, (0.0, 1.0))
        _assert_same(fast, _general(design, y, "unit", CIMethod.T, (0.0, 1.0)), exact=True)


def test_mean_columns_refuses_a_wrong_shape() -> None:
    design = SurveyDesign({"y": [1.0, 2.0]})
    with pytest.raises(ValueError, match="expected"):
        mean_columns(design, np.zeros(2), None)


TABLES = [np.array([np.nan, 1.0, 0.6, 0.2, 0.0, np.nan]), np.array([np.nan, 0.0, 1.0]),
          np.array([np.nan, 0.5, 0.5, 0.5])]  # the last: every valid answer scores the same


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("rule", [LonelyPSU.REMOVE, LonelyPSU.CERTAINTY, LonelyPSU.ADJUST,
                                  LonelyPSU.AVERAGE, LonelyPSU.FAIL])
def test_mean_codes_equals_the_general_path(seed: int, rule: LonelyPSU) -> None:
    rng = np.random.default_rng(100 + seed)
    design = _random_design(rng, rule, fpc=bool(seed % 2), lonely=rule is not LonelyPSU.FAIL)
    n = design.n_rows
    codes = [rng.integers(0, t.size, size=n).astype(np.uint8) for t in TABLES]
    codes[1][: n // 3] = 0  # some levels without an answer
    y = np.column_stack([t[c] for t, c in zip(TABLES, codes, strict=True)])
    ci = [CIMethod.NORMAL, CIMethod.T, CIMethod.LOGIT][seed % 3]
    domain = rng.random(n) < 0.85
    for d, by in ((design, "unit"), (design.subset(domain), "unit"), (design, None)):
        bounds = (0.0, 1.0) if seed % 2 else None
        fast = mean_codes(d, codes, TABLES, by, ci, 0.9, bounds)
        _assert_same(fast, _general(d, y, by, ci, bounds), exact=False)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("rule", [LonelyPSU.REMOVE, LonelyPSU.CERTAINTY, LonelyPSU.ADJUST])
def test_mean_codes_by_weight_classes_equals_the_general_path(seed: int, rule: LonelyPSU) -> None:
    """Weights set per stratum and weighting cell: the rows are counted by (class, code), not
    summed one by one, and the estimates, SEs and linearised variables stay those of the
    general path."""
    from analysis import taylor
    from analysis.estimators import _weight_classes

    rng = np.random.default_rng(200 + seed)
    design = _random_design(rng, rule, fpc=bool(seed % 2), n=1200, cell_weights=True)
    n = design.n_rows
    # and a joint code of two items answered by different rows: most of its 36 codes no row has
    # (they are left out of the per-class sums, and put back as zeros)
    tables = [*TABLES, rng.choice([0.0, 0.25, 0.5, 1.0, np.nan], size=36)]
    codes = [rng.integers(0, t.size, size=n).astype(np.uint8) for t in tables]
    codes[1][: n // 3] = 0
    first = rng.random(n) < 0.5
    codes[-1] = np.where(first, rng.integers(0, 6, size=n), 6 * rng.integers(0, 6, size=n)).astype(np.uint8)
    y = np.column_stack([t[c] for t, c in zip(tables, codes, strict=True)])
    ci = [CIMethod.NORMAL, CIMethod.T, CIMethod.LOGIT][seed % 3]
    for d, by in ((design, "unit"), (design.subset(rng.random(n) < 0.85), "unit"), (design, None)):
        groups = taylor.grouping(d, by)
        assert groups.cell_rows is not None
        assert _weight_classes(d, groups, d.weights[groups.cell_rows]) is not None  # the counted path
        fast = mean_codes(d, codes, tables, by, ci, 0.9, (0.0, 1.0), with_parts=True)
        _assert_same(fast, _general(d, y, by, ci, (0.0, 1.0)), exact=False)
        for j in range(len(tables)):
            general = linearised_mean(d, y[:, j], by)
            np.testing.assert_allclose(fast.parts[j].z, general.z, rtol=1e-12, atol=1e-15)
            assert (fast.parts[j].used == general.used).all()


@pytest.mark.parametrize("rule", [LonelyPSU.ADJUST, LonelyPSU.REMOVE, LonelyPSU.AVERAGE])
def test_items_estimated_from_their_sub_criterions_combination_counts_are_the_same(rule: LonelyPSU) -> None:
    """The items of a pooled sub-criterion of several items come with their rows per (weight
    class, code), summed from the combinations' counts; estimated from those counts instead
    of a pass over the rows, every figure is exactly the same."""
    from analysis.estimators import _weight_classes
    from analysis import taylor
    from analysis.scoring import Pooling, ScoringConfig, SubCriterion, item_estimates, survey_estimates

    rng = np.random.default_rng(31)
    design = _random_design(rng, rule, fpc=True, n=1500, cell_weights=True).with_columns(
        group=rng.choice(["a", "b"], size=1500))
    n = design.n_rows
    tables = {"i1": [np.nan, 1.0, 0.5, 0.0, np.nan], "i2": [np.nan, 0.0, 1.0], "i3": [np.nan, 0.25, 0.75],
              "i4": [np.nan, 1.0, 0.0]}
    answers = {k: rng.integers(0, len(t), size=n).astype(np.uint8) for k, t in tables.items()}
    answers["i2"][: n // 2] = 0  # half the rows never saw it
    config = ScoringConfig((SubCriterion("1", 4.0, ("i1", "i2", "i3")), SubCriterion("2", 2.0, ("i3",)),
                            SubCriterion("3", 1.0, ("i4", "i2"), Pooling.GROUP_WEIGHTED, {"a": 1.0, "b": 3.0})),
                           appraised_max=0.0, ci=CIMethod.LOGIT)
    groups = taylor.grouping(design, "unit")
    assert groups.cell_rows is not None
    counted: dict = {}
    survey_estimates(design, answers, tables, config, unit="unit", item_counts=counted)
    if rule is LonelyPSU.AVERAGE:  # the general path: nothing counted per weight class
        assert counted == {}
        return
    assert _weight_classes(design, groups, design.weights[groups.cell_rows]) is not None
    assert set(counted) == {"i1", "i2", "i3"}  # not i4: its sub-criterion is group-weighted
    direct = item_estimates(design, answers, tables, list(tables), config, unit="unit")
    from_counts = item_estimates(design, answers, tables, list(tables), config, unit="unit", counted=counted)
    for name, values in direct._asdict().items():
        if name in ("items", "levels"):
            assert getattr(from_counts, name) == values
        else:
            np.testing.assert_array_equal(getattr(from_counts, name), values, err_msg=name)  # exactly


@pytest.mark.parametrize("rule", [LonelyPSU.ADJUST, LonelyPSU.REMOVE, LonelyPSU.AVERAGE])
def test_score_survey_from_code_combinations_equals_the_response_path(
        rule: LonelyPSU, monkeypatch: pytest.MonkeyPatch) -> None:
    from analysis import scoring
    from analysis.scoring import Pooling, ScoringConfig, SubCriterion, score_items, score_survey

    rng = np.random.default_rng(7)
    design = _random_design(rng, rule, fpc=True).with_columns(
        group=rng.choice(["a", "b"], size=400))
    n = design.n_rows
    tables = {"i1": [np.nan, 1.0, 0.5, 0.0, np.nan], "i2": [np.nan, 0.0, 1.0], "i3": [np.nan, 0.25, 0.75]}
    answers = {k: rng.integers(0, len(t), size=n).astype(np.uint8) for k, t in tables.items()}
    config = ScoringConfig((SubCriterion("1", 4.0, ("i1", "i2")), SubCriterion("2", 2.0, ("i3",)),
                            SubCriterion("3", 1.0, ("i2", "i3"), Pooling.GROUP_WEIGHTED, {"a": 1.0, "b": 3.0})),
                           appraised_max=0.0, ci=CIMethod.T)
    fast = score_survey(design, answers, tables, config, unit="unit")
    fast_items = score_items(design, answers, tables, list(tables), config, unit="unit")
    # an item that is a pooled sub-criterion on its own is estimated once, with the same result
    known: dict = {}
    assert score_survey(design, answers, tables, config, unit="unit", item_estimates=known) == fast
    # (taken from the counted path; with lonely strata averaged the general path counts nothing)
    assert set(known) == (set() if rule is LonelyPSU.AVERAGE else {"i3"})
    assert score_items(design, answers, tables, list(tables), config, unit="unit", known=known) == fast_items
    monkeypatch.setattr(scoring, "_MAX_COMBOS", 0)  # every sub-criterion from its response scores
    def as_columns(d, c, t, *a, with_counts=False, counted=None, with_class_counts=False, **k):  # type: ignore[no-untyped-def]
        return mean_columns(d, np.column_stack([np.asarray(tt)[cc] for cc, tt in zip(c, t, strict=True)]), *a, **k)

    monkeypatch.setattr(scoring, "mean_codes", as_columns)
    slow = score_survey(design, answers, tables, config, unit="unit")
    slow_items = score_items(design, answers, tables, list(tables), config, unit="unit")
    assert fast.keys() == slow.keys()

    def close(a: object, b: object) -> None:
        for name in FIELDS:
            np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=1e-12, atol=1e-15)

    for u in fast:
        close(fast[u].points, slow[u].points)
        for code, sub in fast[u].sub_criteria.items():
            close(sub.score, slow[u].sub_criteria[code].score)
            assert (sub.answers, sub.dont_know) == (slow[u].sub_criteria[code].answers,
                                                    slow[u].sub_criteria[code].dont_know)
    assert [(i.item, i.unit, i.answers, i.dont_know) for i in fast_items] == \
        [(i.item, i.unit, i.answers, i.dont_know) for i in slow_items]
    for a, b in zip(fast_items, slow_items, strict=True):
        close(a.score, b.score)
