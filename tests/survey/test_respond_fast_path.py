"""What the respondent's fast path (one query per page, cached questionnaire, unit names and
question fragments, core statements) must keep: the same answers, states and pages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event, select, update

from survey import db
from survey.models import Campaign, CampaignStatus, Draft, Form, FormStatus, Unit, utcnow
from survey.models.integrity import FormParadata
from survey.services.paradata import ClientInfo, PageTiming
from survey.services.responding import (
    SubmitOutcome,
    load_form,
    record_open,
    save_page,
    submit_form,
)
from tests.conftest import csrf_from

PAGE1 = {"lead_plan": "A", "lead_head": "B", "lead_innovation": "E"}


def test_first_save_starts_the_form_once_and_later_saves_keep_the_start(app, make_form):
    form_id, _ = make_form()
    with app.app_context():
        ctx = load_form(form_id)
        key = str(ctx.assignments[0].id)
        assert save_page(ctx, 0, {key: PAGE1}, PageTiming(12.0, ClientInfo(5, 7)))
        started = db.session().get(Form, form_id).started_at
        assert db.session().get(Form, form_id).status is FormStatus.STARTED
    with app.app_context():
        loaded = load_form(form_id)
        assert loaded.answers_for(loaded.assignments[0]) == PAGE1
        ctx = save_page(loaded, 0, {key: {**PAGE1, "lead_plan": "C"}},
                        PageTiming(3.0, ClientInfo(0, 9)), honeypot=True)
        assert ctx is not None
        # the context returned carries on (answers, page times); the one loaded is unchanged
        assert ctx.answers_for(ctx.assignments[0])["lead_plan"] == "C"
        assert loaded.answers_for(loaded.assignments[0]) == PAGE1
        assert loaded.paradata.page_seconds == {"0": 12.0}
        assert save_page(ctx, 1, {key: {}}, PageTiming(4.0, ClientInfo()))
        form = db.session().get(Form, form_id)
        assert form.started_at == started and form.status is FormStatus.STARTED
        row = db.session().get(FormParadata, form_id)
        assert row.page_seconds == {"0": 15.0, "1": 4.0}
        assert row.network_hash == 5 and row.device_hash == 9  # 0 = unknown keeps the last
        assert row.honeypot_filled is True
        assert db.session().get(Draft, form_id).answers[key]["lead_plan"] == "C"


def test_a_page_saved_after_submit_leaves_no_draft(app, make_form):
    form_id, _ = make_form()
    with app.app_context():
        stale = load_form(form_id)
        fresh = load_form(form_id)
        key = str(fresh.assignments[0].id)
        for i, section in enumerate(fresh.questionnaire.sections):
            fresh = save_page(fresh, i, {key: {q.id: q.options[0].code if q.options else 1
                                               for q in section.questions if q.type.kind.has_options}})
        assert submit_form(load_form(form_id)) is SubmitOutcome.SUBMITTED
        assert save_page(stale, 0, {key: PAGE1}) is None  # the tab left open
        assert db.session().get(Draft, form_id) is None
        assert db.session().get(Form, form_id).status is FormStatus.SUBMITTED


@contextmanager
def statements(app) -> Iterator[list[tuple[str, bool]]]:  # noqa: ANN001
    """The statements run meanwhile, each with whether it was its own transaction
    (PostgreSQL in autocommit: no BEGIN and COMMIT round trips around it)."""
    seen: list[tuple[str, bool]] = []

    def record(conn, cursor, statement, *args):  # noqa: ANN001, ANN202
        own = getattr(conn.connection.dbapi_connection, "autocommit", False) is True
        seen.append((" ".join(statement.split()), own))

    engine = app.extensions["db_engine"]
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def writes(seen: list[tuple[str, bool]]) -> list[tuple[str, ...]]:
    """Each writing statement as (the tables it changes, in order..., "own" if it was its
    own transaction)."""
    out = []
    for sql, own in seen:
        if sql.startswith(("UPDATE", "INSERT", "DELETE", "WITH")):
            tables = re.findall(r"(?:UPDATE|INSERT INTO|DELETE FROM) (\w+)", sql)
            out.append((*tables, *(("own",) if own else ())))
    return out


def test_opening_a_link_reads_the_form_status_in_the_token_query(client, app, make_form):
    """Where a link leads depends on the form's status (page 1 of a fresh form, the landing
    page of a begun one): it comes with the token lookup, not from a statement more."""
    _, token = make_form()
    postgres = app.extensions["db_engine"].dialect.name == "postgresql"
    with statements(app) as first:
        r = client.get(f"/s/{token}")
    with statements(app) as again:
        second = client.get(f"/s/{token}")
    assert r.headers["Location"].endswith("/f/p/1")
    (lookup,) = [x for x, _ in first if "access_tokens" in x]
    # (with the respondent and their forms: where a link to a home leads comes with it too)
    assert lookup.startswith("SELECT access_tokens.form_id, forms.status, ")
    # the invalid-link counter and the token with its form's status; the first opening then
    # marks the form opened and adds its paradata row, which it need not read (none yet):
    # on PostgreSQL in one statement, its own transaction
    assert len([x for x, _ in first if x.startswith("SELECT")]) == 2, first
    assert writes(first) == ([("forms", "form_paradata", "own")] if postgres
                             else [("forms",), ("form_paradata",)]), first
    # opening it again leaves the form alone and updates the paradata row it reads
    assert second.headers["Location"].endswith("/f/p/1")
    assert len([x for x, _ in again if x.startswith("SELECT")]) == 3, again
    assert writes(again) == [("form_paradata",)], again


def test_each_page_save_is_one_statement_on_postgresql(client, app, make_form):
    """A page POST reads the form, then writes the draft, the form's status and the page's
    paradata: on PostgreSQL in one statement, its own transaction (no BEGIN and COMMIT round
    trips); on SQLite in one transaction. What is stored is the same."""
    form_id, token = make_form()
    postgres = app.extensions["db_engine"].dialect.name == "postgresql"
    client.get(f"/s/{token}")
    page = client.get("/f/p/1").get_data(as_text=True)
    with statements(app) as first:
        r = client.post("/f/p/1", data={"csrf_token": csrf_from(page), "action": "next",
                                        **{f"u0-{k}": v for k, v in PAGE1.items()}})
    assert r.status_code == 302
    page = client.get("/f/p/1").get_data(as_text=True)
    with statements(app) as again:
        r = client.post("/f/p/1", data={"csrf_token": csrf_from(page), "action": "next",
                                        **{f"u0-{k}": v for k, v in PAGE1.items()},
                                        "u0-lead_plan": "C"})
    assert r.status_code == 302
    for seen in (first, again):
        (read,) = [x for x, _ in seen if x.startswith("SELECT")]  # the form, in one query
        assert read.startswith("SELECT forms.id, "), seen
    if postgres:
        assert writes(first) == [("forms", "drafts", "form_paradata", "own")], first
        assert writes(again) == [("forms", "drafts", "form_paradata", "own")], again
    else:
        assert writes(first) == [("forms",), ("drafts",), ("form_paradata",)], first
        assert writes(again) == [("forms",), ("drafts",), ("form_paradata",)], again
    with app.app_context():
        form = db.session().get(Form, form_id)
        assert form.status is FormStatus.STARTED and form.started_at is not None
        ctx = load_form(form_id)
        assert ctx.answers_for(ctx.assignments[0]) == {**PAGE1, "lead_plan": "C"}
        row = db.session().get(FormParadata, form_id)
        assert set(row.page_seconds) == {"0"} and row.page_items == {"0": 3}
        assert row.link_devices and row.device_hash


def test_a_timed_page_save_after_submit_changes_nothing(app, make_form):
    """The tab left open, saving as the web pages do (page times, so in one statement on
    PostgreSQL) after the form was submitted elsewhere: refused, no draft or paradata left."""
    form_id, _ = make_form()
    with app.app_context():
        with db.write_transaction() as s:
            record_open(s, form_id, ClientInfo(1, 2), utcnow())
        fresh = load_form(form_id)
        key = str(fresh.assignments[0].id)
        timing = PageTiming(30.0, ClientInfo(1, 2))
        fresh = save_page(fresh, 0, {key: PAGE1}, timing)
        assert fresh is not None
        stale = load_form(form_id)  # started, with its paradata: the one-statement save
        for i, section in enumerate(fresh.questionnaire.sections):
            fresh = save_page(fresh, i, {key: {q.id: q.options[0].code if q.options else 1
                                               for q in section.questions
                                               if q.type.kind.has_options}}, timing)
            assert fresh is not None
        assert submit_form(load_form(form_id)) is SubmitOutcome.SUBMITTED
        assert save_page(stale, 1, {key: {}}, timing) is None
        s = db.session()
        assert s.get(Draft, form_id) is None and s.get(FormParadata, form_id) is None
        assert s.get(Form, form_id).status is FormStatus.SUBMITTED


def test_closing_a_campaign_locks_its_pages_at_once(client, app, make_form):
    form_id, token = make_form()
    client.get(f"/s/{token}")
    assert client.get("/f/p/1").status_code == 200  # the worker's caches are warm
    with app.app_context(), db.write_transaction() as s:
        s.execute(update(Campaign).values(status=CampaignStatus.CLOSED))
    assert client.get("/f/p/1").status_code == 403
    assert client.get("/f/").status_code == 403


def test_saved_answers_come_back_checked_and_errors_are_marked(client, app, make_form):
    form_id, token = make_form()
    client.get(f"/s/{token}")
    html = client.get("/f/p/1").get_data(as_text=True)
    assert " checked" not in html
    r = client.post("/f/p/1", data={"csrf_token": csrf_from(html), "u0-lead_plan": "B",
                                    "u0-lead_head": "Z", "action": "next"})
    assert r.status_code == 422
    body = r.get_data(as_text=True)
    assert re.search(r'name="u0-lead_plan" value="B" checked>', body)
    assert 'id="u0-lead_head-error"' in body and 'aria-describedby="u0-lead_head-error"' in body
    assert body.count(" checked") == 1
    again = client.get("/f/p/1").get_data(as_text=True)  # the valid answer was saved
    assert re.search(r'name="u0-lead_plan" value="B" checked>', again)
    assert again.count(" checked") == 1 and 'class="error"' not in again


def test_matrix_pages_name_each_unit_in_the_page_language(client, app, make_form):
    _, token = make_form("hdnd-rates-departments", units=("S01", "S02"))
    client.get(f"/s/{token}")
    vi = client.get("/f/p/1").get_data(as_text=True)
    en = client.get("/f/p/1?lang=en").get_data(as_text=True)
    assert "Sở thử 2" in vi and "Test department 2" in en and "Sở thử 2" not in en
    assert "\x00" not in vi + en  # no fragment placeholder left
    with app.app_context():
        names = db.session().scalars(select(Unit.name_vi)).all()
    assert all(vi.count(n) >= 1 for n in names[:2])
