"""Counting failures over a sliding window, in storage every worker process shares.

The database (default) or Redis, chosen by ``PAR_SURVEY_RATE_LIMIT_STORAGE`` (``database`` or
a ``redis://`` URL). Keys are already hashed by the caller; no raw address or email is stored.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence
from functools import lru_cache
from typing import Protocol

from flask import current_app
from sqlalchemy import bindparam, delete, func, select

from survey import db
from survey.models import LoginFailure


class FailureCounter(Protocol):
    def count(self, key: str, since: dt.datetime) -> int: ...
    def add(self, keys: Sequence[str], at: dt.datetime, window: dt.timedelta) -> None: ...
    def clear(self, key: str) -> None: ...


#: No window is longer than a day (public QR visits); older rows count for nothing.
KEEP_ROWS_FOR = dt.timedelta(days=2)
PRUNE_EVERY = 200  # adds, on average: keeps the table at about two days of rows


# Built once: every link and public code opened runs it (building it cost more than running it).
_COUNT = (select(func.count()).select_from(LoginFailure)
          .where(LoginFailure.key == bindparam("key"), LoginFailure.at >= bindparam("since")))


class DatabaseCounter:
    """Rows in ``login_failures``; writes join the caller's transaction."""

    def count(self, key: str, since: dt.datetime) -> int:
        return db.session().connection().execute(
            _COUNT, {"key": key, "since": since}).scalar() or 0

    def add(self, keys: Sequence[str], at: dt.datetime, window: dt.timedelta) -> None:
        s = db.session()
        s.add_all([LoginFailure(key=k, at=at) for k in keys])
        if secrets.randbelow(PRUNE_EVERY) == 0:
            prune_counts(at)

    def clear(self, key: str) -> None:
        db.session().execute(delete(LoginFailure).where(LoginFailure.key == key))


def prune_counts(now: dt.datetime) -> int:
    """Delete counted events older than any window (joins the caller's transaction)."""
    return db.session().execute(
        delete(LoginFailure).where(LoginFailure.at < now - KEEP_ROWS_FOR)
    ).rowcount or 0  # type: ignore[attr-defined]  # a DML statement's result is a CursorResult


class RedisCounter:
    """A sorted set of failure times per key, trimmed to the window, expiring with it."""

    def __init__(self, url: str):
        import redis

        self.client = redis.Redis.from_url(url)

    def count(self, key: str, since: dt.datetime) -> int:
        self.client.zremrangebyscore(f"par:{key}", "-inf", f"({since.timestamp()}")
        return int(self.client.zcard(f"par:{key}"))

    def add(self, keys: Sequence[str], at: dt.datetime, window: dt.timedelta) -> None:
        pipe = self.client.pipeline()
        for k in keys:
            # a unique member per failure: two failures in the same microsecond both count
            pipe.zadd(f"par:{k}", {f"{at.timestamp()}:{secrets.token_hex(8)}": at.timestamp()})
            pipe.expire(f"par:{k}", int(window.total_seconds()) + 60)
        pipe.execute()

    def clear(self, key: str) -> None:
        self.client.delete(f"par:{key}")


@lru_cache(maxsize=8)
def _redis(url: str) -> RedisCounter:
    return RedisCounter(url)


def failure_counter() -> FailureCounter:
    storage = current_app.config.get("RATE_LIMIT_STORAGE", "database")
    if storage.startswith(("redis://", "rediss://", "unix://")):
        return _redis(storage)
    return DatabaseCounter()
