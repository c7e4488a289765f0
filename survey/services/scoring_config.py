"""The campaign's ``scoring:`` section, read for a stored campaign.

The parser is pure (:mod:`analysis.scoring_config`, checked when the campaign file is
loaded); here it runs against the questionnaire versions the campaign actually uses.
"""

from __future__ import annotations

from analysis.scoring_config import (
    CampaignScoring,
    ScoringConfigError,
    ScoringProblem,
    default_scoring_config,
    parse_scoring,
)
from questionnaires import Problem, Questionnaire
from sampling.errors import config_problem

__all__ = [
    "CampaignScoring",
    "ScoringConfigError",
    "ScoringProblem",
    "campaign_questionnaires",
    "parse_scoring",
    "scoring_for_campaign",
    "scoring_problems",
]


def scoring_problems(exc: ScoringConfigError) -> list[Problem]:
    """A stored section's problems as the ``CFG-SCORING`` problems the campaign file's check
    reports, for the page, the CLI or the API to render in the reader's language."""
    return [config_problem("CFG-SCORING", "", p.path, rule=p.rule) for p in exc.problems]


def campaign_questionnaires(campaign_id: int) -> tuple[Questionnaire, ...]:
    """Questionnaire versions the campaign plans (quota cells), sends (forms) or received."""
    from sqlalchemy import or_, select

    from survey import db
    from survey.models import Form, QuestionnaireVersion, QuotaCell
    from survey.services.questionnaires import questionnaire_for, response_versions

    used = or_(*(QuestionnaireVersion.id.in_(select(m.questionnaire_version_id)
                                             .where(m.campaign_id == campaign_id))
                 for m in (QuotaCell, Form)), QuestionnaireVersion.id.in_(response_versions(campaign_id)))
    rows = db.session().scalars(select(QuestionnaireVersion).where(used)
                                .order_by(QuestionnaireVersion.id))
    return tuple(questionnaire_for(v) for v in rows)


def scoring_for_campaign(campaign_id: int) -> CampaignScoring:
    """The campaign's parsed scoring section, or the default config when it has none.

    Raises :class:`ScoringConfigError` when the stored section is invalid.
    """
    from survey import db
    from survey.models import Campaign

    campaign = db.session().get(Campaign, campaign_id)
    if campaign is None:
        raise LookupError(f"no campaign with id {campaign_id}")  # a caller's mistake, not a reader's
    questionnaires = campaign_questionnaires(campaign_id)
    if campaign.scoring is None:
        return CampaignScoring(default_scoring_config(questionnaires), {}, default=True)
    return parse_scoring(campaign.scoring, questionnaires)
