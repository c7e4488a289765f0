"""Public QR forms are a self-selected sample: counted apart, never filling a quota cell."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from sqlalchemy import select, update

from survey import db
from survey.cli.campaign_cmd import quotas
from survey.models import (
    Assignment,
    Form,
    FormStatus,
    Mode,
    RespondentGroup,
    Response,
    ResponseStatus,
    Role,
    Unit,
    utcnow,
)
from survey.models.quota import QuotaCell
from survey.services.campaigns import create_campaign_from_config
from survey.services.quota_reports import QUOTA_COLUMNS
from survey.services.quotas import cell_of_public_form, closed_units, quota_state
from survey.services.respondents import import_respondents
from survey.services.responding import SubmitOutcome, load_form, save_page, submit_form
from survey.services.staff import create_staff_user
from tests.conftest import csrf_from
from tests.survey.test_quotas import CONFIG as QUOTA_CONFIG
from tests.survey.test_quotas import _setup as setup_quota_campaign

ROOT = Path(__file__).resolve().parents[2]
TRAVINH = ROOT / "examples" / "campaigns" / "travinh-2023.yaml"
PASSWORD = "mật-khẩu-đủ-dài-2026"

# S01 closes when full (target 1); S02 does not.
CONFIG = (QUOTA_CONFIG.replace("code: Q-TEST", "code: PUB-TEST")
          .replace("count: 1, per: department}", "count: 1, per: department, close_when_full: true}"))
assert "PUB-TEST" in CONFIG and "close_when_full: true" in CONFIG

ANSWERS = {"lead_plan": "A", "lead_head": "B", "lead_innovation": "C", "proc_public": "A",
           "proc_ontime": "A", "egov_online": "B"}


def _setup(app, tmp_path: Path) -> int:
    return setup_quota_campaign(app, tmp_path, CONFIG)


def _public_form(campaign_id: int, unit: str, group_id: int | None = None,
                 questionnaire_version_id: int | None = None) -> int:
    """A form as a public QR visit makes it: no respondent, one assignment, opened."""
    with db.write_transaction() as s:
        sampled = s.scalars(select(Form).where(Form.campaign_id == campaign_id)
                            .order_by(Form.id)).first()
        assert sampled is not None
        unit_id = s.scalar(select(Unit.id).filter_by(campaign_id=campaign_id, code=unit))
        form = Form(campaign_id=campaign_id, respondent_id=None,
                    group_id=group_id or sampled.group_id,
                    questionnaire_version_id=questionnaire_version_id
                    or sampled.questionnaire_version_id,
                    mode=Mode.PUBLIC, status=FormStatus.OPENED, opened_at=utcnow())
        s.add(form)
        s.flush()
        s.add(Assignment(form_id=form.id, rated_unit_id=unit_id, cell_id=cell_of_public_form(
            s, campaign_id, form.group_id, form.questionnaire_version_id, unit_id)))
        return form.id


def _complete(form_ids: list[int]) -> None:
    """Every form answered in full, page by page, as a respondent saves it."""
    for form_id in form_ids:
        ctx = load_form(form_id)
        for page in range(len(ctx.questionnaire.sections)):
            ctx = save_page(ctx, page, {str(a.id): dict(ANSWERS) for a in ctx.assignments})
            assert ctx is not None


def _sampled_forms() -> dict[str, int]:
    return {f.respondent.external_id: f.id for f in db.session().scalars(
        select(Form).where(Form.mode != Mode.PUBLIC))}


def _counts(cell) -> tuple[int, ...]:
    return (cell.invited, cell.started, cell.completed, cell.valid, cell.over_quota,
            cell.public_started, cell.public_completed, cell.public_valid)


def test_public_forms_are_counted_apart_and_never_fill_a_cell(app, tmp_path):
    campaign_id = _setup(app, tmp_path)
    with app.app_context():
        public = [_public_form(campaign_id, "S01") for _ in range(4)]
        _complete(public[:3])  # the fourth is only opened
        # public submits go through the normal flow; the closing cell (target 1) stays open
        assert [submit_form(load_form(f)) for f in public[:2]] == [SubmitOutcome.SUBMITTED] * 2
        with db.write_transaction() as s:  # an integrity review excludes one of them
            first = s.scalar(select(Response.id).order_by(Response.id).limit(1))
            s.execute(update(Response).where(Response.id == first)
                      .values(status=ResponseStatus.EXCLUDED))
        state = quota_state(campaign_id)
        cells = {c.rated_unit: c for c in state.cells}
        # invited/started/completed/valid count the list only; public: 3 started, 2 in, 1 valid
        assert _counts(cells["S01"]) == (2, 0, 0, 0, 0, 3, 2, 1)
        assert not cells["S01"].full
        assert _counts(cells["S02"]) == (1, 0, 0, 0, 0, 0, 0, 0)
        total = state.total
        assert (total.invited, total.started, total.completed, total.valid, total.over_quota,
                total.public_started, total.public_completed, total.public_valid) \
            == (3, 0, 0, 0, 0, 3, 2, 1)
        assert state.by_group["dept_division_leader"] == total
        assert (state.by_unit["S01"].public_completed, state.by_unit["S02"].public_completed) \
            == (2, 0)

        # the sampled target is still free: the first sampled form fills it, the next is
        # turned away, and public forms neither count towards that nor change it
        s01 = db.session().scalar(select(Unit.id).filter_by(campaign_id=campaign_id,
                                                             code="S01"))
        group_id, version_id = db.session().execute(
            select(Form.group_id, Form.questionnaire_version_id)
            .where(Form.id == public[0])).one()
        assert closed_units(db.session(), campaign_id, group_id, version_id, [s01]) == set()
        db.session().rollback()
        sampled = _sampled_forms()
        _complete([sampled["A"], sampled["B"]])
        assert submit_form(load_form(sampled["A"])) is SubmitOutcome.SUBMITTED
        assert submit_form(load_form(sampled["B"])) is SubmitOutcome.QUOTA_FULL
        cell = next(c for c in quota_state(campaign_id).cells if c.rated_unit == "S01")
        assert _counts(cell) == (2, 2, 1, 1, 0, 3, 2, 1)
        assert cell.full


def test_public_forms_count_in_the_cell_without_a_source(app, tmp_path):
    """Trà Vinh: citizens' cells have no source; district leaders' department cells are per
    source district, so a public form (no respondent, no own unit) counts in the first."""
    listing = tmp_path / "list.csv"
    listing.write_text("external_id,full_name,group,unit,phone\n"
                       "B,Trần Văn Bình,district_division_leader,H-CANGLONG,0912345678\n",
                       encoding="utf-8")
    with app.app_context():
        campaign = create_campaign_from_config(TRAVINH)
        import_respondents("TVH-2023", listing)
        before = quota_state(campaign.id)
        s = db.session()
        leader_form = s.scalars(select(Form).order_by(Form.id)).first()
        assert leader_form is not None
        rated = s.scalar(select(Unit.code).join(Assignment, Assignment.rated_unit_id == Unit.id)
                         .where(Assignment.form_id == leader_form.id))
        per_source = [c for c in before.cells if c.rule == "tinh-lanh-dao-phong-huyen"
                      and c.rated_unit == rated]
        assert len(per_source) == 9
        citizen = next(c for c in before.cells if c.group == "citizen" and c.source_unit is None)
        group_id = s.scalar(select(RespondentGroup.id).filter_by(campaign_id=campaign.id,
                                                                code="citizen"))
        version_id = s.scalar(select(QuotaCell.questionnaire_version_id)
                              .where(QuotaCell.id == citizen.cell_id))
        _public_form(campaign.id, citizen.rated_unit, group_id, version_id)
        _public_form(campaign.id, rated, leader_form.group_id,
                     leader_form.questionnaire_version_id)
        _complete([f for f in db.session().scalars(select(Form.id).where(
            Form.mode == Mode.PUBLIC))])
        after = {c.cell_id: c for c in quota_state(campaign.id).cells}
        assert after[citizen.cell_id].public_started == 1
        assert after[citizen.cell_id].invited == citizen.invited == 0
        first = after[per_source[0].cell_id]
        assert (first.public_started, first.invited) == (1, per_source[0].invited)
        assert all(after[c.cell_id].public_started == 0 for c in per_source[1:])
        assert quota_state(campaign.id).total.invited == before.total.invited == 19


def test_cli_json_csv_table_and_staff_pages_show_public_columns(app, tmp_path):
    campaign_id = _setup(app, tmp_path)
    with app.app_context():
        public = _public_form(campaign_id, "S02")
        _complete([public])
        assert submit_form(load_form(public)) is SubmitOutcome.SUBMITTED
        create_staff_user("admin@pub.gov.vn", "Quản trị", PASSWORD, Role.ADMIN, ["99"])
    runner = app.test_cli_runner()
    data = json.loads(runner.invoke(quotas, ["--campaign", "PUB-TEST", "--format",
                                             "json"]).output)
    s02 = next(c for c in data["cells"] if c["rated_unit"] == "S02")
    assert (s02["completed"], s02["public_started"], s02["public_completed"],
            s02["public_valid"]) == (0, 1, 1, 1)
    assert data["total"]["public_completed"] == 1 and data["total"]["completed"] == 0
    assert data["by_unit"]["S02"]["public_valid"] == 1
    assert data["by_group"]["dept_division_leader"]["public_started"] == 1
    rows = list(csv.DictReader(io.StringIO(runner.invoke(
        quotas, ["--campaign", "PUB-TEST", "--format", "csv"]).output)))
    assert tuple(rows[0]) == QUOTA_COLUMNS
    assert [(r["rated_unit"], r["completed"], r["public_completed"]) for r in rows] \
        == [("S01", "0", "0"), ("S02", "0", "1")]
    table = runner.invoke(quotas, ["--campaign", "PUB-TEST", "--lang", "en"]).output
    assert "public_completed" in table.splitlines()[0]
    assert "TOTAL total: target 2, invited 3, started 0, completed 0, valid 0, over quota 0; " \
           "public QR: started 1, completed 1, valid 1" in table

    client = app.test_client()
    page = client.get("/manage/login").get_data(as_text=True)
    client.post("/manage/login", data={"email": "admin@pub.gov.vn", "password": PASSWORD,
                                       "csrf_token": csrf_from(page)})
    total = client.get("/manage/c/PUB-TEST/quotas.json").get_json()["total"]
    assert (total["completed"], total["public_completed"]) == (0, 1)
    body = client.get("/manage/c/PUB-TEST/?lang=en&unit=S02").get_data(as_text=True)
    assert 'data-k="public_completed">1<' in body
    assert "1 / 1 / 1" in body  # the S02 row: public started / completed / valid
    export = client.get("/manage/c/PUB-TEST/quotas.csv").get_data(as_text=True)
    header, *lines = list(csv.reader(io.StringIO(export.lstrip("\ufeff"))))
    assert header[-3:] == ["public_started", "public_completed", "public_valid"]
    s02_row = next(r for r in lines if r[header.index("rated_unit")] == "S02")
    assert s02_row[header.index("public_completed")] == "1"
    assert s02_row[header.index("completed")] == "0"
