"""Matrix forms (questions x rated units), headers on every route, tokens kept out of logs."""

from __future__ import annotations

import logging

from sqlalchemy import select

from questionnaires import load_builtin_by_id
from survey import db
from survey.models import Response, Unit
from survey.security import RedactTokens
from tests.conftest import csrf_from


def test_matrix_form_yields_one_response_per_rated_unit(app, client, make_campaign, make_form):
    questionnaire = load_builtin_by_id("hdnd-rates-departments")
    make_campaign(departments=3, group="council_delegate")
    _, token = make_form(questionnaire, units=("S01", "S02", "S03"))
    assert client.get(f"/s/{token}").headers["Location"].endswith("/f/p/1")
    for number, section in enumerate(questionnaire.sections, start=1):
        html = client.get(f"/f/p/{number}").get_data(as_text=True)
        if number == 1:  # the welcome lists every unit rated; its h1 is the questionnaire's
            assert all(f"Sở thử {i}" in html for i in (1, 2, 3))
            assert "Các cơ quan, đơn vị được đánh giá" in html
            assert html.count("<h1") == 1 and '<h3 id="mq-' in html and '<h2 id="mq-' not in html
        else:
            assert '<h2 id="mq-' in html and '<h3 id="mq-' not in html
        data = {"csrf_token": csrf_from(html), "action": "next"}
        for unit_index in range(3):
            for q in section.questions:
                if q.scored:
                    # unit i gets option i (A, B, C) on every item
                    data[f"u{unit_index}-{q.id}"] = q.options[unit_index].code
                    assert f'name="u{unit_index}-{q.id}"' in html
        r = client.post(f"/f/p/{number}", data=data)
        assert r.status_code == 302, r.get_data(as_text=True)[:500]
    review = client.get("/f/review").get_data(as_text=True)
    assert client.post("/f/submit", data={"csrf_token": csrf_from(review)}).status_code == 302
    with app.app_context():
        s = db.session()
        rows = s.execute(select(Unit.code, Response.item_codes).join(
            Unit, Unit.id == Response.rated_unit_id).order_by(Unit.code)).all()
    n_items = len(questionnaire.scored_questions)
    assert [(code, set(codes)) for code, codes in rows] == [
        ("S01", {1}), ("S02", {2}), ("S03", {3})]
    assert all(len(codes) == n_items for _, codes in rows)


def test_security_headers_on_every_route(app, client, make_form):
    _, token = make_form()
    client.get(f"/s/{token}")
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint == "static":
            continue
        path = rule.rule.replace("<token>", "nope").replace("<int:page>", "1")
        r = client.get(path)
        csp = r.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp, path
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["Referrer-Policy"] == "same-origin"
        assert r.headers["X-Frame-Options"] == "DENY"
        assert r.headers["Cache-Control"] == "no-store"


def test_tokens_never_reach_the_logs(caplog):
    logger = logging.getLogger("werkzeug")
    token = "T3l-aEzhzNxmz6pHx2PyzA"
    with caplog.at_level(logging.INFO, logger="werkzeug"):
        logger.addFilter(RedactTokens())
        logger.info('%s - - "%s" %s', "127.0.0.1", f"GET /s/{token} HTTP/1.1", 302)
        logger.info(f"GET /s/{token}?lang=en")
    assert token not in caplog.text
    assert caplog.text.count("/s/[redacted]") == 2
    with caplog.at_level(logging.INFO, logger="werkzeug"):
        logger.info("GET /q/ABCDEFGHIJKLMNOPQRST HTTP/1.1")  # a public QR code
    assert "ABCDEFGHIJ" not in caplog.text and "/q/[redacted]" in caplog.text
    # gunicorn's access log passes a dict of atoms, the Referer ("f") among them: a poster
    # page's stylesheet and Start send its address there (Referrer-Policy: same-origin)
    access = logging.getLogger("gunicorn.access")
    access.addFilter(RedactTokens())
    with caplog.at_level(logging.INFO, logger="gunicorn.access"):
        access.info('"%(r)s" %(s)s "%(f)s"', {"r": "POST /q/ABCDEFGHIJKLMNOPQRST HTTP/1.1",
                                             "s": "302", "f": "https://x.vn/q/ABCDEFGHIJKLMNOPQRST"})
    assert "ABCDEFGHIJ" not in caplog.text and caplog.text.count("/q/[redacted]") == 3


def test_client_address_behind_a_trusted_proxy(database_url):
    """Rate limits key on the client's network: behind nginx that is X-Forwarded-For."""
    from flask import request

    from survey import create_app

    for proxies, expected in ((0, "10.0.0.1"), (1, "203.0.113.7")):
        app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url,
                          "TRUSTED_PROXIES": proxies})
        app.add_url_rule("/_addr", "addr", lambda: request.remote_addr or "")
        reply = app.test_client().get("/_addr", environ_base={"REMOTE_ADDR": "10.0.0.1"},
                                      headers={"X-Forwarded-For": "203.0.113.7"})
        app.extensions["db_engine"].dispose()
        assert reply.get_data(as_text=True) == expected


def test_the_real_server_log_has_no_token(app, make_form, tmp_path):
    """Serve through werkzeug's own request handler and read what it logs."""
    import threading
    import urllib.request

    from werkzeug.serving import make_server

    from survey.security import install_log_redaction

    _, token = make_form()
    records: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record.getMessage())

    handler = Collect()
    logging.getLogger("werkzeug").addHandler(handler)
    logging.getLogger("werkzeug").setLevel(logging.INFO)
    install_log_redaction()
    server = make_server("127.0.0.1", 0, app)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    try:
        opener = urllib.request.build_opener(
            type("NoRedirect", (urllib.request.HTTPRedirectHandler,),
                 {"redirect_request": lambda *a, **k: None}))
        try:
            opener.open(f"http://127.0.0.1:{server.server_port}/s/{token}")
        except urllib.error.HTTPError as exc:
            assert exc.code == 302
    finally:
        server.shutdown()
        thread.join()
        logging.getLogger("werkzeug").removeHandler(handler)
    assert any("/s/[redacted]" in r for r in records), records
    assert not any(token in r for r in records)


def test_forms_post_over_https_with_the_referer_the_policy_lets_browsers_send(app, make_form):
    """Over HTTPS Flask-WTF also checks that a POST's Referer is this site (here the request
    is https itself; behind a proxy, ProxyFix makes it so from X-Forwarded-Proto). Browsers
    send it for same-site requests under ``Referrer-Policy: same-origin``; under the former
    ``no-referrer`` they sent none and every page save failed."""
    _, token = make_form()
    c = app.test_client()
    base = "https://khaosat.example.gov.vn"
    page = c.get(f"/s/{token}", base_url=base, follow_redirects=True)
    assert page.headers["Referrer-Policy"] == "same-origin"
    html = page.get_data(as_text=True)
    data = {"csrf_token": csrf_from(html), "u0-lead_plan": "A", "u0-lead_head": "B",
            "u0-lead_innovation": "E", "action": "next"}
    refused = c.post("/f/p/1", base_url=base, data=data)  # no Referer at all
    assert refused.status_code == 400
    saved = c.post("/f/p/1", base_url=base, data=data, headers={"Referer": f"{base}/f/p/1"})
    assert saved.status_code == 302 and saved.headers["Location"].endswith("/f/p/2")
