"""Typed SQLAlchemy models, one module per concern; import them all here for Alembic."""

from survey.models.campaign import Campaign, CampaignStatus, QuestionnaireVersion, RespondentGroup, Unit
from survey.models.integrity import FormParadata, IntegrityFlag, IntegrityVerdict, ResponseParadata, UnitAnnulment  # noqa: E501,F401
from survey.models.outbox import MailKind, MailTemplate, OutboxMessage, OutboxStatus  # noqa: F401
from survey.models.paper import PaperEntry  # noqa: F401
from survey.models.public import PublicLink  # noqa: F401
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
from survey.models.api import ApiToken, DeliveryStatus, ImportJob, JobStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint  # noqa: E501,F401
