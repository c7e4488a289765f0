"""A respondent's home: one link per person lists every form of theirs (issue 18)."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from survey import db
from survey.models import AccessToken, Form, FormStatus, Response
from tests.conftest import csrf_from

DEPT = "dept-division-rates-own-department"
PAGE1 = {"lead_plan": "A", "lead_head": "B", "lead_innovation": "E"}
PAGE2 = {"proc_public": "C", "proc_ontime": "D", "egov_online": "A"}


def _answer_all(client, pages: int, units: int = 1) -> None:
    """Answer every page of the session's form with its page's answers for each unit."""
    for page in range(1, pages + 1):
        html = client.get(f"/f/p/{page}").get_data(as_text=True)
        names = set(re.findall(r'name="(u\d+-[a-z_0-9]+)" value="([A-Z0-9a-z_]+)"', html))
        data: dict[str, str] = {}
        for name, value in sorted(names):
            data.setdefault(name, value)  # the first option of each question
        r = client.post(f"/f/p/{page}", data={**data, "csrf_token": csrf_from(html),
                                              "action": "next"})
        assert r.status_code == 302, r.get_data(as_text=True)[:2000]


def _submit(client) -> None:
    html = client.get("/f/review").get_data(as_text=True)
    r = client.post("/f/submit", data={"csrf_token": csrf_from(html)})
    assert r.status_code == 302 and r.headers["Location"].endswith("/f/done")


def test_home_link_lists_every_form_and_each_state(client, app, make_home):
    home = make_home(((DEPT, ("S01",)), (DEPT, ("S02",)), (DEPT, ("S03",))))
    r = client.get(f"/s/{home.token}")
    assert r.status_code == 302 and r.headers["Location"].endswith("/h/")
    assert home.token not in r.headers["Location"]
    body = client.get("/h/?lang=en").get_data(as_text=True)
    for name in ("Test department 1", "Test department 2", "Test department 3"):
        assert name in body
    assert "0 of 3 done" in body and body.count("Not started") == 3
    assert "Deadline" in body
    # opening the home opens no form: each is opened when entered
    with app.app_context():
        assert {f.status for f in db.session().scalars(select(Form))} == {FormStatus.PENDING}

    # the one Continue: the first form, straight to its first page
    r = client.get(f"/h/f/{home.form_ids[0]}")
    assert r.headers["Location"].endswith("/f/p/1")
    html = client.get("/f/p/1").get_data(as_text=True)
    client.post("/f/p/1", data={**{f"u0-{k}": v for k, v in PAGE1.items()},
                                "csrf_token": csrf_from(html), "action": "save"})
    body = client.get("/h/?lang=en").get_data(as_text=True)
    assert "In progress: page 2 of" in body and body.count("Not started") == 2
    assert "Continue where you left off" in body
    r = client.get(f"/h/f/{home.form_ids[0]}")
    assert r.headers["Location"].endswith("/f/p/2")  # where it was left

    pages = _pages(app, home.form_ids[0])
    _answer_all(client, pages)
    _submit(client)
    thanks = client.get("/f/done?lang=en").get_data(as_text=True)
    assert "Back to your forms" in thanks and 'href="/h/"' in thanks
    body = client.get("/h/?lang=en").get_data(as_text=True)
    assert "1 of 3 done" in body and "Submitted" in body
    # the next Continue is the next form, not started
    assert f'href="/h/f/{home.form_ids[1]}"' in body and "Start the next form" in body
    for fid in home.form_ids[1:]:
        client.get(f"/h/f/{fid}")
        _answer_all(client, pages)
        _submit(client)
    body = client.get("/h/?lang=en").get_data(as_text=True)
    assert "3 of 3 done" in body and "Every form is submitted" in body
    vi = client.get("/h/?lang=vi").get_data(as_text=True)
    assert "Đã nộp" in vi and "Đã xong 3/3 phiếu" in vi
    with app.app_context():  # each form stored once, one response per rated unit
        assert db.session().scalar(select(func.count()).select_from(Response)) == 3


def _pages(app, form_id: int) -> int:
    from survey.services.responding import load_form

    with app.app_context():
        ctx = load_form(form_id)
        return len(ctx.questionnaire.sections)


def test_old_per_form_tokens_lead_to_the_home(app, make_home):
    home = make_home(((DEPT, ("S01",)), (DEPT, ("S02",))))
    for token in home.form_tokens:
        client = app.test_client()  # a new browser each time
        r = client.get(f"/s/{token}")
        assert r.status_code == 302 and r.headers["Location"].endswith("/h/")
        body = client.get("/h/?lang=en").get_data(as_text=True)
        assert "Test department 1" in body and "Test department 2" in body


def test_a_home_never_opens_another_persons_form(client, make_home, make_form):
    other, _ = make_form(units=("S03",), email="khac@example.vn")
    home = make_home(((DEPT, ("S01",)), (DEPT, ("S02",))))
    client.get(f"/s/{home.token}")
    assert client.get(f"/h/f/{other}").status_code == 404
    assert client.get("/f/p/1").status_code == 401  # no form entered
    assert client.get("/h/f/999999").status_code == 404


def test_home_without_a_link_says_to_open_it_again(client):
    assert client.get("/h/").status_code == 401


def test_only_hashes_of_home_tokens_are_stored(app, make_home):
    home = make_home(((DEPT, ("S01",)), (DEPT, ("S02",))))
    with app.app_context():
        rows = db.session().scalars(select(AccessToken)).all()
    stored = {value for t in rows for value in (t.token_hash,)}
    assert home.token not in stored and all(len(h) == 64 for h in stored)
    assert any(t.respondent_id == home.respondent_id and t.form_id is None for t in rows)


def test_a_single_form_respondent_goes_straight_to_the_form(client, make_form):
    _, token = make_form()
    assert client.get(f"/s/{token}").headers["Location"].endswith("/f/p/1")


HDND = "hdnd-rates-departments"  # a matrix questionnaire


def test_a_matrix_form_lets_units_be_left_for_later_but_not_half_answered(client, app,
                                                                          make_home):
    from questionnaires import load_builtin_by_id

    q = load_builtin_by_id(HDND)
    person = make_home(((HDND, ("S01", "S02", "S03")), (DEPT, ("S01",))))
    client.get(f"/s/{person.token}")
    home = client.get("/h/?lang=en")
    link = re.search(r'href="(/h/f/\d+)"', home.get_data(as_text=True)).group(1)
    assert client.get(link).headers["Location"].endswith("/f/p/1")
    for number, section in enumerate(q.sections, start=1):
        html = client.get(f"/f/p/{number}").get_data(as_text=True)
        data = {"csrf_token": csrf_from(html), "action": "next"}
        for unit in (0, 1):  # the third unit is left for later
            data.update({f"u{unit}-{x.id}": x.options[0].code for x in section.questions
                         if x.required})
        if number == 1:  # ... but a unit begun on a page must be finished there
            half = {**data, f"u2-{section.questions[0].id}": "A"}
            r = client.post("/f/p/1", data=half)
            assert r.status_code == 422
            assert re.findall(r'class="q mrow has-error" id="(u\d)-', r.get_data(as_text=True))
            assert {m for m in re.findall(r'id="(u\d)-[a-z_]+-error"',
                                          r.get_data(as_text=True))} == {"u2"}
            data[f"u2-{section.questions[0].id}"] = ""  # taken back: the unit is left blank
        r = client.post(f"/f/p/{number}", data=data)
        assert r.status_code == 302, (number, r.get_data(as_text=True)[:300])
    body = client.get("/h/?lang=en").get_data(as_text=True)
    assert "2 of 3 units complete" in body and "In progress: page 1 of 9" in body
    html = client.get("/f/review").get_data(as_text=True)
    r = client.post("/f/submit", data={"csrf_token": csrf_from(html)})
    assert r.status_code == 422  # not every unit is complete: nothing stored
    with app.app_context():
        assert db.session().scalar(select(func.count()).select_from(Response)) == 0
