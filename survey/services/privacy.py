"""Retention: personal data is deleted a set time after fieldwork closes; answers stay."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from questionnaires.problems import ProblemError
from survey import db
from survey.models import AccessToken, Form, Respondent, utcnow
from survey.models.outbox import OutboxMessage
from survey.services.audit import record_audit
from survey.services.campaigns import find_campaign

ERASED_NAME = "[đã xóa / erased]"


@dataclass(frozen=True)
class PurgeReport:
    campaign_code: str
    respondents: int


class RetentionNotDue(ProblemError, ValueError):
    """The campaign closed too recently (or is still open)."""


def purge_personal_data(campaign_code: str, after_days: int,
                        now: dt.datetime | None = None) -> PurgeReport:
    """Erase respondents' names, emails, phones, external ids and positions of a campaign
    that closed at least ``after_days`` ago, and revoke its links. Responses are untouched
    (they never held identities); the mail outbox's addresses and errors are blanked. Other
    modules that keep contact data register a purge step in :data:`PURGE_STEPS`.
    """
    now = now or utcnow()
    campaign = find_campaign(campaign_code)
    if campaign.closes_at + dt.timedelta(days=after_days) > now:
        due = (campaign.closes_at + dt.timedelta(days=after_days)).date().isoformat()
        raise RetentionNotDue("PRIVACY-NOT-DUE", due=due)
    with db.write_transaction() as s:
        count = s.execute(update(Respondent).where(Respondent.campaign_id == campaign.id).values(
            full_name=ERASED_NAME, email=None, phone=None, external_id=None,
            position=None)).rowcount  # type: ignore[attr-defined]  # a DML statement's CursorResult
        s.execute(update(AccessToken).where(
            or_(AccessToken.form_id.in_(select(Form.id).where(Form.campaign_id == campaign.id)),
                AccessToken.respondent_id.in_(
                    select(Respondent.id).where(Respondent.campaign_id == campaign.id))),
            AccessToken.revoked_at.is_(None)).values(revoked_at=now))
        # the mail outbox keeps each message's address, and an SMTP error often repeats it
        s.execute(update(OutboxMessage).where(OutboxMessage.campaign_id == campaign.id)
                  .values(to_address="", last_error=None))
        for step in PURGE_STEPS:
            step(s, campaign.id)
        record_audit("privacy.purge", province_code=campaign.province_code,
                     object_type="campaign", object_id=campaign.code,
                     detail={"respondents": count, "after_days": after_days})
    return PurgeReport(campaign.code, count)


#: further purge steps, each ``step(session, campaign_id)``, run in the same transaction
PURGE_STEPS: list[Callable[[Session, int], None]] = []
