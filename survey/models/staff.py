"""Staff accounts, their province scope, server-side login sessions, the audit log."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from survey.db import Base
from survey.models.types import UTCDateTime, utcnow


class Role(enum.Enum):
    ADMIN = "admin"  # Home Affairs of a province: everything in its province
    CONTRACTOR = "contractor"  # lists, invitations, quotas, paper entry; never answers
    FOCAL_POINT = "focal_point"  # one agency: its own quota counts only
    VIEWER = "viewer"  # published scores only


class StaffUser(Base):
    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(
        Enum(Role, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e]))
    agency_code: Mapped[str | None] = mapped_column(String(64))  # focal points: their unit code
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    provinces: Mapped[list[StaffProvince]] = relationship(
        cascade="all, delete-orphan", order_by="StaffProvince.province_code")

    @property
    def province_codes(self) -> tuple[str, ...]:
        return tuple(p.province_code for p in self.provinces)


class StaffProvince(Base):
    __tablename__ = "staff_provinces"
    __table_args__ = (UniqueConstraint("user_id", "province_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"))
    province_code: Mapped[str] = mapped_column(String(32))


class StaffSession(Base):
    """One login. The cookie names it by a random nonce; logout and idle time end it here, so a
    copied cookie is worthless afterwards even though cookies are signed, not stored."""

    __tablename__ = "staff_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"),
                                         index=True)
    nonce_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[StaffUser] = relationship()


class LoginFailure(Base):
    """Failed logins, counted per account and per address across every worker process."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_key_at", "key", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(80))  # "account:<hash>" or "address:<hash>"
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AuditEvent(Base):
    """Append-only (the migration installs triggers that refuse UPDATE and DELETE)."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_province_at", "province_code", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    actor_email: Mapped[str | None] = mapped_column(String(254))
    province_code: Mapped[str | None] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str | None] = mapped_column(String(64))
    object_id: Mapped[str | None] = mapped_column(String(128))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    request_id: Mapped[str | None] = mapped_column(String(64))
