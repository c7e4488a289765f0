"""Exactly-once submit and SQLite under several writers."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from survey import db
from survey.models import Draft, Form, FormStatus, Response, utcnow
from survey.models.integrity import FormParadata, ResponseParadata
from survey.services.paradata import ClientInfo, PageTiming
from survey.services.responding import (
    SubmitOutcome,
    load_form,
    record_open,
    save_page,
    submit_form,
)
from tests.conftest import run_threads, submit_concurrently

ANSWERS = {"lead_plan": "A", "lead_head": "B", "lead_innovation": "C", "proc_public": "A",
           "proc_ontime": "A", "egov_online": "B"}


def _complete(app, form_id: int) -> None:
    with app.app_context():
        ctx = load_form(form_id)
        key = str(ctx.assignments[0].id)
        for i in range(len(ctx.questionnaire.sections)):
            ctx = save_page(ctx, i, {key: ANSWERS})


def test_twenty_concurrent_submits_store_exactly_one_response(app, make_form, database_url):
    form_id, _ = make_form()
    _complete(app, form_id)
    n = 20
    outcomes = submit_concurrently(app, [form_id] * n)
    assert outcomes.count(SubmitOutcome.SUBMITTED) == 1
    assert outcomes.count(SubmitOutcome.ALREADY_SUBMITTED) == n - 1
    with app.app_context():
        s = db.session()
        assert s.scalar(select(func.count()).select_from(Response)) == 1
        assert s.get(Form, form_id).status is FormStatus.SUBMITTED
        assert s.get(Draft, form_id) is None


def test_concurrent_page_saves_on_many_forms_never_fail_locked(app, make_form):
    forms = [make_form(email=f"p{i}@example.vn")[0] for i in range(8)]

    def worker(form_id: int) -> None:
        _complete(app, form_id)
        with app.app_context():
            assert submit_form(load_form(form_id)) is SubmitOutcome.SUBMITTED

    errors = run_threads(worker, forms)
    assert not errors, errors  # no "database is locked" on SQLite
    with app.app_context():
        assert db.session().scalar(select(func.count()).select_from(Response)) == len(forms)


@pytest.mark.parametrize("bad", ["", "x" * 65])
def test_absurd_tokens_are_rejected_without_a_query(client, bad):
    assert client.get(f"/s/{bad}").status_code == 404


def test_page_saves_racing_a_submit_leave_no_draft_or_form_paradata(app, make_form):
    """Tabs saving pages as the web pages do (page times: on PostgreSQL one statement each,
    gated on the form's row) while the form is submitted: each save lands before the submit
    or is refused, so the submit takes everything and leaves nothing on the identity side."""
    timing = PageTiming(15.0, ClientInfo(1, 2))
    forms = [make_form(email=f"r{i}@example.vn")[0] for i in range(4)]
    for form_id in forms:
        with app.app_context():
            with db.write_transaction() as s:
                record_open(s, form_id, ClientInfo(1, 2), utcnow())
            ctx = load_form(form_id)
            key = str(ctx.assignments[0].id)
            for i in range(len(ctx.questionnaire.sections)):
                ctx = save_page(ctx, i, {key: ANSWERS}, timing)
                assert ctx is not None
        n = 8
        barrier = threading.Barrier(n)
        outcomes: list[object] = []

        def worker(i: int, form_id: int = form_id) -> None:
            with app.app_context():
                ctx = load_form(form_id)
                key = str(ctx.assignments[0].id)
                db.session().close()
                barrier.wait()
                outcomes.append(submit_form(ctx) if i == 0
                                else save_page(ctx, i % 2, {key: ANSWERS}, timing))

        errors = run_threads(worker, range(n))
        assert not errors, errors
        assert SubmitOutcome.SUBMITTED in outcomes
        with app.app_context():
            s = db.session()
            assert s.get(Form, form_id).status is FormStatus.SUBMITTED
            assert s.get(Draft, form_id) is None and s.get(FormParadata, form_id) is None
    with app.app_context():
        s = db.session()
        assert s.scalar(select(func.count()).select_from(Response)) == len(forms)
        assert s.scalar(select(func.count()).select_from(ResponseParadata)) == len(forms)
