"""A respondent's home: every form of one person in a campaign, behind one personal link.

The link's token names the respondent (:func:`survey.services.tokens.issue_respondent_token`);
a per-form token of a form with a respondent leads here too. The home lists each form with
the units it rates, its questionnaire, where it stands and the deadline, and points at the
one form to continue. Entering a form from here puts it in the session exactly as a per-form
link did, so saving, submitting and counting are the per-form flow's, unchanged.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

from questionnaires.schema import Label
from survey.services.responding import (
    Availability,
    CampaignInfo,
    FormContext,
    UnitInfo,
    campaign_availability,
    load_forms_of,
)


class FormState(enum.Enum):
    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    SUBMITTED = "submitted"


@dataclass(frozen=True)
class HomeForm:
    """One form as the home lists it."""

    form_id: int
    title: Label  # the questionnaire's title
    units: tuple[UnitInfo, ...]
    state: FormState
    page: int  # where to continue (1-based); pages + 1 = every page answered: the review
    pages: int
    units_complete: int = 0  # rated units with every required question answered

    @property
    def review_next(self) -> bool:
        return self.page > self.pages


@dataclass(frozen=True)
class Home:
    campaign: CampaignInfo
    forms: tuple[HomeForm, ...]
    availability: Availability

    @property
    def done(self) -> int:
        return sum(f.state is FormState.SUBMITTED for f in self.forms)

    @property
    def units_done(self) -> int:
        return sum(len(f.units) for f in self.forms if f.state is FormState.SUBMITTED)

    @property
    def units_total(self) -> int:
        return sum(len(f.units) for f in self.forms)

    @property
    def deadline(self) -> dt.datetime:
        return self.campaign.closes_at

    @property
    def next_form(self) -> HomeForm | None:
        """The one to continue: the first in progress, else the first not started."""
        open_forms = [f for f in self.forms if f.state is not FormState.SUBMITTED]
        return next((f for f in open_forms if f.state is FormState.IN_PROGRESS),
                    open_forms[0] if open_forms else None)


def home_form(ctx: FormContext) -> HomeForm:
    """Where a form stands: submitted, not started (nothing saved), or in progress at the
    first page with a required question left (the one its Continue opens)."""
    pages = len(ctx.questionnaire.sections)
    if ctx.submitted:
        state, page = FormState.SUBMITTED, pages
    elif not ctx.answers:
        state, page = FormState.NOT_STARTED, 1
    else:
        resume = ctx.first_incomplete_section()
        state, page = FormState.IN_PROGRESS, (resume + 1 if resume is not None else pages + 1)
    q = ctx.questionnaire
    complete = (len(ctx.assignments) if ctx.submitted else
                sum(not q.missing_required(ctx.answers_for(a)) for a in ctx.assignments))
    return HomeForm(ctx.form.id, q.title, ctx.units, state, page, pages, complete)


def load_home(respondent_id: int) -> Home | None:
    """The home of a respondent (None: no form of theirs exists)."""
    contexts = load_forms_of(respondent_id)
    if not contexts:
        return None
    campaign = contexts[0].campaign
    return Home(campaign, tuple(home_form(c) for c in contexts), campaign_availability(campaign))


def form_of(respondent_id: int, form_id: int) -> FormContext | None:
    """Form ``form_id`` if it is one of the respondent's (else None: not theirs)."""
    return next((c for c in load_forms_of(respondent_id) if c.form.id == form_id), None)
