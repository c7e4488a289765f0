"""The audit log: every staff action that changes or exports data, append-only."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from flask import g, has_request_context
from sqlalchemy import select

from survey import db
from survey.models import AuditEvent


def record_audit(action: str, *, actor_id: int | None = None, actor_email: str | None = None,
                 province_code: str | None = None, object_type: str | None = None,
                 object_id: Any = None, detail: dict[str, Any] | None = None) -> None:
    """Add an audit event to the current transaction (the caller's service commits it).

    Never pass tokens, answers or passwords in ``detail``.
    """
    identity = g.get("staff") if has_request_context() else None
    db.session().add(AuditEvent(
        actor_id=actor_id if actor_id is not None else getattr(identity, "user_id", None),
        actor_email=actor_email or getattr(identity, "email", None),
        province_code=province_code, action=action, object_type=object_type,
        object_id=None if object_id is None else str(object_id), detail=detail or {},
        request_id=g.get("request_id") if has_request_context() else None))


def record_refusal(action: str, **fields: Any) -> None:
    """Audit a refused action (as :func:`record_audit`): the event is kept even when the unit
    of work that refuses the action then rolls back, e.g. a command that exits with an error."""
    record_audit(action, **fields)
    db.keep_if_rolled_back(lambda: record_audit(action, **fields))


def search_audit(provinces: Sequence[str], *, action: str | None = None,
                 actor: str | None = None, since: dt.datetime | None = None,
                 limit: int = 200) -> list[AuditEvent]:
    """Events of ``provinces`` (and province-less events such as logins), newest first."""
    stmt = select(AuditEvent).where(
        (AuditEvent.province_code.in_(provinces)) | (AuditEvent.province_code.is_(None)))
    if action:
        stmt = stmt.where(AuditEvent.action.startswith(action))
    if actor:
        stmt = stmt.where(AuditEvent.actor_email.contains(actor.strip().lower()))
    if since:
        stmt = stmt.where(AuditEvent.at >= since)
    return list(db.session().scalars(stmt.order_by(AuditEvent.id.desc()).limit(limit)))
