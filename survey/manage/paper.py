"""Paper fieldwork for contractor staff: print cards and paper forms, key paper answers
(optionally twice, blind) and resolve mismatches. Every route needs ``lists.upload``."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, flash, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, RadioField, SelectChoice, StringField
from wtforms.validators import InputRequired, Length, Optional

from survey.i18n import translator
from survey.manage import bp
from survey.manage.access import campaign_in_scope, identity, staff_route
from survey.models import Campaign
from survey.respond.forms import page_answers, page_data, page_form_class
from survey.services.cards import (
    FontMissing,
    cards_pdf,
    forms_query,
    issue_for_forms,
    issue_for_respondents,
)
from survey.services.paper import (
    EntryOutcome,
    blank_items,
    double_entry_of,
    entries,
    mismatches_of,
    paper_items_for,
    paper_pdf,
    pending_forms,
    record_entry,
    resolve,
)
from survey.services.qr import AmbiguousCode, find_form_by_code
from survey.services.responding import FormContext, load_form


class FindForm(FlaskForm):
    code = StringField(_l("Form code, link or token"),
                       validators=[InputRequired(_l("Type the code printed on the form.")),
                                   Length(max=200)])


class PrintForm(FlaskForm):
    kind = RadioField(_l("What to print"), choices=[
        SelectChoice("cards", _l("Cards with QR codes")),
        SelectChoice("forms", _l("Paper questionnaires")),
        SelectChoice("blank", _l("Blank questionnaires of a group"))],
        validators=[InputRequired(_l("Choose what to print."))])
    unit = StringField(_l("Unit code"), validators=[Optional(), Length(max=64)])
    group = StringField(_l("Respondent group code"), validators=[Optional(), Length(max=64)])
    revoke_old = BooleanField(_l("Revoke the links issued before"))


class ActionForm(FlaskForm):
    """CSRF only (the answer fields come from the questionnaire's page forms)."""


def _pdf(data: bytes, name: str) -> Response:
    return Response(data, mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@staff_route(bp, "/c/<code>/paper", "lists.upload", methods=("GET", "POST"))
def paper_index(code: str) -> Any:
    campaign = campaign_in_scope(code)
    form = FindForm()
    status, error = 200, None
    if form.validate_on_submit():
        try:
            form_id = find_form_by_code(form.code.data)
        except AmbiguousCode:
            form_id, error = None, _l("This code matches several forms: scan the QR or type "
                                      "the link instead.")
        ctx = load_form(form_id) if form_id else None
        if ctx is not None and ctx.form.campaign_id == campaign.id:
            return redirect(url_for("manage.paper_entry", code=code, form=form_id))
        error = error or _l("No open form of this campaign has this code.")
        status = 422
    elif request.method == "POST":
        status = 422
    return render_template("manage/paper.html", campaign=campaign, form=form, error=error,
                           pending=pending_forms(campaign)), status


@staff_route(bp, "/c/<code>/paper/print", "lists.upload", methods=("GET", "POST"))
def paper_print(code: str) -> Any:
    campaign = campaign_in_scope(code)
    form = PrintForm()
    if not form.validate_on_submit():
        return render_template("manage/paper_print.html", campaign=campaign, form=form), (
            422 if request.method == "POST" else 200)
    unit, group = form.unit.data or None, form.group.data or None
    try:
        if form.kind.data == "blank":
            if not group:
                form.group.errors = [_l("Name the group whose questionnaire to print.")]
                return render_template("manage/paper_print.html", campaign=campaign,
                                       form=form), 422
            return _pdf(paper_pdf(blank_items(campaign, group), title=campaign.name_vi),
                        f"blank-{campaign.code}-{group}.pdf")
        stmt = forms_query(campaign, unit, group)
        base = current_app.config["PUBLIC_URL"]
        if form.kind.data == "cards":
            issued = issue_for_respondents(campaign, stmt, base, "vi", form.revoke_old.data)
            return _pdf(cards_pdf(issued, campaign.name_vi), f"cards-{campaign.code}.pdf")
        issued = issue_for_forms(campaign, stmt, base, "vi", form.revoke_old.data,
                                 action="paper.issue")
        return _pdf(paper_pdf(paper_items_for(issued, campaign), title=campaign.name_vi),
                    f"paper-{campaign.code}.pdf")
    except FontMissing as exc:
        return render_template("manage/paper_print.html", campaign=campaign, form=form,
                               error=f"{exc.message(translator())} {exc.problem.fix(translator())}"), 422


def _form_of(campaign: Campaign) -> FormContext | None:
    form_id = request.args.get("form", type=int)
    ctx = load_form(form_id) if form_id else None
    return ctx if ctx is not None and ctx.form.campaign_id == campaign.id else None


def _page_forms(ctx: FormContext, answers: dict[str, dict[str, Any]] | None) -> list[FlaskForm]:
    q, n = ctx.questionnaire, len(ctx.assignments)
    if answers is None:  # a posted entry
        return [page_form_class(q, i, n)(meta={"csrf": False}) for i in range(len(q.sections))]
    by_unit = [answers.get(str(a.id), {}) for a in ctx.assignments]
    return [page_form_class(q, i, n)(formdata=None, meta={"csrf": False},
                                     data=page_data(q, i, by_unit))
            for i in range(len(q.sections))]


@staff_route(bp, "/c/<code>/paper/entry", "lists.upload", methods=("GET", "POST"))
def paper_entry(code: str) -> Any:
    campaign = campaign_in_scope(code)
    ctx = _form_of(campaign)
    if ctx is None:
        flash(_l("Find the form by its code first."))
        return redirect(url_for("manage.paper_index", code=code))
    me = identity().user_id
    rows = entries(ctx.form.id)
    mine = next((e for e in rows if e.clerk_id == me), None)
    double = double_entry_of(ctx.form.id)
    default_double = current_app.config.get("PAPER_DOUBLE_ENTRY", True)

    def page(forms: list[FlaskForm], status: int = 200, **extra: Any) -> Any:
        return render_template(
            "manage/paper_entry.html", campaign=campaign, ctx=ctx, forms=forms,
            action=ActionForm(), entries=rows, mine=mine,
            double=default_double if double is None else double,
            locked=double is not None, **extra), status

    if request.method == "GET" or ctx.submitted:
        return page(_page_forms(ctx, mine.answers if mine else {}))
    ActionForm().validate()  # CSRF is checked before the view runs
    forms = _page_forms(ctx, None)
    ok = all([f.validate() for f in forms])
    if not ok:
        return page(forms, 422)
    q, n = ctx.questionnaire, len(ctx.assignments)
    answers: dict[str, dict[str, Any]] = {str(a.id): {} for a in ctx.assignments}
    for i, f in enumerate(forms):
        for k, unit_answers in enumerate(page_answers(f, q, i, n)):
            answers[str(ctx.assignments[k].id)].update(unit_answers)
    wanted = bool(request.form.get("double")) if double is None else double
    result = record_entry(ctx, me, answers, wanted)
    if result.outcome is EntryOutcome.SUBMITTED:
        flash(_l("The paper form was entered and submitted."))
        return redirect(url_for("manage.paper_index", code=code))
    if result.outcome is EntryOutcome.WAITING:
        flash(_l("Entry saved. A second clerk must now key this form without seeing it."))
        return redirect(url_for("manage.paper_index", code=code))
    if result.outcome is EntryOutcome.MISMATCH:
        return redirect(url_for("manage.paper_resolve", code=code, form=ctx.form.id))
    status = {EntryOutcome.INCOMPLETE: 422}.get(result.outcome, 409)
    return page(forms, status, outcome=result.outcome.value,
                missing={(i, qid) for i, qid in result.missing})


@staff_route(bp, "/c/<code>/paper/resolve", "lists.upload", methods=("GET", "POST"))
def paper_resolve(code: str) -> Any:
    campaign = campaign_in_scope(code)
    ctx = _form_of(campaign)
    if ctx is None:
        flash(_l("Find the form by its code first."))
        return redirect(url_for("manage.paper_index", code=code))
    mismatches = mismatches_of(ctx)
    action = ActionForm()
    if request.method == "GET" or not mismatches:
        return render_template("manage/paper_resolve.html", campaign=campaign, ctx=ctx,
                               mismatches=mismatches, action=action)
    picks: dict[tuple[str, str], int] = {}
    for m in mismatches:
        value = request.form.get(f"m-{m.assignment}-{m.question_id}")
        if value in ("1", "2"):
            picks[(m.assignment, m.question_id)] = int(value)
    if len(picks) < len(mismatches):
        return render_template("manage/paper_resolve.html", campaign=campaign, ctx=ctx,
                               mismatches=mismatches, action=action, incomplete=True), 422
    result = resolve(ctx, picks)
    if result.outcome is EntryOutcome.SUBMITTED:
        flash(_l("The paper form was entered and submitted."))
        return redirect(url_for("manage.paper_index", code=code))
    return render_template("manage/paper_resolve.html", campaign=campaign, ctx=ctx,
                           mismatches=mismatches_of(ctx), action=action,
                           outcome=result.outcome.value), 409
