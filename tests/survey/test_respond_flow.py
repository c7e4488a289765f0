"""The respondent's journey through the Flask test client, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import func, select, update

from survey import db
from survey.models import AccessToken, Campaign, Draft, Form, FormStatus, Response, utcnow
from survey.services.tokens import hash_token, revoke_tokens
from tests.conftest import csrf_from

PAGE1 = {"u0-lead_plan": "A", "u0-lead_head": "B", "u0-lead_innovation": "E"}
PAGE2 = {"u0-proc_public": "C", "u0-proc_ontime": "D", "u0-egov_online": "A"}


def post_page(client, page: int, data: dict, action: str = "next"):
    html = client.get(f"/f/p/{page}").get_data(as_text=True)
    return client.post(f"/f/p/{page}", data={**data, "csrf_token": csrf_from(html),
                                              "action": action})


def test_link_sets_session_and_drops_token_from_url(client, make_form):
    _, token = make_form()
    r = client.get(f"/s/{token}")
    assert r.status_code == 302
    assert r.headers["Location"].endswith("/f/p/1")  # a fresh form: straight to the questions
    assert token not in r.headers["Location"]
    assert r.headers["Referrer-Policy"] == "same-origin"
    assert r.headers["Cache-Control"] == "no-store"
    landing = client.get("/f/")  # still there, for resuming and for page 1's Back
    body = landing.get_data(as_text=True)
    assert landing.status_code == 200
    assert "Sở thử 1" in body  # the rated unit
    assert "Bảo mật" in body  # confidentiality statement, Vietnamese by default
    assert "minh họa" in body  # illustrative wording is said on screen
    assert 'href="/f/p/1"' in body  # Start
    assert landing.headers["Cache-Control"] == "no-store"


def _set_deadline(app) -> str:
    """Move the campaign's deadline to a known time; return it as the pages show it (local)."""
    with app.app_context(), db.write_transaction() as s:
        s.execute(update(Campaign).values(
            closes_at=dt.datetime(2099, 6, 30, 10, 0, tzinfo=dt.UTC)))
    return "30/06/2099 17:00"  # Asia/Ho_Chi_Minh, UTC+7


def test_fresh_link_lands_on_page_one_with_the_welcome_in_vietnamese(client, app, make_form):
    _, token = make_form()
    deadline = _set_deadline(app)
    r = client.get(f"/s/{token}", follow_redirects=True)
    body = r.get_data(as_text=True)
    assert r.status_code == 200 and r.request.path == "/f/p/1"
    assert '<html lang="vi">' in body
    assert "Sở thử 1" in body and "Nhóm thử" in body  # unit rated, respondent group
    assert "Hạn trả lời" in body and deadline in body
    assert "Bảo mật thông tin" in body and "Luật Thống kê" in body  # confidentiality
    assert "minh họa" in body  # illustrative wording
    assert "Câu trả lời được lưu sau mỗi trang" in body
    assert 'name="u0-lead_plan"' in body  # and the first questions, on the same page
    # one h1, the questionnaire's title; the section's title is an h2 below the welcome
    assert re.findall(r"<h1>([^<]*)</h1>", body) == [
        "Phiếu khảo sát lãnh đạo cấp phòng đánh giá công tác cải cách hành chính của sở"]
    assert body.count("<h1") == 1
    assert "<h2>Công tác chỉ đạo, điều hành cải cách hành chính</h2>" in body
    assert body.index("Bảo mật thông tin") < body.index('name="u0-lead_plan"')


def test_fresh_page_one_welcome_in_english(client, app, make_form):
    _, token = make_form()
    deadline = _set_deadline(app)
    client.get(f"/s/{token}")
    body = client.get("/f/p/1?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in body
    assert "Test department 1" in body and "Test group" in body
    assert "Deadline" in body and deadline in body
    assert "Confidentiality" in body and "Law on Statistics" in body
    assert "You can close the browser and come back with the same link" in body


def test_started_form_link_lands_on_the_resume_page(app, make_form):
    _, token = make_form()
    first = app.test_client()
    first.get(f"/s/{token}")
    post_page(first, 1, PAGE1)
    second = app.test_client()  # another day, another browser
    r = second.get(f"/s/{token}")
    assert r.status_code == 302 and r.headers["Location"].endswith("/f/")
    assert token not in r.headers["Location"]
    assert "Tiếp tục từ chỗ đã dừng" in second.get("/f/").get_data(as_text=True)


def test_page_one_with_saved_answers_has_no_welcome(client, make_form):
    _, token = make_form()
    client.get(f"/s/{token}")
    assert "Bảo mật thông tin" in client.get("/f/p/1").get_data(as_text=True)
    post_page(client, 1, PAGE1, action="save")
    body = client.get("/f/p/1").get_data(as_text=True)
    assert 'name="u0-lead_head" value="B" checked' in body
    assert "Bảo mật thông tin" not in body and "Hạn trả lời" not in body
    assert re.findall(r"<h1>([^<]*)</h1>", body) == [
        "Công tác chỉ đạo, điều hành cải cách hành chính"]  # the section's title, as before


def test_back_from_page_one_leads_to_the_landing_page(client, make_form):
    _, token = make_form()
    client.get(f"/s/{token}")
    r = post_page(client, 1, {}, action="back")
    assert r.status_code == 302 and r.headers["Location"].endswith("/f/")
    assert client.get("/f/").status_code == 200


def test_opening_a_link_twice_consumes_nothing(client, app, make_form):
    form_id, token = make_form()
    assert client.get(f"/s/{token}").status_code == 302
    assert client.get(f"/s/{token}").status_code == 302  # a mail scanner opened it first
    with app.app_context():
        form = db.session().get(Form, form_id)
        assert form.status is FormStatus.OPENED
        assert db.session().scalar(select(func.count()).select_from(Response)) == 0


def test_full_flow_page_by_page_resume_submit_and_reopen(app, make_form):
    form_id, token = make_form()
    first = app.test_client()
    first.get(f"/s/{token}")
    r = post_page(first, 1, PAGE1)
    assert r.status_code == 302 and r.headers["Location"].endswith("/f/p/2")
    # the respondent closes the browser; a new browser opens the same link
    second = app.test_client()
    second.get(f"/s/{token}")
    landing = second.get("/f/").get_data(as_text=True)
    assert "Tiếp tục" in landing  # "continue where you left off"
    assert 'href="/f/p/2"' in landing
    page1 = second.get("/f/p/1").get_data(as_text=True)
    assert 'name="u0-lead_head" value="B" checked' in page1
    r = post_page(second, 2, PAGE2)
    assert r.headers["Location"].endswith("/f/p/3")
    r = post_page(second, 3, {"u0-has_suggestion": "Y"})
    assert r.headers["Location"].endswith("/f/p/4")
    r = post_page(second, 4, {"u0-suggestion_text": "  Rút ngắn thời gian giải quyết hồ sơ.  "})
    assert r.headers["Location"].endswith("/f/review")
    review = second.get("/f/review").get_data(as_text=True)
    assert "Rút ngắn thời gian giải quyết hồ sơ." in review
    assert "Hoàn toàn đồng ý" in review  # answers shown as labels, not codes
    r = second.post("/f/submit", data={"csrf_token": csrf_from(review)})
    assert r.status_code == 302 and r.headers["Location"].endswith("/f/done")
    assert "Cảm ơn" in second.get("/f/done").get_data(as_text=True)
    with app.app_context():
        s = db.session()
        rows = s.scalars(select(Response)).all()
        assert len(rows) == 1
        resp = rows[0]
        assert resp.answers["suggestion_text"] == "Rút ngắn thời gian giải quyết hồ sơ."
        assert resp.answers["lead_innovation"] == "E"
        # scored items in order lead_plan, lead_head, lead_innovation, proc_public,
        # proc_ontime, egov_online; 1-based option positions
        assert resp.item_codes == bytes([1, 2, 5, 3, 4, 1])
        assert len(resp.content_hash) == 64
        assert s.get(Draft, form_id) is None
        assert s.get(Form, form_id).status is FormStatus.SUBMITTED
        # nothing on the response names the respondent, form or assignment
        assert not {"respondent_id", "form_id", "assignment_id"} & set(
            Response.__table__.columns.keys())
    # the link now says "already submitted" and nothing can change
    third = app.test_client()
    assert third.get(f"/s/{token}").headers["Location"].endswith("/f/")
    again = third.get("/f/")
    assert "Đã gửi" in again.get_data(as_text=True)
    r = third.post("/f/p/1", data={"u0-lead_plan": "D", "csrf_token": "x", "action": "next"})
    assert r.status_code in (200, 400)
    with app.app_context():
        assert db.session().scalar(select(Response.answers)).get("lead_plan") == "A"


def test_show_if_skips_an_emptied_page(client, app, make_form):
    _, token = make_form()
    client.get(f"/s/{token}")
    post_page(client, 1, PAGE1)
    post_page(client, 2, PAGE2)
    r = post_page(client, 3, {"u0-has_suggestion": "N"})
    assert r.headers["Location"].endswith("/f/review")


def test_required_questions_block_next_with_located_messages(client, make_form):
    _, token = make_form()
    client.get(f"/s/{token}")
    r = post_page(client, 1, {"u0-lead_plan": "A"})
    assert r.status_code == 422
    body = r.get_data(as_text=True)
    assert "Vui lòng trả lời câu hỏi này." in body
    assert 'href="#u0-lead_head"' in body  # the error summary links to the question
    assert 'name="u0-lead_plan" value="A" checked' in body  # the valid answer is kept


def test_invalid_choice_is_refused_not_stored(client, app, make_form):
    form_id, token = make_form()
    client.get(f"/s/{token}")
    r = post_page(client, 1, {**PAGE1, "u0-lead_plan": "Z"})
    assert r.status_code == 422
    with app.app_context():
        draft = db.session().get(Draft, form_id)
        assert "lead_plan" not in next(iter(draft.answers.values()))


def test_submit_refuses_incomplete_form(client, app, make_form):
    _, token = make_form()
    client.get(f"/s/{token}")
    post_page(client, 1, PAGE1)
    review = client.get("/f/review").get_data(as_text=True)
    r = client.post("/f/submit", data={"csrf_token": csrf_from(review)})
    assert r.status_code == 422
    with app.app_context():
        assert db.session().scalar(select(func.count()).select_from(Response)) == 0


def test_deadline_locks_the_form(client, app, make_form):
    _, token = make_form()
    client.get(f"/s/{token}")
    post_page(client, 1, PAGE1)
    review = client.get("/f/review").get_data(as_text=True)
    with app.app_context(), db.write_transaction() as s:
        s.execute(update(Campaign).values(closes_at=utcnow() - dt.timedelta(minutes=1)))
    locked = client.get("/f/p/2")
    assert locked.status_code == 403
    assert "đã kết thúc" in locked.get_data(as_text=True)
    r = client.post("/f/submit", data={"csrf_token": csrf_from(review)})
    assert r.status_code == 403
    with app.app_context():
        assert db.session().scalar(select(func.count()).select_from(Response)) == 0


def test_not_yet_open(client, app, make_campaign, make_form):
    campaign = make_campaign(open_days=(2, 30))
    _, token = make_form(campaign=campaign)
    client.get(f"/s/{token}")
    r = client.get("/f/")
    assert r.status_code == 403
    assert "chưa mở" in r.get_data(as_text=True)


def test_unknown_and_revoked_tokens_look_the_same(client, app, make_form):
    form_id, token = make_form()
    unknown = client.get("/s/" + "A" * 22)
    with app.app_context():
        assert revoke_tokens(form_id) == 1
    revoked = client.get(f"/s/{token}")
    assert unknown.status_code == revoked.status_code == 404
    assert unknown.get_data() == revoked.get_data()


def test_only_the_token_hash_is_stored(app, make_form):
    _, token = make_form()
    with app.app_context():
        stored = db.session().scalars(select(AccessToken.token_hash)).all()
    assert stored == [hash_token(token)]
    assert token not in stored
    assert len(token) >= 22  # 128 bits in URL-safe base64


def test_missing_csrf_is_refused(client, app, make_form):
    form_id, token = make_form()
    client.get(f"/s/{token}")
    r = client.post("/f/p/1", data={**PAGE1, "action": "next"})
    assert r.status_code == 400
    with app.app_context():
        assert db.session().get(Draft, form_id) is None


def test_no_session_means_open_the_link_again(client):
    r = client.get("/f/p/1")
    assert r.status_code == 401
    assert "mở lại" in r.get_data(as_text=True).lower()


def test_english_is_switchable_and_vietnamese_the_default(client, make_form):
    _, token = make_form()
    client.get(f"/s/{token}")
    vi = client.get("/f/").get_data(as_text=True)
    assert '<html lang="vi">' in vi
    en = client.get("/f/?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in en
    assert "Confidentiality" in en
    assert "survey on their department's public administration reform".replace("'", "&#39;") in en


BOOSTED = {"HX-Request": "true", "HX-Boosted": "true"}  # what htmx sends for an hx-boost form


def test_boosted_posts_are_answered_by_the_page_they_lead_to(app, make_form):
    """The pages' scripts (htmx, hx-boost) get the next page in the POST's own response and
    its address in ``HX-Push-Url``: one round trip per page. What is saved, where each step
    leads and what is shown are those of the redirects a browser without scripts follows."""
    from survey.models import ResponseParadata

    form_id, token = make_form()
    c = app.test_client()
    first = c.get(f"/s/{token}", follow_redirects=True).get_data(as_text=True)

    def boosted(page: int, data: dict, html: str, action: str = "next"):
        return c.post(f"/f/p/{page}", headers=BOOSTED,
                      data={**data, "csrf_token": csrf_from(html), "action": action})

    r = boosted(1, PAGE1, first)
    assert r.status_code == 200 and r.headers["HX-Push-Url"] == "/f/p/2"
    page2 = r.get_data(as_text=True)
    assert 'action="/f/p/2"' in page2 and "Trang 2/4" in page2
    # Back: page 1 with its answers, then from page 1 the landing page
    r = boosted(2, PAGE2, page2, "back")
    assert r.headers["HX-Push-Url"] == "/f/p/1"
    assert 'name="u0-lead_head" value="B" checked' in r.get_data(as_text=True)
    r = boosted(1, PAGE1, first, "back")
    assert r.status_code == 200 and r.headers["HX-Push-Url"] == "/f/"
    assert "Xem lại và gửi phiếu" in r.get_data(as_text=True)  # nothing required is left
    # a page with errors is answered in place: 422, the address unchanged
    r = boosted(1, {"u0-lead_plan": "A"}, first)
    assert r.status_code == 422 and "HX-Push-Url" not in r.headers
    assert "Vui lòng trả lời câu hỏi này." in r.get_data(as_text=True)
    # "save and continue later": a message in place
    r = boosted(1, PAGE1, first, "save")
    assert r.status_code == 200 and "HX-Push-Url" not in r.headers
    # the pages in a row, each rendered by the previous post only (no GET between them)
    page2 = boosted(1, PAGE1, first).get_data(as_text=True)
    page3 = boosted(2, PAGE2, page2).get_data(as_text=True)
    r = boosted(3, {"u0-has_suggestion": "N"}, page3)
    assert r.headers["HX-Push-Url"] == "/f/review"
    review = r.get_data(as_text=True)
    assert "Xem lại câu trả lời" in review and "Hoàn toàn đồng ý" in review
    r = c.post("/f/submit", headers=BOOSTED, data={"csrf_token": csrf_from(review)})
    assert r.status_code == 200 and r.headers["HX-Push-Url"] == "/f/done"
    assert "Cảm ơn" in r.get_data(as_text=True)
    again = c.post("/f/submit", headers=BOOSTED, data={"csrf_token": csrf_from(review)})
    assert "HX-Push-Url" not in again.headers and "Đã gửi" in again.get_data(as_text=True)
    with app.app_context():
        s = db.session()
        (response,) = s.scalars(select(Response)).all()
        assert response.answers == {**{k[3:]: v for k, v in PAGE1.items()},
                                    **{k[3:]: v for k, v in PAGE2.items()},
                                    "has_suggestion": "N"}
        # page times are kept for pages shown by a post's answer as for pages fetched by GET
        seconds = s.scalars(select(ResponseParadata.page_seconds)).one()
        assert all(t is not None and t >= 0 for t in seconds[:3]), seconds


def test_posts_without_the_header_still_redirect(client, make_form):
    """A browser running no script: post/redirect/get, and no htmx header in the answer."""
    _, token = make_form()
    client.get(f"/s/{token}")
    r = post_page(client, 1, PAGE1)
    assert r.status_code == 302 and r.headers["Location"].endswith("/f/p/2")
    assert "HX-Push-Url" not in r.headers


def test_boosted_refusals_are_answered_in_place(app, make_form):
    """An ended session (401), a failed CSRF check (400) or a closed survey (403) answers a
    boosted post with its message page and names no address (the forms' hx-push-url="false"
    then keeps the address bar as it is, as for a page with errors)."""
    _, token = make_form()
    stranger = app.test_client()  # no session: the link was never opened in this browser
    r = stranger.post("/f/p/1", headers=BOOSTED, data={"action": "next"})
    assert r.status_code in (400, 401) and "HX-Push-Url" not in r.headers
    c = app.test_client()
    c.get(f"/s/{token}")
    r = c.post("/f/p/1", headers=BOOSTED, data={**PAGE1, "csrf_token": "forged",
                                                 "action": "next"})
    assert r.status_code == 400 and "HX-Push-Url" not in r.headers
    assert "<h1>" in r.get_data(as_text=True)  # the page that explains, not a bare error
    html = c.get("/f/p/1").get_data(as_text=True)
    with app.app_context(), db.write_transaction() as s:
        s.execute(update(Campaign).values(closes_at=utcnow() - dt.timedelta(minutes=1)))
    r = c.post("/f/p/1", headers=BOOSTED, data={**PAGE1, "csrf_token": csrf_from(html),
                                                 "action": "next"})
    assert r.status_code == 403 and "HX-Push-Url" not in r.headers
