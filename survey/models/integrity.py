"""Paradata and response-integrity review.

Two sides, as for answers (see :mod:`survey.models.response`):

* :class:`FormParadata` (identity side, keyed by form) collects page times and keyed hashes
  while a form is being answered. It is deleted when the form is submitted.
* :class:`ResponseParadata` (answer side, keyed by response) is the copy the integrity scan
  reads, written in the submit transaction. It holds no form id, no raw address or user
  agent, and its submission time is coarsened to ``SUBMIT_GRAIN_SECONDS``.

A scan writes :class:`IntegrityFlag` rows (replaced on every scan) and one
:class:`IntegrityVerdict` per scanned response (the scan's recommendation, overwritten; the
reviewer's decision, kept). :class:`UnitAnnulment` cancels a rated unit's survey result.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Float, ForeignKey, Integer, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from survey.db import Base
from survey.models.types import UTCDateTime, utcnow

#: Response-side submission times are floored to this many seconds (the burst and window
#: checks look at 30 and 60 minute windows) so they do not match ``forms.submitted_at``.
SUBMIT_GRAIN_SECONDS = 300


class FormParadata(Base):
    """Paradata of a form while it is answered (identity side; dropped at submit)."""

    __tablename__ = "form_paradata"

    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id", ondelete="CASCADE"),
                                         primary_key=True)
    first_opened_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # section index (as text) -> seconds spent (summed over visits) / questions shown
    page_seconds: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    page_items: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # HMAC (64 bits, signed) of the client's /24 or /48 network prefix and of the user agent
    network_hash: Mapped[int] = mapped_column(BigInteger, default=0)
    device_hash: Mapped[int] = mapped_column(BigInteger, default=0)
    # distinct device hashes that opened the personal link (capped)
    link_devices: Mapped[list[Any]] = mapped_column(JSON, default=list)
    honeypot_filled: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ResponseParadata(Base):
    """What the integrity scan needs of one response (answer side)."""

    __tablename__ = "response_paradata"

    response_id: Mapped[int] = mapped_column(ForeignKey("responses.id", ondelete="CASCADE"),
                                             primary_key=True)
    mode: Mapped[int] = mapped_column(SmallInteger)  # analysis.integrity.Mode
    submitted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())  # coarsened
    total_seconds: Mapped[float | None] = mapped_column(Float)
    page_seconds: Mapped[list[Any]] = mapped_column(JSON, default=list)  # by section, None = not shown
    page_items: Mapped[list[Any]] = mapped_column(JSON, default=list)
    network_hash: Mapped[int] = mapped_column(BigInteger, default=0)
    device_hash: Mapped[int] = mapped_column(BigInteger, default=0)
    link_open_devices: Mapped[int] = mapped_column(Integer, default=0)
    honeypot_filled: Mapped[bool] = mapped_column(Boolean, default=False)


class IntegrityFlag(Base):
    """One check that fired, on a response (``response_id``) or a rated unit (``unit_id``)."""

    __tablename__ = "integrity_flags"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"),
                                             index=True)
    response_id: Mapped[int | None] = mapped_column(
        ForeignKey("responses.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    questionnaire_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("questionnaire_versions.id"))
    check_code: Mapped[str] = mapped_column(String(32))
    family: Mapped[str] = mapped_column(String(16))
    evidence: Mapped[str] = mapped_column(Text)  # English, from the check's params
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class IntegrityVerdict(Base):
    """The scan's recommendation for a response and the reviewer's decision, if any."""

    __tablename__ = "integrity_verdicts"

    response_id: Mapped[int] = mapped_column(ForeignKey("responses.id", ondelete="CASCADE"),
                                             primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"),
                                             index=True)
    recommendation: Mapped[str] = mapped_column(String(16))  # ok / review / exclude (scan)
    families: Mapped[int] = mapped_column(SmallInteger, default=0)
    scanned_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    decision: Mapped[str | None] = mapped_column(String(16))  # accept / exclude (reviewer)
    reason: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class UnitAnnulment(Base):
    """A rated unit whose survey result Home Affairs annulled: it is left out of scores."""

    __tablename__ = "unit_annulments"

    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"),
                                         primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"),
                                             index=True)
    reason: Mapped[str] = mapped_column(Text)
    annulled_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    annulled_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
