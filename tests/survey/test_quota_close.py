"""Close-when-full quota cells: a full cell turns new forms away, never past its target."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select, update

from questionnaires import load_builtin_by_id
from sampling import RateMode
from survey import db
from survey.models import (
    Assignment,
    Draft,
    Form,
    FormStatus,
    Respondent,
    Response,
    ResponseStatus,
    Unit,
)
from survey.models.quota import QuotaCell
from survey.services.campaigns import create_campaign_from_config
from survey.services.quotas import quota_state
from survey.services.respondents import import_respondents
from survey.services.responding import SubmitOutcome, load_form, submit_form
from tests.conftest import csrf_from, submit_concurrently

ANSWERS = {"lead_plan": "A", "lead_head": "B", "lead_innovation": "C", "proc_public": "A",
           "proc_ontime": "A", "egov_online": "B"}

TARGET, SUBMITTERS, ROUNDS = 5, 20, 3

CONFIG = """\
version: 1
code: CLOSE-TEST
name: {vi: Thử đóng chỉ tiêu, en: Closing quota test}
province: "99"
year: 2026
opens_at: 2020-01-01
closes_at: 2099-12-31
levels:
  - {code: province, name: {vi: Tỉnh, en: Province}}
  - {code: department, name: {vi: Sở, en: Department}, parent: province}
units:
  - {code: "99", level: province, name: {vi: Tỉnh thử, en: Test province}}
""" + "".join(
    f"  - {{code: S0{i}, level: department, parent: \"99\", "
    f"name: {{vi: Sở {i}, en: Department {i}}}}}\n" for i in range(1, ROUNDS + 1)) + f"""\
groups:
  - code: dept_division_leader
    name: {{vi: Lãnh đạo phòng thuộc sở, en: Department division leaders}}
    kind: department_division_leader
    unit_level: department
    questionnaires: [dept-division-rates-own-department]
quotas:
  - {{group: dept_division_leader, questionnaire: dept-division-rates-own-department,
     count: {TARGET}, per: department, close_when_full: true}}
"""

FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng"]
GIVEN = ["An", "Bình", "Châu", "Dũng", "Hoà", "Khánh", "Lộc", "Phúc", "Sang", "Tâm",
         "Vy", "Xuân"]


def _complete_all(form_ids: list[int]) -> None:
    """Every form answered in full, as page saves would leave it (one transaction)."""
    with db.write_transaction() as s:
        for form_id in form_ids:
            assignment_ids = s.scalars(select(Assignment.id).filter_by(form_id=form_id)).all()
            s.add(Draft(form_id=form_id, answers={str(a): dict(ANSWERS) for a in assignment_ids}))
        s.execute(update(Form).where(Form.id.in_(form_ids)).values(status=FormStatus.STARTED))


def test_concurrent_submits_never_fill_a_closing_cell_past_its_target(app, tmp_path: Path):
    config = tmp_path / "close.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    rows = ["external_id,full_name,group,unit,email"]
    for d in range(1, ROUNDS + 1):
        for i in range(SUBMITTERS):
            n = d * 100 + i
            rows.append(f"P{n},{FAMILY[n % 5]} Văn {GIVEN[i % 12]},dept_division_leader,"
                        f"S0{d},p{n}@example.vn")
    listing = tmp_path / "list.csv"
    listing.write_text("\n".join(rows) + "\n", encoding="utf-8")
    with app.app_context():
        campaign = create_campaign_from_config(config)
        import_respondents("CLOSE-TEST", listing)
        s = db.session()
        forms_of = {code: s.scalars(
            select(Form.id).join(Respondent, Respondent.id == Form.respondent_id)
            .join(Unit, Unit.id == Respondent.unit_id).where(Unit.code == code)
            .order_by(Form.id)).all() for code in (f"S0{d}" for d in range(1, ROUNDS + 1))}
        assert all(len(f) == SUBMITTERS for f in forms_of.values())
        _complete_all([f for forms in forms_of.values() for f in forms])

    for code, form_ids in forms_of.items():  # one round per closing cell
        outcomes = submit_concurrently(app, form_ids)
        assert outcomes.count(SubmitOutcome.SUBMITTED) == TARGET, (code, outcomes)
        assert outcomes.count(SubmitOutcome.QUOTA_FULL) == SUBMITTERS - TARGET, (code, outcomes)
        with app.app_context():
            s = db.session()
            stored = s.scalar(select(func.count()).select_from(Response)
                              .join(Unit, Unit.id == Response.rated_unit_id)
                              .where(Unit.code == code))
            assert stored == TARGET, code
            statuses = s.scalars(select(Form.status).where(Form.id.in_(form_ids))).all()
            assert statuses.count(FormStatus.SUBMITTED) == TARGET
            # the turned-away respondents keep their drafts
            drafts = s.scalar(select(func.count()).select_from(Draft)
                              .where(Draft.form_id.in_(form_ids)))
            assert drafts == SUBMITTERS - TARGET
            cell = next(c for c in quota_state(campaign.id).cells if c.rated_unit == code)
            assert (cell.target, cell.completed, cell.over_quota) == (TARGET, TARGET, 0)
            assert cell.full and cell.close_when_full


def _add_cell(form_id: int, unit: str, target: int | None, close: bool = True,
              source: str | None = None, census: bool = False) -> None:
    with db.write_transaction() as s:
        form = s.get(Form, form_id)
        units = {u.code: u.id for u in s.scalars(select(Unit).filter_by(
            campaign_id=form.campaign_id))}
        s.add(QuotaCell(campaign_id=form.campaign_id, group_id=form.group_id,
                        questionnaire_version_id=form.questionnaire_version_id,
                        rated_unit_id=units[unit], source_unit_id=units.get(source or ""),
                        target=target, rate=RateMode.OWN, census=census,
                        close_when_full=close, rule=f"test/{unit}/{source}"))


def _complete(form_id: int) -> None:
    _complete_all([form_id])


def _responses() -> int:
    return db.session().scalar(select(func.count()).select_from(Response))


def test_a_full_cell_shows_a_polite_page_and_keeps_the_draft(app, make_form):
    first, _ = make_form(email="a@example.vn")
    second, token = make_form(email="b@example.vn")
    with app.app_context():
        _add_cell(first, "S01", target=1)
        _complete(first)
        _complete(second)
        assert submit_form(load_form(first)) is SubmitOutcome.SUBMITTED
    client = app.test_client()
    client.get(f"/s/{token}")
    review = client.get("/f/review").get_data(as_text=True)
    r = client.post("/f/submit", data={"csrf_token": csrf_from(review)})
    assert r.status_code == 409
    body = r.get_data(as_text=True)
    assert "Enough answers have been received" in body or "Đã nhận đủ" in body
    with app.app_context():
        s = db.session()
        assert _responses() == 1
        assert s.get(Form, second).status is FormStatus.STARTED
        assert s.get(Draft, second) is not None
    # still open to them: the review page and a second try give the same polite answer
    assert client.get("/f/review").status_code == 200
    assert client.post("/f/submit", data={"csrf_token": csrf_from(review)}).status_code == 409


def test_an_excluded_response_frees_its_place(app, make_form):
    first, _ = make_form(email="a@example.vn")
    second, _ = make_form(email="b@example.vn")
    with app.app_context():
        _add_cell(first, "S01", target=1)
        _complete_all([first, second])
        assert submit_form(load_form(first)) is SubmitOutcome.SUBMITTED
        assert submit_form(load_form(second)) is SubmitOutcome.QUOTA_FULL
        with db.write_transaction() as s:
            s.execute(update(Response).values(status=ResponseStatus.EXCLUDED))
        assert submit_form(load_form(second)) is SubmitOutcome.SUBMITTED
        assert _responses() == 2


def test_cells_that_do_not_close_keep_accepting(app, make_form):
    forms = [make_form(units=(unit,), email=f"p{i}@example.vn")[0]
             for i, unit in enumerate(["S01", "S01", "S02", "S02", "S03"])]
    with app.app_context():
        _add_cell(forms[0], "S01", target=1, close=False)  # not closing: over quota allowed
        _add_cell(forms[0], "S02", target=None, census=True)  # census, no list yet
        _complete_all(forms)  # S03 has no cell at all (a form made by hand)
        assert [submit_form(load_form(f)) for f in forms] == [SubmitOutcome.SUBMITTED] * 5
        assert _responses() == 5


def test_a_unit_shared_with_an_open_cell_never_closes(app, make_form):
    """Pooled and per-source cells rating one unit: a response cannot be told apart, so the
    unit closes only when every cell sharing it closes; then their targets add up."""
    forms = [make_form(units=(unit,), email=f"p{i}@example.vn")[0]
             for i, unit in enumerate(["S01", "S01", "S02", "S02", "S02", "S02"])]
    with app.app_context():
        _add_cell(forms[0], "S01", target=1)  # pooled, closing
        _add_cell(forms[0], "S01", target=1, close=False, source="S02")  # per source, open
        _add_cell(forms[0], "S02", target=1, source="S01")  # both closing: 1 + 2 = 3
        _add_cell(forms[0], "S02", target=2, source="S03")
        _complete_all(forms)
        assert [submit_form(load_form(f)) for f in forms[:2]] == [SubmitOutcome.SUBMITTED] * 2
        outcomes = [submit_form(load_form(f)) for f in forms[2:]]
        assert outcomes == [SubmitOutcome.SUBMITTED] * 3 + [SubmitOutcome.QUOTA_FULL]
        assert _responses() == 5


def test_a_matrix_form_stores_only_its_open_units(app, make_campaign, make_form):
    questionnaire = load_builtin_by_id("hdnd-rates-departments")
    make_campaign(departments=3, group="council_delegate")
    units = ("S01", "S02", "S03")
    first, _ = make_form(questionnaire, units=units, email="a@example.vn")
    second, _ = make_form(questionnaire, units=units, email="b@example.vn")
    third, _ = make_form(questionnaire, units=("S01",), email="c@example.vn")
    with app.app_context():
        _add_cell(first, "S01", target=1)
        _add_cell(first, "S02", target=2)
        _add_cell(first, "S03", target=1, close=False)
        answers = {q.id: q.options[0].code for q in questionnaire.scored_questions}
        with db.write_transaction() as s:
            for form_id in (first, second, third):
                ids = s.scalars(select(Assignment.id).filter_by(form_id=form_id)).all()
                s.add(Draft(form_id=form_id, answers={str(a): dict(answers) for a in ids}))
        assert load_form(first).first_incomplete_section() is None
        assert submit_form(load_form(first)) is SubmitOutcome.SUBMITTED
        assert submit_form(load_form(second)) is SubmitOutcome.SUBMITTED  # S01 left out
        assert submit_form(load_form(third)) is SubmitOutcome.QUOTA_FULL
        rows = db.session().execute(
            select(Unit.code, func.count()).join(Response, Response.rated_unit_id == Unit.id)
            .group_by(Unit.code).order_by(Unit.code)).all()
        assert [tuple(r) for r in rows] == [("S01", 1), ("S02", 2), ("S03", 2)]
        assert db.session().get(Draft, third) is not None
