"""Integrity review in one pass: the queue a reviewer works through, what an annulment would
cancel, and an admin's reversal of an annulment.

The flags, recommendations and decisions themselves are :mod:`survey.services.integrity`'s;
this module only selects, names and counts them for the review page.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select

from survey import db
from survey.models import (
    Assignment,
    Campaign,
    Form,
    FormStatus,
    RespondentGroup,
    Response,
    ResponseStatus,
    Unit,
    utcnow,
)
from survey.models.integrity import UnitAnnulment
from survey.services.audit import record_audit
from survey.services.integrity import FlaggedResponse, ReviewError, review_data


@dataclass(frozen=True)
class Queue:
    rows: list[FlaggedResponse]
    total: int  # flagged or decided responses before the filters
    pending: int  # of which not decided yet
    checks: list[str]  # check codes present, for the filter
    units: list[tuple[str, str]]  # (code, name) of units with flagged responses
    unit_names: dict[str, str]
    group_names: dict[str, str]


def names_of(campaign: Campaign, lang: str) -> tuple[dict[str, str], dict[str, str]]:
    """(unit code -> name, group code -> name) in ``lang``."""
    s = db.session()
    units = {u.code: u.name(lang) for u in s.scalars(
        select(Unit).where(Unit.campaign_id == campaign.id))}
    groups = {g.code: g.name(lang) for g in s.scalars(
        select(RespondentGroup).where(RespondentGroup.campaign_id == campaign.id))}
    return units, groups


def review_queue(campaign: Campaign, lang: str, *, check: str = "", unit: str = "",
                 state: str = "pending", limit: int = 500) -> Queue:
    """Flagged responses to review, undecided first, filtered by check, unit and state
    (``pending``: not decided; ``decided``; anything else: all)."""
    data = review_data(campaign, limit=100_000)
    units, groups = names_of(campaign, lang)
    flagged = [r for r in data.responses if r.flags or r.decision]
    rows = [r for r in flagged
            if (not check or any(f.check_code == check for f in r.flags))
            and (not unit or r.unit == unit)
            and (state not in ("pending", "decided")
                 or (r.decision is None) == (state == "pending"))]
    present = sorted({r.unit for r in flagged}, key=lambda c: units.get(c, c))
    return Queue(rows[:limit], len(flagged), sum(1 for r in flagged if r.decision is None),
                 sorted({f.check_code for r in flagged for f in r.flags}),
                 [(c, units.get(c, c)) for c in present], units, groups)


@dataclass(frozen=True)
class AnnulPreview:
    unit_code: str
    unit_name: str
    level: str
    responses: int  # responses rating the unit (all statuses)
    valid: int  # of which valid: these stop counting
    forms: int  # submitted forms with the unit among their rated units
    points: float | None  # the unit's survey points now (None: no score)
    ci: tuple[float, float] | None
    rank: int | None
    of: int  # units ranked at its level
    already: bool  # annulled already


def annulment_preview(campaign: Campaign, unit_code: str, lang: str) -> AnnulPreview:
    """What annulling ``unit_code`` would cancel: its responses, forms and current score."""
    from survey.services.scores import score_campaign
    from survey.services.scoring_config import ScoringConfigError, scoring_for_campaign

    s = db.session()
    unit = s.scalar(select(Unit).where(Unit.campaign_id == campaign.id, Unit.code == unit_code))
    if unit is None:
        raise ReviewError("REVIEW-UNIT-UNKNOWN", unit=unit_code)
    counts: dict[ResponseStatus, int] = {
        status: n for status, n in s.execute(select(Response.status, func.count()).where(
            Response.campaign_id == campaign.id, Response.rated_unit_id == unit.id)
            .group_by(Response.status))}
    forms = s.scalar(select(func.count(func.distinct(Form.id))).select_from(Form)
                     .join(Assignment, Assignment.form_id == Form.id)
                     .where(Form.campaign_id == campaign.id, Assignment.rated_unit_id == unit.id,
                            Form.status == FormStatus.SUBMITTED)) or 0
    points = ci = rank = None
    of = 0
    try:
        scoring = scoring_for_campaign(campaign.id)
    except ScoringConfigError:
        scoring = None
    if scoring is not None and scoring.config.sub_criteria:
        result = score_campaign(campaign.id, scoring.config)
        same = [u for u in result.units if u.level == unit.level]
        of = len(same)
        mine = next((u for u in same if u.unit == unit_code), None)
        if mine is not None:
            points, rank = mine.points.value, mine.rank
            ci = (mine.points.ci_low, mine.points.ci_high)
    return AnnulPreview(unit.code, unit.name(lang), unit.level, sum(counts.values()),
                        counts.get(ResponseStatus.VALID, 0), forms, points, ci, rank, of,
                        s.get(UnitAnnulment, unit.id) is not None)


def revoke_annulment(campaign: Campaign, unit_code: str, reason: str,
                     actor_id: int | None = None) -> None:
    """Reverse an annulment (an admin, with a reason): the unit's responses count again."""
    reason = reason.strip()
    if len(reason) < 5:
        raise ReviewError("REVIEW-REASON")
    with db.write_transaction() as s:
        unit = s.scalar(select(Unit).where(Unit.campaign_id == campaign.id,
                                           Unit.code == unit_code))
        annulment = s.get(UnitAnnulment, unit.id) if unit is not None else None
        if unit is None or annulment is None:
            raise ReviewError("REVIEW-NOT-ANNULLED")
        previous = {"reason": annulment.reason, "annulled_at": annulment.annulled_at.isoformat(),
                    "annulled_by": annulment.annulled_by}
        s.delete(annulment)
        record_audit("integrity.annul_revoke", actor_id=actor_id,
                     province_code=campaign.province_code, object_type="unit",
                     object_id=unit.code, detail={"campaign": campaign.code, "reason": reason,
                                                  "revoked_at": utcnow().isoformat(),
                                                  "annulment": previous})


def annulled_units(campaign: Campaign, lang: str) -> list[tuple[str, str, str, dt.datetime]]:
    """(code, name, reason, when) of the campaign's annulled units."""
    rows = db.session().execute(
        select(Unit, UnitAnnulment.reason, UnitAnnulment.annulled_at)
        .join(UnitAnnulment, UnitAnnulment.unit_id == Unit.id)
        .where(UnitAnnulment.campaign_id == campaign.id).order_by(Unit.code)).all()
    return [(u.code, u.name(lang), reason, at) for u, reason, at in rows]
