"""The respondent's flow: open a link, save pages, submit exactly once."""

from __future__ import annotations

import datetime as dt
import logging
import enum
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from questionnaires import Questionnaire
from survey import db
from survey.models import (
    Assignment,
    Campaign,
    CampaignStatus,
    Draft,
    Form,
    FormStatus,
    Response,
    Unit,
    utcnow,
)
from survey.services.paradata import ClientInfo, PageTiming, copy_to_responses, record_open, record_page
from survey.services.questionnaires import questionnaire_for
from survey.services.quotas import closed_units
from survey.services.ratelimit import failure_counter
from survey.services.tokens import find_form_id

log = logging.getLogger(__name__)

Answers = dict[str, dict[str, Any]]  # assignment id (as text) -> question id -> value


class Availability(enum.Enum):
    OPEN = "open"
    NOT_YET = "not_yet"
    CLOSED = "closed"


class SubmitOutcome(enum.Enum):
    SUBMITTED = "submitted"
    ALREADY_SUBMITTED = "already_submitted"
    INCOMPLETE = "incomplete"
    CLOSED = "closed"
    QUOTA_FULL = "quota_full"  # every unit it rates is in a full close-when-full cell


@dataclass(frozen=True)
class FormContext:
    form: Form
    campaign: Campaign
    questionnaire: Questionnaire
    assignments: tuple[Assignment, ...]
    answers: Answers

    @property
    def units(self) -> tuple[Unit, ...]:
        return tuple(a.rated_unit for a in self.assignments)

    @property
    def submitted(self) -> bool:
        return self.form.status is FormStatus.SUBMITTED

    def answers_for(self, assignment: Assignment) -> dict[str, Any]:
        return self.answers.get(str(assignment.id), {})

    def page_has_questions(self, index: int, assignment: Assignment) -> bool:
        visible = self.questionnaire.visible_answers(self.answers_for(assignment))
        return any(q.visible(visible) for q in self.questionnaire.sections[index].questions)

    def first_incomplete_section(self) -> int | None:
        """Index of the first page with a visible required question left unanswered."""
        for a in self.assignments:
            missing = {q.id for q in self.questionnaire.missing_required(self.answers_for(a))}
            for i, section in enumerate(self.questionnaire.sections):
                if any(q.id in missing for q in section.questions):
                    return i
        return None


def campaign_availability(campaign: Campaign, now: dt.datetime | None = None) -> Availability:
    now = now or utcnow()
    if campaign.status is CampaignStatus.CLOSED or now >= campaign.closes_at:
        return Availability.CLOSED
    if campaign.status is CampaignStatus.DRAFT or now < campaign.opens_at:
        return Availability.NOT_YET
    return Availability.OPEN


class TooManyAttempts(Exception):
    """Too many invalid links from one network: guessing tokens is slowed down."""


TOKEN_FAILURE_WINDOW = dt.timedelta(minutes=15)
MAX_TOKEN_FAILURES = 50  # per network prefix; offices share one address, so not too low


def open_link(raw_token: str, client: ClientInfo | None = None) -> int | None:
    """The form a token opens (recording the first opening), or None for unknown/revoked.

    ``client``: the opener's keyed hashes, kept as paradata (devices that opened the link).
    Invalid links are counted per network prefix in storage all workers share; past the limit
    every link from that network is refused for a while (:class:`TooManyAttempts`). Only the
    count is logged, never the token.
    """
    counter = failure_counter()
    key = f"token:{client.network_hash if client else 0:x}"
    now = utcnow()
    if counter.count(key, now - TOKEN_FAILURE_WINDOW) >= MAX_TOKEN_FAILURES:
        raise TooManyAttempts
    form_id = find_form_id(raw_token)
    if form_id is None:
        with db.write_transaction():
            counter.add([key], now, TOKEN_FAILURE_WINDOW)
        log.warning("invalid link from network %s: %d in the last %d minutes", key[6:14],
                    counter.count(key, now - TOKEN_FAILURE_WINDOW),
                    TOKEN_FAILURE_WINDOW.seconds // 60)
        return None
    with db.write_transaction() as s:
        now = utcnow()
        s.execute(update(Form).where(Form.id == form_id, Form.status == FormStatus.PENDING)
                  .values(status=FormStatus.OPENED, opened_at=now))
        if client is not None:
            record_open(s, form_id, client, now)
    return form_id


def load_form(form_id: int) -> FormContext | None:
    s = db.session()
    form = s.scalar(
        select(Form).where(Form.id == form_id).options(
            selectinload(Form.assignments).selectinload(Assignment.rated_unit),
            selectinload(Form.campaign), selectinload(Form.questionnaire_version),
            selectinload(Form.group)))
    if form is None:
        return None
    draft = s.get(Draft, form_id)
    return FormContext(
        form=form, campaign=form.campaign,
        questionnaire=questionnaire_for(form.questionnaire_version),
        assignments=tuple(form.assignments),
        answers={k: dict(v) for k, v in (draft.answers if draft else {}).items()},
    )


def save_page(ctx: FormContext, section_index: int, page_answers: Answers,
              timing: PageTiming | None = None) -> None:
    """Merge one page's answers into the draft; answers hidden by show-if are dropped.

    ``timing`` (time on the page, client hashes) is recorded as the form's paradata.
    """
    section = ctx.questionnaire.sections[section_index]
    page_ids = {q.id for q in section.questions}
    merged: Answers = {}
    for a in ctx.assignments:
        key = str(a.id)
        current = {k: v for k, v in ctx.answers.get(key, {}).items() if k not in page_ids}
        current.update({k: v for k, v in page_answers.get(key, {}).items()
                        if k in page_ids and v not in (None, "", [])})
        merged[key] = ctx.questionnaire.visible_answers(current)
    with db.write_transaction() as s:
        form = s.get(Form, ctx.form.id)
        if form is None or form.status is FormStatus.SUBMITTED:
            return
        draft = s.get(Draft, form.id)
        if draft is None:
            s.add(Draft(form_id=form.id, answers=merged, updated_at=utcnow()))
        else:
            draft.answers = merged
            draft.updated_at = utcnow()
        if form.status in (FormStatus.PENDING, FormStatus.OPENED):
            form.status = FormStatus.STARTED
            form.started_at = utcnow()
        if timing is not None:
            items = sum(sum(1 for q in section.questions if q.visible(v)) for v in merged.values())
            record_page(s, form.id, section_index, items, timing, utcnow())
    ctx.answers.clear()
    ctx.answers.update(merged)


def response_key(assignment_id: int) -> str:
    """HMAC of the assignment id: unique per response, joinable only with the server secret."""
    secret = current_app.config["SECRET_KEY"].encode("utf-8")
    return hmac.new(secret, f"response:{assignment_id}".encode(), hashlib.sha256).hexdigest()


def submit_form(ctx: FormContext) -> SubmitOutcome:
    """Store one response per rated unit, exactly once, in one transaction.

    The conditional update on the form's status is the gate: of many concurrent submits only
    one sees a row to update; the unique ``response_key`` backs it up at the database level.

    Close-when-full cells are checked in the same transaction (see
    :func:`survey.services.quotas.closed_units` for the rule and the locking): a form whose
    every rated unit is full is turned away (:attr:`SubmitOutcome.QUOTA_FULL`), nothing is
    stored and the draft stays; a matrix form with only some full units stores the others.
    """
    if ctx.submitted:
        return SubmitOutcome.ALREADY_SUBMITTED
    if campaign_availability(ctx.campaign) is not Availability.OPEN:
        return SubmitOutcome.CLOSED
    if ctx.first_incomplete_section() is not None:
        return SubmitOutcome.INCOMPLETE
    q = ctx.questionnaire
    now = utcnow()
    try:
        _store_responses(ctx, q, now)
    except IntegrityError:
        # Another submit of the same form won the race; its responses stand.
        return SubmitOutcome.ALREADY_SUBMITTED
    except _QuotaFull:
        return SubmitOutcome.QUOTA_FULL
    return SubmitOutcome.SUBMITTED


class _QuotaFull(Exception):
    """Raised inside the submit transaction to roll it back: every rated unit is full."""


def _store_responses(ctx: FormContext, q: Questionnaire, now: dt.datetime) -> None:
    with db.write_transaction() as s:
        claimed = s.execute(
            update(Form).where(Form.id == ctx.form.id, Form.status != FormStatus.SUBMITTED)
            .values(status=FormStatus.SUBMITTED, submitted_at=now)).rowcount
        if claimed != 1:
            raise IntegrityError("form already submitted", None, ValueError("claimed"))
        # After the claim, so duplicate submits of one form never wait on a cell lock.
        full = closed_units(s, ctx.campaign.id, ctx.form.group_id,
                            ctx.form.questionnaire_version_id,
                            (a.rated_unit_id for a in ctx.assignments))
        if full and all(a.rated_unit_id in full for a in ctx.assignments):
            raise _QuotaFull()  # rolls back the claim: the form stays open, its draft kept
        stored: list[Response] = []
        for a in ctx.assignments:
            if a.rated_unit_id in full:
                continue  # a matrix form: the full units are left out, the others stored
            answers = q.visible_answers(ctx.answers_for(a))
            stored.append(Response(
                campaign_id=ctx.campaign.id,
                questionnaire_version_id=ctx.form.questionnaire_version_id,
                content_hash=q.content_hash, group_id=ctx.form.group_id,
                rated_unit_id=a.rated_unit_id, mode=ctx.form.mode,
                submitted_on=now.date(), response_key=response_key(a.id),
                answers=answers, item_codes=q.item_codes(answers)))
        s.add_all(stored)
        s.flush()
        copy_to_responses(s, ctx.form, [r.id for r in stored], len(q.sections), now)
        draft = s.get(Draft, ctx.form.id)
        if draft is not None:
            s.delete(draft)
