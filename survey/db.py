"""The database: declarative base, engine, one session and one unit of work per request or CLI
command.

Services change the session inside :func:`write_transaction` and never commit; the edge (a staff
request, an API call, a CLI command) commits its :func:`unit_of_work`. SQLite is tuned for
several writers (WAL, busy timeout, ``BEGIN IMMEDIATE`` for read-then-write transactions, see
:func:`write_transaction`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask, current_app, g
from sqlalchemy import MetaData, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

log = logging.getLogger(__name__)

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
    makers = sessionmaker(bind=engine, expire_on_commit=False)
    _track_writes(makers)
    app.extensions["db_sessionmaker"] = makers
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


# ---------------------------------------------------------------------------- units of work
#
# One unit of work per staff request, API call or CLI command (docs/architecture.md, "Units of
# work"): services change the session and flush inside write_transaction(); the edge that
# opened the unit commits it on success and rolls it back on an error, so a multi-step action
# is all or nothing. Keys in Session.info:

_UNIT = "par_unit_of_work"  # a unit of work is open on this session
_WROTE = "par_wrote"  # the open transaction has written (flush or DML statement)
_LOCKED = "par_write_lock"  # the open transaction began with BEGIN IMMEDIATE (SQLite)
_AFTER_COMMIT = "par_after_commit"  # callables to run once the unit has committed
_KEPT = "par_kept"  # callables that add again what a rollback must not undo
_BLOCKS = "par_blocks"  # a write_transaction block without a SAVEPOINT is open


class UnitOfWorkError(RuntimeError):
    """Code was about to commit (or roll back) work it did not start."""


def _track_writes(makers: sessionmaker[Session]) -> None:
    """Remember whether the open transaction has written, so that nothing ever commits a
    transaction holding someone else's writes."""

    @event.listens_for(makers, "after_flush")
    def _flushed(s: Session, _ctx: Any) -> None:
        s.info[_WROTE] = True

    @event.listens_for(makers, "do_orm_execute")
    def _executed(state: Any) -> None:
        if state.is_insert or state.is_update or state.is_delete:
            state.session.info[_WROTE] = True

    @event.listens_for(makers, "after_transaction_end")
    def _ended(s: Session, transaction: Any) -> None:
        if transaction.parent is None:  # the root transaction: committed or rolled back
            s.info.pop(_WROTE, None)
            s.info.pop(_LOCKED, None)


def _holds_writes(s: Session) -> bool:
    return bool(s.info.get(_WROTE) or s.new or s.dirty or s.deleted)


def in_unit_of_work() -> bool:
    return bool(session().info.get(_UNIT))


@contextmanager
def unit_of_work() -> Iterator[Session]:
    """The edge's unit of work (a staff request, an API call, a CLI command): commit once on
    success, roll back on any error, then run the :func:`after_commit` callables.

    Refused (:class:`UnitOfWorkError`) inside another unit, or when the session already holds
    writes made outside any unit: committing them here would commit work this unit did not do.
    """
    s = session()
    if s.info.get(_UNIT):
        raise UnitOfWorkError("a unit of work is already open on this session")
    if _holds_writes(s):
        raise UnitOfWorkError("the session holds writes made outside a unit of work")
    s.info[_UNIT] = True
    s.info[_AFTER_COMMIT] = []
    s.info[_KEPT] = []
    try:
        try:
            yield s
            s.commit()
        except BaseException:
            s.rollback()
            _write_kept(s, s.info.get(_KEPT, []))
            raise
        callbacks = s.info.get(_AFTER_COMMIT, [])
    finally:
        for key in (_UNIT, _AFTER_COMMIT, _KEPT):
            s.info.pop(key, None)
    for callback in callbacks:
        callback()


def _write_kept(s: Session, kept: list[Callable[[], None]]) -> None:
    """After a rollback: write again, in a transaction of their own, what must be kept."""
    if not kept:
        return
    try:
        _take_write_lock(s)
        for add in kept:
            add()
        s.commit()
    except Exception:  # the unit's own error is the one to report
        s.rollback()
        log.exception("could not keep %d record(s) of a rolled-back unit of work", len(kept))


def keep_if_rolled_back(add: Callable[[], None]) -> None:
    """For what the caller has just added to the unit and must be kept even if the unit rolls
    back (the audit event of a refused action, :func:`survey.services.audit.record_refusal`):
    ``add`` is called again after such a rollback, and committed by itself."""
    s = session()
    if s.info.get(_UNIT):
        s.info[_KEPT].append(add)


def after_commit(callback: Callable[[], object]) -> None:
    """Run ``callback`` once the open unit of work has committed (never if it rolls back);
    outside a unit at once, as the caller's work is committed already. For what must not start
    before the data it reads is committed, e.g. a thread that runs an import job."""
    s = session()
    if s.info.get(_UNIT):
        s.info[_AFTER_COMMIT].append(callback)
    else:
        callback()


def end_reads() -> None:
    """End the session's transaction when it has only read, before a long computation.

    Scoring a million responses takes longer than PostgreSQL lets a transaction sit idle
    (``idle_in_transaction_session_timeout``, :func:`make_engine`); the data is in memory by
    then. A transaction holding writes is left alone: it belongs to its unit of work.
    """
    s = session()
    if s.in_transaction() and not _holds_writes(s) and not s.in_nested_transaction():
        s.commit()  # nothing written: ends the read snapshot only


def _take_write_lock(s: Session) -> None:
    """Make sure the transaction is one that writes, from its first statement.

    A transaction that has only read is ended (there is nothing to commit) and begun again: on
    SQLite with ``BEGIN IMMEDIATE``, so two writers queue on the busy timeout instead of
    failing with "database is locked" when one upgrades its lock; on PostgreSQL as a plain
    transaction, as reads may have run on an autocommit connection (the respondent pages' first
    reads, :mod:`survey.services.responding`). One that has written already goes on.
    """
    if s.info.get(_LOCKED):
        return
    if s.in_transaction():
        if _holds_writes(s):
            return
        s.commit()  # nothing written: ends the read snapshot only
    s.connection(execution_options={"sqlite_immediate": True})
    s.info[_LOCKED] = True


@contextmanager
def write_transaction() -> Iterator[Session]:
    """A block of a service that reads then writes: all or nothing, committed by the unit.

    Inside a unit of work (:func:`unit_of_work`) the block joins the unit's transaction: if it
    raises, its own changes are undone (also when the caller catches the error) and the error
    goes on; on success it flushes and the unit commits later. The undo is a SAVEPOINT, or,
    for the unit's first writing block (nothing written before it), a rollback. Outside any
    unit (the respondent pages, a worker thread, a test calling a service) the outermost block
    is a unit of its own and commits at its end; nested blocks join it.

    It never commits a transaction it did not start: a session holding writes made outside
    any unit is refused with :class:`UnitOfWorkError`. On SQLite the transaction takes the
    write lock first (``BEGIN IMMEDIATE``, see :func:`_take_write_lock`).
    """
    s = session()
    if not s.info.get(_UNIT):
        with unit_of_work():
            _take_write_lock(s)
            yield s
        return
    _take_write_lock(s)
    if _holds_writes(s) or s.info.get(_BLOCKS):
        with s.begin_nested():
            yield s
        return
    # The unit's first writing block, not inside another: nothing before it to keep, so an
    # error rolls the transaction back instead of a SAVEPOINT (two statements fewer).
    s.info[_BLOCKS] = 1
    try:
        yield s
        s.flush()
    except BaseException:
        s.rollback()
        raise
    finally:
        s.info.pop(_BLOCKS, None)


@contextmanager
def own_transaction() -> Iterator[Session]:
    """A write transaction committed at its end, even inside a unit of work: the named
    exceptions that must last whatever the unit does (a worker's claim or record, a login
    attempt counted before the password is checked, an API call counted against its rate).

    Refused (:class:`UnitOfWorkError`) when the session holds writes or an open block, which
    its commit would commit too. Its callers are listed in ``tests/test_units_of_work.py``.
    """
    s = session()
    if _holds_writes(s) or s.in_nested_transaction():
        raise UnitOfWorkError("own_transaction would commit writes it did not make")
    if not s.info.get(_UNIT):
        with unit_of_work():  # blocks of the services it calls join it
            _take_write_lock(s)
            yield s
        return
    _take_write_lock(s)
    try:
        yield s
        s.commit()
    except BaseException:
        s.rollback()
        raise
