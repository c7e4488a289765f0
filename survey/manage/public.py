"""Public QR posters for service counters: list, create, print, rotate (contractor, admin)."""

from __future__ import annotations

from typing import Any

from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectField, StringField
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from survey.i18n import translator
from survey.manage import bp
from survey.manage.access import campaign_in_scope, staff_route
from survey.models import Campaign
from survey.services.cards import FontMissing, posters_pdf
from survey.services.public import (
    PublicLinkError,
    create_public_links,
    list_public_links,
    public_posters,
    rotate_public_links,
)


class CreateForm(FlaskForm):
    group = SelectField(_l("Respondent group"), validators=[InputRequired()])
    unit = StringField(_l("Unit code (empty: every unit the group rates)"),
                       validators=[Optional(), Length(max=64)])
    daily_cap = IntegerField(_l("Forms per day at most"),
                             validators=[Optional(), NumberRange(min=0, max=100_000)])


class RotateForm(FlaskForm):
    unit = StringField(_l("Unit code (empty: every poster)"), validators=[Optional(), Length(max=64)])


def _create_form(campaign: Campaign, **kwargs: Any) -> CreateForm:
    form = CreateForm(**kwargs)
    form.group.choices = [(g.code, g.name_vi) for g in campaign.groups]
    return form


def _page(campaign: Campaign, status: int = 200, error: str | None = None,
          create: CreateForm | None = None) -> Any:
    create = create or _create_form(campaign, formdata=None)
    return render_template("manage/public.html", campaign=campaign,
                           links=list_public_links(campaign), create_form=create,
                           rotate_form=RotateForm(formdata=None), error=error), status


@staff_route(bp, "/c/<code>/public", "lists.upload", methods=("GET", "POST"))
def public_links(code: str) -> Any:
    campaign = campaign_in_scope(code)
    if request.method == "GET":
        return _page(campaign)
    form = _create_form(campaign)
    if not form.validate_on_submit():
        return _page(campaign, 422, create=form)
    try:
        made = create_public_links(campaign, form.group.data,
                                   [form.unit.data.strip()] if form.unit.data else [],
                                   form.daily_cap.data)
    except PublicLinkError as exc:
        return _page(campaign, 422, error=exc.message(translator()), create=form)
    flash(_l("%(n)d public link(s) ready; print their posters.", n=len(made)))
    return redirect(url_for("manage.public_links", code=code))


@staff_route(bp, "/c/<code>/public/rotate", "lists.upload", methods=("POST",))
def public_rotate(code: str) -> Any:
    campaign = campaign_in_scope(code)
    form = RotateForm()
    if not form.validate_on_submit():
        return _page(campaign, 422, error=str(_l("The form expired; try again.")))
    try:
        changed = rotate_public_links(campaign, None,
                                      [form.unit.data.strip()] if form.unit.data else [])
    except PublicLinkError as exc:
        return _page(campaign, 422, error=exc.message(translator()))
    flash(_l("%(n)d poster(s) replaced: the old ones no longer open a form. Print the new ones.",
             n=len(changed)))
    return redirect(url_for("manage.public_links", code=code))


@staff_route(bp, "/c/<code>/public/posters.pdf", "lists.upload")
def public_posters_pdf(code: str) -> Any:
    campaign = campaign_in_scope(code)
    _links, items = public_posters(campaign)
    if not items:
        flash(_l("There are no public links to print yet: create them first."))
        return redirect(url_for("manage.public_links", code=code))
    try:
        data = posters_pdf(items, campaign.name_vi)
    except FontMissing as exc:
        return _page(campaign, 422, error=f"{exc.message(translator())} {exc.problem.fix(translator())}")
    return Response(data, mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="posters-{campaign.code}.pdf"'})
