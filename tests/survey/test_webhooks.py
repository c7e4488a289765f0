"""Webhooks against a real local HTTP receiver: signatures, retries, dead letters, replay,
events queued with the change they report, and a killed worker losing nothing."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import func, select

from survey import db
from survey.models import (
    Campaign,
    DeliveryStatus,
    Response,
    WebhookAttempt,
    WebhookDelivery,
    utcnow,
)
from survey.services.integrity import annul_unit, decide_response
from survey.services.webhooks import (
    WebhookError,
    deliver_webhooks,
    delivery_log,
    delivery_summary,
    list_deliveries,
    queue_event,
    register_webhook,
    replay_delivery,
    rotate_webhook_secret,
    sweep_stale_webhook_claims,
    verify_signature,
)
from survey.services.respondents import import_respondents
from tests.survey.test_api import submit_all
from tests.survey.conftest import LIST



class Receiver:
    """An HTTP server on 127.0.0.1 keeping every post; fails the first ``fail_first`` posts of
    each event id with 500, or every post while ``down``."""

    def __init__(self) -> None:
        self.posts: list[tuple[dict[str, str], bytes]] = []
        self.accepted: Counter[str] = Counter()
        self.tries: Counter[str] = Counter()
        self.fail_first = 0
        self.down = False
        self.delay = 0.0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                event = self.headers["X-PAR-Event-Id"]
                with receiver.lock:
                    receiver.posts.append((dict(self.headers), body))
                    receiver.tries[event] += 1
                    ok = not receiver.down and receiver.tries[event] > receiver.fail_first
                    if ok:
                        receiver.accepted[event] += 1
                if receiver.delay:
                    time.sleep(receiver.delay)
                self.send_response(200 if ok else 500)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # a worker killed mid-post breaks its connection: expected here, not worth a trace
        self.server.handle_error = lambda *_args: None  # type: ignore[method-assign]
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/par"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def hooked(world, receiver):
    """The OWN-2026 campaign with an endpoint for every event on the local receiver."""
    world.config.update(WEBHOOK_ALLOW_HTTP_LOCAL=True, WEBHOOK_RETRY_BASE_SECONDS=0)
    with world.app_context():
        campaign = _campaign()
        row, secret = register_webhook(campaign, receiver.url, [
            "form.submitted", "review.decision", "quota.cell_full", "unit.annulled",
            "scores.recomputed"])
    world.config["hook_secret"] = secret
    return world


def _campaign() -> Campaign:
    return db.session().scalar(select(Campaign).where(Campaign.code == "OWN-2026"))


def test_https_is_required_unless_local_http_is_allowed(world, receiver):
    with world.app_context():
        with pytest.raises(WebhookError, match="https"):
            register_webhook(_campaign(), receiver.url, ["form.submitted"])
        with pytest.raises(WebhookError, match="https"):
            register_webhook(_campaign(), "http://example.vn/hook", ["form.submitted"])
        with pytest.raises(WebhookError, match="Unknown events"):
            register_webhook(_campaign(), "https://example.vn/hook", ["form.deleted"])
        world.config["WEBHOOK_ALLOW_HTTP_LOCAL"] = True
        with pytest.raises(WebhookError):  # the flag opens http to this machine only
            register_webhook(_campaign(), "http://example.vn/hook", ["form.submitted"])
        register_webhook(_campaign(), receiver.url, ["form.submitted"])


def test_events_are_signed_carry_no_identity_and_survive_two_failures(hooked, receiver,
                                                                       tmp_path):
    receiver.fail_first = 2
    more = tmp_path / "more.csv"
    more.write_text(LIST + "C,Lê Văn Cường,dept_division_leader,S01,cuong@example.vn\n",
                    encoding="utf-8")
    with hooked.app_context():
        import_respondents("OWN-2026", more)
    assert submit_all(hooked) == 3  # S01's cell (target 2) fills with the second
    with hooked.app_context():
        campaign = _campaign()
        rid = db.session().scalar(select(Response.id).order_by(Response.id))
        decide_response(campaign, rid, "exclude", "straight-lined every answer")
        annul_unit(campaign, "S02", "interference reported by a respondent")
        queued = delivery_summary(campaign.id)["queued"]
        assert queued == 3 + 1 + 1 + 1  # three submits, one full cell, a decision, an annulment
    with hooked.app_context():
        for _ in range(3):  # each round retries what failed (back-off base 0 in tests)
            deliver_webhooks()
        assert delivery_summary(_campaign().id)["delivered"] == queued
        assert len(delivery_log(_campaign())) == 3 * queued
    assert set(receiver.tries.values()) == {3}
    assert set(receiver.accepted.values()) == {1}  # each event taken once
    types = Counter()
    secret = hooked.config["hook_secret"]
    for headers, body in receiver.posts:
        assert verify_signature(secret, headers["X-PAR-Signature"], body)
        assert not verify_signature(secret, headers["X-PAR-Signature"], body + b" ")
        assert not verify_signature("whsec_other", headers["X-PAR-Signature"], body)
        event = json.loads(body)
        assert event["id"] == headers["X-PAR-Event-Id"] and event["campaign"] == "OWN-2026"
        types[event["type"]] += 1
        text = body.decode()
        for secret_text in ("Nguyễn", "an@example.vn", "Bích", "straight-lined", "interference"):
            assert secret_text not in text
    assert types == {"form.submitted": 3 * 3, "quota.cell_full": 3, "review.decision": 3,
                     "unit.annulled": 3}
    full = next(json.loads(b) for _, b in receiver.posts
                if json.loads(b)["type"] == "quota.cell_full")
    assert full["data"]["rated_unit"] == "S01" and full["data"]["target"] == 2


def test_an_event_commits_with_its_change_or_not_at_all(hooked):
    with hooked.app_context():
        campaign = _campaign()
        with pytest.raises(RuntimeError):
            with db.write_transaction() as s:
                queue_event(s, campaign, "scores.recomputed", {"units": 2})
                raise RuntimeError("the change failed")
        assert delivery_summary(campaign.id)["queued"] == 0
        from survey.services.integrity import ReviewError

        with pytest.raises(ReviewError):
            annul_unit(campaign, "S99", "no such unit at all")
        assert delivery_summary(campaign.id)["queued"] == 0


def test_dead_letters_replay_and_secret_rotation(hooked, receiver):
    hooked.config["WEBHOOK_MAX_ATTEMPTS"] = 2
    receiver.down = True
    with hooked.app_context():
        campaign = _campaign()
        with db.write_transaction() as s:
            queue_event(s, campaign, "scores.recomputed", {"units": 2})
        deliver_webhooks()
        deliver_webhooks()
        (dead,) = list_deliveries(campaign, status="dead")
        assert dead.attempts == 2 and dead.last_error == "HTTP 500"
        old = hooked.config["hook_secret"]
        endpoint_id = db.session().scalar(select(WebhookDelivery.endpoint_id))
        new = rotate_webhook_secret(campaign, endpoint_id, keep_old_hours=1)
        receiver.down = False
        replay_delivery(campaign, dead.id)
        deliver_webhooks()
        assert delivery_summary(campaign.id)["delivered"] == 1
        with pytest.raises(WebhookError):
            replay_delivery(campaign, 10_000)
    headers, body = receiver.posts[-1]
    assert headers["X-PAR-Signature"].count("v1=") == 2
    assert verify_signature(new, headers["X-PAR-Signature"], body)
    assert verify_signature(old, headers["X-PAR-Signature"], body)  # during the rotation
    assert receiver.accepted[json.loads(body)["id"]] == 1


def test_cli_webhooks(hooked, receiver):
    runner = hooked.test_cli_runner()
    added = runner.invoke(args=["webhooks", "add", "--campaign", "OWN-2026", "--url",
                                receiver.url, "--event", "unit.annulled"])
    assert added.exit_code == 0 and added.output.strip().splitlines()[-1].startswith("whsec_")
    listed = runner.invoke(args=["webhooks", "list", "--campaign", "OWN-2026"])
    assert listed.output.count(receiver.url) == 2
    with hooked.app_context():
        annul_unit(_campaign(), "S01", "a reason long enough")
    worked = runner.invoke(args=["webhooks", "work", "--lang", "en"])
    assert worked.exit_code == 0 and "delivered 2" in worked.output
    log = runner.invoke(args=["webhooks", "log", "--campaign", "OWN-2026"])
    assert log.output.count("\t200\t") == 2
    assert runner.invoke(args=["webhooks", "deliveries", "--campaign", "OWN-2026",
                               "--dead"]).output == ""


WORKER = """
import sys
from survey import create_app
from survey.services.webhooks import deliver_webhooks
app = create_app({"SQLALCHEMY_DATABASE_URI": sys.argv[1]})
with app.app_context():
    deliver_webhooks(once=False, batch_size=10, poll_seconds=0.1)
"""


def test_a_killed_worker_loses_nothing(hooked, receiver):
    receiver.delay = 0.01
    with hooked.app_context():
        campaign = _campaign()
        for i in range(60):
            with db.write_transaction() as s:
                queue_event(s, campaign, "scores.recomputed", {"units": i})
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER, hooked.config["SQLALCHEMY_DATABASE_URI"]],
        env={**os.environ, "PAR_SURVEY_SECRET_KEY": "x" * 32})
    try:
        deadline = time.monotonic() + 120
        while len(receiver.posts) < 15 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(receiver.posts) >= 15, "the worker posted nothing"
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    with hooked.app_context():
        # later than the lease: the dead worker's claims go back to the queue
        sweep_stale_webhook_claims(utcnow() + dt.timedelta(seconds=301))
        deliver_webhooks()
        assert delivery_summary(campaign.id)["delivered"] == 60
        attempts = db.session().scalar(select(func.count()).select_from(WebhookAttempt))
    assert len(receiver.accepted) == 60  # every event arrived
    # at most the one being posted when killed arrives twice; its id lets the receiver drop it
    assert sum(receiver.accepted.values()) - 60 <= 1
    assert attempts >= 60
    assert DeliveryStatus.DELIVERED.value == "delivered"
