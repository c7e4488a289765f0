"""Counting failures over a sliding window, in storage every worker process shares.

The database (default) or Redis, chosen by ``PAR_SURVEY_RATE_LIMIT_STORAGE`` (``database`` or
a ``redis://`` URL). Keys are already hashed by the caller; no raw address or email is stored.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Sequence
from functools import lru_cache
from typing import Protocol

from flask import current_app
from sqlalchemy import bindparam, delete, func, select, text

from survey import db
from survey.models import LoginFailure


#: What :meth:`FailureCounter.reserve` counted, to take back when the attempt succeeds.
Reservation = tuple[tuple[str, str], ...]  # (key, member) pairs


class FailureCounter(Protocol):
    def count(self, key: str, since: dt.datetime) -> int: ...
    def add(self, keys: Sequence[str], at: dt.datetime, window: dt.timedelta) -> None: ...
    def clear(self, key: str) -> None: ...
    def reserve(self, limits: Sequence[tuple[str, int]], at: dt.datetime,
                window: dt.timedelta) -> Reservation | None: ...
    def release(self, reservation: Reservation) -> None: ...


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

    def reserve(self, limits: Sequence[tuple[str, int]], at: dt.datetime,
                window: dt.timedelta) -> Reservation | None:
        """Count an attempt as a failure in advance, only if every key is under its limit.

        Count and add are one step: on PostgreSQL under a transaction-scoped advisory lock
        per key (taken in key order, so two attempts never wait on each other crosswise), on
        SQLite inside the ``BEGIN IMMEDIATE`` write transaction, which writers take one at a
        time. The caller commits before checking the password, so a parallel attempt sees it.
        """
        s = db.session()
        if s.get_bind().dialect.name == "postgresql":
            for key, _limit in sorted(limits):
                s.execute(_ADVISORY_LOCK, {"k": _lock_id(key)})
        since = at - window
        if any(self.count(key, since) >= limit for key, limit in limits):
            return None
        rows = [LoginFailure(key=key, at=at) for key, _limit in limits]
        s.add_all(rows)
        s.flush()
        return tuple((row.key, str(row.id)) for row in rows)

    def release(self, reservation: Reservation) -> None:
        ids = [int(member) for _key, member in reservation]
        db.session().execute(delete(LoginFailure).where(LoginFailure.id.in_(ids)))


_ADVISORY_LOCK = text("SELECT pg_advisory_xact_lock(:k)")


def _lock_id(key: str) -> int:
    """A signed 64-bit lock number for ``key`` (PostgreSQL advisory locks take a bigint)."""
    return int.from_bytes(hashlib.sha256(f"par-rate:{key}".encode()).digest()[:8], "big",
                          signed=True)


def prune_counts(now: dt.datetime) -> int:
    """Delete counted events older than any window (joins the caller's transaction)."""
    return db.session().execute(
        delete(LoginFailure).where(LoginFailure.at < now - KEEP_ROWS_FOR)
    ).rowcount or 0  # type: ignore[attr-defined]  # a DML statement's result is a CursorResult


# KEYS: the sorted sets; ARGV: now, since, ttl seconds, member, then one limit per key.
_RESERVE_LUA = """
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. ARGV[2])
  if redis.call('ZCARD', key) >= tonumber(ARGV[4 + i]) then return 0 end
end
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, ARGV[1], ARGV[4])
  redis.call('EXPIRE', key, ARGV[3])
end
return 1
"""


class RedisCounter:
    """A sorted set of failure times per key, trimmed to the window, expiring with it."""

    def __init__(self, url: str):
        import redis

        self.client = redis.Redis.from_url(url)
        self._reserve = self.client.register_script(_RESERVE_LUA)

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

    def reserve(self, limits: Sequence[tuple[str, int]], at: dt.datetime,
                window: dt.timedelta) -> Reservation | None:
        """As :meth:`DatabaseCounter.reserve`: one Lua script, which Redis runs atomically."""
        member = f"{at.timestamp()}:{secrets.token_hex(8)}"
        keys = [f"par:{key}" for key, _limit in limits]
        ok = self._reserve(keys=keys, args=[at.timestamp(), (at - window).timestamp(),
                                            int(window.total_seconds()) + 60, member,
                                            *(limit for _key, limit in limits)])
        return tuple((key, member) for key, _limit in limits) if ok else None

    def release(self, reservation: Reservation) -> None:
        pipe = self.client.pipeline()
        for key, member in reservation:
            pipe.zrem(f"par:{key}", member)
        pipe.execute()


@lru_cache(maxsize=8)
def _redis(url: str) -> RedisCounter:
    return RedisCounter(url)


def failure_counter() -> FailureCounter:
    storage = current_app.config.get("RATE_LIMIT_STORAGE", "database")
    if storage.startswith(("redis://", "rediss://", "unix://")):
        return _redis(storage)
    return DatabaseCounter()
