"""One message per person: invitations and reminders per respondent over a real SMTP server
(aiosmtpd), listing the units; reminders only for the unfinished; resending adds nothing."""

from __future__ import annotations

import datetime as dt
import email
import email.policy

from sqlalchemy import select, update

from survey import db
from survey.models import Campaign, Form, MailKind, OutboxMessage, OutboxStatus
from survey.services.outbox import queue_invitations, queue_reminders, work
from tests.survey.test_outbox import LINK_RE, smtp  # noqa: F401  (the SMTP server fixture)

DEPT = "dept-division-rates-own-department"


def _campaign() -> Campaign:
    return db.session().scalar(select(Campaign))


def _texts(messages) -> list[tuple[str, str]]:
    out = []
    for rcpt, raw in messages:
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        out.append((rcpt, msg.get_body(("plain",)).get_content()))
    return out


def test_one_invitation_per_respondent_lists_every_unit_and_opens_the_home(
        app, client, make_home, smtp):  # noqa: F811
    many = make_home(((DEPT, ("S01",)), (DEPT, ("S02",)), (DEPT, ("S03",))),
                     email="nhieu@example.vn")
    make_home(((DEPT, ("S02",)), (DEPT, ("S03",))), email="hai@example.vn", name="Người Hai")
    with app.app_context():
        report = queue_invitations(_campaign())
        assert report.queued == 2  # people, not forms (5)
        assert queue_invitations(_campaign()).queued == 0  # resend adds nothing
        assert queue_invitations(_campaign()).already_queued == 2
        assert work().sent == 2
        assert work().sent == 0
        rows = db.session().scalars(select(OutboxMessage)).all()
        assert {(r.form_id, r.kind, r.round) for r in rows} == {(None, MailKind.INVITATION, 0)}
    assert sorted(r for r, _ in smtp.messages) == ["hai@example.vn", "nhieu@example.vn"]
    text = dict(_texts(smtp.messages))["nhieu@example.vn"]
    assert all(f"Sở thử {i}" in text for i in (1, 2, 3))
    assert len(LINK_RE.findall(text)) == 1  # one link
    r = client.get(f"/s/{LINK_RE.search(text).group(1)}")
    assert r.status_code == 302 and r.headers["Location"].endswith("/h/")
    body = client.get("/h/").get_data(as_text=True)
    assert all(f"Sở thử {i}" in body for i in (1, 2, 3)) and many.form_ids


def test_reminders_list_only_the_unfinished_and_skip_those_done(app, make_home, smtp):  # noqa: F811
    part = make_home(((DEPT, ("S01",)), (DEPT, ("S02",)), (DEPT, ("S03",))),
                     email="mot.phan@example.vn")
    done = make_home(((DEPT, ("S01",)), (DEPT, ("S02",))), email="xong@example.vn",
                     name="Người Xong")
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=8)
    with app.app_context():
        queue_invitations(_campaign())
        assert work().sent == 2
        with db.write_transaction() as s:
            s.execute(update(Form).where(Form.id.in_(part.form_ids[:2] + done.form_ids))
                      .values(status="submitted"))
        assert queue_reminders(_campaign(), after_days=7, now=later).queued == 1
        assert queue_reminders(_campaign(), after_days=7, now=later).queued == 0  # on its way
        assert work().sent == 1
        later2 = later + dt.timedelta(days=8)
        assert queue_reminders(_campaign(), after_days=7, now=later2).queued == 1  # round 2
        # ... but they finish before it goes out: it is cancelled, not sent
        with db.write_transaction() as s:
            s.execute(update(Form).where(Form.id == part.form_ids[2]).values(status="submitted"))
        assert work().sent == 0
        statuses = {(m.kind, m.round): m.status for m in db.session().scalars(
            select(OutboxMessage).where(OutboxMessage.respondent_id == part.respondent_id))}
        assert statuses == {(MailKind.INVITATION, 0): OutboxStatus.SENT,
                            (MailKind.REMINDER, 1): OutboxStatus.SENT,
                            (MailKind.REMINDER, 2): OutboxStatus.CANCELLED}
    reminders = _texts(smtp.messages[2:])
    assert [r for r, _ in reminders] == ["mot.phan@example.vn"]
    text = reminders[0][1]
    assert "Sở thử 3" in text and "Sở thử 1" not in text and "Sở thử 2" not in text


def test_a_bounced_message_to_a_home_counts_in_each_of_its_forms_cells(app, make_home,
                                                                       smtp):  # noqa: F811
    from survey.services.console import bounced_by_cell

    make_home(((DEPT, ("S01",)), (DEPT, ("S02",))), email="bounce.me@example.vn")
    with app.app_context():
        queue_invitations(_campaign())
        assert work().bounced == 1
        assert bounced_by_cell(_campaign()) == {("dept_division_leader", "S01"): 1,
                                                ("dept_division_leader", "S02"): 1}
