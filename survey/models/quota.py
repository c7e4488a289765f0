"""Quota cells: the fieldwork targets a campaign's sample plan expands into.

One row per (group, questionnaire version, rated unit, source unit), as
:func:`sampling.expand_quotas` makes them; the plan's rule id and wording are kept for reports.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Enum, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from sampling import RateMode
from survey.db import Base
from survey.models.campaign import Campaign, QuestionnaireVersion, RespondentGroup, Unit


class QuotaCell(Base):
    """Forms of one questionnaire version about one rated unit, from one source unit."""

    __tablename__ = "quota_cells"
    # The default convention name (every column joined) exceeds PostgreSQL's 63 characters.
    # A NULL source unit is distinct in a unique constraint on both backends; the service
    # that writes cells upserts by the full key, so NULL-source cells stay single too.
    __table_args__ = (UniqueConstraint("campaign_id", "group_id", "questionnaire_version_id",
                                       "rated_unit_id", "source_unit_id",
                                       name="uq_quota_cells_cell"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    group_id: Mapped[int] = mapped_column(ForeignKey("respondent_groups.id"))
    questionnaire_version_id: Mapped[int] = mapped_column(ForeignKey("questionnaire_versions.id"))
    rated_unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    # Where respondents come from when that differs from the rated unit; None: the rated unit
    # itself (or pooled sources).
    source_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    # None: a census whose target is the size of the list, unknown until it is imported.
    target: Mapped[int | None] = mapped_column(Integer)
    # own: respondents rate the cell's unit (theirs, or one below it); each: they rate every
    # unit of a level, so a pooled cell (no source) takes any member of the group.
    rate: Mapped[RateMode] = mapped_column(
        Enum(RateMode, native_enum=False, length=16,
             values_callable=lambda e: [m.value for m in e]))
    census: Mapped[bool] = mapped_column(Boolean, default=False)
    close_when_full: Mapped[bool] = mapped_column(Boolean, default=False)
    # a rule's own id, or "group/questionnaire/level" (three codes of up to 64) by default
    rule: Mapped[str] = mapped_column(String(200))
    label_vi: Mapped[str | None] = mapped_column(Text)
    label_en: Mapped[str | None] = mapped_column(Text)
    # Forms counted in the cell (through their assignments' cell_id), kept by the services
    # that make, start and drop forms, so that quota state reads them instead of counting
    # every form: sampled forms (invited), those begun (started: a page saved, or submitted),
    # and public QR forms begun (public QR forms are nobody's invitation).
    invited: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    started: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    public_started: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    campaign: Mapped[Campaign] = relationship()
    group: Mapped[RespondentGroup] = relationship()
    questionnaire_version: Mapped[QuestionnaireVersion] = relationship()
    rated_unit: Mapped[Unit] = relationship(foreign_keys=[rated_unit_id])
    source_unit: Mapped[Unit | None] = relationship(foreign_keys=[source_unit_id])
