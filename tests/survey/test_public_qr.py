"""Public QR per unit: the poster's page, fresh forms per visit, the limits, rotation, posters."""

from __future__ import annotations

import logging
import re
import shutil
import threading

import pytest
from sqlalchemy import JSON, String, Text, func, select, update

from questionnaires import load_builtin_by_id
from sampling import RateMode
from survey import db
from survey.cli.public_cmd import public_group
from survey.cli.qr_cmd import qr as qr_command
from survey.db import Base
from survey.models import (
    AccessToken,
    Assignment,
    Campaign,
    Form,
    FormStatus,
    Mode,
    PublicLink,
    QuotaCell,
    RespondentGroup,
    Response,
    Unit,
)
from survey.services.campaigns import find_campaign
from survey.services.paradata import ClientInfo
from survey.services.public import (
    PublicStart,
    Refusal,
    Visitor,
    create_public_links,
    public_code,
    revoke_public_links,
    rotate_public_links,
    start_public_form,
)
from survey.services.qr import qr_matrix_reference
from survey.services.questionnaires import publish_questionnaire
from survey.services.responding import MAX_TOKEN_FAILURES
from tests.conftest import csrf_from, run_threads
from tests.survey.test_qr_cards import pdf_pages, pdf_qr_matrices, pdf_text
from tests.survey.test_respond_flow import PAGE1, PAGE2, post_page

QID = "dept-division-rates-own-department"
GROUP = "dept_division_leader"
PHONE = {"REMOTE_ADDR": "203.0.113.7",
         "HTTP_USER_AGENT": "Mozilla/5.0 (Linux; Android 10; K) Chrome/120.0 Mobile"}


@pytest.fixture
def links(app, make_campaign):
    """Public links for S01 and S02 (quota cells of the group rate S01..S03); code by unit."""
    make_campaign(departments=3)
    with app.app_context():
        version = publish_questionnaire(load_builtin_by_id(QID))
        with db.write_transaction() as s:
            c = s.scalar(select(Campaign))
            g = s.scalar(select(RespondentGroup))
            for unit in s.scalars(select(Unit).order_by(Unit.code)):
                s.add(QuotaCell(campaign_id=c.id, group_id=g.id,
                                questionnaire_version_id=version.id, rated_unit_id=unit.id,
                                target=20, rate=RateMode.OWN, rule="t"))
        made = create_public_links(find_campaign("T-2026"), GROUP, ["S01", "S02"])
        return {x.rated_unit.code: public_code(x) for x in made}


def start(client, code, env=PHONE, lang="vi"):
    """Open the poster's page and press Start, as a phone does (the refusal pages are
    checked in English: their Vietnamese comes with the catalogue)."""
    page = client.get(f"/q/{code}?lang={lang}", environ_base=env)
    assert page.status_code == 200, page.status_code
    return client.post(f"/q/{code}", data={"csrf_token": csrf_from(page.get_data(as_text=True))},
                       environ_base=env)


def counts(app):
    with app.app_context():
        s = db.session()
        return tuple(s.scalar(select(func.count()).select_from(m)) for m in
                     (Form, Assignment, AccessToken))


def test_get_shows_the_unit_and_creates_nothing(app, client, links):
    before = counts(app)
    for _ in range(3):  # link previewers and scanner apps fetch the page first
        r = client.get(f"/q/{links['S01']}", environ_base=PHONE)
        assert r.status_code == 200
    body = r.get_data(as_text=True)
    assert "Sở thử 1" in body and "Bảo mật" in body and "<script" not in body
    assert 'method="post"' in body and csrf_from(body)
    assert counts(app) == before == (0, 0, 0)
    en = client.get(f"/q/{links['S01']}?lang=en").get_data(as_text=True)
    assert "Test department 1" in en and "Start" in en


def test_start_creates_a_public_form_and_the_flow_completes(app, client, links):
    r = start(client, links["S02"])
    assert r.status_code == 302 and r.headers["Location"].endswith("/f/p/1")  # a fresh form
    with client.session_transaction() as sess:
        form_id = sess["form_id"]
    with app.app_context():
        s = db.session()
        form = s.get(Form, form_id)
        assert form.mode is Mode.PUBLIC and form.respondent_id is None
        assert form.status is FormStatus.OPENED
        assert [a.rated_unit.code for a in form.assignments] == ["S02"]
        assert s.scalar(select(func.count()).select_from(AccessToken)
                        .where(AccessToken.form_id == form_id)) == 1
    page1 = client.get("/f/p/1").get_data(as_text=True)
    assert "Sở thử 2" in page1 and "Bảo mật thông tin" in page1  # page 1 welcomes
    assert "quét lại mã này bằng cùng điện thoại" in page1  # no personal link to come back with
    assert "đường dẫn này cho đến hạn" not in page1
    landing = client.get("/f/").get_data(as_text=True)  # page 1's Back
    assert "Sở thử 2" in landing and "quét lại mã này bằng cùng điện thoại" in landing
    assert "cùng điện thoại và trình duyệt" in client.post(
        "/f/p/1", data={**PAGE1, "action": "save", "csrf_token": csrf_from(page1)}
    ).get_data(as_text=True)
    post_page(client, 1, PAGE1)
    post_page(client, 2, PAGE2)
    post_page(client, 3, {"u0-has_suggestion": "N"})
    review = client.get("/f/review").get_data(as_text=True)
    r = client.post("/f/submit", data={"csrf_token": csrf_from(review)})
    assert r.status_code == 302 and r.headers["Location"].endswith("/f/done")
    with app.app_context():
        (response,) = db.session().scalars(select(Response)).all()
        assert response.mode is Mode.PUBLIC
        assert db.session().get(Unit, response.rated_unit_id).code == "S02"
    # scanning again after submitting offers a new form, and starts one
    assert "Tiếp tục" not in client.get(f"/q/{links['S02']}").get_data(as_text=True)
    start(client, links["S02"])
    with client.session_transaction() as sess:
        assert sess["form_id"] != form_id


def test_two_phones_get_two_forms_and_a_phone_resumes_its_own(app, links):
    first, second = app.test_client(), app.test_client()
    start(first, links["S01"])
    start(second, links["S01"], {**PHONE, "REMOTE_ADDR": "198.51.100.4"})
    with first.session_transaction() as a, second.session_transaction() as b:
        mine, theirs = a["form_id"], b["form_id"]
    assert mine != theirs
    # Start again before saving a page: the same form, still fresh, so page 1 again
    assert start(first, links["S01"]).headers["Location"].endswith("/f/p/1")
    with first.session_transaction() as a:
        assert a["form_id"] == mine
    with app.app_context():
        hashes = {f: db.session().scalars(select(AccessToken.token_hash)
                                          .where(AccessToken.form_id == f)).all()
                  for f in (mine, theirs)}
    assert len(hashes[mine]) == len(hashes[theirs]) == 1 and hashes[mine] != hashes[theirs]
    post_page(first, 1, PAGE1)
    # the same phone scans again: its unsubmitted form comes back with its answers
    again = first.get(f"/q/{links['S01']}", environ_base=PHONE).get_data(as_text=True)
    assert "Tiếp tục" in again  # "continue where you left off"
    r = start(first, links["S01"])
    assert r.headers["Location"].endswith("/f/")  # begun: the landing page resumes it
    with first.session_transaction() as a:
        assert a["form_id"] == mine
    assert 'href="/f/p/2"' in first.get("/f/").get_data(as_text=True)
    assert counts(app)[0] == 2
    # another unit's poster gives another form; the first is still resumed after it
    start(first, links["S02"])
    with first.session_transaction() as a:
        assert a["form_id"] not in (mine, theirs)
    start(first, links["S01"])
    with first.session_transaction() as a:
        assert a["form_id"] == mine


def _submit_current(client):
    post_page(client, 1, PAGE1)
    post_page(client, 2, PAGE2)
    post_page(client, 3, {"u0-has_suggestion": "N"})
    review = client.get("/f/review").get_data(as_text=True)
    assert client.post("/f/submit", data={"csrf_token": csrf_from(review)}).status_code == 302


def test_a_filled_honeypot_on_a_public_form_is_flagged_and_an_empty_one_is_not(
        app, make_form, links):
    from analysis.integrity import IntegrityConfig
    from survey.models.integrity import FormParadata, IntegrityFlag, ResponseParadata
    from survey.respond.views import HONEYPOT
    from survey.services.integrity import scan_campaign

    for addr, bait in (("198.51.100.1", "http://spam.example"), ("192.0.2.44", "")):
        client = app.test_client()
        start(client, links["S01"], env={**PHONE, "REMOTE_ADDR": addr})
        page = client.get("/f/p/1").get_data(as_text=True)
        # the field is in the page, hidden from people and from the keyboard
        assert f'name="{HONEYPOT}"' in page and 'class="hp" aria-hidden="true"' in page
        assert 'tabindex="-1"' in page
        r = client.post("/f/p/1", data={**PAGE1, HONEYPOT: bait, "action": "next",
                                        "csrf_token": csrf_from(page)})
        assert r.status_code == 302
        post_page(client, 2, PAGE2)
        post_page(client, 3, {"u0-has_suggestion": "N"})
        review = client.get("/f/review").get_data(as_text=True)
        assert client.post("/f/submit", data={"csrf_token": csrf_from(review)}).status_code == 302
    # a personal link's page has no honeypot; a posted one is ignored
    form_id, token = make_form(units=("S03",))
    personal = app.test_client()
    personal.get(f"/s/{token}")
    page = personal.get("/f/p/1").get_data(as_text=True)
    assert f'name="{HONEYPOT}"' not in page
    personal.post("/f/p/1", data={**PAGE1, HONEYPOT: "x", "action": "next",
                                  "csrf_token": csrf_from(page)})
    with app.app_context():
        s = db.session()
        bot, person = s.scalars(select(Response.id).where(Response.mode == Mode.PUBLIC)
                                .order_by(Response.id)).all()  # submitted in this order
        filled = dict(s.execute(select(ResponseParadata.response_id,
                                       ResponseParadata.honeypot_filled)).tuples().all())
        assert filled == {bot: True, person: False}
        assert s.get(FormParadata, form_id).honeypot_filled is False
        scan_campaign(find_campaign("T-2026"), IntegrityConfig(straightline_min_items=50))
        flagged = [f.response_id for f in s.scalars(
            select(IntegrityFlag).where(IntegrityFlag.check_code == "honeypot"))]
        assert flagged == [bot]


def test_one_browser_is_limited_per_day(app, client, links):
    app.config["PUBLIC_PER_DEVICE_PER_DAY"] = 2
    for _ in range(2):
        start(client, links["S01"])
        _submit_current(client)
    before = counts(app)
    r = start(client, links["S01"], lang="en")
    body = r.get_data(as_text=True)
    assert r.status_code == 429 and "Test department 1" in body and "paper form" in body
    assert counts(app) == before
    # the limit is per poster: the other unit's poster still works for this phone
    assert start(client, links["S02"]).status_code == 302


def test_one_device_is_limited_even_in_private_windows(app, links):
    app.config["PUBLIC_PER_AGENT_PER_DAY"] = 2
    for _ in range(2):  # a private window each time: no cookie carried over
        assert start(app.test_client(), links["S01"]).status_code == 302
    before = counts(app)
    r = start(app.test_client(), links["S01"], lang="en")
    assert r.status_code == 429 and "Test department 1" in r.get_data(as_text=True)
    assert counts(app) == before
    # another phone model on the same Wi-Fi is not that device
    other = {**PHONE, "HTTP_USER_AGENT": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) Safari"}
    assert start(app.test_client(), links["S01"], other).status_code == 302


def test_one_network_is_limited_per_hour(app, links):
    app.config["PUBLIC_PER_NETWORK_PER_HOUR"] = 3
    for i in range(3):
        env = {**PHONE, "HTTP_USER_AGENT": f"phone {i}"}
        assert start(app.test_client(), links["S01"], env).status_code == 302
    before = counts(app)
    r = start(app.test_client(), links["S01"], {**PHONE, "HTTP_USER_AGENT": "phone 9"}, "en")
    assert r.status_code == 429 and "your network" in r.get_data(as_text=True)
    assert counts(app) == before
    elsewhere = {"REMOTE_ADDR": "192.0.2.1", "HTTP_USER_AGENT": "phone 9"}
    assert start(app.test_client(), links["S01"], elsewhere).status_code == 302


def test_daily_cap_per_unit(app, links):
    runner = app.test_cli_runner()
    r = runner.invoke(public_group, ["create", "--campaign", "T-2026", "--group", GROUP,
                                     "--unit", "S01", "--daily-cap", "2"])
    assert r.exit_code == 0, r.output
    for i in range(2):
        env = {"REMOTE_ADDR": f"192.0.{i}.1", "HTTP_USER_AGENT": "phone"}
        assert start(app.test_client(), links["S01"], env).status_code == 302
    before = counts(app)
    r = start(app.test_client(), links["S01"], {"REMOTE_ADDR": "192.0.9.1"}, "en")
    body = r.get_data(as_text=True)
    assert r.status_code == 429 and "tomorrow" in body and "Test department 1" in body
    assert counts(app) == before
    assert start(app.test_client(), links["S02"]).status_code == 302  # another unit's cap
    listing = runner.invoke(public_group, ["list", "--campaign", "T-2026"])
    assert listing.exit_code == 0, listing.output
    s01 = next(line for line in listing.output.splitlines() if line.startswith("S01"))
    assert re.search(r"\b2\s+2\b", s01), s01  # cap 2, today 2


def test_concurrent_scans_never_overshoot_the_daily_cap(app, links):
    with app.app_context():
        (link,) = create_public_links(find_campaign("T-2026"), GROUP, ["S01"], daily_cap=3)
        code = public_code(link)
    n = 8
    barrier = threading.Barrier(n)
    outcomes: list[PublicStart] = []

    def scan(i: int) -> None:
        with app.test_request_context():
            barrier.wait()
            outcomes.append(start_public_form(
                code, ClientInfo(network_hash=1000 + i, device_hash=i + 1),
                Visitor(browser=f"b{i}")))
            db.session().close()

    errors = run_threads(scan, range(n))
    assert not errors, errors
    assert sum(o.form_id is not None for o in outcomes) == 3
    assert [o.refusal for o in outcomes].count(Refusal.DAILY_CAP) == n - 3
    assert counts(app)[0] == 3


def test_a_full_close_when_full_unit_starts_no_form(app, links):
    with app.app_context(), db.write_transaction() as s:
        s.execute(update(QuotaCell).values(close_when_full=True, target=0))
    r = start(app.test_client(), links["S01"], lang="en")
    assert r.status_code == 409 and "Test department 1" in r.get_data(as_text=True)
    assert counts(app) == (0, 0, 0)


def test_closed_campaign_shows_the_locked_message(app, client, links):
    with app.app_context(), db.write_transaction() as s:
        s.execute(update(Campaign).values(closes_at=Campaign.opens_at))
    r = client.get(f"/q/{links['S01']}")
    assert r.status_code == 403 and "đã kết thúc" in r.get_data(as_text=True).lower()
    assert client.post(f"/q/{links['S01']}").status_code in (400, 403)  # no CSRF: refused
    assert counts(app) == (0, 0, 0)


def test_rotate_and_revoke(app, client, links):
    old = links["S01"]
    with app.app_context():
        campaign = find_campaign("T-2026")
        (rotated,) = rotate_public_links(campaign, units=["S01"])
        new = public_code(rotated)
    assert new != old
    unknown = client.get("/q/" + "a" * 20)
    assert client.get(f"/q/{old}").get_data() == unknown.get_data()
    assert unknown.status_code == 404
    assert start(client, new).status_code == 302
    with app.app_context():
        revoke_public_links(find_campaign("T-2026"), units=["S01"])
    assert client.get(f"/q/{new}").status_code == 404
    assert client.get(f"/q/{links['S02']}").status_code == 200  # other links untouched
    # creating again is idempotent: no new link, the revoked one stays revoked
    with app.app_context():
        again = create_public_links(find_campaign("T-2026"), GROUP)
        assert len(again) == 3
        assert db.session().scalar(select(func.count()).select_from(PublicLink)) == 3


def test_invalid_codes_count_against_the_network(app, client, links, caplog):
    office = {"REMOTE_ADDR": "10.7.7.7"}
    with caplog.at_level(logging.WARNING):
        for i in range(MAX_TOKEN_FAILURES):
            assert client.get(f"/q/{'b' * 19}{i % 8 + 2}", environ_base=office).status_code == 404
    assert client.get(f"/q/{links['S01']}", environ_base=office).status_code == 429
    assert client.get(f"/q/{links['S01']}", environ_base=PHONE).status_code == 200


def test_codes_and_tokens_are_stored_nowhere_and_never_logged(app, links, caplog, monkeypatch):
    import survey.services.responding as responding_mod  # it creates the public forms

    issued: list[str] = []
    original = responding_mod.issue_token

    def spy(form):
        issued.append(original(form))
        return issued[-1]

    monkeypatch.setattr(responding_mod, "issue_token", spy)
    with caplog.at_level(logging.DEBUG):
        for i in range(3):
            start(app.test_client(), links["S01"], {**PHONE, "HTTP_USER_AGENT": f"p{i}"})
        app.test_client().get("/q/" + "c" * 20)
    with app.app_context():
        s = db.session()
        texts: list[str] = []
        for table in Base.metadata.sorted_tables:
            for c in table.columns:
                if isinstance(c.type, String | Text | JSON):
                    texts += [str(v) for v in s.execute(select(c)).scalars() if v is not None]
        rows = s.scalars(select(PublicLink)).all()
        codes = [public_code(x) for x in rows]
    blob = "\n".join(texts)
    assert len(codes) == 2 and len(issued) == 3  # a fresh token per visit
    for secret in codes + issued:
        assert secret.lower() not in blob.lower() and secret.lower() not in caplog.text.lower()


def test_posters_one_page_per_link(app, links, tmp_path):
    runner = app.test_cli_runner()
    out = tmp_path / "posters.pdf"
    r = runner.invoke(qr_command, ["--campaign", "T-2026", "--public", "--out", str(out)])
    assert r.exit_code == 0, r.output
    data = out.read_bytes()
    assert pdf_pages(data) == 2
    with app.app_context():
        codes = {public_code(x) for x in db.session().scalars(select(PublicLink))}
    drawn = pdf_qr_matrices(data)
    assert len(drawn) == 2
    base = app.config["PUBLIC_URL"].rstrip("/")
    urls = [f"{base}/q/{c}" for c in codes]
    assert all(any((m.shape == qr_matrix_reference(u).shape and (m == qr_matrix_reference(u)).all())
                   for u in urls) for m in drawn)
    one = tmp_path / "one.pdf"
    r = runner.invoke(qr_command, ["--campaign", "T-2026", "--public", "--unit", "S02",
                                   "--out", str(one)])
    assert r.exit_code == 0 and pdf_pages(one.read_bytes()) == 1
    svg_dir = tmp_path / "svg"
    r = runner.invoke(qr_command, ["--campaign", "T-2026", "--public", "--format", "svg",
                                   "--out", str(svg_dir)])
    assert r.exit_code == 0, r.output
    assert len(list(svg_dir.glob("*.svg"))) == 2 and (svg_dir / "index.csv").exists()
    # personal cards never include public forms
    start(app.test_client(), next(iter(codes)))
    cards = tmp_path / "cards.pdf"
    r = runner.invoke(qr_command, ["--campaign", "T-2026", "--out", str(cards), "--lang", "en"])
    assert r.exit_code == 0 and "0 card(s)" in r.output
    if shutil.which("gs") or shutil.which("pdftotext"):  # the text, where a reader is installed
        text = pdf_text(data, tmp_path)
        assert "Sở thử 1" in text and "Sở thử 2" in text and "scan the QR code" in text


def test_cli_create_rotate_revoke_and_located_errors(app, links):
    runner = app.test_cli_runner()
    r = runner.invoke(public_group, ["create", "--campaign", "T-2026", "--group", GROUP])
    assert r.exit_code == 0, r.output
    assert len(re.findall(r"^PUBLIC S0\d https?://\S+/q/[a-z2-7]{20}$", r.output, re.M)) == 3
    r = runner.invoke(public_group, ["create", "--campaign", "T-2026", "--group", GROUP,
                                     "--unit", "S09", "--lang", "en"])
    assert r.exit_code == 1 and "S09" in r.output and "no unit" in r.output
    r = runner.invoke(public_group, ["create", "--campaign", "T-2026", "--group", "nobody"])
    assert r.exit_code == 1 and "'nobody'" in r.output and "không có nhóm" in r.output
    r = runner.invoke(public_group, ["create", "--campaign", "NOPE", "--group", GROUP])
    assert r.exit_code == 1 and "NOPE" in r.output
    assert runner.invoke(public_group, ["rotate", "--campaign", "T-2026"]).exit_code == 2
    r = runner.invoke(public_group, ["rotate", "--campaign", "T-2026", "--unit", "S01",
                                     "--lang", "en"])
    assert r.exit_code == 0 and "1 link(s) rotated" in r.output
    new = re.search(r"/q/([a-z2-7]{20})", r.output).group(1)
    assert new != links["S01"]
    client = app.test_client()
    assert client.get(f"/q/{links['S01']}").status_code == 404
    assert client.get(f"/q/{new}").status_code == 200
    assert client.get(f"/q/{new.upper()}").status_code == 200  # typed from the poster
    r = runner.invoke(public_group, ["revoke", "--campaign", "T-2026", "--all", "--lang", "en"])
    assert r.exit_code == 0 and "3 link(s) revoked" in r.output
    assert client.get(f"/q/{new}").status_code == 404
    listing = runner.invoke(public_group, ["list", "--campaign", "T-2026"]).output
    assert listing.count("revoked") == 3 and "/q/" not in listing
