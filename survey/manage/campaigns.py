"""Campaign list, the quota dashboard, its JSON and downloads, list upload."""

from __future__ import annotations

from typing import Any

from flask import Response, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import HiddenField
from wtforms.validators import InputRequired

from survey.manage import bp
from survey.manage.access import (
    allowed,
    campaign_in_scope,
    campaigns_in_scope,
    identity,
    staff_route,
)
from survey.models import Role
from survey.services.console import (
    ConsoleError,
    bounced_by_cell,
    cell_progress,
    daily_completions,
    export_quotas,
    list_template,
    remind_cell,
    unit_levels,
    upload_respondent_list,
)
from survey.services.quota_reports import quota_state_dict
from survey.services.quotas import CellState, QuotaState, quota_state
from survey.services.respondents import ListRejected

SORTS = ("lag", "unit", "group", "completed")
SORT_LABELS = {"lag": _l("Furthest behind first"), "unit": _l("Rated unit"),
               "group": _l("Respondent group"), "completed": _l("Most completed first")}
#: Names of the usual unit levels; a campaign's own level codes show as they are.
LEVEL_LABELS = {"province": _l("Province"), "department": _l("Department"),
                "district": _l("District"), "commune": _l("Commune")}


class RemindForm(FlaskForm):
    group = HiddenField(validators=[InputRequired()])
    unit = HiddenField(validators=[InputRequired()])


class UploadForm(FlaskForm):
    file = FileField(_l("Respondent list (CSV or XLSX)"),
                     validators=[FileRequired(_l("Choose a file."))])


@staff_route(bp, "/", "campaigns.list")
def index() -> Any:
    return render_template("manage/index.html", campaigns=campaigns_in_scope(),
                           can_quotas=allowed("quotas.view", identity().role),
                           can_scores=allowed("scores.view", identity().role))


def _visible_cells(state: QuotaState) -> list[CellState]:
    """A focal point sees only the cells that rate its own agency; others see all."""
    me = identity()
    if me.role is Role.FOCAL_POINT:
        return [c for c in state.cells if c.rated_unit == me.agency_code]
    return list(state.cells)


@staff_route(bp, "/c/<code>/", "quotas.view")
def dashboard(code: str) -> Any:
    campaign = campaign_in_scope(code)
    state = quota_state(campaign.id)
    cells = _visible_cells(state)
    group = request.args.get("group", "")
    unit = request.args.get("unit", "")
    level = request.args.get("level", "")
    sort = request.args.get("sort", "lag")
    levels = unit_levels(campaign)
    rows = [p for p in cell_progress(state, campaign) if p.cell in cells
            and (not group or p.cell.group == group) and (not unit or p.cell.rated_unit == unit)
            and (not level or levels.get(p.cell.rated_unit) == level)]
    keys = {"lag": lambda p: (p.share if p.share is not None else 2.0, p.cell.rated_unit),
            "unit": lambda p: (p.cell.rated_unit, p.cell.group),
            "group": lambda p: (p.cell.group, p.cell.rated_unit),
            "completed": lambda p: (-p.cell.completed, p.cell.rated_unit)}
    rows.sort(key=keys.get(sort, keys["lag"]))
    focal = identity().role is Role.FOCAL_POINT
    return render_template(
        "manage/dashboard.html", campaign=campaign, rows=rows, state=state, focal=focal,
        groups=sorted({c.group for c in cells}), units=sorted({c.rated_unit for c in cells}),
        group=group, unit=unit, sort=sort, sorts=SORTS, level=level,
        sort_labels=SORT_LABELS, level_labels=LEVEL_LABELS,
        levels=sorted({levels[c.rated_unit] for c in cells if c.rated_unit in levels}),
        daily=[] if focal else daily_completions(campaign),
        bounced={} if focal else bounced_by_cell(campaign),
        can_upload=allowed("lists.upload", identity().role),
        can_remind=allowed("invites.send", identity().role),
        can_manage=allowed("campaign.manage", identity().role))


@staff_route(bp, "/c/<code>/remind", "invites.send", methods=("POST",))
def remind(code: str) -> Any:
    campaign = campaign_in_scope(code)
    form = RemindForm()
    if not form.validate_on_submit():
        return redirect(url_for("manage.dashboard", code=code))
    queued = remind_cell(campaign, form.group.data or "", form.unit.data or "")
    flash(_l("%(n)d reminder(s) queued for this cell.", n=queued))
    return redirect(url_for("manage.dashboard", code=code, group=form.group.data,
                            unit=form.unit.data))


@staff_route(bp, "/c/<code>/quotas.json", "quotas.view")
def quotas_json(code: str) -> Any:
    campaign = campaign_in_scope(code)
    state = quota_state(campaign.id)
    if identity().role is Role.FOCAL_POINT:
        return jsonify({"cells": quota_state_dict(state, _visible_cells(state))["cells"]})
    return jsonify(quota_state_dict(state))


@staff_route(bp, "/c/<code>/quotas.<fmt>", "quotas.view")
def quotas_download(code: str, fmt: str) -> Any:
    campaign = campaign_in_scope(code)
    if fmt not in ("csv", "xlsx"):
        return render_template("errors.html", kind="not_found", status=404), 404
    state = quota_state(campaign.id)
    data = export_quotas(campaign, _visible_cells(state), fmt)
    mime = ("text/csv; charset=utf-8" if fmt == "csv" else
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    return Response(data, mimetype=mime, headers={
        "Content-Disposition": f'attachment; filename="quotas-{campaign.code}.{fmt}"'})


@staff_route(bp, "/c/<code>/respondents-template.xlsx", "lists.upload")
def list_template_download(code: str) -> Any:
    campaign = campaign_in_scope(code)
    return Response(list_template(campaign), mimetype=(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"), headers={
        "Content-Disposition": f'attachment; filename="respondents-{campaign.code}.xlsx"'})


@staff_route(bp, "/c/<code>/respondents", "lists.upload", methods=("GET", "POST"))
def upload(code: str) -> Any:
    campaign = campaign_in_scope(code)
    form = UploadForm()
    if not form.validate_on_submit():
        status = 422 if request.method == "POST" else 200
        return render_template("manage/upload.html", campaign=campaign, form=form), status
    storage = form.file.data
    try:
        report = upload_respondent_list(campaign, storage.filename or "list.csv", storage.read())
    except ListRejected as exc:
        return render_template("manage/upload.html", campaign=campaign, form=form,
                               rejected=exc), 422
    except ConsoleError as exc:
        return render_template("manage/upload.html", campaign=campaign, form=form,
                               error=str(exc)), 422
    return render_template("manage/upload.html", campaign=campaign, form=form, report=report)
