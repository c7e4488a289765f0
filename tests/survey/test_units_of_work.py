"""One unit of work per staff request, API call or CLI command (docs/architecture.md, "Units of
work"): services write inside ``db.write_transaction()`` and never commit; the edge commits once,
so a multi-step action is all or nothing; nothing commits writes it did not make."""

from __future__ import annotations

import datetime as dt
import io

import click
import pytest
from sqlalchemy import func, select

from survey import db
from survey.models import (
    AuditEvent,
    Campaign,
    LoginFailure,
    QuestionnaireVersion,
    Respondent,
    utcnow,
)
from tests.conftest import csrf_from
from tests.survey.conftest import LIST, config, login


def _count(app, model, *where) -> int:
    with app.app_context():
        return db.session().scalar(select(func.count()).select_from(model).where(*where)) or 0


def _failure(key: str) -> LoginFailure:
    return LoginFailure(key=key, at=utcnow())


# ---------------------------------------------------------------------------- write_transaction

def test_write_transaction_never_commits_writes_it_did_not_make(app):
    """The old write_transaction committed whatever the open transaction held; now it refuses,
    and the stray write is never committed."""
    with app.app_context():
        s = db.session()
        s.add(_failure("stray"))
        s.flush()
        with pytest.raises(db.UnitOfWorkError), db.write_transaction() as w:
            w.add(_failure("mine"))
        s.rollback()
    assert _count(app, LoginFailure) == 0


def test_blocks_inside_a_unit_commit_once_with_it(app):
    with app.app_context():
        with pytest.raises(RuntimeError), db.unit_of_work():
            with db.write_transaction() as s:
                s.add(_failure("first"))
            with db.write_transaction() as s:
                s.add(_failure("second"))
            raise RuntimeError("a later step fails")
    assert _count(app, LoginFailure) == 0
    with app.app_context(), db.unit_of_work():
        with db.write_transaction() as s:
            s.add(_failure("first"))
        with db.write_transaction() as s:
            s.add(_failure("second"))
    assert _count(app, LoginFailure) == 2


def test_a_block_whose_error_is_caught_leaves_nothing_and_the_unit_goes_on(app):
    with app.app_context(), db.unit_of_work():
        with db.write_transaction() as s:
            s.add(_failure("kept"))
        with pytest.raises(ValueError), db.write_transaction() as s:
            s.add(_failure("undone"))
            s.flush()
            raise ValueError("refused")
    with app.app_context():
        assert list(db.session().scalars(select(LoginFailure.key))) == ["kept"]


def test_a_first_block_whose_error_is_caught_is_undone_and_the_next_one_commits(app):
    with app.app_context(), db.unit_of_work():
        with pytest.raises(ValueError), db.write_transaction() as s:
            s.add(_failure("undone"))
            s.flush()
            raise ValueError("refused")
        with db.write_transaction() as s:
            s.add(_failure("kept"))
    with app.app_context():
        assert list(db.session().scalars(select(LoginFailure.key))) == ["kept"]


def test_a_block_outside_any_unit_is_its_own_unit(app):
    with app.app_context():
        with db.write_transaction() as s:
            s.add(_failure("outer"))
            with db.write_transaction() as inner:  # joins the outer block
                inner.add(_failure("inner"))
        assert not db.in_unit_of_work()
    assert _count(app, LoginFailure) == 2


def test_own_transaction_and_a_second_unit_refuse_a_unit_holding_writes(app):
    with app.app_context(), pytest.raises(db.UnitOfWorkError), db.unit_of_work():
        with db.write_transaction() as s:
            s.add(_failure("held"))
        with db.own_transaction():
            pass
    with app.app_context(), pytest.raises(db.UnitOfWorkError), db.unit_of_work():
        with db.unit_of_work():
            pass
    assert _count(app, LoginFailure) == 0


def test_own_transaction_commits_at_once_inside_a_unit(app):
    with app.app_context(), pytest.raises(RuntimeError), db.unit_of_work():
        with db.own_transaction() as s:
            s.add(_failure("counted"))
        with db.write_transaction() as s:
            s.add(_failure("undone"))
        raise RuntimeError("the action fails")
    with app.app_context():
        assert list(db.session().scalars(select(LoginFailure.key))) == ["counted"]


def test_after_commit_runs_only_once_the_unit_committed(app):
    ran: list[str] = []
    with app.app_context():
        with pytest.raises(RuntimeError), db.unit_of_work():
            db.after_commit(lambda: ran.append("rolled back"))
            raise RuntimeError
        with db.unit_of_work():
            db.after_commit(lambda: ran.append(f"saw {_count(app, LoginFailure)}"))
            with db.write_transaction() as s:
                s.add(_failure("x"))
    assert ran == ["saw 1"]


# ---------------------------------------------------------------------------- multi-step actions

def test_a_list_upload_whose_audit_fails_imports_nobody(world, monkeypatch):
    """Staff page: import the list, then audit it. The audit failing leaves no respondent."""
    import survey.services.console as console

    def broken(*_a, **_k):
        raise RuntimeError("audit store down")

    client = world.test_client()
    login(client, "contractor@tvh.gov.vn")
    own = select(Campaign.id).where(Campaign.code == "OWN-2026").scalar_subquery()
    before = _count(world, Respondent, Respondent.campaign_id == own)
    people = LIST + "C,Lê Văn Cường,dept_division_leader,S01,cuong@example.vn\n"
    page = client.get("/manage/c/OWN-2026/respondents").get_data(as_text=True)
    monkeypatch.setattr(console, "record_audit", broken)
    with pytest.raises(RuntimeError, match="audit store down"):
        client.post("/manage/c/OWN-2026/respondents", data={
            "csrf_token": csrf_from(page), "file": (io.BytesIO(people.encode()), "l.csv")},
            content_type="multipart/form-data")
    assert _count(world, Respondent, Respondent.campaign_id == own) == before
    monkeypatch.undo()
    page = client.get("/manage/c/OWN-2026/respondents").get_data(as_text=True)
    r = client.post("/manage/c/OWN-2026/respondents", data={
        "csrf_token": csrf_from(page), "file": (io.BytesIO(people.encode()), "l.csv")},
        content_type="multipart/form-data")
    assert r.status_code == 200
    assert _count(world, Respondent, Respondent.campaign_id == own) == before + 1


def test_a_campaign_upload_whose_audit_fails_creates_nothing(world, monkeypatch):
    """Staff page: publish questionnaires, store the campaign, audit. Nothing is left."""
    import survey.services.console as console

    def broken(*_a, **_k):
        raise RuntimeError("audit store down")

    client = world.test_client()
    login(client, "admin@tvh.gov.vn")
    page = client.get("/manage/campaigns/new").get_data(as_text=True)
    monkeypatch.setattr(console, "record_audit", broken)
    with pytest.raises(RuntimeError, match="audit store down"):
        client.post("/manage/campaigns/new", data={
            "csrf_token": csrf_from(page),
            "file": (io.BytesIO(config("NEW-2026", "84").encode()), "n.yaml")},
            content_type="multipart/form-data")
    assert _count(world, Campaign, Campaign.code == "NEW-2026") == 0


def test_campaign_create_command_failing_late_publishes_nothing(app, tmp_path, monkeypatch):
    """CLI: publishing the built-in questionnaires was its own commit; a later failure (the
    quota cells) now leaves no questionnaire version and no campaign."""
    import survey.services.campaigns as campaigns

    def broken(*_a, **_k):
        raise RuntimeError("cells cannot be stored")

    path = tmp_path / "c.yaml"
    path.write_text(config("CLI-2026", "84"), encoding="utf-8")
    monkeypatch.setattr(campaigns, "_store_cells", broken)
    out = app.test_cli_runner().invoke(args=["campaign", "create", "--config", str(path)])
    assert out.exit_code != 0
    assert isinstance(out.exception, RuntimeError)
    assert _count(app, QuestionnaireVersion) == 0
    assert _count(app, Campaign) == 0
    monkeypatch.undo()
    out = app.test_cli_runner().invoke(args=["campaign", "create", "--config", str(path)])
    assert out.exit_code == 0, out.output
    assert _count(app, QuestionnaireVersion) > 0
    assert _count(app, Campaign, Campaign.code == "CLI-2026") == 1


def test_a_refused_command_keeps_the_refusal_in_the_audit_log(world, tmp_path):
    """The command exits 1 (its unit rolls back); the audit event of the refusal stays."""
    path = tmp_path / "c.yaml"
    path.write_text(config("OTHER-2026", "84"), encoding="utf-8")
    out = world.test_cli_runner().invoke(args=["campaign", "create", "--config", str(path),
                                              "--as", "admin@tvh.gov.vn"])
    assert out.exit_code == 1
    assert _count(world, AuditEvent, AuditEvent.action == "campaign.refused") == 1


def test_an_api_call_that_fails_is_still_counted_and_audited(world, monkeypatch):
    """The rate count and the api.call event are kept; the failing view's writes are not."""
    from survey.services.api_tokens import create_api_token

    with world.app_context():
        _row, raw = create_api_token("contractor@tvh.gov.vn", "ci")
    client = world.test_client()
    headers = {"Authorization": f"Bearer {raw}"}
    since = utcnow() - dt.timedelta(seconds=1)
    r = client.post("/api/v1/campaigns/OWN-2026/respondent-imports", headers=headers,
                    data={"file": (io.BytesIO(b""), "empty.csv")},
                    content_type="multipart/form-data")
    assert r.status_code == 422
    with world.app_context():
        calls = db.session().scalars(select(AuditEvent).where(
            AuditEvent.action == "api.call", AuditEvent.at >= since)).all()
        assert [e.detail["status"] for e in calls] == [422]
        assert db.session().scalar(select(func.count()).select_from(LoginFailure).where(
            LoginFailure.key.like("api:%"))) == 1


# ---------------------------------------------------------------------------- the CLI edge

#: the commands that open their own units (survey.cli.common.commits_in_steps), and why
COMMITS_IN_STEPS = {
    "invite send": "the queue is one unit; delivery commits message by message",
    "invite remind": "the same",
    "invite work": "the mail worker",
    "webhooks work": "the webhook worker",
    "respondents work-imports": "the import-job worker",
    "demo": "the campaign is committed before the app serves it",
}


def _commands(group: click.Group, prefix: str = ""):
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from _commands(command, f"{prefix}{name} ")
        else:
            yield f"{prefix}{name}", command


def test_every_command_is_one_unit_of_work_or_a_named_exception(app):
    commands = dict(_commands(app.cli))
    assert len(commands) > 30
    for name, command in commands.items():
        assert getattr(command.callback, "unit_of_work", False), name
    steps = {name for name, command in commands.items()
             if getattr(command.callback, "commits_in_steps", False)}
    assert steps == set(COMMITS_IN_STEPS)
