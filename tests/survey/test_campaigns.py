"""Campaigns from YAML and respondent lists: the CLI and the services behind it."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest
from sqlalchemy import func, select

from survey import db
from survey.cli.campaign_cmd import campaign_group, respondents_group
from survey.models import (
    Assignment,
    Campaign,
    Form,
    QuestionnaireVersion,
    Respondent,
    RespondentGroup,
    Unit,
)
from survey.models.quota import QuotaCell
from survey.services.respondents import ListRejected, import_respondents

ROOT = Path(__file__).resolve().parents[2]
TRAVINH = ROOT / "examples" / "campaigns" / "travinh-2023.yaml"
TWO_TIER = ROOT / "examples" / "campaigns" / "example-two-tier-2026.yaml"
TABLES = (Campaign, Unit, RespondentGroup, QuotaCell, Respondent, Form, Assignment)


def _counts() -> dict[str, int]:
    s = db.session()
    return {t.__tablename__: s.scalar(select(func.count()).select_from(t)) for t in TABLES}


def _create(app, config: Path, lang: str = "vi"):
    return app.test_cli_runner().invoke(campaign_group, ["create", "--config", str(config),
                                                         "--lang", lang])


def _import(app, path: Path, code: str = "TVH-2023", lang: str = "vi"):
    return app.test_cli_runner().invoke(respondents_group,
                                        ["import", str(path), "--campaign", code, "--lang", lang])


def test_create_travinh_stores_the_plan_of_1278_forms_and_is_idempotent(app):
    first = _create(app, TRAVINH)
    assert first.exit_code == 0, first.output
    assert first.output.startswith("CAMPAIGN TVH-2023 ")
    with app.app_context():
        s = db.session()
        campaign = s.scalar(select(Campaign).filter_by(code="TVH-2023"))
        targets = dict(s.execute(
            select(QuotaCell.rule, func.sum(QuotaCell.target))
            .where(QuotaCell.campaign_id == campaign.id).group_by(QuotaCell.rule)).tuples().all())
        assert sum(targets.values()) == 1278
        assert targets["tinh-lanh-dao-phong-so"] + targets["tinh-lanh-dao-phong-huyen"] \
            + targets["tinh-nguoi-dan"] == 738
        assert targets["huyen-lanh-dao-phong"] + targets["huyen-lanh-dao-xa"] \
            + targets["huyen-nguoi-dan"] == 540
        assert targets["tinh-lanh-dao-phong-huyen"] == 324
        # 2 from each of 9 districts rate each of 18 departments: one cell per pair
        assert s.scalar(select(func.count()).select_from(QuotaCell).where(
            QuotaCell.rule == "tinh-lanh-dao-phong-huyen",
            QuotaCell.source_unit_id.is_not(None))) == 9 * 18
        dept = s.scalar(select(Unit).filter_by(campaign_id=campaign.id, code="S-NOIVU"))
        assert dept.parent.code == "84" and dept.level == "department"
        priorities = [g.code for g in s.scalars(select(RespondentGroup)
                                                .order_by(RespondentGroup.priority))]
        assert priorities == ["dept_division_leader", "district_division_leader",
                              "commune_leader", "citizen"]
        before = _counts()
        versions = s.scalar(select(func.count()).select_from(QuestionnaireVersion))
    second = _create(app, TRAVINH)
    assert second.exit_code == 0, second.output
    with app.app_context():
        assert _counts() == before
        assert db.session().scalar(
            select(func.count()).select_from(QuestionnaireVersion)) == versions


def test_bad_config_writes_nothing_and_prints_located_errors(app, tmp_path):
    text = TRAVINH.read_text(encoding="utf-8").replace(
        "questionnaires: [dept-division-rates-own-department]",
        "questionnaires: [no-such-questionnaire]").replace("    count: 20\n", "    count: -3\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text(text, encoding="utf-8")
    (tmp_path / "travinh-2023-units.csv").write_bytes(
        (TRAVINH.parent / "travinh-2023-units.csv").read_bytes())
    result, english = _create(app, bad), _create(app, bad, "en")
    assert result.exit_code == english.exit_code == 1
    lines = result.output.splitlines()
    unknown = [x for x in lines + english.output.splitlines() if "CFG-QUESTIONNAIRE-UNKNOWN" in x]
    assert len(unknown) == 2  # in Vietnamese (the default) and in English (--lang en)
    assert unknown[0].startswith(f"{bad}:") and "groups[0].questionnaires[0]" in unknown[0]
    assert "Cách sửa" in unknown[0] and "Fix:" in unknown[1]
    assert any("quotas[2].count" in x for x in lines)
    with app.app_context():
        assert set(_counts().values()) == {0}
        assert db.session().scalar(select(func.count()).select_from(QuestionnaireVersion)) == 0


def test_integrity_section_is_stored_and_a_bad_one_is_located(app, tmp_path):
    (tmp_path / "travinh-2023-units.csv").write_bytes(
        (TRAVINH.parent / "travinh-2023-units.csv").read_bytes())
    bad = tmp_path / "bad.yaml"
    bad.write_text(TRAVINH.read_text(encoding="utf-8").replace(
        "  burst_min_forms: 5\n", "  burst_min_forms: 0\n  burst_minutes: 30\n"),
        encoding="utf-8")
    result, english = _create(app, bad), _create(app, bad, "en")
    assert result.exit_code == english.exit_code == 1
    vi_lines = [x for x in result.output.splitlines() if "CFG-INTEGRITY" in x]
    en_lines = [x for x in english.output.splitlines() if "CFG-INTEGRITY" in x]
    assert len(vi_lines) == len(en_lines) == 2  # two problems, in Vietnamese and in English
    lines = [vi_lines[0], en_lines[0], vi_lines[1], en_lines[1]]
    line_no = next(i for i, x in enumerate(bad.read_text(encoding="utf-8").splitlines(), 1)
                   if x.startswith("  burst_min_forms:"))
    assert lines[0].startswith(f"{bad}:{line_no}: integrity.burst_min_forms:")
    assert "số nguyên từ 1 trở lên" in lines[0] and "whole number of at least 1" in lines[1]
    assert any("integrity.burst_minutes" in x and "not allowed here" in x for x in lines)
    with app.app_context():
        assert set(_counts().values()) == {0}
    assert _create(app, TRAVINH).exit_code == 0
    with app.app_context():
        campaign = db.session().scalar(select(Campaign).filter_by(code="TVH-2023"))
        assert campaign.integrity["burst_min_forms"] == 5
        assert campaign.integrity["speeder_fraction"] == 0.333


def test_a_failure_while_writing_leaves_no_half_campaign(app, monkeypatch):
    import survey.services.campaigns as campaigns

    def broken(*args: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(campaigns, "_store_cells", broken)
    with app.app_context(), pytest.raises(RuntimeError):
        campaigns.create_campaign_from_config(TRAVINH)
    with app.app_context():
        assert set(_counts().values()) == {0}


NFD_NAME = unicodedata.normalize("NFD", "Nguyễn Thị Hoà")


def _write_list(path: Path, rows: list[str]) -> Path:
    header = "external_id;full_name;group;unit;position;email;phone"
    path.write_bytes(("\ufeff" + "\r\n".join([header, *rows]) + "\r\n").encode("utf-8"))
    return path


GOOD_ROWS = [
    f"TV-0001;{NFD_NAME};dept_division_leader;S-NOIVU;Phó Trưởng phòng;hoa.nt@travinh.gov.vn;",
    "TV-0002;Trần Văn Bình;district_division_leader;H-CANGLONG;Trưởng phòng;;0912 345 678",
    "TV-0003;Lê Thị Cúc;citizen;S-TUPHAP;;;0987654321",
]


def test_import_creates_respondents_and_their_forms_and_reimport_changes_nothing(app, tmp_path):
    assert _create(app, TRAVINH).exit_code == 0
    listing = _write_list(tmp_path / "danh-sach.csv", GOOD_ROWS)
    result = _import(app, listing, lang="en")
    assert result.exit_code == 0, result.output
    assert "created 3, updated 0, unchanged 0" in result.output
    with app.app_context():
        s = db.session()
        hoa = s.scalar(select(Respondent).filter_by(external_id="TV-0001"))
        assert hoa.full_name == unicodedata.normalize("NFC", "Nguyễn Thị Hoà")
        binh = s.scalar(select(Respondent).filter_by(external_id="TV-0002"))
        assert binh.phone == "+84912345678"
        per_person: dict[str, dict[str, list[str]]] = {}
        for f in s.scalars(select(Form).order_by(Form.id)):
            per_person.setdefault(f.respondent.external_id, {}).setdefault(
                f.questionnaire_version.qid, []).extend(a.rated_unit.code for a in f.assignments)
        assert per_person["TV-0001"] == {"dept-division-rates-own-department": ["S-NOIVU"]}
        assert per_person["TV-0003"] == {"citizen-sipas": ["S-TUPHAP"]}
        # rates all 18 departments (one matrix form, as the paper grid) and its own district
        binh_forms = per_person["TV-0002"]
        assert len(binh_forms["district-division-rates-departments"]) == 18
        assert binh_forms["district-division-rates-own-district"] == ["H-CANGLONG"]
        assert s.scalar(select(func.count()).select_from(Form)) == 1 + 1 + 2
        before = _counts()
    again = _import(app, listing)
    assert again.exit_code == 0, again.output
    assert "tạo mới 0, cập nhật 0, không đổi 3; phiếu +0" in again.output
    with app.app_context():
        assert _counts() == before


def test_updated_list_updates_by_external_id_and_email(app, tmp_path):
    assert _create(app, TRAVINH).exit_code == 0
    with app.app_context():
        import_respondents("TVH-2023", _write_list(tmp_path / "v1.csv", GOOD_ROWS))
        changed = [
            GOOD_ROWS[0].replace("TV-0001", "TV-9001"),  # new id, same email
            GOOD_ROWS[1].replace("Trưởng phòng", "Phó Trưởng phòng"),
            # moved to another department: the unstarted form follows
            GOOD_ROWS[2].replace("S-TUPHAP", "S-NOIVU"),
        ]
        report = import_respondents("TVH-2023", _write_list(tmp_path / "v2.csv", changed))
        assert (report.created, report.updated, report.unchanged) == (0, 3, 0)
        assert (report.forms_created, report.forms_removed) == (1, 1)
        s = db.session()
        assert s.scalar(select(func.count()).select_from(Respondent)) == 3
        assert s.scalar(select(Respondent).filter_by(
            email="hoa.nt@travinh.gov.vn")).external_id == "TV-9001"
        cuc = s.scalar(select(Respondent).filter_by(external_id="TV-0003"))
        forms = s.scalars(select(Form).filter_by(respondent_id=cuc.id)).all()
        assert [a.rated_unit.code for f in forms for a in f.assignments] == ["S-NOIVU"]


def test_one_bad_row_imports_nothing_and_names_row_and_column(app, tmp_path):
    assert _create(app, TRAVINH).exit_code == 0
    rows = [*GOOD_ROWS, "TV-0004;Phạm Văn Dũng;citizen;S-KHONG-CO;;;0911111111"]
    path = _write_list(tmp_path / "bad.csv", rows)
    result, english = _import(app, path), _import(app, path, lang="en")
    assert result.exit_code == english.exit_code == 1
    lines = [x for x in (result.output + english.output).splitlines() if "LIST-UNIT-UNKNOWN" in x]
    assert lines[0].startswith("bad.csv, dòng 5, cột unit: ")
    assert lines[1].startswith("bad.csv, row 5, column unit: ")
    with app.app_context():
        assert _counts()["respondents"] == 0 and _counts()["forms"] == 0


def test_unit_no_quota_cell_takes_is_rejected_with_row_and_column(app, tmp_path):
    assert _create(app, TRAVINH).exit_code == 0
    # a department division leader listed at a district: no cell of that group is there
    rows = [*GOOD_ROWS, "TV-0004;Phạm Văn Dũng;dept_division_leader;H-CAUKE;;;0911111111"]
    with app.app_context(), pytest.raises(ListRejected) as caught:
        import_respondents("TVH-2023", _write_list(tmp_path / "lvl.csv", rows))
    (error,) = caught.value.errors
    assert (error.code, error.row, error.column) == ("LIST-UNIT-LEVEL", 5, "unit")
    with app.app_context():
        assert _counts()["respondents"] == 0


def test_matrix_questionnaire_is_one_form_with_an_assignment_per_rated_unit(app, tmp_path):
    assert _create(app, TWO_TIER).exit_code == 0
    rows = ["X-01;Đỗ Văn Em;commune_leader;X-TANLAP;Chủ tịch;em@example.vn;",
            "D-01;Vũ Thị Gấm;hdnd_delegate;99;Đại biểu;gam@example.vn;"]
    result = _import(app, _write_list(tmp_path / "xa.csv", rows), code="VIDU-2026")
    assert result.exit_code == 0, result.output
    with app.app_context():
        s = db.session()
        forms = s.scalars(select(Form)).all()
        assert len(forms) == 2
        assert all(len(f.assignments) == 6 for f in forms)  # six departments
        # the delegates' census now has a target: the one delegate listed, per department
        census = s.scalars(select(QuotaCell).filter_by(census=True)).all()
        assert len(census) == 6 and {c.target for c in census} == {1}


def test_template_lists_the_campaigns_groups(app, tmp_path):
    from openpyxl import load_workbook

    assert _create(app, TRAVINH).exit_code == 0
    out = tmp_path / "mau.xlsx"
    result = app.test_cli_runner().invoke(
        respondents_group, ["template", "--campaign", "TVH-2023", "--out", str(out)])
    assert result.exit_code == 0, result.output
    wb = load_workbook(out)
    codes = [row[0] for row in wb.worksheets[2].iter_rows(min_row=2, values_only=True) if row[0]]
    assert codes == ["dept_division_leader", "district_division_leader", "commune_leader",
                     "citizen"]
    missing = app.test_cli_runner().invoke(
        respondents_group, ["template", "--campaign", "NOPE", "--out", str(out)])
    assert missing.exit_code == 1 and "NOPE" in missing.output
