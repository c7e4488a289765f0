"""The campaign's scoring section, appraised points, SIPAS tables and the scores page."""

from __future__ import annotations

import io
import json
import textwrap
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import select

# The page's routes register on import; survey/manage/__init__.py imports the module too.
import survey.manage.scores  # noqa: F401
from analysis import NoSurvey, Pooling
from questionnaires import load_builtin_by_id
from survey import db
from survey.cli.scores_cmd import scores as scores_cli
from survey.i18n import translator
from survey.models import AuditEvent, Form, Response, ResponseStatus, Role
from survey.services.campaigns import create_campaign_from_config
from survey.services.respondents import import_respondents
from survey.services.responding import SubmitOutcome, load_form, save_page, submit_form
from survey.services.scores import AppraisedRejected, parse_appraised, score_campaign
from survey.services.scoring_config import ScoringConfigError, parse_scoring, scoring_for_campaign
from survey.services.staff import create_staff_user
from tests.survey.conftest import PASSWORD, login

@pytest.fixture(autouse=True)
def _publish_small_cells(app):
    """The hand-computed examples have two or three answers a cell: publish them here
    (small-cell suppression has its own test)."""
    app.config["SMALL_CELL_K"] = 1


ROOT = Path(__file__).resolve().parents[2]
TRAVINH = ROOT / "examples" / "campaigns" / "travinh-2023.yaml"
LEADER_Q = load_builtin_by_id("dept-division-rates-own-department")
CITIZEN_Q = load_builtin_by_id("citizen-sipas")

CONFIG = textwrap.dedent("""\
    version: 1
    code: SC-2026
    name: {vi: Thử điểm, en: Score test}
    province: "84"
    year: 2026
    opens_at: 2020-01-01
    closes_at: 2099-12-31
    levels:
      - {code: province, name: {vi: Tỉnh, en: Province}}
      - {code: department, name: {vi: Sở, en: Department}, parent: province}
    units:
      - {code: "84", level: province, name: {vi: Tỉnh, en: Province}}
      - {code: S01, level: department, parent: "84", name: {vi: Sở một, en: One}}
      - {code: S02, level: department, parent: "84", name: {vi: Sở hai, en: Two}}
      - {code: S03, level: department, parent: "84", name: {vi: Sở ba, en: Three}}
    groups:
      - code: dept_division_leader
        name: {vi: Lãnh đạo phòng, en: Division leaders}
        kind: department_division_leader
        unit_level: department
        questionnaires: [dept-division-rates-own-department]
      - code: citizen
        name: {vi: Người dân, en: Citizens}
        kind: citizen
        unit_level: department
        questionnaires: [citizen-sipas]
    quotas:
      - {group: dept_division_leader, questionnaire: dept-division-rates-own-department,
         count: 2, per: department}
      - {group: citizen, questionnaire: citizen-sipas, count: 2, per: department}
    scoring:
      max_points: 100
      survey_points: 20
      subcriteria:
        - {code: "1.1", max_points: 4}
        - {code: "3.1", max_points: 6, pooling: per_group, group_weights: {dept_division_leader: 1}}
        - {code: SIPAS, max_points: 10, from: [S1.1, S1.2]}
      bands:
        - {label: {vi: Tốt, en: Good}, min_pct: 80}
        - {label: {vi: Khá, en: Fair}, min_pct: 65}
        - {label: {vi: Trung bình, en: Average}, min_pct: 50}
        - {label: {vi: Yếu, en: Weak}, min_pct: 0}
    """)

LIST = ("external_id,full_name,group,unit,email\n"
        "L1,Nguyễn Văn An,dept_division_leader,S01,an@example.vn\n"
        "L2,Trần Thị Bích,dept_division_leader,S02,bich@example.vn\n"
        "L3,Lê Văn Cường,dept_division_leader,S01,cuong@example.vn\n"
        "C1,Phạm Thị Dung,citizen,S01,dung@example.vn\n"
        "C2,Võ Văn Em,citizen,S02,em@example.vn\n")

# lead_plan feeds 1.1, proc_public 3.1 (A 1.0, B 0.6, C 0.2); S1.1 / S1.2 are citizen items.
ANSWERS = {
    "L1": {"lead_plan": "A", "proc_public": "B"},
    "L2": {"lead_plan": "C", "proc_public": "A"},
    "L3": {"lead_plan": "D", "proc_public": "D"},  # excluded by integrity review below
    "C1": {"S1.1": "5", "S1.2": "4"},
    "C2": {"S1.1": "3", "S1.2": "2"},
}
# Survey points: S01 4 x 1.0 + 6 x 0.6 + 10 x (1 + 0.75) / 2 = 16.35;
#                S02 4 x 0.2 + 6 x 1.0 + 10 x (0.5 + 0.25) / 2 = 10.55 (of 20).
S01_POINTS, S02_POINTS = 16.35, 10.55


def _answers(q, wanted: dict[str, str]) -> dict[str, object]:
    """Every question answered: ``wanted`` by question id or sub-criterion code, else the first option
    (the lowest score for likert items)."""
    out: dict[str, object] = {}
    for question in q.questions():
        key = question.id if question.id in wanted else question.subcriterion
        if key in wanted:
            out[question.id] = wanted[key]
        elif question.type.value in ("single", "likert"):
            out[question.id] = question.options[0].code
        elif question.type.value == "multiple":
            out[question.id] = [question.options[-1].code]
        elif question.type.value == "integer":
            out[question.id] = "1"
        elif question.required:
            out[question.id] = "x"
    return out


def _seed(app, tmp_path: Path) -> int:
    config = tmp_path / "sc.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    listing = tmp_path / "list.csv"
    listing.write_text(LIST, encoding="utf-8")
    with app.app_context():
        campaign = create_campaign_from_config(config)
        import_respondents("SC-2026", listing)
        forms = {f.respondent.external_id: f.id for f in db.session().scalars(select(Form))}
        for person, wanted in ANSWERS.items():
            ctx = load_form(forms[person])
            key = str(ctx.assignments[0].id)
            answers = _answers(ctx.questionnaire, wanted)
            for i in range(len(ctx.questionnaire.sections)):
                ctx = save_page(ctx, i, {key: answers})
            assert submit_form(load_form(forms[person])) is SubmitOutcome.SUBMITTED, person
        with db.write_transaction() as s:
            # responses carry no form id: find L3's by its answers (the only D)
            (bad,) = [r for r in s.scalars(select(Response)) if r.answers.get("lead_plan") == "D"]
            bad.status = ResponseStatus.EXCLUDED
        create_staff_user("viewer@sc.gov.vn", "Người xem", PASSWORD, Role.VIEWER, ["84"])
        return campaign.id


@pytest.fixture
def seeded(app, tmp_path) -> int:
    return _seed(app, tmp_path)


# -- the scoring section ------------------------------------------------------------------

def _problems(raw) -> dict[str, str]:
    with pytest.raises(ScoringConfigError) as err:
        parse_scoring(raw, [LEADER_Q, CITIZEN_Q])
    vi = translator("vi")
    return {p.path: f"{p.message(vi)} / {p.message()}" for p in err.value.problems}


def test_scoring_section_errors_are_located_in_both_languages():
    found = _problems({
        "max_points": 3,  # the valid sub-criteria alone sum to 4
        "pooling": "sometimes",
        "subcriteria": [
            {"code": "1.1", "max_points": 2},
            {"code": "1.2", "max_points": 1},
            {"code": "3.1", "max_points": 2, "pooling": "per_group"},
            {"code": "3.3", "max_points": -1},
            {"code": "9.9", "max_points": 1},
            {"code": "1.1", "max_points": 1},
            {"code": "X", "max_points": 1, "from": ["S1.1", "S8.8"]},
            {"code": "7.1", "max_points": 1, "colour": "red"},
        ],
        "bands": [{"label": {"vi": "Tốt"}, "min_pct": 120}, {"min_pct": 50}],
        "no_survey": "sometimes",
        "dont_know_as_zero": "yes",
    })
    assert set(found) == {
        "scoring.pooling", "scoring.subcriteria[2].group_weights", "scoring.subcriteria[3].max_points",
        "scoring.subcriteria[4].code", "scoring.subcriteria[5].code", "scoring.subcriteria[6].from[1]",
        "scoring.subcriteria[7].colour", "scoring.bands[0].min_pct", "scoring.bands[1].label",
        "scoring.no_survey", "scoring.dont_know_as_zero", "scoring.max_points"}, found
    assert "điểm tối đa phải là số > 0 / max points must be a number > 0" == found[
        "scoring.subcriteria[3].max_points"]
    assert "'9.9'" in found["scoring.subcriteria[4].code"]
    assert "repeats subcriteria[0]" in found["scoring.subcriteria[5].code"]
    assert "smaller than the survey points" in found["scoring.max_points"]
    assert set(_problems({"subcriteria": [{"code": "1.1", "max_points": 2}], "survey_points": 3})) == {
        "scoring.survey_points"}
    assert set(_problems(["not", "a", "mapping"])) == {"scoring"}
    assert set(_problems({})) == {"scoring.subcriteria"}


def test_scoring_section_parses_points_pooling_bands_and_rules():
    parsed = parse_scoring({
        "max_points": 30, "dont_know_as_zero": True, "no_survey": "zero",
        "pooling": "per_group", "group_weights": {"dept_division_leader": 2, "citizen": 1},
        "subcriteria": [{"code": 1.1, "max_points": 2}, {"code": "3.1", "max_points": 3, "pooling": "pooled"},
                        {"code": "SIPAS", "max_points": 5, "from": ["S1.1", "S2.1"]}],
        "bands": [{"label": {"vi": "Yếu", "en": "Weak"}, "min_pct": 0},
                  {"label": {"vi": "Tốt", "en": "Good"}, "min_pct": 80}],
    }, [LEADER_Q, CITIZEN_Q])
    c = parsed.config
    assert (c.survey_max, c.appraised_max, c.total_max) == (10, 20, 30)
    assert c.dont_know_as_zero and c.no_survey is NoSurvey.ZERO
    subs = {s.code: s for s in c.sub_criteria}
    assert subs["1.1"].items == (f"{LEADER_Q.key}/lead_plan",)  # YAML's float 1.1 read as "1.1"
    assert subs["1.1"].pooling is Pooling.GROUP_WEIGHTED
    assert subs["1.1"].group_weights == {"dept_division_leader": 2.0, "citizen": 1.0}
    assert subs["3.1"].pooling is Pooling.POOLED and subs["3.1"].group_weights == {}
    assert len(subs["SIPAS"].items) == 2 and all(i.startswith("citizen-sipas@v1/") for i in subs["SIPAS"].items)
    assert [b.label for b in c.bands] == ["Tốt", "Yếu"]
    assert parsed.band_label("Tốt", "en") == "Good" and parsed.band_label("Tốt", "vi") == "Tốt"


def test_travinh_scoring_section_loads(app):
    with app.app_context():
        campaign = create_campaign_from_config(TRAVINH)
        parsed = scoring_for_campaign(campaign.id)
    c = parsed.config
    assert not parsed.default
    assert (c.survey_max, c.appraised_max, c.total_max) == (35, 65, 100)
    assert [b.label for b in c.bands] == ["Tốt", "Khá", "Trung bình", "Yếu"]
    assert [b.min_pct for b in c.bands] == [80, 65, 50, 0]
    subs = {s.code: s for s in c.sub_criteria}
    assert subs["SIPAS"].max_points == 10 and len(subs["SIPAS"].items) == 19
    assert subs["3.1"].pooling is Pooling.GROUP_WEIGHTED
    # 1.1 is asked of department leaders (about their department) and district leaders
    assert {i.split("/")[0] for i in subs["1.1"].items} == {
        "dept-division-rates-own-department@v1", "district-division-rates-own-district@v1"}


# -- scores, appraised points, SIPAS ------------------------------------------------------

def test_configured_campaign_scores_as_hand_computed(app, seeded):
    with app.app_context():
        config = scoring_for_campaign(seeded).config
        result = score_campaign(seeded, config)
    units = {u.unit: u for u in result.units}
    assert set(units) == {"S01", "S02", "S03"}  # every rated unit; L3's response is excluded
    assert not units["S03"].has_survey and units["S03"].rank is None  # no survey, nothing to rank on
    assert units["S01"].points.value == pytest.approx(S01_POINTS)
    assert units["S02"].points.value == pytest.approx(S02_POINTS)
    assert (units["S01"].rank, units["S02"].rank) == (1, 2)
    assert units["S01"].responses == 2  # one leader, one citizen
    assert units["S01"].survey_band == "Tốt" and units["S02"].survey_band == "Trung bình"  # 81.75 / 52.75 %
    sipas = {(r.unit, r.kind, r.code): r.estimate for r in result.sipas}
    # S01: S1.1 and S1.2 satisfied, S1.3 and S1.4 "very dissatisfied"; elements 2..5 all unsatisfied
    assert sipas["S01", "item", "S1.1"].value == 1.0 and sipas["S01", "item", "S1.3"].value == 0.0
    assert sipas["S01", "element", "S1"].value == pytest.approx(0.5)
    assert sipas["S01", "overall", "SIPAS"].value == pytest.approx(0.1)
    assert sipas["S02", "element", "S1"].value == pytest.approx(0.0)  # neutral / dissatisfied
    assert sipas["S01", "item", "S1.1"].n == 1


def _xlsx(rows) -> bytes:
    wb = Workbook()
    for row in rows:
        wb.active.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


APPRAISED = [("unit", "appraised_points", "max_appraised_points"),
             ("S01", 60, 80), ("S02", 75, 80), ("S03", 50, 80)]


def test_appraised_points_change_index_ranks_and_bands(app, seeded, tmp_path):
    path = tmp_path / "appraised.xlsx"
    path.write_bytes(_xlsx(APPRAISED))
    out = tmp_path / "scores.json"
    result = app.test_cli_runner().invoke(scores_cli, [
        "--campaign", "SC-2026", "--format", "json", "--out", str(out), "--appraised", str(path)])
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text(encoding="utf-8"))
    units = {u["unit"]: u for u in doc["units"]}
    # (60 + 16.35) / 100 = 76.35 % (Khá); (75 + 10.55) / 100 = 85.55 % (Tốt);
    # S03 has no survey: 50 / 80 rescaled = 62.5 %, rank 3, in the export as "no survey".
    assert units["S01"]["index_pct"] == pytest.approx(76.35)
    assert units["S02"]["index_pct"] == pytest.approx(85.55)
    assert (units["S02"]["rank"], units["S01"]["rank"]) == (1, 2)  # flipped by the appraisal
    assert (units["S02"]["band"], units["S01"]["band"]) == ("Tốt", "Khá")
    assert units["S01"]["appraised_points"] == 60
    assert [u["unit"] for u in doc["units"]] == ["S02", "S01", "S03"]
    assert [u["rank"] for u in doc["units"]] == [1, 2, 3]  # ranks start at 1
    assert units["S03"]["survey"] == "no survey" and units["S03"]["index_pct"] == pytest.approx(62.5)
    assert units["S03"]["appraised_points"] == 50 and units["S03"]["survey_points"] is None
    assert {r["code"] for r in doc["sipas"] if r["kind"] == "element"} == {"S1", "S2", "S3", "S4", "S5"}
    assert list(doc) == ["scores", "units", "items", "sipas", "methods"]


def test_appraised_file_errors_are_located_and_nothing_is_written(app, seeded, tmp_path):
    path = tmp_path / "appraised.csv"
    path.write_text("unit;appraised_points;max_appraised_points\n"
                    "S01;60;80\nS09;70;80\nS02;90;80\nS01;61;80\n", encoding="utf-8")
    out = tmp_path / "scores.xlsx"
    result = app.test_cli_runner().invoke(scores_cli, [
        "--campaign", "SC-2026", "--format", "xlsx", "--out", str(out), "--appraised", str(path)])
    assert result.exit_code == 1
    assert ("appraised.csv, dòng 3, cột unit: [APPRAISED-UNIT-UNKNOWN] Đơn vị 'S09' không thuộc "
            "chiến dịch.") in result.output
    assert "dòng 4, cột appraised_points" in result.output
    assert "dòng 5, cột unit" in result.output and "trùng với dòng 2" in result.output
    assert not out.exists()
    with app.app_context():
        config = scoring_for_campaign(seeded).config
    with pytest.raises(AppraisedRejected) as err:  # max differs from the section's 100 - 20
        parse_appraised("a.csv", b"unit,appraised_points,max_appraised_points\nS01,5,70\n", ["S01"], config)
    assert [(p.row, p.column) for p in err.value.problems] == [(None, "max_appraised_points")]
    with pytest.raises(AppraisedRejected) as err:  # a surveyed unit without appraised points
        parse_appraised("a.csv", b"unit,appraised_points,max_appraised_points\nS01,5,80\n",
                        ["S01", "S02"], config, ["S01", "S02"])
    assert "'S02'" in str(err.value)
    with pytest.raises(AppraisedRejected) as err:
        parse_appraised("a.csv", b"unit,points\nS01,5\n", ["S01"], config)
    assert {p.column for p in err.value.problems} == {"appraised_points", "max_appraised_points"}


def test_csv_export_writes_a_sipas_table_beside_the_scores(app, seeded, tmp_path):
    out = tmp_path / "scores.zip"
    result = app.test_cli_runner().invoke(scores_cli, [
        "--campaign", "SC-2026", "--format", "csv", "--out", str(out)])
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(out) as zf:
        text = zf.read("sipas.csv").decode("utf-8-sig")
    assert text.startswith("unit,level,kind,code,satisfied,se,ci_low,ci_high,n,n_eff")
    assert "S01,department,overall,SIPAS,0.1," in text


# -- the page -----------------------------------------------------------------------------

def test_page_ranks_units_with_the_numbers_of_score_campaign(app, seeded):
    with app.app_context():
        result = score_campaign(seeded, scoring_for_campaign(seeded).config)
    client = app.test_client()
    assert login(client, "viewer@sc.gov.vn").status_code == 302
    r = client.get("/manage/c/SC-2026/scores")
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    assert page.index('data-unit="S01"') < page.index('data-unit="S02"')  # ranked by survey points
    assert 'data-unit="S03"' not in page  # no survey: no bar, no row in the survey ranking
    for u in (u for u in result.units if u.has_survey):
        row = page[page.index(f'data-unit="{u.unit}"'):]
        row = row[:row.index("</tr>")]
        assert f">{u.points.value:.2f}<" in row
        assert f">{u.points.se:.3f}<" in row
        assert f"{u.points.ci_low:.2f} – {u.points.ci_high:.2f}" in row
        assert f'data-k="n">{u.responses}<' in row
    assert 'data-k="band">Tốt<' in page and 'data-k="band">Trung bình<' in page
    assert "<svg" in page and "<script" not in page.split("<svg", 1)[1].split("</svg>", 1)[0]
    assert " style=" not in page
    assert page.count("<circle") == 2  # one point (forest plot) per unit with survey answers
    assert "/manage/c/SC-2026/scores.xlsx" in page and "/manage/c/SC-2026/scores.json" in page
    assert "SIPAS" in page
    english = client.get("/manage/c/SC-2026/scores?lang=en").get_data(as_text=True)
    assert 'data-k="band">Good<' in english


def test_download_is_audited(app, seeded):
    client = app.test_client()
    login(client, "viewer@sc.gov.vn")
    x = client.get("/manage/c/SC-2026/scores.xlsx")
    assert x.status_code == 200 and "attachment" in x.headers["Content-Disposition"]
    wb = load_workbook(io.BytesIO(x.data))
    assert wb.sheetnames == ["scores", "units", "items", "sipas", "methods"]
    doc = client.get("/manage/c/SC-2026/scores.json").get_json()
    assert [u["unit"] for u in doc["units"]] == ["S01", "S02", "S03"]
    csv = client.get("/manage/c/SC-2026/scores.csv")
    assert 'filename="scores-SC-2026.zip"' in csv.headers["Content-Disposition"]
    with zipfile.ZipFile(io.BytesIO(csv.data)) as zf:
        assert zf.read("units.csv").startswith(b"\xef\xbb\xbfunit,name,level,responses,survey,survey_points")
        assert {"methods.csv", "codebook.csv"} <= set(zf.namelist())
    assert client.get("/manage/c/SC-2026/scores.sav").status_code == 404
    with app.app_context():
        events = db.session().scalars(select(AuditEvent).where(AuditEvent.action == "export.scores")
                                      .order_by(AuditEvent.id)).all()
    assert [e.detail["format"] for e in events] == ["xlsx", "json", "csv"]
    assert all(e.actor_email == "viewer@sc.gov.vn" and e.object_id == "SC-2026" and e.province_code == "84"
               for e in events)


def test_invalid_scoring_section_is_shown_not_a_500(app, seeded):
    with app.app_context(), db.write_transaction() as s:
        from survey.models import Campaign

        campaign = s.get(Campaign, seeded)
        campaign.scoring = {"subcriteria": [{"code": "9.9", "max_points": 1}]}
    client = app.test_client()
    login(client, "viewer@sc.gov.vn")
    r = client.get("/manage/c/SC-2026/scores")
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    assert "scoring.subcriteria[0].code: [CFG-SCORING] không phiếu nào của chiến dịch có câu hỏi cho mã" in page
    assert "no questionnaire of the campaign" not in page
    english = client.get("/manage/c/SC-2026/scores?lang=en").get_data(as_text=True)
    assert "[CFG-SCORING] no questionnaire of the campaign has questions for code" in english
    assert "không phiếu nào" not in english
    assert client.get("/manage/c/SC-2026/scores.csv").status_code == 422
    cli = app.test_cli_runner().invoke(scores_cli, ["--campaign", "SC-2026", "--format", "json", "--out",
                                                    "x.json", "--lang", "en"])
    assert cli.exit_code == 1
    assert cli.output.startswith("The campaign's scoring section is invalid.\n  scoring.subcriteria[0].code: "
                                 "[CFG-SCORING] no questionnaire of the campaign has questions for code '9.9'")


@pytest.mark.parametrize("role", [Role.CONTRACTOR, Role.FOCAL_POINT])
def test_contractor_and_focal_point_are_refused(app, seeded, role):
    with app.app_context():
        create_staff_user(f"{role.value}@sc.gov.vn", "Cán bộ", PASSWORD, role, ["84"],
                          agency_code="S01" if role is Role.FOCAL_POINT else None)
    client = app.test_client()
    login(client, f"{role.value}@sc.gov.vn")
    assert client.get("/manage/c/SC-2026/scores").status_code == 403
    assert client.get("/manage/c/SC-2026/scores.csv").status_code == 403
