"""Email invitations and reminders through the outbox, against a real SMTP server (aiosmtpd)
started on a free port of 127.0.0.1: links, headers, bounces, lost connections, crashes,
parallel workers, retries and reminders."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from jinja2.exceptions import SecurityError
from sqlalchemy import select, update

from survey import db
from survey.models import AccessToken, Campaign, Form, MailKind, OutboxMessage, OutboxStatus
from survey.services import mail as mail_service
from survey.services.outbox import (
    bounced_recipients,
    outbox_summary,
    queue_invitations,
    queue_reminders,
    resolve_uncertain,
    respondent_tracking,
    uncertain_messages,
    work,
)

LINK_RE = re.compile(r"https?://\S+/s/([A-Za-z0-9_-]+)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Recorder:
    """An SMTP handler that keeps what it accepts and misbehaves on demand."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self.lock = threading.Lock()
        self.temp_fail: Counter[str] = Counter()  # address -> how many 451s before accepting
        self.drop_at_mail_after: int | None = None  # close at MAIL once this many were accepted
        self.drop_after_data: set[str] = set()  # keep the message, then hang up without a reply

    def count(self, address: str) -> int:
        return sum(1 for rcpt, _ in self.messages if rcpt == address)

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str,
                          options: list[str]) -> str:
        if self.drop_at_mail_after is not None and len(self.messages) >= self.drop_at_mail_after:
            self.drop_at_mail_after = None
            server.transport.close()
            return "421 4.3.2 closing"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          options: list[str]) -> str:
        if "bounce" in address:
            return "550 5.1.1 no such user"
        if self.temp_fail[address] > 0:
            self.temp_fail[address] -= 1
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            for rcpt in envelope.rcpt_tos:
                self.messages.append((rcpt, envelope.original_content or envelope.content))
        if set(envelope.rcpt_tos) & self.drop_after_data:
            server.transport.close()
        return "250 OK queued"


@pytest.fixture
def smtp(app):
    handler = Recorder()
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    app.config.update(SMTP_URL=f"smtp://127.0.0.1:{port}",
                      MAIL_FROM="Sở Nội vụ <khaosat@example.gov.vn>",
                      MAIL_RATE_PER_MINUTE=0, MAIL_RETRY_BASE_SECONDS=0,
                      PUBLIC_URL="http://survey.test", _REAL_PORT=port)
    yield handler
    controller.stop()


def _people(app, make_form, n: int, emails: list[str] | None = None) -> list[int]:
    emails = emails or [f"nguoi{i}@example.vn" for i in range(n)]
    return [make_form(email=e)[0] for e in emails]


def _campaign(app) -> Campaign:
    with app.app_context():
        return db.session().scalar(select(Campaign))


def _rows(app) -> list[OutboxMessage]:
    with app.app_context():
        return list(db.session().scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def test_invitation_arrives_with_link_headers_and_opens_the_form(app, client, make_form, smtp):
    form_id = _people(app, make_form, 1, ["le.thi.b@example.vn"])[0]
    with app.app_context():
        report = queue_invitations(_campaign(app))
        assert report.queued == 1
        assert queue_invitations(_campaign(app)).queued == 0  # idempotent
        assert work().sent == 1
        row = db.session().scalar(select(OutboxMessage))
        assert row.status is OutboxStatus.SENT and row.sent_at is not None
    assert [rcpt for rcpt, _ in smtp.messages] == ["le.thi.b@example.vn"]
    msg = email.message_from_bytes(smtp.messages[0][1], policy=email.policy.default)
    assert msg["From"] == "Sở Nội vụ <khaosat@example.gov.vn>"
    assert msg["To"] == "Người Thử <le.thi.b@example.vn>"
    assert msg["Subject"] == "Thư mời tham gia khảo sát Chỉ số CCHC – Chiến dịch thử"
    assert msg["Message-ID"] == row.message_id and row.message_id.endswith("@example.gov.vn>")
    assert msg["Content-Language"] == "vi"
    assert msg.get_content_type() == "multipart/alternative"
    parts = [p.get_content_type() for p in msg.iter_parts()]
    assert parts == ["text/plain", "text/html"]
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert "Kính gửi Người Thử" in text and "Sở thử 1" in text and "Sở thử 1" in html
    token = LINK_RE.search(text).group(1)
    assert f'href="http://survey.test/s/{token}"' in html
    # the raw token is stored nowhere; only its hash
    with app.app_context():
        values = [str(v) for v in vars(row).values()]
        assert not any(token in v for v in values)
        assert db.session().scalar(select(AccessToken).filter_by(
            token_hash=mail_service_hash(token))).id == row.access_token_id
    # the link opens the form, at its first page
    resp = client.get(f"/s/{token}")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/f/p/1")
    assert client.get(resp.headers["Location"]).status_code == 200
    with app.app_context():
        (t,) = respondent_tracking(_campaign(app).id)
        assert (t.form_id, t.invitation_status, t.bounced) == (form_id, "sent", False)
        assert t.invited_at is not None and t.opened_at is not None and t.submitted_at is None


def mail_service_hash(token: str) -> str:
    from survey.services.tokens import hash_token

    return hash_token(token)


def test_english_template_and_campaign_override(app, make_form, smtp):
    _people(app, make_form, 1)
    with app.app_context():
        c = _campaign(app)
        mail_service.set_template(c.id, MailKind.INVITATION, "en", mail_service.TemplateSource(
            "Hello {{ name }}", "Go: {{ link }} by {{ deadline }}",
            "<p>{{ name }} <a href='{{ link }}'>go</a></p>"))
        queue_invitations(c, language="en")
        work()
    msg = email.message_from_bytes(smtp.messages[0][1], policy=email.policy.default)
    assert msg["Subject"] == "Hello Người Thử" and msg["Content-Language"] == "en"
    assert LINK_RE.search(msg.get_body(("plain",)).get_content())
    with pytest.raises(SecurityError), app.app_context():  # staff-edited: sandboxed
        mail_service.set_template(c.id, MailKind.INVITATION, "vi", mail_service.TemplateSource(
            "{{ ''.__class__.__mro__ }}", "", ""))


def test_bounces_and_a_dropped_connection_end_in_exactly_once_delivery(app, make_form, smtp):
    emails = [f"nguoi{i}@example.vn" for i in range(10)] + ["bounce1@example.vn",
                                                            "bounce2@example.vn"]
    emails.insert(3, emails.pop())  # a bounce early in the batch
    _people(app, make_form, 0, emails)
    smtp.drop_at_mail_after = 5  # hang up mid-batch
    app.config["MAIL_RETRY_BASE_SECONDS"] = 60
    with app.app_context():
        queue_invitations(_campaign(app))
        first = work()
        assert (first.sent, first.bounced, first.retried, first.released) == (5, 1, 1, 5)
        assert work().processed == 0  # backing off
        with db.write_transaction() as s:
            s.execute(update(OutboxMessage).values(next_attempt_at=dt.datetime.now(dt.UTC)))
        work()  # runs again: the rest, once each
        summary = outbox_summary(_campaign(app).id)
        bounced = bounced_recipients(_campaign(app).id)
    assert summary["sent"] == 10 and summary["bounced"] == 2
    assert sum(summary.values()) == 12
    for address in emails:
        assert smtp.count(address) == (0 if "bounce" in address else 1), address
    assert sorted(p.email for p in bounced) == ["bounce1@example.vn", "bounce2@example.vn"]
    assert all(p.detail.startswith("550") for p in bounced)
    # a bounced address's token is revoked; queueing again skips it
    with app.app_context():
        for m in _rows(app):
            if m.status is OutboxStatus.BOUNCED:
                assert m.access_token_id is None
        assert queue_invitations(_campaign(app)).queued == 0
        tracking = {t.email: t for t in respondent_tracking(_campaign(app).id)}
    assert tracking["bounce1@example.vn"].bounced and not tracking["nguoi1@example.vn"].bounced


def test_temporary_failures_are_retried_with_backoff(app, make_form, smtp):
    _people(app, make_form, 0, ["a@example.vn", "tam.thoi@example.vn"])
    smtp.temp_fail["tam.thoi@example.vn"] = 1
    app.config["MAIL_RETRY_BASE_SECONDS"] = 120
    with app.app_context():
        queue_invitations(_campaign(app))
        report = work()
        assert (report.sent, report.retried) == (1, 1)
        row = db.session().scalar(select(OutboxMessage).filter_by(to_address="tam.thoi@example.vn"))
        assert row.status is OutboxStatus.QUEUED and row.attempts == 1
        assert row.next_attempt_at > dt.datetime.now(dt.UTC) + dt.timedelta(seconds=100)
        assert "451" in row.last_error
        assert work().processed == 0  # not due yet
        with db.write_transaction() as s:
            s.execute(update(OutboxMessage).values(next_attempt_at=dt.datetime.now(dt.UTC)))
        assert work().sent == 1
    assert smtp.count("tam.thoi@example.vn") == 1 and smtp.count("a@example.vn") == 1


def test_connection_refused_is_temporary_and_revokes_the_unsent_link(app, make_form, smtp):
    _people(app, make_form, 3)
    app.config["SMTP_URL"] = f"smtp://127.0.0.1:{_free_port()}"  # nobody listens there
    app.config["MAIL_RETRY_BASE_SECONDS"] = 0
    with app.app_context():
        queue_invitations(_campaign(app))
        report = work(max_messages=3)
        assert report.sent == 0 and report.retried >= 1
        assert {m.status for m in _rows(app)} == {OutboxStatus.QUEUED}
        live = db.session().scalars(select(AccessToken).where(AccessToken.revoked_at.is_(None)))
        assert len(list(live)) == 3  # only make_form's own tokens are live
    app.config["SMTP_URL"] = f"smtp://127.0.0.1:{smtp_port(smtp, app)}"
    with app.app_context():
        assert work().sent == 3


def smtp_port(_smtp: Recorder, app) -> int:
    return int(app.config["_REAL_PORT"])


class Crash(BaseException):
    """Stands for the worker being killed."""


def test_a_crash_after_the_server_accepted_never_resends(app, make_form, smtp):
    emails = [f"nguoi{i}@example.vn" for i in range(6)]
    _people(app, make_form, 0, emails)
    crashed: list[int] = []

    def die_after_third(outbox_id: int, _outcome: object) -> None:
        if len(smtp.messages) == 3 and not crashed:
            crashed.append(outbox_id)
            raise Crash

    with app.app_context():
        queue_invitations(_campaign(app))
        with pytest.raises(Crash):
            work(after_send=die_after_third)
        db.session().rollback()
        statuses = Counter(m.status for m in _rows(app))
        assert statuses == {OutboxStatus.SENT: 2, OutboxStatus.SENDING: 1,
                            OutboxStatus.CLAIMED: 3}
        assert work().processed == 0  # claims still within their lease: nothing resent
        app.config["MAIL_CLAIM_LEASE_SECONDS"] = 0  # the lease has run out
        report = work()
        assert report.sent == 3
        (doubt,) = uncertain_messages(_campaign(app).id)
        assert doubt.outbox_id == crashed[0]
    assert all(smtp.count(e) == 1 for e in emails)
    with app.app_context():
        resolve_uncertain(doubt.outbox_id, delivered=True)
        assert outbox_summary(_campaign(app).id)["sent"] == 6


WORKER = """
import sys
from survey import create_app
from survey.services.outbox import work
app = create_app({"SQLALCHEMY_DATABASE_URI": sys.argv[1], "SMTP_URL": sys.argv[2],
                  "MAIL_FROM": "khaosat@example.gov.vn", "MAIL_RATE_PER_MINUTE": 600})
with app.app_context():
    work(batch_size=50)
"""


def test_a_worker_killed_with_sigkill_loses_nothing_and_sends_nothing_twice(app, make_form, smtp):
    emails = [f"giet{i}@example.vn" for i in range(30)]
    _people(app, make_form, 0, emails)
    with app.app_context():
        queue_invitations(_campaign(app))
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER, app.config["SQLALCHEMY_DATABASE_URI"],
         app.config["SMTP_URL"]], env={**os.environ, "PAR_SURVEY_SECRET_KEY": "x" * 32})
    try:
        deadline = time.monotonic() + 120
        while len(smtp.messages) < 5 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(smtp.messages) >= 5, "the worker sent nothing"
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    app.config["MAIL_CLAIM_LEASE_SECONDS"] = 0
    with app.app_context():
        work()  # the rest; the message being sent when killed is not resent
        doubts = uncertain_messages(_campaign(app).id)
        assert len(doubts) <= 1
        for d in doubts:  # the contractor checks the server's log for the Message-ID
            resolve_uncertain(d.outbox_id, delivered=smtp.count(d.email) == 1)
        work()
        assert outbox_summary(_campaign(app).id)["sent"] == 30
    assert all(smtp.count(e) == 1 for e in emails)


def test_lost_reply_after_the_content_is_uncertain_and_resolvable(app, make_form, smtp):
    _people(app, make_form, 0, ["a@example.vn", "mat.tra.loi@example.vn", "c@example.vn"])
    smtp.drop_after_data.add("mat.tra.loi@example.vn")
    with app.app_context():
        queue_invitations(_campaign(app))
        work()
        work()
        (doubt,) = uncertain_messages(_campaign(app).id)
        assert doubt.email == "mat.tra.loi@example.vn"
        assert outbox_summary(_campaign(app).id)["sent"] == 2
        row = db.session().get(OutboxMessage, doubt.outbox_id)
        old_token = row.access_token_id
        # the contractor learns it never arrived: the old link is revoked, a new one is sent
        resolve_uncertain(doubt.outbox_id, delivered=False)
        smtp.drop_after_data.clear()
        assert work().sent == 1
        assert db.session().get(AccessToken, old_token).revoked_at is not None
    assert smtp.count("mat.tra.loi@example.vn") == 2  # the one we could not know about + resend
    assert smtp.count("a@example.vn") == smtp.count("c@example.vn") == 1


def test_parallel_workers_send_each_message_once(app, make_form, smtp):
    emails = [f"song.song{i}@example.vn" for i in range(40)]
    _people(app, make_form, 0, emails)
    with app.app_context():
        queue_invitations(_campaign(app))
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with app.app_context():
                work(batch_size=3)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    assert all(smtp.count(e) == 1 for e in emails)
    with app.app_context():
        assert outbox_summary(_campaign(app).id)["sent"] == 40


def test_rate_limit_per_minute(app, make_form, smtp):
    from survey.services.outbox import _claim

    _people(app, make_form, 4)
    app.config["MAIL_RATE_PER_MINUTE"] = 2
    with app.app_context():
        queue_invitations(_campaign(app))
        assert work(max_messages=1).sent == 1
        # one more this minute (over all workers, counted in the database), then none
        jobs, _raws, wait = _claim(10, 2)
        assert len(jobs) == 1 and wait == 0
        jobs, _raws, wait = _claim(10, 2)
        assert jobs == [] and 0 < wait <= 60
        assert outbox_summary(_campaign(app).id)["queued"] == 2


def test_reminders_go_to_those_who_have_not_completed(app, make_form, smtp):
    ids = _people(app, make_form, 0, ["xong@example.vn", "chua@example.vn", "mo@example.vn"])
    with app.app_context():
        c = _campaign(app)
        queue_invitations(c)
        work()
        with db.write_transaction() as s:
            s.execute(update(Form).where(Form.id == ids[0]).values(status="submitted"))
        later = dt.datetime.now(dt.UTC) + dt.timedelta(days=8)
        assert queue_reminders(c, after_days=7).queued == 0  # too early
        assert queue_reminders(c, after_days=7, now=later).queued == 2
        assert queue_reminders(c, after_days=7, now=later).queued == 0  # one is on its way
        assert work().sent == 2
        tracking = {t.email: t for t in respondent_tracking(c.id)}
    reminders = [email.message_from_bytes(raw, policy=email.policy.default)
                 for _rcpt, raw in smtp.messages[3:]]
    assert {m["To"].addresses[0].addr_spec for m in reminders} == {"chua@example.vn",
                                                                   "mo@example.vn"}
    assert all(m["Subject"].startswith("Nhắc nhở") for m in reminders)
    assert tracking["chua@example.vn"].reminders_sent == 1
    assert tracking["xong@example.vn"].reminders_sent == 0


def test_cli_send_work_and_problems(app, make_form, smtp):
    from survey.cli.invite_cmd import invite_group

    if "invite" not in app.cli.commands:
        app.cli.add_command(invite_group)
    _people(app, make_form, 0, ["a@example.vn", "bounce@example.vn"])
    runner = app.test_cli_runner()
    result = runner.invoke(args=["invite", "send", "--campaign", "T-2026", "--group",
                                 "dept_division_leader", "--unit", "S01", "--lang", "en"])
    assert result.exit_code == 0, result.output
    assert "QUEUED 2" in result.output and "SENT 1, bounced 1" in result.output
    result = runner.invoke(args=["invite", "problems", "--campaign", "T-2026"])
    assert "BOUNCED" in result.output and "bounce@example.vn" in result.output
    result = runner.invoke(args=["invite", "work", "--once", "--lang", "en"])
    assert result.exit_code == 0 and "SENT 0" in result.output
    result = runner.invoke(args=["invite", "send", "--campaign", "T-2026", "--unit", "S02"])
    assert "ĐÃ XẾP HÀNG 0" in result.output  # Vietnamese by default
    assert smtp.count("a@example.vn") == 1


def test_smtp_url_parsing():
    parsed = mail_service.parse_smtp_url("smtp://u%40x:p%3Aw@mail.gov.vn:587?starttls=1")
    assert parsed["username"] == "u@x" and parsed["password"] == "p:w"
    assert parsed["port"] == 587 and parsed["starttls"] and not parsed["implicit_tls"]
    assert mail_service.parse_smtp_url("smtps://mail.gov.vn")["port"] == 465
    with pytest.raises(mail_service.MailConfigError):
        mail_service.parse_smtp_url("http://mail.gov.vn")
