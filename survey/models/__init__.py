"""Typed SQLAlchemy models, one module per concern; import them all here for Alembic."""

from survey.models.campaign import Campaign, CampaignStatus, QuestionnaireVersion, RespondentGroup, Unit
from survey.models.quota import QuotaCell
from survey.models.respondent import AccessToken, Assignment, Draft, Form, FormStatus, Mode, Respondent
from survey.models.response import Response, ResponseStatus
from survey.models.staff import AuditEvent, LoginFailure, Role, StaffProvince, StaffSession, StaffUser
from survey.models.types import utcnow

__all__ = [
    "AccessToken", "Assignment", "Campaign", "CampaignStatus", "Draft", "Form", "FormStatus",
    "Mode", "QuestionnaireVersion", "RespondentGroup", "Respondent", "Response",
    "ResponseStatus", "Unit", "utcnow", "QuotaCell", "AuditEvent", "LoginFailure", "Role",
    "StaffProvince", "StaffSession", "StaffUser",
]
