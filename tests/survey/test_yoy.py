"""Year on year in the web layer: predecessors and crosswalk stored with a campaign, the
comparison in the scores export, and the scores page."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from questionnaires import load_builtin_by_id
from sampling import CampaignInvalid, parse_campaign
from survey import db
from survey.models import Campaign, Role
from survey.services.responding import SubmitOutcome, load_form, save_page, submit_form
from survey.services.scores import default_scoring_config, export_scores, \
    load_campaign_questionnaires
from survey.services.staff import create_staff_user
from survey.services.yoy import COVERAGE_NOTE, continuation_record, year_on_year
from tests.survey.conftest import PASSWORD, login

QUESTIONNAIRE = load_builtin_by_id("dept-division-rates-own-department")
ITEMS = tuple(q.id for q in QUESTIONNAIRE.scored_questions)
N_SUBS = len({q.subcriterion for q in QUESTIONNAIRE.scored_questions})
SCORE = {"A": 1.0, "B": 0.6, "C": 0.2, "D": 0.0}

# Last year: S01 and S02 become this year's S01; S03 becomes S02.  This year's S03 is new.
BEFORE = [("S01", "A"), ("S01", "C"), ("S02", "B"), ("S02", "A"), ("S03", "D"), ("S03", "B")]
NOW = [("S01", "B"), ("S01", "B"), ("S02", "A"), ("S02", "C"), ("S03", "A"), ("S03", "B")]
LINKS = [{"campaign": "OLD-2024", "old": "S01", "new": "S01", "share": 1.0, "row": 2},
         {"campaign": "OLD-2024", "old": "S02", "new": "S01", "share": 1.0, "row": 3},
         {"campaign": "OLD-2024", "old": "S03", "new": "S02", "share": 1.0, "row": 4}]


@pytest.fixture(autouse=True)
def _publish_small_cells(app):
    app.config["SMALL_CELL_K"] = 1


def _submit(app, form_id: int, option: str) -> None:
    with app.app_context():
        ctx = load_form(form_id)
        key = str(ctx.assignments[0].id)
        for i in range(len(ctx.questionnaire.sections)):
            ctx = save_page(ctx, i, {key: dict.fromkeys(ITEMS, option)})
        assert submit_form(load_form(form_id)) is SubmitOutcome.SUBMITTED


@pytest.fixture
def pair(app, make_campaign, make_form) -> int:
    old = make_campaign(code="OLD-2024", departments=3)
    new = make_campaign(code="NEW-2025", departments=3)
    for campaign, plan, tag in ((old, BEFORE, "o"), (new, NOW, "n")):
        for n, (unit, option) in enumerate(plan):
            form_id, _ = make_form(units=(unit,), campaign=campaign, email=f"{tag}{n}@example.vn")
            _submit(app, form_id, option)
    with app.app_context(), db.write_transaction() as s:
        row = s.get(Campaign, new.id)
        row.continues = {"predecessors": ["OLD-2024"], "crosswalk_file": "cw.csv",
                         "links": LINKS}
    return new.id


def _mean(options: list[str]) -> float:
    return sum(SCORE[o] for o in options) / len(options)


def test_predecessor_scores_are_regrouped_under_the_new_units(app, pair):
    with app.app_context():
        config = default_scoring_config(load_campaign_questionnaires(pair))
        result = year_on_year(pair, config)
    assert result is not None and result.predecessors == ("OLD-2024",)
    rows = {r.unit: r for r in result.rows}
    s01 = rows["S01"].comparison
    # Census (weight 1): the pooled mean of the four old S01 and S02 answers, per sub-criterion.
    assert s01.previous.value == pytest.approx(N_SUBS * _mean(["A", "C", "B", "A"]))
    assert s01.current.value == pytest.approx(N_SUBS * _mean(["B", "B"]))
    assert s01.difference == pytest.approx(s01.current.value - s01.previous.value)
    assert s01.status == "compared" and s01.exceeds is not None
    assert rows["S01"].sources == ("OLD-2024:S01", "OLD-2024:S02")
    assert rows["S02"].comparison.previous.value == pytest.approx(N_SUBS * _mean(["D", "B"]))
    assert rows["S03"].comparison.status == "no_predecessor"
    assert rows["S03"].comparison.previous is None


def test_a_split_makes_the_comparison_partial(app, pair):
    with app.app_context(), db.write_transaction() as s:
        row = s.get(Campaign, pair)
        row.continues = {**row.continues, "links": LINKS[:2] + [
            {**LINKS[2], "share": 0.5}, {**LINKS[2], "new": "S03", "share": 0.5, "row": 5}]}
    with app.app_context():
        result = year_on_year(pair, default_scoring_config(load_campaign_questionnaires(pair)))
    rows = {r.unit: r.comparison for r in result.rows}
    assert rows["S02"].status == "partial" and rows["S03"].status == "partial"
    assert rows["S02"].notes == ("OLD-2024:S03 x0.5",)
    assert rows["S01"].status == "compared"


def test_the_scores_export_has_the_year_on_year_table(app, pair, tmp_path):
    with app.app_context():
        config = default_scoring_config(load_campaign_questionnaires(pair))
        (path,) = export_scores(pair, config, "json", tmp_path / "scores.json")
    tables = json.loads(path.read_text())
    data = tables["year_on_year"] if isinstance(tables, dict) else None
    assert data is not None, tables.keys()
    rows = {r["unit"]: r for r in data}
    assert rows["S01"]["previous_points"] == pytest.approx(N_SUBS * _mean(["A", "C", "B", "A"]))
    assert rows["S03"]["status"] == "no_predecessor"
    assert rows["S01"]["exceeds_uncertainty"] in ("yes", "no")


def test_the_scores_page_shows_last_year(app, pair, client):
    with app.app_context():
        create_staff_user("viewer@t.gov.vn", "Người xem", PASSWORD, Role.VIEWER, ["TST"])
    assert login(client, "viewer@t.gov.vn").status_code == 302
    page = client.get("/manage/c/NEW-2025/scores")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "OLD-2024" in html and 'data-yoy="S01"' in html


def test_the_notes_on_the_comparison_read_in_the_readers_language(app, pair, client):
    with app.app_context(), db.write_transaction() as s:   # a predecessor since deleted
        row = s.get(Campaign, pair)
        row.continues = {**row.continues, "predecessors": ["OLD-2024", "GONE-2023"]}
        create_staff_user("viewer@t.gov.vn", "Người xem", PASSWORD, Role.VIEWER, ["TST"])
    assert login(client, "viewer@t.gov.vn").status_code == 302
    vi = client.get("/manage/c/NEW-2025/scores").get_data(as_text=True)
    assert "Chưa có dữ liệu đợt trước GONE-2023." in vi
    assert "Predecessor GONE-2023 is not loaded." not in vi
    en = client.get("/manage/c/NEW-2025/scores?lang=en").get_data(as_text=True)
    assert "Predecessor GONE-2023 is not loaded." in en
    assert "Chưa có dữ liệu đợt trước" not in en


CAMPAIGN = {
    "version": 1, "code": "NEW-2025", "name": {"vi": "Đợt mới", "en": "New"},
    "province": "86", "year": 2025, "opens_at": "2025-10-01", "closes_at": "2025-12-31",
    "levels": [{"code": "province", "name": {"vi": "Tỉnh", "en": "Province"}},
               {"code": "department", "name": {"vi": "Sở", "en": "Department"},
                "parent": "province"}],
    "units": [{"code": "86", "level": "province", "name": {"vi": "Tỉnh Vĩnh Long", "en": "VL"}},
              {"code": "N1", "level": "department", "parent": "86",
               "name": {"vi": "Sở Một", "en": "One"}}],
    "groups": [{"code": "g", "name": {"vi": "Nhóm", "en": "Group"},
                "questionnaires": ["dept-division-rates-own-department"]}],
    "quotas": [{"group": "g", "questionnaire": "dept-division-rates-own-department",
                "count": 1, "per": "department"}],
    "predecessors": ["OLD-2024"], "crosswalk": "cw.csv",
}


def _config(tmp_path: Path, crosswalk: str):
    (tmp_path / "cw.csv").write_text(crosswalk, encoding="utf-8")
    text = yaml.safe_dump(CAMPAIGN, allow_unicode=True)
    return parse_campaign(text, file=str(tmp_path / "new.yaml"), base_dir=tmp_path)


def test_continuation_is_checked_against_the_predecessor_in_the_database(
        app, make_campaign, tmp_path):
    config = _config(tmp_path, "old_code,new_code,share\nS01,N1,\nS02,N1,0.9\nS03,N1,\n")
    with app.app_context():
        with pytest.raises(CampaignInvalid) as info:
            continuation_record(config)
        assert [(e.code, e.path) for e in info.value.errors] == [
            ("CFG-PREDECESSOR-UNKNOWN", "predecessors[0]")]
    make_campaign(code="OLD-2024", departments=3)
    with app.app_context():
        with pytest.raises(CampaignInvalid) as info:
            continuation_record(config)
        assert [(e.code, e.row, e.column) for e in info.value.errors] == [
            ("XW-SHARE-SUM", 3, "share")]
        assert info.value.errors[0].file.endswith("cw.csv")
        good = _config(tmp_path, "old_code,new_code,share\nS01,N1,\nS02,N1,\nS03,-,\n")
        record = continuation_record(good)
    assert record["predecessors"] == ["OLD-2024"]
    assert [(k["old"], k["new"]) for k in record["links"]] == [
        ("S01", "N1"), ("S02", "N1"), ("S03", "")]
    with app.app_context():
        assert db.session().scalar(select(Campaign).filter_by(code="OLD-2024")) is not None


EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "campaigns"


def seed_vinh_long(app, make_form):
    """Load the Trà Vinh 2023 and Vĩnh Long 2025 examples, both opened, with a few answers."""
    import datetime as dt

    from survey.models import Form, RespondentGroup, utcnow
    from survey.services.campaigns import create_campaign_from_config

    with app.app_context():
        with pytest.raises(CampaignInvalid):      # the predecessor must be loaded first
            create_campaign_from_config(EXAMPLES / "vinhlong-2025.yaml")
        tvh = create_campaign_from_config(EXAMPLES / "travinh-2023.yaml")
        vlg = create_campaign_from_config(EXAMPLES / "vinhlong-2025.yaml")
    with app.app_context(), db.write_transaction() as s:   # open both for the test answers
        for row in s.scalars(select(Campaign)):
            row.opens_at = utcnow() - dt.timedelta(days=1)
            row.closes_at = utcnow() + dt.timedelta(days=1)
    plan = [(tvh, "S-KHDT", "A"), (tvh, "S-TAICHINH", "C"), (tvh, "S-LDTBXH", "B"),
            (tvh, "S-LDTBXH", "D"), (vlg, "S-TAICHINH", "B"), (vlg, "S-YTE", "A"),
            (vlg, "S-DTTG", "C")]
    for n, (campaign, unit, option) in enumerate(plan):
        form_id, _ = make_form(units=(unit,), campaign=campaign, email=f"v{n}@example.vn")
        with app.app_context(), db.write_transaction() as s:   # the form's own group
            form = s.get(Form, form_id)
            form.group_id = s.scalar(select(RespondentGroup.id).filter_by(
                campaign_id=campaign.id, code="dept_division_leader"))
        _submit(app, form_id, option)
    return tvh, vlg


def test_the_vinh_long_example_continues_tra_vinh(app, make_form):
    from survey.services.scoring_config import scoring_for_campaign

    tvh, vlg = seed_vinh_long(app, make_form)
    with app.app_context():
        vlg = db.session().get(Campaign, vlg.id)
        assert vlg.continues["predecessors"] == ["TVH-2023"]
        assert len(vlg.continues["links"]) == 21
    with app.app_context():
        result = year_on_year(vlg.id, scoring_for_campaign(vlg.id).config)
    rows = {r.unit: r for r in result.rows}
    finance = rows["S-TAICHINH"].comparison
    assert rows["S-TAICHINH"].sources == ("TVH-2023:S-KHDT", "TVH-2023:S-TAICHINH")
    assert finance.previous.n == 2 and finance.current.n == 1
    # Only Trà Vinh of the three old provinces is a predecessor: every department is partial.
    assert finance.status == "partial"
    assert rows["S-TAICHINH"].partial_coverage and finance.notes == (COVERAGE_NOTE,)
    assert "TVH-2023:S-LDTBXH x0.3" in rows["S-YTE"].comparison.notes
    assert result.notes and "83, 84, 86" in result.notes[0].text()
    # Sở Dân tộc và Tôn giáo continues Ban Dân tộc and 10 % of Sở Nội vụ: no response there.
    assert rows["S-DTTG"].comparison.status == "no_predecessor"
