"""Home Affairs: fieldwork control, reopening a form, the audit log, staff accounts."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import DateTimeLocalField, EmailField, IntegerField, PasswordField, SelectField
from wtforms import SelectChoice, StringField
from wtforms.validators import InputRequired, Length, Optional

from sampling import CampaignInvalid
from survey.i18n import translator
from survey.manage import bp
from survey.manage.access import ROLE_LABELS, campaign_in_scope, identity, staff_route
from survey.models import CampaignStatus, Role
from survey.services.audit import search_audit
from survey.services.campaigns import CampaignOutOfScope
from survey.services.console import (
    ConsoleError,
    create_campaign_upload,
    find_forms,
    move_deadline,
    reopen_form,
    set_campaign_status,
)
from survey.services.staff import StaffError, create_staff_user, list_staff


class StatusForm(FlaskForm):
    status = SelectField(_l("Fieldwork"), choices=[SelectChoice("open", _l("Open")),
                                                   SelectChoice("closed", _l("Closed"))])


class DeadlineForm(FlaskForm):
    closes_at = DateTimeLocalField(_l("New deadline (local time)"), validators=[InputRequired()])


class ReopenForm(FlaskForm):
    form_id = IntegerField(_l("Form number"), validators=[InputRequired()])
    reason = StringField(_l("Reason"), validators=[InputRequired(), Length(min=5, max=500)])


class CampaignUploadForm(FlaskForm):
    file = FileField(_l("Campaign configuration (YAML)"),
                     validators=[FileRequired(_l("Choose a file."))])


class UserForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[InputRequired(), Length(max=254)])
    full_name = StringField(_l("Full name"), validators=[InputRequired(), Length(max=200)])
    role = SelectField(_l("Role"), choices=[SelectChoice(r.value, ROLE_LABELS[r]) for r in Role])
    agency_code = StringField(_l("Agency code (focal points)"), validators=[Optional(),
                                                                          Length(max=64)])
    password = PasswordField(_l("Initial password"), validators=[InputRequired(),
                                                                 Length(min=12, max=200)])


def _console(campaign: Any, **extra: Any) -> Any:
    query = request.args.get("q", "").strip()
    status = 422 if extra.get("error") else 200
    return render_template(
        "manage/console.html", campaign=campaign, status_form=StatusForm(
            status=campaign.status.value), deadline_form=DeadlineForm(),
        reopen_form=ReopenForm(), query=query,
        forms=find_forms(campaign, query) if query else [], **extra), status


@staff_route(bp, "/c/<code>/console", "campaign.manage")
def console(code: str) -> Any:
    return _console(campaign_in_scope(code))


@staff_route(bp, "/c/<code>/status", "campaign.manage", methods=("POST",))
def change_status(code: str) -> Any:
    campaign = campaign_in_scope(code)
    form = StatusForm()
    if not form.validate_on_submit():
        return _console(campaign, error=_l("Choose open or closed."))
    set_campaign_status(campaign, CampaignStatus(form.status.data))
    flash(_l("Fieldwork status saved."))
    return redirect(url_for("manage.console", code=code))


@staff_route(bp, "/c/<code>/deadline", "campaign.manage", methods=("POST",))
def change_deadline(code: str) -> Any:
    campaign = campaign_in_scope(code)
    form = DeadlineForm()
    if not form.validate_on_submit() or form.closes_at.data is None:
        return _console(campaign, error=_l("Enter a date and time."))
    local = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    closes_at = form.closes_at.data.replace(tzinfo=local).astimezone(dt.UTC)
    try:
        move_deadline(campaign, closes_at)
    except ConsoleError as exc:
        return _console(campaign, error=exc.message(translator()))
    flash(_l("Deadline moved."))
    return redirect(url_for("manage.console", code=code))


@staff_route(bp, "/c/<code>/reopen", "campaign.manage", methods=("POST",))
def reopen(code: str) -> Any:
    campaign = campaign_in_scope(code)
    form = ReopenForm()
    if not form.validate_on_submit():
        return _console(campaign, error=_l("Give the form number and a reason."))
    try:
        reopen_form(campaign, form.form_id.data or 0, form.reason.data or "")
    except ConsoleError as exc:
        return _console(campaign, error=exc.message(translator()))
    flash(_l("The form is open again for its respondent."))
    return redirect(url_for("manage.console", code=code))


@staff_route(bp, "/campaigns/new", "campaign.manage", methods=("GET", "POST"))
def new_campaign() -> Any:
    form = CampaignUploadForm()
    if not form.validate_on_submit():
        status = 422 if request.method == "POST" else 200
        return render_template("manage/new_campaign.html", form=form), status
    storage = form.file.data
    try:
        campaign = create_campaign_upload(identity().provinces, storage.filename or "c.yaml",
                                          storage.read())
    except CampaignInvalid as exc:
        return render_template("manage/new_campaign.html", form=form, problems=exc.errors), 422
    except ConsoleError as exc:
        return render_template("manage/new_campaign.html", form=form,
                               error=exc.message(translator())), 422
    except CampaignOutOfScope:
        abort(404)  # as for any campaign outside the user's provinces
    flash(_l("Campaign saved."))
    return redirect(url_for("manage.dashboard", code=campaign.code))


@staff_route(bp, "/audit", "audit.view")
def audit() -> Any:
    events = search_audit(identity().provinces, action=request.args.get("action") or None,
                          actor=request.args.get("actor") or None)
    return render_template("manage/audit.html", events=events,
                           action=request.args.get("action", ""),
                           actor=request.args.get("actor", ""))


@staff_route(bp, "/users", "users.manage", methods=("GET", "POST"))
def users() -> Any:
    form = UserForm()
    error = None
    if form.validate_on_submit():
        try:
            create_staff_user(form.email.data or "", form.full_name.data or "",
                              form.password.data or "", Role(form.role.data),
                              identity().provinces, form.agency_code.data or None)
            flash(_l("Account created."))
            return redirect(url_for("manage.users"))
        except StaffError as exc:
            error = exc.message(translator())
    status = 422 if request.method == "POST" else 200
    staff = list_staff(identity().provinces)
    return render_template("manage/users.html", form=form, users=staff, error=error,
                           agency_names=_agency_names({u.agency_code for u in staff
                                                       if u.agency_code})), status


def _agency_names(codes: set[str]) -> dict[str, str]:
    """Focal points' agency codes -> the unit's name (from the newest campaign naming it)."""
    from sqlalchemy import select

    from survey import db
    from survey.i18n import current_language
    from survey.models import Unit

    lang = current_language()
    names: dict[str, str] = {}
    for unit in db.session().scalars(select(Unit).where(Unit.code.in_(codes))
                                     .order_by(Unit.id.desc())):
        names.setdefault(unit.code, unit.name(lang))
    return names
