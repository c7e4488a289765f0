"""The JSON shapes the API answers and the CLI prints alike (one shape, two edges)."""

from __future__ import annotations

from typing import Any

from survey.models import Campaign
from survey.services.integrity import review_data
from survey.services.outbox import outbox_summary
from survey.services.webhooks import delivery_summary


def campaign_data(c: Campaign) -> dict[str, Any]:
    return {"code": c.code, "name": {"vi": c.name_vi, "en": c.name_en},
            "province": c.province_code, "year": c.year, "status": c.status.value,
            "opens_at": c.opens_at.isoformat(), "closes_at": c.closes_at.isoformat()}


def integrity_data(campaign: Campaign) -> dict[str, Any]:
    """Every flagged or decided response with its flags, unit flags and annulled units."""
    data = review_data(campaign, limit=1_000_000)
    return {
        "scanned_at": data.scanned_at.isoformat() if data.scanned_at else None,
        "responses": [{"response_id": r.response_id, "unit": r.unit, "group": r.group,
                       "questionnaire": r.questionnaire, "status": r.status,
                       "recommendation": r.recommendation, "families": r.families,
                       "decision": r.decision, "reason": r.reason,
                       "flags": [{"check": f.check_code, "evidence": f.evidence}
                                 for f in r.flags]} for r in data.responses],
        "unit_flags": [{"unit": u.unit, "questionnaire": u.questionnaire, "check": u.check,
                        "evidence": u.evidence, "forms": u.forms} for u in data.units],
        "annulled": [{"unit": u, "reason": why, "at": at.isoformat()}
                     for u, why, at in data.annulled]}


def outbox_data(campaign: Campaign) -> dict[str, dict[str, int]]:
    """Mail (invitations, reminders) and webhook deliveries of the campaign, by status."""
    return {"mail": outbox_summary(campaign.id), "webhooks": delivery_summary(campaign.id)}
