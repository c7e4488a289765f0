"""A benchmark's own PostgreSQL database: made if missing, emptied and migrated for each run.

The benchmarks drop and rebuild the ``public`` schema of the database they are given, so they
use scratch databases of their own (``test_h2``, ``test_h3``) beside the test suite's ``test``.
A fresh machine has only ``test``: :func:`fresh_database` creates the scratch one first,
connecting to the server's ``postgres`` database (trust auth locally; otherwise an account
allowed to ``CREATE DATABASE``).
"""

from __future__ import annotations

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


def ensure_database(url: str) -> None:
    """Create the PostgreSQL database named in ``url`` if the server has none of that name."""
    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"),
                                 {"name": target.database})
            if not exists:
                # a name cannot be a bound parameter; quote it as an identifier
                quoted = conn.dialect.identifier_preparer.quote(target.database)
                conn.execute(text(f"CREATE DATABASE {quoted}"))
    finally:
        admin.dispose()


def fresh_database(url: str) -> None:
    """An empty database at ``url``, migrated to the newest schema (PostgreSQL or SQLite)."""
    from survey.cli.db_cmd import upgrade_database

    if url.startswith("postgresql"):
        ensure_database(url)
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    upgrade_database(url)
