"""Public QR links: one per (campaign, group, questionnaire version, rated unit), printed on a
poster at the unit's service counter; every visit that presses "Start" gets a fresh form.

The printed code is derived from the server secret, the link id and its ``generation``
(see :func:`survey.services.public.public_code`); only its SHA-256 is stored, so a poster can be
printed again from the database, and rotating (``generation + 1``) retires every printed copy.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from survey.db import Base
from survey.models.campaign import Campaign, QuestionnaireVersion, RespondentGroup, Unit
from survey.models.types import UTCDateTime, utcnow


class PublicLink(Base):
    __tablename__ = "public_links"
    __table_args__ = (UniqueConstraint("campaign_id", "group_id", "questionnaire_version_id",
                                       "rated_unit_id", name="uq_public_links_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # the unique key's first column: it serves lookups by campaign too
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    group_id: Mapped[int] = mapped_column(ForeignKey("respondent_groups.id"))
    questionnaire_version_id: Mapped[int] = mapped_column(ForeignKey("questionnaire_versions.id"))
    rated_unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    generation: Mapped[int] = mapped_column(Integer, default=1)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex of the code
    daily_cap: Mapped[int] = mapped_column(Integer)  # public forms per local day
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    campaign: Mapped[Campaign] = relationship()
    group: Mapped[RespondentGroup] = relationship()
    questionnaire_version: Mapped[QuestionnaireVersion] = relationship()
    rated_unit: Mapped[Unit] = relationship()
