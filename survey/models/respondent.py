"""The identity side: respondents, their forms, rated units, access tokens and drafts.

Nothing here holds a submitted answer; see :mod:`survey.models.response`.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from survey.db import Base
from survey.models.campaign import Campaign, QuestionnaireVersion, RespondentGroup, Unit
from survey.models.types import UTCDateTime, utcnow


def _enum(cls: type[enum.Enum]) -> Enum:
    return Enum(cls, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e])


class FormStatus(enum.Enum):
    PENDING = "pending"  # created, link not opened yet
    OPENED = "opened"
    STARTED = "started"  # at least one page saved
    SUBMITTED = "submitted"


class Mode(enum.Enum):
    WEB = "web"
    PUBLIC = "public"  # public QR at a service counter
    PAPER = "paper"


class Respondent(Base):
    __tablename__ = "respondents"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"),
                                             index=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("respondent_groups.id"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))  # where they work/live
    external_id: Mapped[str | None] = mapped_column(String(64))
    full_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254), index=True)
    phone: Mapped[str | None] = mapped_column(String(20))
    position: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    group: Mapped[RespondentGroup] = relationship()
    unit: Mapped[Unit | None] = relationship()


class Form(Base):
    """One questionnaire to fill by one respondent, covering one or more rated units."""

    __tablename__ = "forms"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"),
                                             index=True)
    respondent_id: Mapped[int | None] = mapped_column(ForeignKey("respondents.id"), index=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("respondent_groups.id"))
    questionnaire_version_id: Mapped[int] = mapped_column(ForeignKey("questionnaire_versions.id"))
    mode: Mapped[Mode] = mapped_column(_enum(Mode), default=Mode.WEB)
    status: Mapped[FormStatus] = mapped_column(_enum(FormStatus), default=FormStatus.PENDING)
    opened_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    submitted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    campaign: Mapped[Campaign] = relationship()
    respondent: Mapped[Respondent | None] = relationship()
    group: Mapped[RespondentGroup] = relationship()
    questionnaire_version: Mapped[QuestionnaireVersion] = relationship()
    assignments: Mapped[list[Assignment]] = relationship(
        back_populates="form", order_by="Assignment.id")


class Assignment(Base):
    """(form, rated unit): a submitted form yields one response per assignment."""

    __tablename__ = "assignments"
    __table_args__ = (UniqueConstraint("form_id", "rated_unit_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id", ondelete="CASCADE"))
    rated_unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    # The quota cell this assignment counts in (see survey.services.quotas.assign_cells):
    # fixed when the form is made, worked out again when the cells or the respondent's unit
    # change; None for a unit no cell takes (a form made by hand).
    cell_id: Mapped[int | None] = mapped_column(
        ForeignKey("quota_cells.id", ondelete="SET NULL"), index=True)

    form: Mapped[Form] = relationship(back_populates="assignments")
    rated_unit: Mapped[Unit] = relationship()


class AccessToken(Base):
    """Only the SHA-256 of a token is stored; the token itself exists in the link alone.

    A token opens either a respondent's home (``respondent_id``: every form of that person in
    the campaign) or one form (``form_id``: the per-form links issued before homes existed,
    and public or paper forms that have no respondent). A form token of a form with a
    respondent leads to that respondent's home too.
    """

    __tablename__ = "access_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    form_id: Mapped[int | None] = mapped_column(ForeignKey("forms.id", ondelete="CASCADE"),
                                                index=True)
    respondent_id: Mapped[int | None] = mapped_column(
        ForeignKey("respondents.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class Draft(Base):
    """Answers saved page by page until the final submit (then deleted)."""

    __tablename__ = "drafts"

    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id", ondelete="CASCADE"),
                                         primary_key=True)
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
