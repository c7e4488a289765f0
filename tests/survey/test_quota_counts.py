"""Quota cells keep their own form counts: whatever happens to forms, they equal a recount.

Quota state reads each cell's stored counts (invited, started, public started) instead of
counting every form. These tests change forms through every service that does so and check,
after each change, that recounting from scratch (:func:`refresh_quota_counts`, the same work
the import and migration 0011 do) moves nothing and changes no figure.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import threading
from pathlib import Path

import pytest
from sqlalchemy import select, update

from survey import db
from survey.models import Assignment, CampaignStatus, Form, Respondent, utcnow
from survey.models.quota import QuotaCell
from survey.services.campaigns import create_campaign_from_config, find_campaign
from survey.services.console import move_deadline, reopen_form, set_campaign_status
from survey.services.paradata import ClientInfo, PageTiming
from survey.services.public import Visitor, create_public_links, public_code, start_public_form
from survey.services.quotas import quota_state, refresh_quota_counts
from survey.services.respondents import import_respondents
from survey.services.responding import (
    SubmitOutcome,
    load_form,
    record_open,
    save_page,
    submit_form,
)
from tests.conftest import run_threads
from tests.survey.test_quotas import _setup as setup_small_campaign

ROOT = Path(__file__).resolve().parents[2]
TRAVINH = ROOT / "examples" / "campaigns" / "travinh-2023.yaml"
TWO_TIER = ROOT / "examples" / "campaigns" / "example-two-tier-2026.yaml"
MIGRATION = ROOT / "migrations" / "versions" / "0011_quota_counts.py"
HEADER = "external_id,full_name,group,unit,email\n"
PEOPLE = {  # district division leaders fill a matrix form over 18 per-source cells
    "B1": "Trần Văn Bình,district_division_leader,H-CANGLONG,b1@example.vn",
    "B2": "Lê Thị Bảo,district_division_leader,H-CANGLONG,b2@example.vn",
    "B3": "Phạm Văn Ba,district_division_leader,H-CAUKE,b3@example.vn",
    "D1": "Nguyễn Thị Dung,dept_division_leader,S-NOIVU,d1@example.vn",
}


def _open_fieldwork(code: str) -> int:
    """The (2023) campaign opened for fieldwork now, as the contractor would; its id."""
    campaign = find_campaign(code)
    set_campaign_status(campaign, CampaignStatus.OPEN)
    move_deadline(campaign, utcnow() + dt.timedelta(days=30))
    return campaign.id


def _import(tmp_path: Path, people: dict[str, str]) -> None:
    listing = tmp_path / "list.csv"
    listing.write_text(HEADER + "".join(f"{k},{v}\n" for k, v in people.items()),
                       encoding="utf-8")
    import_respondents("TVH-2023", listing)


def _forms_of(external_id: str) -> list[int]:
    return list(db.session().scalars(
        select(Form.id).join(Respondent, Respondent.id == Form.respondent_id)
        .where(Respondent.external_id == external_id).order_by(Form.id)))


def _answer_everything(form_id: int, web: bool = False) -> None:
    """Every page of the form saved with the first option of each question; ``web``: as the
    respondent's pages do it, after opening the link (paradata and page times recorded,
    which on PostgreSQL saves each page in one statement)."""
    if web:
        with db.write_transaction() as s:
            record_open(s, form_id, ClientInfo(network_hash=3, device_hash=4), utcnow())
    ctx = load_form(form_id)
    for page, section in enumerate(ctx.questionnaire.sections):
        picks = {q.id: q.options[0].code for q in section.questions if q.options}
        ctx = save_page(ctx, page, {str(a.id): dict(picks) for a in ctx.assignments},
                        PageTiming(20.0, ClientInfo()) if web else None)
        assert ctx is not None


def _assert_counts_hold(campaign_id: int) -> None:
    """The stored counts are what a recount from scratch finds."""
    before = quota_state(campaign_id)
    assert refresh_quota_counts(campaign_id) == 0  # every assignment already in its cell
    assert quota_state(campaign_id) == before


def _cell(campaign_id: int, rule: str, rated: str, source: str | None = None):
    return next(c for c in quota_state(campaign_id).cells
                if c.rule == rule and c.rated_unit == rated and c.source_unit == source)


def test_counts_equal_a_recount_through_imports_saves_submits_reopens_and_public_forms(
        app, tmp_path):
    with app.app_context():
        create_campaign_from_config(TRAVINH)
        cid = _open_fieldwork("TVH-2023")
        _import(tmp_path, PEOPLE)
        _assert_counts_hold(cid)
        rates_departments = ("tinh-lanh-dao-phong-huyen", "S-NOIVU")
        assert _cell(cid, *rates_departments, "H-CANGLONG").invited == 2
        assert _cell(cid, *rates_departments, "H-CAUKE").invited == 1

        # B1's form rating S-NOIVU saved twice: one more started form in its source's cell
        noivu = next(f for f in _forms_of("B1")
                     if load_form(f).assignments[0].rated_unit.code == "S-NOIVU")
        for timing in (None, PageTiming(9.0, ClientInfo())):  # (then with paradata)
            ctx = load_form(noivu)
            assert save_page(ctx, 0, {str(a.id): {} for a in ctx.assignments}, timing)
        assert _cell(cid, *rates_departments, "H-CANGLONG").started == 1
        assert _cell(cid, *rates_departments, "H-CAUKE").started == 0
        _assert_counts_hold(cid)

        # D1 answers and submits; then the contractor reopens the form
        (own,) = _forms_of("D1")
        _answer_everything(own, web=True)
        assert submit_form(load_form(own)) is SubmitOutcome.SUBMITTED
        d1_cell = _cell(cid, "tinh-lanh-dao-phong-so", "S-NOIVU")
        assert (d1_cell.invited, d1_cell.started, d1_cell.completed) == (1, 1, 1)
        _assert_counts_hold(cid)
        assert reopen_form(find_campaign("TVH-2023"), own, "người trả lời xin sửa") == 1
        _assert_counts_hold(cid)

        # a citizen scans a poster and saves a page: counted apart, never invited
        (link,) = create_public_links(find_campaign("TVH-2023"), "citizen", ["S-NOIVU"])
        with app.test_request_context():
            started = start_public_form(public_code(link), ClientInfo(network_hash=7,
                                                                      device_hash=8),
                                        Visitor(browser="b1"))
        assert started.form_id is not None
        ctx = load_form(started.form_id)
        assert save_page(ctx, 0, {str(ctx.assignments[0].id): {}}, PageTiming(4.0, ClientInfo()))
        citizens = _cell(cid, "tinh-nguoi-dan", "S-NOIVU")
        assert (citizens.invited, citizens.started, citizens.public_started) == (0, 0, 1)
        _assert_counts_hold(cid)

        # B1 moves to Cầu Kè on the updated list: the begun matrix form counts there now
        _import(tmp_path, {**PEOPLE, "B1": PEOPLE["B1"].replace("H-CANGLONG", "H-CAUKE")})
        assert _cell(cid, *rates_departments, "H-CANGLONG").invited == 1
        assert _cell(cid, *rates_departments, "H-CAUKE").invited == 2
        assert _cell(cid, *rates_departments, "H-CAUKE").started == 1
        _assert_counts_hold(cid)

        # the campaign file loaded again changes no cell and moves nothing
        create_campaign_from_config(TRAVINH)
        _assert_counts_hold(cid)


def test_a_matrix_form_begun_counts_once_in_each_of_its_cells(app, tmp_path):
    with app.app_context():
        campaign = create_campaign_from_config(TWO_TIER)
        listing = tmp_path / "delegates.csv"
        listing.write_text(HEADER + "H1,Đỗ Văn Hùng,hdnd_delegate,99,h1@example.vn\n"
                           "H2,Vũ Thị Hoa,hdnd_delegate,99,h2@example.vn\n", encoding="utf-8")
        import_respondents(campaign.code, listing)
        (form_id,) = _forms_of("H1")
        ctx = load_form(form_id)
        assert len(ctx.assignments) > 1 and len({a.cell_id for a in ctx.assignments}) \
            == len(ctx.assignments)
        for _ in range(2):
            ctx = load_form(form_id)
            assert save_page(ctx, 0, {str(a.id): {} for a in ctx.assignments})
        delegates = [c for c in quota_state(campaign.id).cells if c.group == "hdnd_delegate"]
        assert len(delegates) == len(ctx.assignments)
        assert {(c.target, c.invited, c.started) for c in delegates} == {(2, 2, 1)}
        _assert_counts_hold(campaign.id)


def test_a_recount_repairs_counts_and_cells_written_by_hand(app, tmp_path):
    campaign_id = setup_small_campaign(app, tmp_path)
    with app.app_context():
        expected = quota_state(campaign_id)
        with db.write_transaction() as s:  # e.g. rows restored from elsewhere
            s.execute(update(Assignment).values(cell_id=None))
            s.execute(update(QuotaCell).values(invited=0, started=5))
        assert quota_state(campaign_id).total.invited == 0
        assert refresh_quota_counts(campaign_id) == 3
        assert quota_state(campaign_id) == expected


def test_migration_0011_backfills_what_the_services_keep(app, tmp_path):
    with app.app_context():
        campaign = create_campaign_from_config(TRAVINH)
        _open_fieldwork("TVH-2023")
        _import(tmp_path, PEOPLE)
        (own,) = _forms_of("D1")
        _answer_everything(own, web=True)
        expected = quota_state(campaign.id)
        spec = importlib.util.spec_from_file_location("migration_0011", MIGRATION)
        assert spec is not None and spec.loader is not None
        migration = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(migration)
        with db.write_transaction() as s:  # as the rows stood before 0011
            s.execute(update(Assignment).values(cell_id=None))
            s.execute(update(QuotaCell).values(invited=0, started=0, public_started=0))
            migration._backfill(s.connection())
        assert quota_state(campaign.id) == expected


def test_concurrent_first_saves_of_one_form_count_it_once(app, tmp_path, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("concurrent writers: PostgreSQL (SQLite serialises them)")
    campaign_id = setup_small_campaign(app, tmp_path)
    with app.app_context():
        forms = list(db.session().scalars(select(Form.id).order_by(Form.id)))
    threads_per_form = 4
    barrier = threading.Barrier(len(forms) * threads_per_form)

    def save(form_id: int) -> None:
        with app.app_context():
            ctx = load_form(form_id)  # every thread saw the form not begun yet
            db.session().close()
            barrier.wait()
            save_page(ctx, 0, {str(ctx.assignments[0].id): {"lead_plan": "A"}})
            db.session().close()

    errors = run_threads(save, [f for f in forms for _ in range(threads_per_form)])
    assert not errors, errors
    with app.app_context():
        cells = {c.rated_unit: c for c in quota_state(campaign_id).cells}
        assert (cells["S01"].started, cells["S02"].started) == (2, 1)
        _assert_counts_hold(campaign_id)
