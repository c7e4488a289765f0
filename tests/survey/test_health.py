"""``GET /healthz``: 200 when the database answers, 503 JSON (no details) when it does not."""

from __future__ import annotations

import socket

from flask import Flask
from flask.testing import FlaskClient

from survey.db import make_engine


def test_healthz_is_ok_when_the_database_answers(client: FlaskClient):
    reply = client.get("/healthz")
    assert reply.status_code == 200
    assert reply.is_json and reply.get_json()["status"] == "ok"
    assert "Set-Cookie" not in reply.headers  # a balancer's probe gets no session
    assert reply.headers["Cache-Control"] == "no-store"
    assert client.head("/healthz").status_code == 200


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_healthz_is_503_json_without_details_when_the_database_is_away(
        app: Flask, client: FlaskClient, monkeypatch, caplog):
    port = _closed_port()
    away = make_engine(f"postgresql+psycopg://nobody@127.0.0.1:{port}/gone")
    monkeypatch.setitem(app.extensions, "db_engine", away)
    try:
        reply = client.get("/healthz")
    finally:
        away.dispose()
    assert reply.status_code == 503
    assert reply.is_json
    assert reply.get_json() == {"status": "unavailable", "database": "unreachable"}
    body = reply.get_data(as_text=True)
    for leak in ("Traceback", "psycopg", "127.0.0.1", str(port), "nobody"):
        assert leak not in body
    assert reply.headers["Retry-After"] == "5"
    assert "database unavailable" in caplog.text


def test_healthz_is_a_registered_route(app: Flask):
    rules = {r.rule: r for r in app.url_map.iter_rules()}
    assert "/healthz" in rules and "GET" in rules["/healthz"].methods
