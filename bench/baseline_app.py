"""The baseline for ``bench_forms.py``: the least a Flask form handler can do per POST.

A minimal Flask + WTForms + SQLAlchemy ORM app: one WTForms form with one radio field per
posted question (40 by default, named as the survey page names them, ``u0-<question id>``),
validated on every POST, and one row inserted per POST (ORM, one transaction). No session,
no CSRF, no templates, no questionnaire: what is left of the survey app's page POST once
everything specific to surveys is taken away. It answers with a redirect, as the app does.

Run under gunicorn with the same worker count as the app::

    BASELINE_DATABASE_URL=postgresql+psycopg://... BASELINE_FIELDS=u0-q01,u0-q02,... \\
        gunicorn --workers 5 'bench.baseline_app:create_app()'

``BASELINE_FIELDS`` is a comma-separated list of field names (default ``u0-q01`` ..
``u0-q40``); the table ``baseline_answers`` must exist (``create_schema(url)`` makes it).
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

from flask import Flask, g, redirect, request
from sqlalchemy import JSON, DateTime, create_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from wtforms import Form, RadioField
from wtforms.validators import Optional

CHOICES = [(c, c) for c in "ABCDE"]
DEFAULT_FIELDS = [f"u0-q{i:02d}" for i in range(1, 41)]


class Base(DeclarativeBase):
    pass


class Answer(Base):
    __tablename__ = "baseline_answers"
    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    answers: Mapped[dict[str, Any]] = mapped_column(JSON)


def form_class(names: list[str]) -> type[Form]:
    fields = {name: RadioField(choices=CHOICES, validators=[Optional()]) for name in names}
    return type("BaselineForm", (Form,), fields)


def create_schema(url: str) -> None:
    engine = create_engine(url)
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    engine.dispose()


def create_app() -> Flask:
    url = os.environ["BASELINE_DATABASE_URL"]
    names = [n for n in os.environ.get("BASELINE_FIELDS", "").split(",") if n] or DEFAULT_FIELDS
    page_form = form_class(names)
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": 30}
    else:  # the same pool as the survey app's
        kwargs.update(pool_pre_ping=True, pool_size=5, max_overflow=10)
    engine = create_engine(url, **kwargs)
    sessions = sessionmaker(bind=engine)
    app = Flask(__name__)

    @app.post("/f/p/<int:page>")
    def post_page(page: int) -> Any:
        form = page_form(request.form)
        form.validate()
        answers = {f.name: f.data for f in form if not f.errors and f.data}
        s: Session = sessions()
        g.db_session = s
        s.add(Answer(created_at=dt.datetime.now(dt.timezone.utc), answers=answers))
        s.commit()
        return redirect(f"/f/p/{page + 1}")

    @app.teardown_request
    def _close(_exc: BaseException | None) -> None:
        s = g.pop("db_session", None)
        if s is not None:
            s.close()

    return app
