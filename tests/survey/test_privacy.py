"""Retention: after the purge no respondent's name, email or phone survives anywhere."""

from __future__ import annotations

import datetime as dt

import pytest

from sqlalchemy import String, Text, func, select, text, update

from survey import db
from survey.db import Base
from survey.models import Campaign, Respondent, Response, utcnow
from survey.services.campaigns import find_campaign
from survey.services.demo import DEMO_PEOPLE, demo_list_csv
from survey.services.outbox import queue_invitations
from survey.services.privacy import RetentionNotDue, purge_personal_data
from survey.services.responding import SubmitOutcome, load_form, save_page, submit_form


def all_text_values(app) -> str:
    """Every text value of every table, as one string (a blunt but complete search)."""
    chunks = []
    with app.app_context():
        conn = db.session().connection()
        for table in Base.metadata.sorted_tables:
            cols = [c.name for c in table.columns if isinstance(c.type, (String, Text))]
            if cols:
                for row in conn.execute(select(*[table.c[c] for c in cols])):
                    chunks.extend(str(v) for v in row if v is not None)
            for c in table.columns:  # JSON columns too (answers, audit details)
                if c.type.__class__.__name__ == "JSON":
                    chunks.extend(str(v) for (v,) in conn.execute(select(table.c[c.name])))
    return "\n".join(chunks)


def test_purge_erases_every_trace_of_identity_and_keeps_answers(app):
    runner = app.test_cli_runner()
    demo = runner.invoke(args=["demo", "--no-serve", "--empty"])
    assert demo.exit_code == 0
    link = next(x for x in demo.output.splitlines() if x.startswith("LINK ")).split()[-1]
    token = link.rsplit("/", 1)[-1]
    assert app.test_client().get(f"/s/{token}").status_code == 302
    with app.app_context():
        person = db.session().scalar(select(Respondent).order_by(Respondent.id))
        form_id = db.session().scalar(text(
            "select id from forms where respondent_id = :r order by id"), {"r": person.id})
        ctx = load_form(form_id)
        for i, section in enumerate(ctx.questionnaire.sections):
            answers = {q.id: q.options[0].code for q in section.questions if q.scored}
            ctx = save_page(ctx, i, {str(ctx.assignments[0].id): answers})
        assert submit_form(ctx) is SubmitOutcome.SUBMITTED
        # invitations queued: the outbox holds every address until the purge
        assert queue_invitations(find_campaign("TVH-2023")).queued > 0
    names = [name for _, _, name in DEMO_PEOPLE]
    emails = [line.split(",")[4] for line in demo_list_csv().splitlines()[1:]]
    phones = ["+84" + line.split(",")[5][1:] for line in demo_list_csv().splitlines()[1:]]
    before = all_text_values(app)
    assert all(n in before for n in names) and all(e in before for e in emails)

    with app.app_context():
        with pytest.raises(RetentionNotDue):  # the campaign has not closed yet
            purge_personal_data("TVH-2023", after_days=30)
        with db.write_transaction() as s:
            s.execute(update(Campaign).values(closes_at=utcnow() - dt.timedelta(days=31)))
    result = runner.invoke(args=["privacy", "purge", "--campaign", "TVH-2023", "--after-days",
                                 "30"])
    assert result.exit_code == 0, result.output
    after = all_text_values(app)
    leftovers = [v for v in names + emails + phones if v in after]
    assert leftovers == []
    with app.app_context():
        assert db.session().scalar(select(func.count()).select_from(Response)) == 1
    # the links sent before no longer open anything
    assert app.test_client().get(f"/s/{token}").status_code == 404
