"""Paper questionnaires and paper data entry (single and double, blind), staff only."""

from __future__ import annotations

import itertools
import re
from collections import Counter

import pytest
from sqlalchemy import func, select, update

import survey.manage.paper  # noqa: F401  (registers the staff routes before any app is made)
from questionnaires import (
    PaperAnswer,
    Questionnaire,
    QuestionType,
    build_questionnaire,
    load_builtin_by_id,
)
from survey import db
from survey.models import (
    AccessToken,
    AuditEvent,
    Campaign,
    Draft,
    Form,
    FormStatus,
    Mode,
    PaperEntry,
    QuotaCell,
    Response,
    Role,
    StaffUser,
)
from survey.services import paper
from survey.services.cards import forms_query, issue_for_forms, new_pdf
from survey.services.paper import (
    EntryOutcome,
    blank_items,
    paper_items_for,
    paper_pdf,
    record_entry,
)
from survey.services.qr import find_form_by_code, short_code
import survey.services.responding as responding
from survey.services.responding import load_form
from survey.services.staff import create_staff_user
from survey.services.tokens import revoke_tokens
from tests.conftest import csrf_from
from tests.survey.test_qr_cards import BASE, pdf_pages, pdf_qr_matrices, pdf_text
from tests.survey.conftest import ANSWERS, PASSWORD, login

ENTRY = "/manage/c/OWN-2026/paper/entry"


def test_paper_pdf_per_form_and_matrix_grid(app, make_campaign, make_form, tmp_path):
    make_campaign(departments=3, group="council_delegate")
    matrix_q = load_builtin_by_id("hdnd-rates-departments")
    make_form(matrix_q, units=("S01", "S02", "S03"))
    with app.test_request_context():
        campaign = db.session().scalar(select(Campaign))
        issued = issue_for_forms(campaign, forms_query(campaign), BASE, "vi",
                                 action="paper.issue")
        data = paper_pdf(paper_items_for(issued, campaign))
        assert pdf_pages(data) >= len(matrix_q.sections)  # at least a page per section
        drawn = pdf_qr_matrices(data)
        assert len(drawn) == pdf_pages(data)  # the QR on every page
        text = pdf_text(data, tmp_path)
        assert issued[0].code in text
        assert all(f"Sở thử {i}" in text for i in (1, 2, 3))  # the grid's unit columns
        assert matrix_q.sections[0].title.vi.split()[0] in text
        blank = paper_pdf(blank_items(campaign, "council_delegate"))
        assert pdf_pages(blank) >= len(matrix_q.sections) and pdf_qr_matrices(blank) == []



def _one_question(qtype: QuestionType) -> Questionnaire:
    q: dict[str, object] = {"id": "q", "type": qtype.value, "text": {"vi": "Câu hỏi thử"}}
    if qtype.kind.has_options:
        q["options"] = [{"code": c, "label": {"vi": f"Lựa chọn {c}"}} for c in "ABC"]
    return build_questionnaire({
        "id": "one", "version": 1, "group": "citizen", "languages": ["vi"],
        "title": {"vi": "Một câu"}, "rates": {"unit_level": "department"},
        "sections": [{"id": "s1", "title": {"vi": "Một"}, "questions": [q]}]}, "test:one")


@pytest.mark.parametrize("qtype", list(QuestionType))
def test_paper_draws_each_question_as_its_type_lays_it_out(monkeypatch, qtype):
    """What the printed question holds comes from its type's class (``paper_layout``)."""
    calls: Counter[str] = Counter()
    texts: list[str] = []

    def recording(name, real):
        def call(*a, **k):
            calls[name] += 1
            if name == "multi_cell":
                texts.append(a[2])
            return real(*a, **k)
        return call

    def recording_pdf():
        pdf = new_pdf()
        for name in ("rect", "line", "multi_cell"):
            setattr(pdf, name, recording(name, getattr(pdf, name)))
        return pdf

    monkeypatch.setattr(paper, "new_pdf", recording_pdf)
    questionnaire = _one_question(qtype)
    question = questionnaire.question("q")
    layout = qtype.kind.paper_layout(question)
    paper_pdf([paper.PaperItem(questionnaire, "Chiến dịch")])
    boxes = {PaperAnswer.OPTION_LIST: 3, PaperAnswer.OPTION_ROW: 3,  # one per option
             PaperAnswer.DIGITS: layout.count, PaperAnswer.LINES: 0}[layout.answer]
    ruled = layout.count if layout.answer is PaperAnswer.LINES else 0
    assert calls["rect"] == boxes and calls["line"] == 1 + ruled  # 1: under the header
    hint = f" ({layout.hint})" if layout.hint else ""
    assert "1.1. Câu hỏi thử" + hint in texts
    options = [f"{c}. Lựa chọn {c}" for c in "ABC"]
    assert all(o in texts for o in options) is qtype.kind.has_options



def test_a_question_near_the_foot_of_a_page_starts_the_next_one(monkeypatch):
    """Wherever a question falls, its answer space is drawn above the page's foot: a text
    box of several lines too (room was kept for one line only: its lines ran off the page)."""
    lowest: dict[str, float] = {}  # per question type, the lowest y of a line or box drawn
    last: list[str] = []

    def recording_pdf():
        pdf = new_pdf()
        line, rect = pdf.line, pdf.rect

        def recorded_line(x1, y1, x2, y2, *a, **k):
            lowest[last[-1]] = max(lowest.get(last[-1], 0.0), y1, y2)
            return line(x1, y1, x2, y2, *a, **k)

        def recorded_rect(x, y, w, h, *a, **k):
            lowest[last[-1]] = max(lowest.get(last[-1], 0.0), y + h)
            return rect(x, y, w, h, *a, **k)
        pdf.line, pdf.rect = recorded_line, recorded_rect
        return pdf

    monkeypatch.setattr(paper, "new_pdf", recording_pdf)
    for qtype in QuestionType:
        question = _one_question(qtype).document["sections"][0]["questions"][0]
        last.append(qtype.value)
        # the question after 0-17 integer questions (16 mm each) and an intro of 0-3 lines
        # (4.2 mm each): a few mm apart down the whole page
        items = []
        for intro, before in itertools.product(range(4), range(18)):
            section = {"id": "s1", "title": {"vi": "Một"}, "questions": [
                *({"id": f"n{i}", "type": "integer", "text": {"vi": f"Số {i}"}}
                  for i in range(before)), question]}
            if intro:
                section["intro"] = {"vi": "\n".join(["Dòng giới thiệu"] * intro)}
            doc = {"id": "foot", "version": 1, "group": "citizen", "languages": ["vi"],
                   "title": {"vi": "Chân trang"}, "rates": {"unit_level": "department"},
                   "sections": [section]}
            items.append(paper.PaperItem(build_questionnaire(doc, "test:foot"), "Chiến dịch"))
        paper_pdf(items)
    assert set(lowest) == {t.value for t in QuestionType}
    assert all(y <= paper.BOTTOM for y in lowest.values()), lowest


def test_short_code_link_and_token_find_the_form(app, make_campaign, make_form):
    make_campaign()
    form_id, token = make_form()
    with app.test_request_context():
        code = short_code(token)
        assert re.fullmatch(r"[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}", code)
        assert find_form_by_code(code) == form_id
        assert find_form_by_code(code.lower().replace("-", " ")) == form_id
        assert find_form_by_code(f"{BASE}/s/{token}") == form_id
        assert find_form_by_code(token) == form_id
        assert find_form_by_code("0000-0000-0000") is None
        assert find_form_by_code("") is None
        assert not db.session().scalar(select(func.count()).select_from(AccessToken).where(
            AccessToken.token_hash == token))  # only the hash is stored
        revoke_tokens(form_id)
        assert find_form_by_code(code) is None


def _entry_data(html: str, answers: dict[str, str], **extra: str) -> dict[str, str]:
    data = {"csrf_token": csrf_from(html)}
    data.update({f"u0-{k}": v for k, v in answers.items()})
    data.update(extra)
    return data


def _open_form(world):  # noqa: F811
    with world.app_context():
        return db.session().scalar(select(Form.id).order_by(Form.id))


def _responses(world) -> list[Response]:  # noqa: F811
    with world.app_context():
        return list(db.session().scalars(select(Response)))


def test_single_entry_found_by_code_submits_as_paper(world):  # noqa: F811
    with world.test_request_context():
        campaign = db.session().scalar(select(Campaign).filter_by(code="OWN-2026"))
        issued = issue_for_forms(campaign, forms_query(campaign, unit="S01"), BASE, "vi")
    client = world.test_client()
    login(client, "contractor@tvh.gov.vn")
    page = client.get("/manage/c/OWN-2026/paper").get_data(as_text=True)
    r = client.post("/manage/c/OWN-2026/paper", data={"csrf_token": csrf_from(page),
                                                      "code": "FFFF-FFFF-FFFF"})
    assert r.status_code == 422
    r = client.post("/manage/c/OWN-2026/paper", data={"csrf_token": csrf_from(page),
                                                      "code": issued[0].code})
    assert r.status_code == 302 and f"form={issued[0].form_id}" in r.headers["Location"]
    html = client.get(r.headers["Location"]).get_data(as_text=True)
    assert 'name="u0-lead_plan"' in html
    url = f"{ENTRY}?form={issued[0].form_id}"
    incomplete = dict(ANSWERS)
    del incomplete["egov_online"]
    r = client.post(url, data=_entry_data(html, incomplete))
    assert r.status_code == 422 and not _responses(world)
    with world.app_context():
        assert db.session().get(Form, issued[0].form_id).mode is Mode.WEB
    r = client.post(url, data=_entry_data(html, ANSWERS))
    assert r.status_code == 302
    rows = _responses(world)
    assert len(rows) == 1 and rows[0].mode is Mode.PAPER and rows[0].answers == ANSWERS
    with world.app_context():
        form = db.session().get(Form, issued[0].form_id)
        assert form.status is FormStatus.SUBMITTED and form.mode is Mode.PAPER
        assert db.session().scalar(select(func.count()).select_from(PaperEntry)) == 0
    again = client.post(url, data=_entry_data(html, ANSWERS))
    assert again.status_code == 200 and len(_responses(world)) == 1


def test_double_entry_blind_mismatch_resolution_submits_once(world):  # noqa: F811
    form_id = _open_form(world)
    url = f"{ENTRY}?form={form_id}"
    first = world.test_client()
    login(first, "contractor@tvh.gov.vn")
    html = first.get(url).get_data(as_text=True)
    assert 'id="double"' in html
    r = first.post(url, data=_entry_data(html, ANSWERS, double="y"))
    assert r.status_code == 302 and not _responses(world)
    second = world.test_client()
    login(second, "admin@tvh.gov.vn")
    blind = second.get(url).get_data(as_text=True)
    assert "checked" not in blind.split('name="u0-lead_plan"')[1].split("</div>")[0]
    assert 'id="double"' not in blind  # the first entry decided
    other = dict(ANSWERS, lead_head="C", proc_ontime="B")
    r = second.post(url, data=_entry_data(blind, other))
    assert r.status_code == 302 and "/paper/resolve" in r.headers["Location"]
    assert not _responses(world)
    listing = first.get("/manage/c/OWN-2026/paper").get_data(as_text=True)
    assert f"form={form_id}" in listing
    page = second.get(r.headers["Location"]).get_data(as_text=True)
    assert 'name="m-' in page and page.count('type="radio"') == 4  # two items, two choices
    names = sorted(set(re.findall(r'name="(m-[^"]+)"', page)))
    r = second.post(r.headers["Location"], data={"csrf_token": csrf_from(page),
                                                 names[0]: "1"})
    assert r.status_code == 422 and not _responses(world)  # every mismatch must be settled
    picks = {n: ("1" if n.endswith("lead_head") else "2") for n in names}
    r = second.post(f"/manage/c/OWN-2026/paper/resolve?form={form_id}",
                    data={"csrf_token": csrf_from(page), **picks})
    assert r.status_code == 302
    rows = _responses(world)
    assert len(rows) == 1 and rows[0].mode is Mode.PAPER
    assert rows[0].answers == dict(ANSWERS, proc_ontime="B")
    # nothing can be keyed or resolved again
    assert first.post(url, data=_entry_data(html, ANSWERS)).status_code == 200
    assert len(_responses(world)) == 1


def test_double_entry_agreement_submits_exactly_once(world):  # noqa: F811
    form_id = _open_form(world)
    with world.test_request_context():
        ctx = load_form(form_id)
        key = str(ctx.assignments[0].id)
        clerks = list(db.session().scalars(select(StaffUser.id).order_by(StaffUser.id)))
        assert record_entry(ctx, clerks[0], {key: ANSWERS}, True).outcome is EntryOutcome.WAITING
        # the same clerk again replaces their own entry; it is not a second entry
        assert record_entry(ctx, clerks[0], {key: ANSWERS}, True).outcome is EntryOutcome.WAITING
        result = record_entry(ctx, clerks[1], {key: ANSWERS}, False)  # the choice is locked
        assert result.outcome is EntryOutcome.SUBMITTED
        assert db.session().scalar(select(func.count()).select_from(Response)) == 1
        ctx = load_form(form_id)
        assert record_entry(ctx, clerks[2], {key: ANSWERS}, True).outcome is \
            EntryOutcome.ALREADY_SUBMITTED
        assert db.session().scalar(select(func.count()).select_from(Response)) == 1
        assert db.session().scalar(select(func.count()).select_from(PaperEntry)) == 0


def _written(form_id: int) -> tuple[object, ...]:
    """What a clerk's action may change: the form, its draft and paper entries, responses,
    quota counts, audit events."""
    s = db.session()
    s.expire_all()
    return (s.execute(select(Form.status, Form.mode, Form.started_at, Form.submitted_at)
                      .where(Form.id == form_id)).one(),
            s.scalar(select(func.count()).select_from(Draft).where(Draft.form_id == form_id)),
            s.execute(select(PaperEntry.entry_no, PaperEntry.clerk_id, PaperEntry.answers)
                      .where(PaperEntry.form_id == form_id).order_by(PaperEntry.entry_no)).all(),
            s.scalar(select(func.count()).select_from(Response)),
            s.execute(select(QuotaCell.id, QuotaCell.started).order_by(QuotaCell.id)).all(),
            s.scalar(select(func.count()).select_from(AuditEvent)))


@pytest.mark.parametrize("double", [False, True], ids=["single", "double"])
def test_a_submit_failing_midway_writes_nothing_of_the_entry(world, monkeypatch, double):  # noqa: F811
    """A clerk's action is one transaction: when the submit it leads to fails while storing
    the responses, nothing of the entry is left (no entry, no paper mode, no start, no
    draft), and the form can be keyed again."""
    form_id = _open_form(world)
    with world.test_request_context():
        ctx = load_form(form_id)
        key = str(ctx.assignments[0].id)
        clerks = list(db.session().scalars(select(StaffUser.id).order_by(StaffUser.id)))
        if double:  # the first clerk's entry is in; the second one's settles the form
            assert record_entry(ctx, clerks[0], {key: ANSWERS}, True).outcome is \
                EntryOutcome.WAITING
        before = _written(form_id)

        def storage_fails(*_args: object, **_kwargs: object) -> None:
            raise RuntimeError("the storage failed")

        with monkeypatch.context() as patch:
            patch.setattr(responding, "queue_submitted", storage_fails)
            with pytest.raises(RuntimeError, match="the storage failed"):
                record_entry(ctx, clerks[1], {key: ANSWERS}, double)
        db.session().rollback()
        assert _written(form_id) == before
        # nothing was half done: the same entry now goes through
        assert record_entry(load_form(form_id), clerks[1], {key: ANSWERS}, double).outcome \
            is EntryOutcome.SUBMITTED
        form = db.session().get(Form, form_id)
        assert form.status is FormStatus.SUBMITTED and form.mode is Mode.PAPER
        assert db.session().scalar(select(func.count()).select_from(Response)) == 1


def test_a_full_quota_turns_the_entry_away_and_keeps_the_entries(world):  # noqa: F811
    """A submit refused because the form's cells are full undoes only itself (a savepoint):
    the form stays a web form, not begun, and the clerks' entries stay for later."""
    form_id = _open_form(world)
    with world.test_request_context():
        ctx = load_form(form_id)
        key = str(ctx.assignments[0].id)
        clerks = list(db.session().scalars(select(StaffUser.id).order_by(StaffUser.id)))
        assert record_entry(ctx, clerks[0], {key: ANSWERS}, True).outcome is EntryOutcome.WAITING
        with db.write_transaction() as s:  # every cell closes, and is full at once
            assert s.execute(update(QuotaCell).values(close_when_full=True, target=0)).rowcount
        form, draft, kept, responses, cells, audits = _written(form_id)
        result = record_entry(ctx, clerks[1], {key: ANSWERS}, True)
        assert result.outcome is EntryOutcome.QUOTA_FULL
        after = _written(form_id)
        assert after[0] == form and after[0].mode is Mode.WEB  # not begun, not paper
        assert after[1:] == (draft, [*kept, (2, clerks[1], {key: ANSWERS})], responses, cells,
                             audits)


@pytest.mark.parametrize("role", ["viewer", "focal_point"])
def test_paper_pages_are_staff_only(world, role):  # noqa: F811
    form_id = _open_form(world)
    anonymous = world.test_client()
    for path in ("/manage/c/OWN-2026/paper", f"{ENTRY}?form={form_id}",
                 f"/manage/c/OWN-2026/paper/resolve?form={form_id}"):
        r = anonymous.get(path)
        assert r.status_code == 302 and "/manage/login" in r.headers["Location"]
    client = world.test_client()
    login(client, f"{role}@tvh.gov.vn")
    assert client.get(f"{ENTRY}?form={form_id}").status_code == 403
    contractor = world.test_client()
    login(contractor, "contractor@tvh.gov.vn")
    # a form of another campaign is not found from this one
    assert contractor.get(f"/manage/c/OTHER-2026/paper/entry?form={form_id}").status_code == 404
    assert contractor.get(f"{ENTRY}?form=999999").status_code == 302


def test_a_matrix_form_is_keyed_with_a_compact_row_per_rated_unit(app, make_campaign, make_form):
    """The macros' helpers (the type's macro, ``checked``) are there for the staff's page too."""
    make_campaign()
    form_id, _ = make_form("hdnd-rates-departments", units=("S01", "S02", "S03"))
    with app.app_context():
        create_staff_user("nhap.lieu@tst.gov.vn", "Nhập liệu", PASSWORD, Role.CONTRACTOR, ["TST"])
        ctx = load_form(form_id)
        first = ctx.questionnaire.sections[0].questions[0]
    client = app.test_client()
    login(client, "nhap.lieu@tst.gov.vn")
    r = client.get(f"/manage/c/T-2026/paper/entry?form={form_id}")
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    rows = re.findall(r'<fieldset class="q mrow" id="(u\d-[\w-]+)"', html)
    assert [f"u{i}-{first.id}" for i in range(3)] == rows[:3]
    assert all(f'name="u{i}-{first.id}"' in html for i in range(3))
