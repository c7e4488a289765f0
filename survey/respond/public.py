"""Public QR routes: ``GET /q/<code>`` shows the unit and a Start button, ``POST`` starts a form.

A GET never creates anything (link previewers and QR scanner apps fetch it); the POST (CSRF)
starts this browser's form, puts it in the session under the key the form pages read, and
redirects into the normal flow like a personal link (:func:`survey.respond.views.enter_form`:
page 1 of a new form, the landing page of a begun one).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from flask import abort, render_template, session
from flask_wtf import FlaskForm

from survey.respond import bp
from survey.respond.views import SESSION_KEY, enter_form
from survey.services.paradata import current_client
from survey.services.public import (
    Refusal,
    Visitor,
    can_resume,
    new_browser_id,
    open_public_link,
    start_public_form,
)
from survey.services.questionnaires import questionnaire_for
from survey.services.responding import Availability, campaign_availability

BROWSER_KEY = "browser"  # a random id per browser: the per-browser limit counts its hash
PUBLIC_FORMS_KEY = "public_forms"  # {link id (text): form id}: scanning again resumes
PUBLIC_FORMS_KEPT = 20

REFUSED_STATUS = {Refusal.QUOTA_FULL: 409, Refusal.DEVICE_LIMIT: 429,
                  Refusal.NETWORK_LIMIT: 429, Refusal.DAILY_CAP: 429}


class StartForm(FlaskForm):
    """The Start button: nothing but the CSRF token."""


def _visitor() -> Visitor:
    if not isinstance(session.get(BROWSER_KEY), str):
        session[BROWSER_KEY] = new_browser_id()
        session.permanent = True
    raw = session.get(PUBLIC_FORMS_KEY)
    forms = {int(k): v for k, v in raw.items() if k.isdigit() and isinstance(v, int)} \
        if isinstance(raw, dict) else {}
    return Visitor(browser=session[BROWSER_KEY], forms=forms)


def _refused(refusal: Refusal, campaign: Any = None, unit: Any = None) -> Any:
    if refusal is Refusal.NOT_FOUND:
        abort(404)  # the same page as an unknown or revoked personal link
    if refusal is Refusal.TOO_MANY_INVALID:
        return render_template("errors.html", kind="rate_limited", status=429), 429
    if refusal in (Refusal.CLOSED, Refusal.NOT_YET):
        return render_template("respond/message.html", kind=refusal.value,
                               ctx=SimpleNamespace(campaign=campaign)), 403
    return render_template("respond/public_refused.html", kind=refusal.value, unit=unit,
                           status=REFUSED_STATUS[refusal]), REFUSED_STATUS[refusal]


@bp.get("/q/<code>")
def public_landing(code: str) -> Any:
    """The poster's page: which unit, which survey, and a Start button (creates nothing)."""
    found = open_public_link(code, current_client())
    if isinstance(found, Refusal):
        return _refused(found)
    availability = campaign_availability(found.campaign)
    if availability is not Availability.OPEN:
        return _refused(Refusal.CLOSED if availability is Availability.CLOSED
                        else Refusal.NOT_YET, found.campaign)
    visitor = _visitor()
    return render_template(
        "respond/public_landing.html", link=found, form=StartForm(),
        questionnaire=questionnaire_for(found.questionnaire_version), code=code,
        resume=can_resume(found, visitor))


@bp.post("/q/<code>")
def start_public(code: str) -> Any:
    """Start this browser's form for the poster (or resume it) and enter the normal flow."""
    StartForm().validate()  # CSRF is checked before the view runs; nothing else to read
    started = start_public_form(code, current_client(), _visitor())
    if started.refusal is not None or started.form_id is None:
        return _refused(started.refusal or Refusal.NOT_FOUND, started.campaign, started.unit)
    forms = dict(session.get(PUBLIC_FORMS_KEY) or {})
    forms.pop(str(started.link_id), None)
    forms[str(started.link_id)] = started.form_id
    session[PUBLIC_FORMS_KEY] = dict(list(forms.items())[-PUBLIC_FORMS_KEPT:])
    session[SESSION_KEY] = started.form_id
    session.permanent = True
    return enter_form(started.begun)
