"""Fixtures: every database test runs on SQLite and, when PAR_SURVEY_TEST_DATABASE_URL is set,
on PostgreSQL too. An unreachable PostgreSQL named there is a failure, not a skip."""

from __future__ import annotations

import datetime as dt
import os
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
from questionnaires.problems import Translator

os.environ.setdefault("PAR_SURVEY_SECRET_KEY", "test-secret-key-not-for-production")

from flask import Flask  # noqa: E402
from flask.testing import FlaskClient  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from survey import create_app  # noqa: E402
from survey.cli.db_cmd import upgrade_database  # noqa: E402
from survey.db import Base  # noqa: E402

PG_URL = os.environ.get("PAR_SURVEY_TEST_DATABASE_URL", "")


def _reset_postgres(url: str) -> None:
    try:
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    except Exception as exc:  # pragma: no cover - the message is the point
        pytest.fail(f"PostgreSQL at PAR_SURVEY_TEST_DATABASE_URL is unreachable: {exc}",
                    pytrace=False)


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated, empty database per backend for the whole session."""
    if request.param == "postgresql":
        if not PG_URL:
            pytest.skip("PostgreSQL run: set PAR_SURVEY_TEST_DATABASE_URL (make test in CI does)")
        _reset_postgres(PG_URL)
        url = PG_URL
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    upgrade_database(url)
    return url


def _empty_tables(app: Flask) -> None:
    engine = app.extensions["db_engine"]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            names = ", ".join(t.name for t in Base.metadata.sorted_tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            # the audit log refuses DELETE by trigger: lift the triggers for the wipe only
            triggers = conn.execute(text(
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")).all()
            for name, _sql in triggers:
                conn.execute(text(f'DROP TRIGGER "{name}"'))
            for table in reversed(Base.metadata.sorted_tables):
                conn.execute(table.delete())
            for _name, sql in triggers:
                conn.execute(text(sql))


@pytest.fixture(scope="session")
def vi() -> Translator:
    """The compiled Vietnamese catalog, to render problems as a Vietnamese reader sees them."""
    from survey.i18n import translator

    return translator("vi")


@pytest.fixture
def app(database_url: str) -> Iterator[Flask]:
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url,
                      "SERVER_NAME": "survey.test"})
    yield app
    _empty_tables(app)
    app.extensions["db_engine"].dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def run_threads(work: Callable[[Any], None], args: Iterable[Any]) -> list[BaseException]:
    """``work(arg)`` for each of ``args``, each in its own thread, all started before any is
    awaited; what they raised (concurrency tests assert it is nothing)."""
    errors: list[BaseException] = []

    def run(arg: Any) -> None:
        try:
            work(arg)
        except BaseException as exc:  # pragma: no cover - reported by the caller
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(a,)) for a in args]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def submit_concurrently(app: Flask, form_ids: list[int]) -> list[Any]:
    """Submit each of ``form_ids`` (a form may repeat) from its own thread, all at the same
    moment, each with the form as loaded just before; the outcomes."""
    from survey import db
    from survey.services.responding import load_form, submit_form

    barrier = threading.Barrier(len(form_ids))
    outcomes: list[Any] = []

    def worker(form_id: int) -> None:
        with app.app_context():
            ctx = load_form(form_id)
            db.session().close()  # hold no pooled connection while waiting for the others
            barrier.wait()
            outcomes.append(submit_form(ctx))

    errors = run_threads(worker, form_ids)
    assert not errors, errors
    return outcomes


def csrf_from(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "page has no CSRF token"
    return match.group(1)


@pytest.fixture
def make_campaign(app: Flask) -> Callable[..., Any]:
    """Factory: a campaign with departments S01..Snn and one respondent group."""
    from survey import db
    from survey.models import Campaign, CampaignStatus, RespondentGroup, Unit, utcnow

    def make(code: str = "T-2026", departments: int = 3, open_days: tuple[int, int] = (-1, 30),
             group: str = "dept_division_leader") -> Campaign:
        now = utcnow()
        with app.app_context(), db.write_transaction() as s:
            c = Campaign(code=code, name_vi="Chiến dịch thử", name_en="Test campaign",
                         province_code="TST", year=2026,
                         opens_at=now + dt.timedelta(days=open_days[0]),
                         closes_at=now + dt.timedelta(days=open_days[1]),
                         status=CampaignStatus.OPEN)
            s.add(c)
            s.flush()
            for i in range(1, departments + 1):
                s.add(Unit(campaign_id=c.id, code=f"S{i:02d}", name_vi=f"Sở thử {i}",
                           name_en=f"Test department {i}", level="department"))
            s.add(RespondentGroup(campaign_id=c.id, code=group, name_vi="Nhóm thử",
                                  name_en="Test group"))
        return c

    return make


@pytest.fixture
def make_form(app: Flask, make_campaign: Callable[..., Any]) -> Callable[..., tuple[int, str]]:
    """Factory: a form of a questionnaire (built-in id or a Questionnaire) rating ``units``;
    returns (form id, raw token)."""
    from sqlalchemy import select

    from questionnaires import Questionnaire, load_builtin_by_id
    from survey import db
    from survey.models import Assignment, Campaign, Form, Respondent, RespondentGroup, Unit
    from survey.services.questionnaires import publish_questionnaire
    from survey.services.tokens import issue_token

    def make(questionnaire: str | Questionnaire = "dept-division-rates-own-department",
             units: tuple[str, ...] = ("S01",), campaign: Campaign | None = None,
             email: str = "nguoi.thu@example.vn") -> tuple[int, str]:
        if isinstance(questionnaire, str):
            questionnaire = load_builtin_by_id(questionnaire)
        with app.app_context():
            c = campaign or db.session().scalar(select(Campaign)) or make_campaign()
            version = publish_questionnaire(questionnaire)
            with db.write_transaction() as s:
                group = s.scalar(select(RespondentGroup).filter_by(campaign_id=c.id))
                person = Respondent(campaign_id=c.id, group_id=group.id, full_name="Người Thử",
                                    email=email)
                s.add(person)
                s.flush()
                form = Form(campaign_id=c.id, respondent_id=person.id, group_id=group.id,
                            questionnaire_version_id=version.id)
                s.add(form)
                s.flush()
                for code in units:
                    unit = s.scalar(select(Unit).filter_by(campaign_id=c.id, code=code))
                    s.add(Assignment(form_id=form.id, rated_unit_id=unit.id))
                token = issue_token(form)
            return form.id, token

    return make


@pytest.fixture
def make_home(app: Flask, make_campaign: Callable[..., Any]) -> Callable[..., Any]:
    """Factory: one respondent with several forms, each (questionnaire id, rated unit codes);
    returns a namespace with ``respondent_id``, ``form_ids``, ``token`` (their home's link)
    and ``form_tokens`` (a per-form token each, as links were issued before homes)."""
    from types import SimpleNamespace

    from sqlalchemy import select

    from questionnaires import load_builtin_by_id
    from survey import db
    from survey.models import Assignment, Campaign, Form, Respondent, RespondentGroup, Unit
    from survey.services.questionnaires import publish_questionnaire
    from survey.services.tokens import issue_respondent_token, issue_token

    def make(forms: tuple[tuple[str, tuple[str, ...]], ...], departments: int = 3,
             email: str = "nguoi.nhieu.phieu@example.vn", name: str = "Người Nhiều Phiếu"
             ) -> Any:
        with app.app_context():
            c = db.session().scalar(select(Campaign)) or make_campaign(departments=departments)
            versions = [publish_questionnaire(load_builtin_by_id(q)).id for q, _ in forms]
            with db.write_transaction() as s:
                group = s.scalar(select(RespondentGroup).filter_by(campaign_id=c.id))
                person = Respondent(campaign_id=c.id, group_id=group.id, full_name=name,
                                    email=email)
                s.add(person)
                s.flush()
                ids, form_tokens = [], []
                for vid, (_, codes) in zip(versions, forms):
                    form = Form(campaign_id=c.id, respondent_id=person.id, group_id=group.id,
                                questionnaire_version_id=vid)
                    s.add(form)
                    s.flush()
                    for code in codes:
                        unit = s.scalar(select(Unit).filter_by(campaign_id=c.id, code=code))
                        s.add(Assignment(form_id=form.id, rated_unit_id=unit.id))
                    ids.append(form.id)
                    form_tokens.append(issue_token(form))
                token = issue_respondent_token(person.id)
            return SimpleNamespace(respondent_id=person.id, form_ids=ids, token=token,
                                   form_tokens=form_tokens)

    return make
