"""Scoring a campaign end to end: submitted forms -> score_campaign -> ``par-survey scores`` files."""

from __future__ import annotations

import io
import json
import math
import zipfile

import numpy as np
import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from analysis import Pooling, ScoringConfig, SubCriterion
from questionnaires import load_builtin_by_id
from survey import db
from survey.cli.scores_cmd import scores
from survey.models import Response, ResponseStatus
from survey.services.responding import SubmitOutcome, load_form, save_page, submit_form
from survey.services.scores import (
    default_scoring_config,
    item_key,
    load_campaign_questionnaires,
    load_score_inputs,
    score_campaign,
)

@pytest.fixture(autouse=True)
def _publish_small_cells(app):
    """The hand-computed examples have two or three answers a cell: publish them here
    (small-cell suppression has its own test)."""
    app.config["SMALL_CELL_K"] = 1


QUESTIONNAIRE = load_builtin_by_id("dept-division-rates-own-department")
QID = QUESTIONNAIRE.key
ITEMS = tuple(q.id for q in QUESTIONNAIRE.scored_questions)  # options A 1.0 B 0.6 C 0.2 D 0 E ?
SUBS = tuple(q.subcriterion for q in QUESTIONNAIRE.scored_questions)  # one sub-criterion each
FIRST = ITEMS[0]
ALL_B = dict.fromkeys(ITEMS, "B")  # B scores 0.6

# (rated unit, answer to the first item); every other item B at S01 and A at S02.
FORMS = [("S01", "A"), ("S01", "C"), ("S01", "E"), ("S01", "D"), ("S02", "A")]
EXCLUDED = "D"  # the S01 response answering D is excluded by integrity review
Z95 = 1.959963984540054


def _submit(app, form_id: int, answers: dict[str, str]) -> None:
    with app.app_context():
        ctx = load_form(form_id)
        key = str(ctx.assignments[0].id)
        for i in range(len(ctx.questionnaire.sections)):
            ctx = save_page(ctx, i, {key: answers})
        assert submit_form(load_form(form_id)) is SubmitOutcome.SUBMITTED


@pytest.fixture
def scored_campaign(app, make_campaign, make_form) -> int:
    """Campaign T-2026 with four valid responses (S01 x3, S02 x1) and one excluded."""
    campaign = make_campaign()
    for n, (unit, lead_plan) in enumerate(FORMS):
        form_id, _ = make_form(units=(unit,), campaign=campaign, email=f"p{n}@example.vn")
        answers = dict.fromkeys(ITEMS, "A") if unit == "S02" else dict(ALL_B)
        answers[FIRST] = lead_plan
        _submit(app, form_id, answers)
    with app.app_context(), db.write_transaction() as s:
        rows = s.scalars(select(Response)).all()
        assert len(rows) == len(FORMS)
        (bad,) = [r for r in rows if r.answers[FIRST] == EXCLUDED]
        bad.status = ResponseStatus.EXCLUDED
    return campaign.id


def _default_config(app, campaign_id: int) -> ScoringConfig:
    with app.app_context():
        return default_scoring_config(load_campaign_questionnaires(campaign_id))


# Sub-criterion 1.1 at S01: A (1.0) and C (0.2) -> 0.6; the don't-know answer is out of the
# mean. The design's strata are group x rated unit; S01 has 4 people listed (forms sent) and
# 3 valid responses: w = 4/3, fpc N = 4. The SE is a domain estimate (R svyby): z = w (y - 0.6)
# / sum w = +-0.2 on the two S01 answers, 0 on the don't-know; stratum S01 has n_h = 3, so
# V = (1 - 3/4) * 3/2 * (0.2^2 + 0.2^2) = 0.03. (The old one-stratum census gave sqrt(4/3 * 0.08).)
SE_11 = math.sqrt((1 - 3 / 4) * 3 / 2 * (0.2**2 + 0.2**2))


def test_load_score_inputs_reads_valid_responses_as_uint8_columns(app, scored_campaign):
    with app.app_context():
        inputs = load_score_inputs(scored_campaign)
    assert inputs.n_rows == 4  # the excluded response is never read
    assert inputs.unit.tolist() == ["S01", "S01", "S01", "S02"]
    assert set(inputs.level.tolist()) == {"department"}
    assert set(inputs.group.tolist()) == {"dept_division_leader"}
    codes = inputs.answers[f"{QID}/{FIRST}"]
    assert codes.dtype == np.uint8
    assert codes.tolist() == [1, 3, 5, 1]  # A, C, E (don't know), A: 1-based option positions
    table = inputs.option_scores[f"{QID}/{FIRST}"]
    assert math.isnan(table[0]) and table[1:4] == [1.0, 0.6, 0.2] and math.isnan(table[5])


def test_default_config_has_every_subcriterion_worth_one_point(app, scored_campaign):
    config = _default_config(app, scored_campaign)
    assert len(set(SUBS)) == len(SUBS)
    assert {s.code for s in config.sub_criteria} == set(SUBS)
    assert all(s.max_points == 1.0 and s.pooling is Pooling.POOLED for s in config.sub_criteria)
    assert {s.code: s for s in config.sub_criteria}[SUBS[0]].items == (f"{QID}/{FIRST}",)


def test_score_campaign_matches_hand_computed_numbers(app, scored_campaign):
    config = _default_config(app, scored_campaign)
    with app.app_context():
        result = score_campaign(scored_campaign, config)
    by = {(r.unit, r.sub_criterion): r for r in result.sub_criteria}
    r = by["S01", SUBS[0]]
    assert r.score.value == pytest.approx(0.6) and r.points.value == pytest.approx(0.6)
    assert r.score.n == 2 and r.answers == 3 and r.dont_know == 1
    assert r.dont_know_rate == pytest.approx(1 / 3)
    assert r.score.se == pytest.approx(SE_11)
    assert (r.score.ci_low, r.score.ci_high) == pytest.approx((0.6 - Z95 * SE_11, 0.6 + Z95 * SE_11))
    for code in SUBS[1:]:
        other = by["S01", code]
        assert other.score.value == pytest.approx(0.6) and other.score.n == 3 and other.dont_know == 0
        assert other.score.se == pytest.approx(0.0)
    assert by["S02", SUBS[0]].score.value == pytest.approx(1.0)
    units = {u.unit: u for u in result.units}
    assert units["S01"].points.value == pytest.approx(0.6 * 6)
    assert units["S01"].points.se == pytest.approx(SE_11)  # the other items do not vary
    assert units["S01"].survey_pct == pytest.approx(60.0)
    assert units["S02"].points.value == pytest.approx(6.0)
    assert (units["S02"].rank, units["S01"].rank) == (1, 2)
    assert units["S01"].responses == 3 and units["S02"].responses == 1
    assert units["S01"].level == "department" and units["S01"].name == "Sở thử 1"
    assert result.weights is not None and result.weights.n == 4
    assert result.weights.total == pytest.approx(5.0)  # 3 x 4/3 at S01 + 1 at S02 (its only listed person)
    strata = {st.key: st for st in result.design.strata}
    assert (strata["dept_division_leader|S01"].n, strata["dept_division_leader|S01"].big_n) == (3, 4.0)
    assert strata["dept_division_leader|S01"].source == "listed"


def test_configured_points_group_weights_and_appraised_points(app, scored_campaign):
    config = ScoringConfig(
        sub_criteria=(
            SubCriterion("X1", 2.0, (f"{QID}/{FIRST}",)),
            SubCriterion("X4", 1.5, (f"{QID}/{ITEMS[3]}", f"{QID}/{ITEMS[4]}"),
                         Pooling.GROUP_WEIGHTED, {"dept_division_leader": 1.0}),
        ),
        appraised_max=10.0, dont_know_as_zero=True,
    )
    with app.app_context():
        result = score_campaign(scored_campaign, config, appraised={"S01": 9.0, "S02": 4.0, "S03": 5.0})
    by = {(r.unit, r.sub_criterion): r for r in result.sub_criteria}
    # Don't know counts 0: (1.0 + 0.2 + 0) / 3 = 0.4 -> 0.8 of 2 points.
    assert by["S01", "X1"].points.value == pytest.approx(0.8) and by["S01", "X1"].score.n == 3
    assert by["S01", "X4"].points.value == pytest.approx(1.5 * 0.6)
    units = {u.unit: u for u in result.units}
    s01 = (9.0 + 0.8 + 0.9) / 13.5 * 100
    assert units["S01"].index_pct == pytest.approx(s01)
    assert units["S02"].index_pct == pytest.approx((4.0 + 2.0 + 1.5) / 13.5 * 100)
    assert (units["S01"].rank, units["S02"].rank) == (1, 2)
    # S03 has appraised points but no survey: it keeps its row, 5/10 rescaled = 50 %, rank 3
    assert not units["S03"].has_survey and units["S03"].rank == 3
    assert units["S03"].index_pct == pytest.approx(50.0) and math.isnan(units["S03"].points.value)


def test_population_sizes_give_design_weights_and_fpc(app, scored_campaign):
    config = _default_config(app, scored_campaign)
    with app.app_context():
        sampled = score_campaign(scored_campaign, config, population={("dept_division_leader", "S01"): 30})
        census = score_campaign(scored_campaign, config, population={("dept_division_leader", "S01"): 3})
    assert sampled.weights.total == pytest.approx(31.0)  # 3 x 30/3 + 1 census response
    r = {(x.unit, x.sub_criterion): x for x in sampled.sub_criteria}["S01", SUBS[0]]
    assert r.score.value == pytest.approx(0.6) and r.score.se > 0
    r = {(x.unit, x.sub_criterion): x for x in census.sub_criteria}["S01", SUBS[0]]
    assert r.score.se == pytest.approx(0.0)  # a census has no sampling error


def _rows(ws) -> list[dict]:
    values = list(ws.iter_rows(values_only=True))
    return [dict(zip(values[0], row, strict=True)) for row in values[1:]]


def test_cli_exports_xlsx_with_the_same_numbers(app, scored_campaign, tmp_path):
    out = tmp_path / "scores.xlsx"
    result = app.test_cli_runner().invoke(
        scores, ["--campaign", "T-2026", "--format", "xlsx", "--out", str(out)])
    assert result.exit_code == 0, result.output
    wb = load_workbook(out)
    assert wb.sheetnames == ["scores", "units", "items", "methods"]
    for ws in wb.worksheets:
        assert all(c.data_type != "f" for row in ws.iter_rows() for c in row)
    rows = {(r["unit"], r["sub_criterion"]): r for r in _rows(wb["scores"])}
    assert len(rows) == 2 * len(SUBS)
    r = rows["S01", SUBS[0]]
    assert isinstance(r["points"], float) and r["points"] == pytest.approx(0.6)
    assert r["points_se"] == pytest.approx(SE_11)
    assert (r["n"], r["answers"], r["dont_know"]) == (2, 3, 1)
    assert r["dont_know_rate"] == pytest.approx(1 / 3)
    assert rows["S02", SUBS[-1]]["score"] == pytest.approx(1.0)
    units = {r["unit"]: r for r in _rows(wb["units"])}
    assert units["S01"]["survey_points"] == pytest.approx(3.6) and units["S01"]["rank"] == 2
    assert units["S02"]["survey_points"] == pytest.approx(6.0) and units["S02"]["rank"] == 1
    assert units["S01"]["index_pct"] is None  # no appraised points yet
    methods = {(r["section"], r["key"]): r["value"] for r in _rows(wb["methods"])}
    assert methods["campaign", "code"] == "T-2026"
    assert methods["questionnaire", QID].startswith("hash ")
    assert "4 valid responses" in methods["questionnaire", QID]
    assert methods["weights", "n"] == "4"
    assert methods["settings", "dont_know"] == "excluded, rate reported"


def test_cli_csv_and_json_are_stable(app, scored_campaign, tmp_path):
    runner = app.test_cli_runner()
    outputs = []
    for run in range(2):
        out = tmp_path / f"run{run}" / "scores.zip"
        out.parent.mkdir()
        result = runner.invoke(scores, ["--campaign", "T-2026", "--format", "csv", "--out", str(out)])
        assert result.exit_code == 0, result.output
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]
    with zipfile.ZipFile(io.BytesIO(outputs[0])) as zf:
        assert zf.namelist() == ["scores.csv", "units.csv", "items.csv", "methods.csv", "codebook.csv"]
        lines = zf.read("scores.csv").decode("utf-8-sig").split("\r\n")
        methods = zf.read("methods.csv").decode("utf-8-sig")
        codebook = zf.read("codebook.csv").decode("utf-8-sig")
    assert "design,strata,group x rated_unit" in methods and "suppression,rule," in methods
    assert "scores,score_se,number," in codebook
    assert lines[0].startswith("unit,level,sub_criterion,max_points,points,points_se")
    assert lines[1].startswith("S01,department,")
    assert any(line.startswith(f"S01,department,{SUBS[0]},1,0.6,") for line in lines)
    out = tmp_path / "scores.json"
    assert runner.invoke(scores, ["--campaign", "T-2026", "--format", "json", "--out", str(out)]).exit_code == 0
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert [u["unit"] for u in doc["units"]] == ["S02", "S01"]


@pytest.mark.parametrize("fmt", ["sav", "dta"])
def test_cli_microdata_has_labels_and_only_valid_responses(app, scored_campaign, tmp_path, fmt):
    pyreadstat = pytest.importorskip("pyreadstat")
    out = tmp_path / f"micro.{fmt}"
    result = app.test_cli_runner().invoke(scores, ["--campaign", "T-2026", "--format", fmt, "--out", str(out)])
    assert result.exit_code == 0, result.output
    df, meta = (pyreadstat.read_sav if fmt == "sav" else pyreadstat.read_dta)(str(out))
    assert len(df) == 4
    assert list(df["unit"]) == ["S01", "S01", "S01", "S02"]
    if fmt == "sav":  # the codes printed on the paper form; E (don't know) is user-missing
        assert df[FIRST].tolist()[:2] == ["A", "C"] and df[FIRST].tolist()[3] == "A"
        assert not isinstance(df[FIRST][2], str) or df[FIRST][2] == ""  # E read as missing
        assert meta.variable_value_labels[FIRST]["E"] == "Không biết / Don't know"
    else:  # Stata: letter codes by position (the letter in the label); don't know is .a
        assert df[FIRST].tolist()[:2] == [1.0, 3.0] and math.isnan(df[FIRST][2])
        assert meta.variable_value_labels[FIRST][1] == "A. Hoàn toàn đồng ý / Fully agree"
    assert meta.column_names_to_labels[FIRST].startswith(f"{QID} {FIRST}")
    assert {"stratum", "psu", "weight", "fpc"} <= set(df.columns)
    assert not {"full_name", "email", "phone"} & set(df.columns)


def test_cli_unknown_campaign_exits_1_in_both_languages(app, tmp_path):
    args = ["--campaign", "NOPE", "--format", "xlsx", "--out", str(tmp_path / "x.xlsx")]
    result = app.test_cli_runner().invoke(scores, args)
    english = app.test_cli_runner().invoke(scores, [*args, "--lang", "en"])
    assert result.exit_code == english.exit_code == 1
    assert "Không có đợt khảo sát mã 'NOPE'" in result.output
    assert "No campaign with code 'NOPE'" in english.output
    assert not (tmp_path / "x.xlsx").exists()


def test_item_key_names_questionnaire_version_and_question():
    assert item_key(QUESTIONNAIRE, "lead_plan") == "dept-division-rates-own-department@v1/lead_plan"


def test_small_cells_are_suppressed_in_exports_by_default(app, scored_campaign, tmp_path):
    app.config["SMALL_CELL_K"] = 5  # the default: this campaign has 2 answers a cell
    out = tmp_path / "scores.xlsx"
    result = app.test_cli_runner().invoke(
        scores, ["--campaign", "T-2026", "--format", "xlsx", "--out", str(out)])
    assert result.exit_code == 0, result.output
    wb = load_workbook(out)
    rows = {(r["unit"], r["sub_criterion"]): r for r in _rows(wb["scores"])}
    r = rows["S01", SUBS[0]]
    assert r["n"] == 2 and r["answers"] == 3  # counts stay
    assert r["points"] is None and r["score"] is None and r["points_se"] is None
    units = {u["unit"]: u for u in _rows(wb["units"])}
    assert units["S01"]["survey_points"] is None and units["S01"]["rank"] is None
    methods = {(m["section"], m["key"]): m["value"] for m in _rows(wb["methods"])}
    assert "fewer than 5 respondents" in methods["suppression", "rule"]
    assert r["suppressed"] == "primary"
