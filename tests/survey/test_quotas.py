"""Quota progress: targets against invitations, starts and responses."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import event, select, update

from survey import db
from survey.cli.campaign_cmd import quotas
from survey.models import Form, Response, ResponseStatus
from survey.services.campaigns import create_campaign_from_config
from survey.services.quotas import quota_state
from survey.services.respondents import import_respondents
from survey.services.responding import SubmitOutcome, load_form, save_page, submit_form

ROOT = Path(__file__).resolve().parents[2]
TRAVINH = ROOT / "examples" / "campaigns" / "travinh-2023.yaml"

CONFIG = """\
version: 1
code: Q-TEST
name: {vi: Thử chỉ tiêu, en: Quota test}
province: "99"
year: 2026
opens_at: 2020-01-01
closes_at: 2099-12-31
levels:
  - {code: province, name: {vi: Tỉnh, en: Province}}
  - {code: department, name: {vi: Sở, en: Department}, parent: province}
units:
  - {code: "99", level: province, name: {vi: Tỉnh thử, en: Test province}}
  - {code: S01, level: department, parent: "99", name: {vi: Sở một, en: Department one}}
  - {code: S02, level: department, parent: "99", name: {vi: Sở hai, en: Department two}}
groups:
  - code: dept_division_leader
    name: {vi: Lãnh đạo phòng thuộc sở, en: Department division leaders}
    kind: department_division_leader
    unit_level: department
    questionnaires: [dept-division-rates-own-department]
quotas:
  - {group: dept_division_leader, questionnaire: dept-division-rates-own-department,
     count: 1, per: department}
"""

LIST = ("external_id,full_name,group,unit,email\n"
        "A,Nguyễn Văn An,dept_division_leader,S01,an@example.vn\n"
        "B,Trần Thị Bích,dept_division_leader,S01,bich@example.vn\n"
        "C,Lê Văn Cường,dept_division_leader,S02,cuong@example.vn\n")

ANSWERS = {"lead_plan": "A", "lead_head": "B", "lead_innovation": "C", "proc_public": "A",
           "proc_ontime": "A", "egov_online": "B"}


def _submit(form_id: int) -> None:
    ctx = load_form(form_id)
    key = str(ctx.assignments[0].id)
    for i in range(len(ctx.questionnaire.sections)):
        ctx = save_page(ctx, i, {key: ANSWERS})
    assert submit_form(load_form(form_id)) is SubmitOutcome.SUBMITTED


def _setup(app, tmp_path: Path, config_text: str = CONFIG) -> int:
    """The campaign of ``config_text`` with LIST imported; its id."""
    config = tmp_path / "q.yaml"
    config.write_text(config_text, encoding="utf-8")
    listing = tmp_path / "list.csv"
    listing.write_text(LIST, encoding="utf-8")
    with app.app_context():
        campaign = create_campaign_from_config(config)
        import_respondents(campaign.code, listing)
        return campaign.id


def test_state_counts_invited_started_completed_valid_and_over_quota(app, tmp_path):
    campaign_id = _setup(app, tmp_path)
    with app.app_context():
        s = db.session()
        forms = {f.respondent.external_id: f.id for f in s.scalars(select(Form))}
        _submit(forms["A"])
        _submit(forms["B"])
        ctx = load_form(forms["C"])
        save_page(ctx, 0, {str(ctx.assignments[0].id): ANSWERS})  # started, not submitted

        state = quota_state(campaign_id)
        cells = {c.rated_unit: c for c in state.cells}
        s01, s02 = cells["S01"], cells["S02"]
        assert (s01.target, s01.invited, s01.started, s01.completed, s01.valid) == (1, 2, 2, 2, 2)
        assert s01.over_quota == 1 and s01.full and not s01.close_when_full
        assert (s02.target, s02.invited, s02.started, s02.completed, s02.over_quota) \
            == (1, 1, 1, 0, 0)
        total = state.total
        assert (total.target, total.invited, total.started, total.completed, total.valid,
                total.over_quota) == (2, 3, 3, 2, 2, 1)
        assert state.by_group["dept_division_leader"] == total
        assert state.by_unit["S01"].completed == 2 and state.by_unit["S02"].invited == 1

        # an integrity review excludes one response: still completed, no longer valid
        with db.write_transaction() as s:
            first = s.scalar(select(Response.id).order_by(Response.id).limit(1))
            s.execute(update(Response).where(Response.id == first)
                      .values(status=ResponseStatus.EXCLUDED))
        s01 = next(c for c in quota_state(campaign_id).cells if c.rated_unit == "S01")
        assert (s01.completed, s01.valid) == (2, 1)


def test_state_takes_a_fixed_number_of_queries(app, tmp_path):
    campaign_id = _setup(app, tmp_path)
    with app.app_context():
        for f in db.session().scalars(select(Form.id)).all():
            _submit(f)
        statements: list[str] = []

        def count(*args: object) -> None:
            statements.append(str(args[2]))

        engine = app.extensions["db_engine"]
        event.listen(engine, "before_cursor_execute", count)
        try:
            state = quota_state(campaign_id)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        assert state.total.completed == 3
        selects = [x for x in statements if x.lstrip().upper().startswith("SELECT")]
        assert len(selects) <= 2, selects  # the cells (with their counts), the responses


def test_travinh_plan_state_and_per_source_invitations(app, tmp_path):
    listing = tmp_path / "list.csv"
    listing.write_text("external_id,full_name,group,unit,phone\n"
                       "B,Trần Văn Bình,district_division_leader,H-CANGLONG,0912345678\n",
                       encoding="utf-8")
    with app.app_context():
        campaign = create_campaign_from_config(TRAVINH)
        import_respondents("TVH-2023", listing)
        state = quota_state(campaign.id)
    assert state.total.target == 1278 and state.total.unknown_targets == 0
    assert state.by_group["citizen"].target == 360 + 270
    assert state.total.invited == 19
    rating = [c for c in state.cells if c.rule == "tinh-lanh-dao-phong-huyen"]
    assert {c.source_unit for c in rating if c.invited} == {"H-CANGLONG"}
    assert sum(c.invited for c in rating) == 18
    own = next(c for c in state.cells
               if c.rule == "huyen-lanh-dao-phong" and c.rated_unit == "H-CANGLONG")
    assert (own.target, own.invited) == (26, 1)


def test_cli_quotas_formats(app, tmp_path):
    _setup(app, tmp_path)
    runner = app.test_cli_runner()
    as_json = runner.invoke(quotas, ["--campaign", "Q-TEST", "--format", "json"])
    assert as_json.exit_code == 0, as_json.output
    data = json.loads(as_json.output)
    assert data["total"]["target"] == 2 and data["total"]["invited"] == 3
    assert [c["rated_unit"] for c in data["cells"]] == ["S01", "S02"]
    as_csv = runner.invoke(quotas, ["--campaign", "Q-TEST", "--format", "csv"])
    assert as_csv.output.splitlines()[1].startswith("dept_division_leader,"
                                                    "dept-division-rates-own-department,S01,,")
    table = runner.invoke(quotas, ["--campaign", "Q-TEST"])
    assert "TỔNG toàn đợt: chỉ tiêu 2, đã mời 3" in table.output  # Vietnamese by default
    missing = runner.invoke(quotas, ["--campaign", "NOPE"])
    assert missing.exit_code == 1
