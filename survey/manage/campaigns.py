"""Campaign list, the quota dashboard, its JSON and downloads, list upload."""

from __future__ import annotations

from typing import Any

from flask import Response, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import HiddenField
from wtforms.validators import InputRequired

from survey.i18n import translator, current_language
from survey.manage import bp
from survey.manage.charts import daily_chart
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
    export_quotas,
    list_template,
    remind_cell,
    upload_respondent_list,
)
from survey.services.progress import (
    build_progress,
    export_progress,
    matrix_cells_html,
    progress_table,
)
from survey.services.quota_reports import quota_state_dict
from survey.services.quotas import CellState, QuotaState, quota_state
from survey.services.respondents import ListRejected

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


LEVEL_NAMES = {"province": _l("Province"), "department": _l("Provincial department"),
               "district": _l("District-level unit"), "commune": _l("Commune-level unit")}
PROGRESS_SORTS = (("behind", _l("Furthest behind first")), ("name", _l("Name")),
                  ("completed", _l("Most completed first")))


def _progress_args() -> dict[str, Any]:
    """The dashboard's filters, as kept in the URL."""
    return {"group": request.args.get("group", ""), "unit": request.args.get("unit", ""),
            "level": request.args.get("level", ""),
            "only_behind": request.args.get("show", "") == "behind",
            "sort": request.args.get("sort", "behind")}


def _progress(campaign: Any, state: QuotaState, args: dict[str, Any]) -> Any:
    focal = identity().role is Role.FOCAL_POINT
    return build_progress(campaign, state, _visible_cells(state), current_language(), **args,
                          with_contacts=not focal, with_daily=not focal)


def level_name(code: str) -> str:
    return str(LEVEL_NAMES.get(code, code))


@staff_route(bp, "/c/<code>/", "quotas.view")
def dashboard(code: str) -> Any:
    campaign = campaign_in_scope(code)
    state = quota_state(campaign.id)
    args = _progress_args()
    progress = _progress(campaign, state, args)
    focal = identity().role is Role.FOCAL_POINT
    cells: list[Any] = []
    if args["group"] or args["unit"]:  # the cells behind the selection, in detail
        names = {u.code: u.name for u in progress.rows}
        cells = [p for p in cell_progress(state, campaign) if p.cell in _visible_cells(state)
                 and (not args["group"] or p.cell.group == args["group"])
                 and (not args["unit"] or p.cell.rated_unit == args["unit"])
                 and p.cell.rated_unit in names]
    return render_template(
        "manage/dashboard.html", campaign=campaign, state=state, focal=focal, p=progress,
        args=args, sorts=PROGRESS_SORTS, level_name=level_name, cells=cells,
        matrix_cells=matrix_cells_html,
        chart=daily_chart(progress.daily, progress, state),
        group_names=dict(progress.groups), unit_names=_unit_names(campaign) if cells else {},
        bounced={} if focal or not cells else bounced_by_cell(campaign),
        query={k: v for k, v in request.args.items() if k in ("group", "unit", "level", "show",
                                                              "sort") and v},
        can_upload=allowed("lists.upload", identity().role),
        can_remind=allowed("invites.send", identity().role),
        can_manage=allowed("campaign.manage", identity().role))


def _unit_names(campaign: Any) -> dict[str, str]:
    lang = current_language()
    return {u.code: u.name(lang) for u in campaign.units}


@staff_route(bp, "/c/<code>/progress.<fmt>", "quotas.view")
def progress_download(code: str, fmt: str) -> Any:
    campaign = campaign_in_scope(code)
    if fmt not in ("csv", "xlsx"):
        return render_template("errors.html", kind="not_found", status=404), 404
    progress = _progress(campaign, quota_state(campaign.id), _progress_args())
    headers = {"unit": str(_l("Unit")), "level": str(_l("Level")), "group": str(_l("Group")),
               "completed": str(_l("Completed")), "target": str(_l("Target")),
               "percent": str(_l("Percent of target")), "behind": str(_l("Behind schedule")),
               **{f"level:{k}": str(v) for k, v in LEVEL_NAMES.items()}}
    data = export_progress(campaign, progress_table(progress, headers), fmt)
    mime = ("text/csv; charset=utf-8" if fmt == "csv" else
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    return Response(data, mimetype=mime, headers={
        "Content-Disposition": f'attachment; filename="progress-{campaign.code}.{fmt}"'})


class RemindUnitForm(FlaskForm):
    unit = HiddenField(validators=[InputRequired()])


@staff_route(bp, "/c/<code>/remind-unit", "invites.send", methods=("POST",))
def remind_unit(code: str) -> Any:
    campaign = campaign_in_scope(code)
    form = RemindUnitForm()
    back = request.form.get("back", "")
    target = back if back.startswith(f"/manage/c/{code}/") else url_for(
        "manage.dashboard", code=code)
    if not form.validate_on_submit():
        return redirect(target)
    unit = form.unit.data or ""
    queued = remind_cell(campaign, "", unit)
    name = _unit_names(campaign).get(unit, unit)
    flash(_l("%(n)d reminder(s) queued for the unfinished respondents rating %(unit)s.",
             n=queued, unit=name))
    return redirect(target)


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
                               error=exc.message(translator())), 422
    return render_template("manage/upload.html", campaign=campaign, form=form, report=report)
