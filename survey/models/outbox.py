"""Mail: per-campaign template overrides and the outbox of invitations and reminders.

An outbox row names the respondent it invites, never a token: the personal link is built when the
message is sent (see :mod:`survey.services.outbox` for the exactly-once protocol).
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Enum, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from survey.db import Base
from survey.models.types import UTCDateTime, utcnow


def _enum(cls: type[enum.Enum]) -> Enum:
    return Enum(cls, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e])


class MailKind(enum.Enum):
    INVITATION = "invitation"
    REMINDER = "reminder"


class OutboxStatus(enum.Enum):
    QUEUED = "queued"  # waiting (next_attempt_at says from when)
    CLAIMED = "claimed"  # taken by a worker with a token issued; not attempted yet
    SENDING = "sending"  # the worker is talking SMTP for it; outcome not recorded yet
    SENT = "sent"  # the server accepted the message
    BOUNCED = "bounced"  # permanent refusal (5xx): the address is bad
    FAILED = "failed"  # temporary failures until the attempts ran out
    UNCERTAIN = "uncertain"  # maybe delivered (crash or lost reply): never resent by itself
    CANCELLED = "cancelled"  # not sent: the respondent finished every form before its turn


class MailTemplate(Base):
    """A campaign's own wording for one kind of message in one language (else the files)."""

    __tablename__ = "mail_templates"
    __table_args__ = (UniqueConstraint("campaign_id", "kind", "language"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    kind: Mapped[MailKind] = mapped_column(_enum(MailKind))
    language: Mapped[str] = mapped_column(String(8))
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class OutboxMessage(Base):
    """One message to send: (respondent, kind, round) is queued at most once.

    A message goes to a respondent and carries the link to their home (``form_id`` is None).
    Rows queued per form before respondents had homes keep their ``form_id``; (form, kind,
    round) stays unique for them.
    """

    __tablename__ = "outbox_messages"
    __table_args__ = (
        UniqueConstraint("form_id", "kind", "round"),
        Index("ix_outbox_messages_status_next_attempt_at", "status", "next_attempt_at"),
        Index("uq_outbox_messages_respondent_kind_round", "respondent_id", "kind", "round",
              unique=True, sqlite_where=text("form_id IS NULL"),
              postgresql_where=text("form_id IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"),
                                             index=True)
    form_id: Mapped[int | None] = mapped_column(ForeignKey("forms.id", ondelete="CASCADE"))
    respondent_id: Mapped[int] = mapped_column(ForeignKey("respondents.id", ondelete="CASCADE"),
                                               index=True)
    kind: Mapped[MailKind] = mapped_column(_enum(MailKind))
    round: Mapped[int] = mapped_column(Integer, default=0)  # 0 invitation, 1.. reminders
    language: Mapped[str] = mapped_column(String(8), default="vi")
    to_address: Mapped[str] = mapped_column(String(254), index=True)
    status: Mapped[OutboxStatus] = mapped_column(_enum(OutboxStatus), default=OutboxStatus.QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    claim_id: Mapped[str | None] = mapped_column(String(32))
    claimed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), index=True)
    # the id of the token row issued for this message (never the token): revoked if not delivered
    access_token_id: Mapped[int | None] = mapped_column(
        ForeignKey("access_tokens.id", ondelete="SET NULL"))
    message_id: Mapped[str | None] = mapped_column(String(255))
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
