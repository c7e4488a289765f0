"""The database: declarative base, engine, one session per request or CLI call.

Only :mod:`survey.services` commits. SQLite is tuned for several writers (WAL, busy timeout,
``BEGIN IMMEDIATE`` for read-then-write transactions, see :func:`write_transaction`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask, current_app, g
from sqlalchemy import MetaData, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL, a busy timeout and explicit BEGINs."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
            # Take over transaction control from pysqlite so BEGIN IMMEDIATE is possible.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            immediate = conn.get_execution_options().get("sqlite_immediate", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    engine = create_engine(
        url,
        pool_size=5,
        max_overflow=10,
        pool_recycle=1800,
        connect_args={"options": "-c statement_timeout=30000 "
                      "-c idle_in_transaction_session_timeout=60000"}
        if url.startswith("postgresql") else {},
    )
    _ping_when_idle(engine)
    return engine


#: A pooled connection idle longer than this is pinged before it is handed out.
PING_AFTER_IDLE_SECONDS = 1.0


def _ping_when_idle(engine: Engine) -> None:
    """Pre-ping, but only connections that sat in the pool a while.

    Pinging every checkout (``pool_pre_ping``) cost a round trip per checkout, about 16 per
    completed form. A connection handed back moments ago is alive; one that idled (over a
    database restart or a cut network, say) is pinged, and a dead one is replaced, not
    handed out. A connection that dies under load within the second is caught by SQLAlchemy's
    disconnect handling instead: that one request fails (503) and the pool is renewed.
    """

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is not None and time.monotonic() - since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:
            raise DisconnectionError("pooled connection is dead") from exc
        if not alive:
            raise DisconnectionError("pooled connection is dead")


def init_app(app: Flask) -> None:
    engine = make_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    app.extensions["db_engine"] = engine
    app.extensions["db_sessionmaker"] = sessionmaker(bind=engine, expire_on_commit=False)
    app.teardown_appcontext(_close_session)


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


def engine() -> Engine:
    return current_app.extensions["db_engine"]


def session() -> Session:
    """The session of the current request or CLI command."""
    if "db_session" not in g:
        g.db_session = current_app.extensions["db_sessionmaker"]()
    return g.db_session


@contextmanager
def write_transaction() -> Iterator[Session]:
    """A transaction that reads then writes: commit on success, roll back on error.

    On SQLite the transaction starts with ``BEGIN IMMEDIATE`` so two writers queue on the
    busy timeout instead of failing with "database is locked" when one upgrades its lock.
    """
    s = session()
    if s.in_transaction():
        s.commit()
    s.connection(execution_options={"sqlite_immediate": True})
    try:
        yield s
        s.commit()
    except BaseException:
        s.rollback()
        raise
