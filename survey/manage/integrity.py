"""Home Affairs: integrity review (flags and evidence, decisions, annulments) and the report.

Admin only ("campaign.manage"): agencies and focal points never see paradata or flags.
"""

from __future__ import annotations

from typing import Any

from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, SelectField, SelectChoice, StringField
from wtforms.validators import InputRequired, Length

from survey.i18n import translator, current_language
from survey.manage import bp
from survey.manage.access import campaign_in_scope, identity, staff_route
from survey.services.integrity import (
    ReviewError,
    annul_unit,
    decide_response,
    export_report,
    report_rows,
    review_data,
    integrity_config,
    scan_campaign,
)
from survey.services.review import (
    annulled_units,
    annulment_preview,
    names_of,
    review_queue,
    revoke_annulment,
)


class DecideForm(FlaskForm):
    response_id = IntegerField(_l("Response number"), validators=[InputRequired()])
    decision = SelectField(_l("Decision"), choices=[SelectChoice("accept", _l("Accept (valid)")),
                                                    SelectChoice("exclude", _l("Exclude"))])
    reason = StringField(_l("Reason"), validators=[InputRequired(), Length(min=5, max=500)])


class AnnulForm(FlaskForm):
    unit = StringField(_l("Unit"), validators=[InputRequired(), Length(max=64)])
    reason = StringField(_l("Reason"), validators=[InputRequired(), Length(min=5, max=500)])


class ScanForm(FlaskForm):
    pass


# The analysis package's evidence (its EVIDENCE, stored in English with each flag) as translatable
# templates over the same params, worded alike in English; a flag whose params do not fit shows
# the stored text.
_EVIDENCE = {
    "speeder_total": _l("finished the form in %(total_text)s; the median for this questionnaire "
                        "is %(median_text)s (forms under %(limit_text)s are flagged; "
                        "%(completes)s timed forms)"),
    "speeder_pages": _l("%(fast)s of %(pages)s pages faster than %(per_item)g s per item"),
    "straight_line": _l("%(same)s of %(answered)s answers are option %(option)s"),
    "pattern": _l("answers repeat every %(period)s items at %(share_pct).0f%% of positions"),
    "near_duplicate": _l("answers differ from response %(other)s (same unit) in %(distance)s of "
                         "%(items)s items; %(partners)s similar form(s)"),
    "burst": _l("%(count)s forms for this unit from one %(source_name)s within %(minutes).0f min"),
    "shared_link": _l("personal link opened from %(devices)s devices"),
    "honeypot": _l("hidden honeypot field was filled"),
    "unit_anomaly": _l("spread between respondents sd %(sd).2f vs %(sd_others).2f in the other "
                       "units: chi-square %(chi2).1f on %(df)s df, p = %(p).2g, %(method)s-adjusted "
                       "p = %(p_adjusted).2g"),
    "unit_window": _l("%(count)s of %(forms)s timed forms submitted within %(minutes).0f min"),
}
_SOURCES = {"network": _l("network"), "device": _l("device")}


CHECK_NAMES = {
    "speeder_total": _l("Too fast overall"), "speeder_pages": _l("Pages too fast"),
    "straight_line": _l("Same answer throughout"), "pattern": _l("Repeating pattern"),
    "near_duplicate": _l("Near-duplicate of another form"), "burst": _l("Burst from one source"),
    "shared_link": _l("Personal link shared"), "honeypot": _l("Hidden field filled"),
    "unit_anomaly": _l("Unusual spread in the unit"), "unit_window": _l("Many forms at once"),
}
RECOMMENDATIONS = {"ok": _l("no action"), "review": _l("review"), "exclude": _l("exclude")}
DECISION_NAMES = {"accept": _l("accepted"), "exclude": _l("excluded")}
STATUS_NAMES = {"valid": _l("counted"), "excluded": _l("excluded")}
FAMILY_NAMES = {"timing": _l("timing"), "answers": _l("answers"), "provenance": _l("provenance")}


def duration(seconds: float) -> str:
    """A duration a reviewer reads at a glance: 41 s, 6 min, 1 h 5 min."""
    seconds = max(0.0, float(seconds))
    if seconds < 90:
        return str(_l("%(n)s s", n=f"{seconds:.0f}"))
    minutes = round(seconds / 60)
    if minutes < 60:
        return str(_l("%(n)s min", n=minutes))
    return str(_l("%(h)s h %(m)s min", h=minutes // 60, m=minutes % 60))


def evidence_text(check: str, params: dict[str, Any] | None, stored: str) -> str:
    """A flag's evidence in the page language (the stored English text if it cannot be built)."""
    template = _EVIDENCE.get(check)
    values = dict(params or {})
    if isinstance(values.get("share"), int | float):
        values["share_pct"] = 100 * values["share"]
    values["source_name"] = str(_SOURCES.get(str(values.get("source")), values.get("source", "")))
    for key in ("total", "median", "limit"):
        if isinstance(values.get(key), int | float):
            values[f"{key}_text"] = duration(values[key])
    try:
        return str(template) % values if template is not None else stored
    except (KeyError, TypeError, ValueError):
        return stored


class RevokeForm(FlaskForm):
    unit = HiddenField(validators=[InputRequired()])
    reason = StringField(_l("Reason"), validators=[InputRequired(), Length(min=5, max=500)])


def _filters() -> dict[str, str]:
    return {"check": request.args.get("flag", ""), "unit": request.args.get("unit", ""),
            "state": request.args.get("state", "pending")}


def _review(campaign: Any, status: int = 200, **extra: Any) -> Any:
    config = integrity_config(campaign)
    lang = current_language()
    filters = _filters()
    return render_template("manage/integrity.html", campaign=campaign, data=review_data(campaign),
                           queue=review_queue(campaign, lang, check=filters["check"], unit=filters["unit"],
                                              state=filters["state"]), filters=filters,
                           annulled=annulled_units(campaign, lang),
                           check_names=CHECK_NAMES, recommendations=RECOMMENDATIONS,
                           flag_list=lambda r: ", ".join(dict.fromkeys(
                               str(CHECK_NAMES.get(f.check_code, f.check_code)) for f in r.flags)),
                           decision_names=DECISION_NAMES, status_names=STATUS_NAMES,
                           family_names=FAMILY_NAMES,
                           checks=sorted(c.value for c in config.enabled),
                           thresholds=config.thresholds(),
                           from_file=set(campaign.integrity or {}), evidence=evidence_text,
                           decide_form=extra.pop("decide_form", None) or DecideForm(formdata=None),
                           annul_form=extra.pop("annul_form", None) or AnnulForm(formdata=None),
                           revoke_form=RevokeForm(formdata=None),
                           scan_form=ScanForm(formdata=None), **extra), status


def _back(code: str) -> str:
    back = request.form.get("back", "")
    return back if back.startswith(f"/manage/c/{code}/integrity") else url_for(
        "manage.integrity", code=code)


@staff_route(bp, "/c/<code>/integrity", "campaign.manage")
def integrity(code: str) -> Any:
    return _review(campaign_in_scope(code))


@staff_route(bp, "/c/<code>/integrity/scan", "campaign.manage", methods=("POST",))
def integrity_scan(code: str) -> Any:
    campaign = campaign_in_scope(code)
    if not ScanForm().validate_on_submit():
        return _review(campaign, 422, error=_l("The form expired; try again."))
    summary = scan_campaign(campaign)
    flash(_l("Scan finished: %(n)s responses, %(review)s to review, %(exclude)s excluded.",
             n=summary.responses, review=summary.counts.get("review", 0),
             exclude=summary.excluded))
    return redirect(url_for("manage.integrity", code=code))


@staff_route(bp, "/c/<code>/integrity/decide", "campaign.manage", methods=("POST",))
def integrity_decide(code: str) -> Any:
    campaign = campaign_in_scope(code)
    form = DecideForm()
    if not form.validate_on_submit():
        return _review(campaign, 422, decide_form=form,
                       error=_l("Give the response number, a decision and a reason."))
    try:
        decide_response(campaign, form.response_id.data or 0, form.decision.data or "",
                        form.reason.data or "", identity().user_id)
    except ReviewError as exc:
        return _review(campaign, 422, decide_form=form, error=exc.message(translator()))
    flash(_l("Decision saved for response %(id)s.", id=form.response_id.data))
    return redirect(_back(code))


@staff_route(bp, "/c/<code>/integrity/annul", "campaign.manage", methods=("POST",))
def integrity_annul(code: str) -> Any:
    """Step one shows what the annulment cancels; step two (``confirm``) annuls."""
    campaign = campaign_in_scope(code)
    form = AnnulForm()
    if not form.validate_on_submit():
        return _review(campaign, 422, annul_form=form,
                       error=_l("Choose the unit and give a reason."))
    unit = (form.unit.data or "").strip()
    if request.form.get("confirm") != "yes":
        try:
            preview = annulment_preview(campaign, unit, current_language())
        except ReviewError as exc:
            return _review(campaign, 422, annul_form=form, error=exc.message(translator()))
        return render_template("manage/annul_confirm.html", campaign=campaign, form=form,
                               preview=preview)
    try:
        annul_unit(campaign, unit, form.reason.data or "", identity().user_id)
    except ReviewError as exc:
        return _review(campaign, 422, annul_form=form, error=exc.message(translator()))
    flash(_l("The unit's survey result is annulled."))
    return redirect(url_for("manage.integrity", code=code))


@staff_route(bp, "/c/<code>/integrity/annul/revoke", "campaign.manage", methods=("POST",))
def integrity_annul_revoke(code: str) -> Any:
    campaign = campaign_in_scope(code)
    form = RevokeForm()
    if not form.validate_on_submit():
        return _review(campaign, 422, error=_l("Give a reason for reversing the annulment."))
    try:
        revoke_annulment(campaign, form.unit.data or "", form.reason.data or "",
                         identity().user_id)
    except ReviewError as exc:
        return _review(campaign, 422, error=exc.message(translator()))
    flash(_l("The annulment is reversed: the unit's responses count again."))
    return redirect(url_for("manage.integrity", code=code))


@staff_route(bp, "/c/<code>/integrity/report", "campaign.manage")
def integrity_report(code: str) -> Any:
    campaign = campaign_in_scope(code)
    unit_names, group_names = names_of(campaign, current_language())
    return render_template("manage/integrity_report.html", campaign=campaign,
                           rows=report_rows(campaign), unit_names=unit_names,
                           group_names=group_names)


@staff_route(bp, "/c/<code>/integrity.<fmt>", "campaign.manage")
def integrity_download(code: str, fmt: str) -> Any:
    campaign = campaign_in_scope(code)
    if fmt not in ("csv", "xlsx"):
        return render_template("errors.html", kind="not_found", status=404), 404
    mime = ("text/csv; charset=utf-8" if fmt == "csv" else
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    return Response(export_report(campaign, fmt), mimetype=mime, headers={
        "Content-Disposition": f'attachment; filename="integrity-{campaign.code}.{fmt}"'})

