"""The answer side: submitted responses, kept apart from identities.

A response carries no respondent, form or assignment id. ``response_key`` is an HMAC of the
assignment id under the server's secret: unique (so a form is stored once), recomputable by
the application (to reopen a form), and meaningless to anyone reading the tables alone.
``submitted_on`` is a date, too coarse to join to the invitation log by time.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, Date, Enum, ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from survey.db import Base
from survey.models.respondent import Mode


class ResponseStatus(enum.Enum):
    VALID = "valid"
    EXCLUDED = "excluded"  # by integrity review; never scored


class Response(Base):
    __tablename__ = "responses"
    __table_args__ = (
        Index("ix_responses_campaign_unit", "campaign_id", "rated_unit_id"),
        # quota state and the close-when-full check count responses per cell key, status and
        # mode from this index alone, never reading a response's answers
        Index("ix_responses_quota", "campaign_id", "group_id", "questionnaire_version_id",
              "rated_unit_id", "status", "mode"),
        # the progress page's completions per day (issue 19)
        Index("ix_responses_campaign_day", "campaign_id", "submitted_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    questionnaire_version_id: Mapped[int] = mapped_column(ForeignKey("questionnaire_versions.id"))
    content_hash: Mapped[str] = mapped_column(String(64))
    group_id: Mapped[int] = mapped_column(ForeignKey("respondent_groups.id"))
    rated_unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    mode: Mapped[Mode] = mapped_column(
        Enum(Mode, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e]))
    status: Mapped[ResponseStatus] = mapped_column(
        Enum(ResponseStatus, native_enum=False, length=16,
             values_callable=lambda e: [m.value for m in e]),
        default=ResponseStatus.VALID)
    submitted_on: Mapped[dt.date] = mapped_column(Date)
    response_key: Mapped[str] = mapped_column(String(64), unique=True)
    # Every answer as given (text, multiple choice ...), keyed by question id.
    answers: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Scored answers packed one byte per scored item (Questionnaire.item_codes): what analysis reads.
    item_codes: Mapped[bytes] = mapped_column(LargeBinary)
