"""Campaigns, their unit hierarchy, respondent groups and published questionnaire versions."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from survey.db import Base
from survey.models.types import UTCDateTime, utcnow


class Named:
    """A name in Vietnamese (always) and English (optional), shown in the page language."""

    name_vi: Mapped[str] = mapped_column(String(300))
    name_en: Mapped[str | None] = mapped_column(String(300))

    def name(self, lang: str) -> str:
        return self.name_en if lang == "en" and self.name_en else self.name_vi


class CampaignStatus(enum.Enum):
    DRAFT = "draft"
    OPEN = "open"
    CLOSED = "closed"


class Campaign(Named, Base):
    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    province_code: Mapped[str] = mapped_column(String(32), index=True)
    year: Mapped[int] = mapped_column(Integer)
    opens_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    closes_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    status: Mapped[CampaignStatus] = mapped_column(
        Enum(CampaignStatus, native_enum=False, length=16,
             values_callable=lambda e: [m.value for m in e]),
        default=CampaignStatus.OPEN)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The config's scoring section (points table, pooling, group weights, bands), kept as given.
    scoring: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The config's integrity section (checks and thresholds), validated when the file is loaded.
    integrity: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The campaigns this one continues across the 2025 merger and the validated crosswalk
    # links ({"predecessors": [...], "crosswalk_file": ..., "links": [...]}), or None.
    continues: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The config's design section with its files read (sampling.design.DesignSpec.to_json).
    design: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The same person twice in one group of a list: "refuse" (default) or "merge".
    duplicates_in_group: Mapped[str] = mapped_column(String(16), default="refuse",
                                                     server_default="refuse")

    units: Mapped[list[Unit]] = relationship(back_populates="campaign")
    groups: Mapped[list[RespondentGroup]] = relationship(back_populates="campaign")


class Unit(Named, Base):
    """A unit of the hierarchy (province, department, district, commune ...) in one campaign."""

    __tablename__ = "units"
    __table_args__ = (UniqueConstraint("campaign_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(64))
    level: Mapped[str] = mapped_column(String(32))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))

    campaign: Mapped[Campaign] = relationship(back_populates="units")
    parent: Mapped[Unit | None] = relationship(remote_side=[id])


class RespondentGroup(Named, Base):
    __tablename__ = "respondent_groups"
    __table_args__ = (UniqueConstraint("campaign_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(64))
    priority: Mapped[int] = mapped_column(Integer, default=100)  # lower wins among duplicates

    campaign: Mapped[Campaign] = relationship(back_populates="groups")


class QuestionnaireVersion(Base):
    """A published questionnaire version: immutable once stored (checked by content hash)."""

    __tablename__ = "questionnaire_versions"
    __table_args__ = (UniqueConstraint("qid", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    qid: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    group_code: Mapped[str] = mapped_column(String(64))
    content_hash: Mapped[str] = mapped_column(String(64))
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    published_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
