"""Helpers shared by the analysis tests: load the R reference data and redo reference.R in Python."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import pytest

GOLDEN = Path(__file__).parent / "golden"
ITEMS = [f"q{i}" for i in range(1, 7)]


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def load_par_sample(path: Path) -> dict[str, np.ndarray[Any, Any]]:
    """``par_sample.csv`` with the derived columns of reference.R: item scores
    ``q*_s = (q - 1)/4`` (9 = don't know -> NaN) and base weight ``w = N/n``."""
    rows = read_csv(path)
    data: dict[str, np.ndarray[Any, Any]] = {k: np.array([r[k] for r in rows]) for k in rows[0]}
    for k in ["N", "n", *ITEMS]:
        data[k] = data[k].astype(np.float64)
    for q in ITEMS:
        data[f"{q}_s"] = np.where(data[q] == 9, np.nan, (data[q] - 1) / 4)
    data["w"] = data["N"] / data["n"]
    return data


def load_margins(path: Path) -> dict[str, dict[str, float]]:
    margins: dict[str, dict[str, float]] = {}
    for r in read_csv(path):
        margins.setdefault(r["variable"], {})[r["level"]] = float(r["population"])
    return margins


def reproduce_reference(
    data: dict[str, np.ndarray[Any, Any]], margins: dict[str, dict[str, float]]
) -> dict[str, dict[str, dict[str, float]]]:
    """Everything reference.R writes, computed with ``analysis``: file -> key -> column -> value."""
    from analysis import SurveyDesign, mean, poststratify, rake

    def by_rows(result: dict[Any, Any]) -> dict[str, dict[str, float]]:
        return {
            str(level): {"estimate": e.value, "se": e.se, "ci_low": e.ci_low, "ci_high": e.ci_high}
            for level, e in result.items()
        }

    out: dict[str, dict[str, dict[str, float]]] = {}
    d = SurveyDesign(data, weights="w", strata="stratum", fpc="N")
    out["strat_fpc_citizen_q1_by_unit.csv"] = by_rows(
        mean(d.subset(data["group"] == "citizen"), "q1_s", by="unit")
    )
    out["strat_fpc_leader_q3_by_unit.csv"] = by_rows(
        mean(d.subset(data["group"] == "leader"), "q3_s", by="unit")
    )
    overall = {}
    for q in ITEMS:
        e = mean(d, f"{q}_s")
        overall[f"{q}_s"] = {"estimate": e.value, "se": e.se}
    out["strat_fpc_overall_items.csv"] = overall
    # The citizen sample alone, as a new design without fpc (reference.R step 3).
    citizen = data["group"] == "citizen"
    cd = SurveyDesign({k: v[citizen] for k, v in data.items()}, weights="w", strata="stratum")
    raked = rake(cd, {"sex": margins["sex"], "age": margins["age"]}, max_iter=100, epsilon=1e-10)
    out["raked_weights.csv"] = {
        rid: {"raked_w": w}
        for rid, w in zip(cd.column("respondent_id").tolist(), raked.weights.tolist(), strict=True)
    }
    out["raked_citizen_q2_by_unit.csv"] = by_rows(mean(raked, "q2_s", by="unit"))
    e = mean(poststratify(cd, "sex", margins["sex"]), "q4_s")
    out["poststrat_sex_citizen_q4.csv"] = {"q4_s": {"estimate": e.value, "se": e.se}}
    return out


def assert_matches_reference(
    ours: dict[str, dict[str, float]], r_rows: list[dict[str, str]], rel: float = 1e-9
) -> None:
    """Every row and numeric column of an R output file equals ours to ``rel``."""
    key = next(k for k in ("by", "item", "respondent_id") if k in r_rows[0])
    assert sorted(ours) == sorted(r[key] for r in r_rows)
    for r in r_rows:
        mine = ours[r[key]]
        for column, text in r.items():
            if column == key:
                continue
            assert mine[column] == pytest.approx(float(text), rel=rel, abs=0), (r[key], column)


REFERENCE_FILES = [
    "strat_fpc_citizen_q1_by_unit.csv",
    "strat_fpc_leader_q3_by_unit.csv",
    "strat_fpc_overall_items.csv",
    "raked_weights.csv",
    "raked_citizen_q2_by_unit.csv",
    "poststrat_sex_citizen_q4.csv",
]


def reproduce_extra(
    data: dict[str, np.ndarray[Any, Any]], margins: dict[str, dict[str, float]]
) -> dict[str, dict[str, dict[str, float]]]:
    """What r/extra_checks.R writes, computed with ``analysis``: case -> key -> column -> value."""
    from analysis import SurveyDesign, mean, poststratify, proportion, rake, ratio, total, trim_weights
    from analysis.scoring import Pooling, ScoringConfig, SubCriterion, score_survey

    def rows(result: Any, key: str | None = None) -> dict[str, dict[str, float]]:
        items = result.items() if isinstance(result, dict) else [(key, result)]
        return {
            str(k): {"estimate": e.value, "se": e.se, "ci_low": e.ci_low, "ci_high": e.ci_high}
            for k, e in items
        }

    data = dict(data)
    first_units = np.unique(data["unit"])[:3]
    census = (data["group"] == "leader") & np.isin(data["unit"], first_units)
    data["N2"] = np.where(census, data["n"], data["N"])
    data["w2"] = data["N2"] / data["n"]
    data["Nunits"] = np.full(data["w"].size, 60.0)
    out: dict[str, dict[str, dict[str, float]]] = {}
    fpc = SurveyDesign(data, weights="w", strata="stratum", fpc="N")
    cen = SurveyDesign(data, weights="w2", strata="stratum", fpc="N2")
    clu = SurveyDesign(data, weights="w", strata="group", ids="unit", fpc="Nunits")
    citizen = data["group"] == "citizen"
    cit = {k: v[citizen] for k, v in data.items()}
    cd = SurveyDesign(cit, weights="w", strata="stratum")
    cdf = SurveyDesign(cit, weights="w", strata="stratum", fpc="N")
    leaders = fpc.subset(data["group"] == "leader")
    out["t_ci_leader_q5_by_unit"] = rows(mean(leaders, "q5_s", by="unit", ci="t"))
    out["total_citizen_q2_by_unit"] = rows(total(fpc.subset(citizen), "q2_s", by="unit"))
    out["total_overall_q6"] = rows(total(fpc, "q6_s"), "q6_s")
    out["ratio_q1_q2"] = rows(ratio(fpc, "q1_s", "q2_s"), "all")
    out["ratio_q1_q2_by_group"] = rows(ratio(fpc, "q1_s", "q2_s", by="group"))
    out["prop_female_by_group"] = rows(proportion(fpc, "sex", "F", by="group"))
    out["census_q4_by_unit"] = rows(mean(cen, "q4_s", by="unit"))
    out["census_overall_q4"] = rows(mean(cen, "q4_s"), "q4_s")
    out["cluster_q1"] = rows(mean(clu, "q1_s", ci="t"), "q1_s")
    out["cluster_q1_by_sex"] = rows(mean(clu, "q1_s", by="sex"))
    out["cluster_q3_by_unit"] = rows(mean(clu, "q3_s", by="unit"))
    strata_n = dict(zip(cit["stratum"].tolist(), cit["N"].tolist(), strict=True))
    clu_ps = poststratify(clu, "group", {"citizen": sum(strata_n.values()), "leader": 3000.0})
    out["cluster_poststrat_group_q2_by_sex"] = rows(mean(clu_ps, "q2_s", by="sex"))
    ps = poststratify(cd, "sex", margins["sex"])
    out["poststrat_then_subset_q5_by_unit"] = rows(mean(ps.subset(cit["age"] != "55+"), "q5_s", by="unit"))
    fem = cd.subset(cit["sex"] == "F")
    fem_age = {k: float(round(v * 0.52)) for k, v in margins["age"].items()}
    out["subset_then_poststrat_q6"] = rows(mean(poststratify(fem, "age", fem_age), "q6_s"), "q6_s")
    both = {"sex": margins["sex"], "age": margins["age"]}
    rk = rake(cdf, both, max_iter=100, epsilon=1e-10)
    out["rake_fpc_then_subset_q3_by_unit"] = rows(mean(rk.subset(cit["sex"] == "F"), "q3_s", by="unit"))
    out["rake_fpc_total_q1"] = rows(total(rk, "q1_s"), "q1_s")
    ps2 = poststratify(rake(cd, both, max_iter=100, epsilon=1e-10), "sex", margins["sex"])
    out["rake_then_poststrat_q2"] = rows(mean(ps2, "q2_s"), "q2_s")
    tw = trim_weights(cd, lower=100.0, upper=float(np.quantile(cd.weights, 0.8)))
    out["trim_q1"] = rows(mean(tw, "q1_s"), "q1_s")
    out["trim_weights_sum"] = {"sum": {"estimate": float(tw.weights.sum())}}
    out["trim_weights_max"] = {"max": {"estimate": float(tw.weights.max())}}
    out["trim_weights_first"] = {"first": {"estimate": float(tw.weights[0])}}
    # scoring.score_survey against svycontrast(svyby(..., covmat=TRUE)) and svyby of row means
    su = SurveyDesign(data, weights="w", strata="unit")
    answers = {q: data[q].astype(np.uint8) for q in ITEMS}
    table = [np.nan, 0.0, 0.25, 0.5, 0.75, 1.0, np.nan, np.nan, np.nan, np.nan]  # code 9: don't know
    config = ScoringConfig(
        sub_criteria=(
            SubCriterion("A", 2.0, ("q1",), Pooling.GROUP_WEIGHTED, {"citizen": 0.6, "leader": 0.4}),
            SubCriterion("B", 3.0, ("q2", "q3")),
        ),
        appraised_max=70.0,
    )
    scores = score_survey(su, answers, {q: table for q in ITEMS}, config)
    out["group_weighted_q1_by_unit"] = rows({u: s.sub_criteria["A"].score for u, s in scores.items()})
    out["pooled_q23_by_unit"] = rows({u: s.sub_criteria["B"].score for u, s in scores.items()})
    return out


def assert_matches_extra(
    ours: dict[str, dict[str, dict[str, float]]], r_rows: list[dict[str, str]], rel: float = 1e-9
) -> None:
    """Every case/key/column that R wrote (not NA) equals ours to ``rel``."""
    seen: dict[str, set[str]] = {}
    for r in r_rows:
        seen.setdefault(r["case"], set()).add(r["key"])
        mine = ours[r["case"]][r["key"]]
        for column in ("estimate", "se", "ci_low", "ci_high"):
            if r[column] == "NA":
                continue
            assert mine[column] == pytest.approx(float(r[column]), rel=rel, abs=1e-15), (
                r["case"],
                r["key"],
                column,
            )
    assert {case: set(keys) for case, keys in ours.items()} == seen
