"""Home Affairs: upload an XLSForm workbook, preview it as respondents will see it, publish it.

The uploaded questionnaire travels between the preview and the publish button as its parsed
document, signed with the app's secret and valid for 12 hours (nothing is stored until it is
published), so what is published is exactly what was previewed; it is validated again before
it is stored.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from typing import Any

from flask import Response, current_app, flash, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select

from questionnaires import Questionnaire, QuestionnaireInvalid, RatingLayout, build_questionnaire
from questionnaires.xlsform import XLSFormInvalid, iter_problems, write_template
from survey import db
from survey.i18n import current_language, translator
from survey.manage import bp
from survey.manage.access import staff_route
from survey.models import CampaignStatus, FormStatus, Mode, RespondentGroup
from survey.respond.forms import FieldView, field_name
from survey.respond.pages import page_blocks
from survey.respond.views import HONEYPOT
from survey.services.questionnaires import (
    VersionConflict,
    publish_uploaded_questionnaire,
    read_xlsform,
)
from survey.services.responding import (
    AssignmentInfo,
    CampaignInfo,
    FormContext,
    FormInfo,
    GroupInfo,
    UnitInfo,
)

_SALT = "questionnaire-preview"
_MAX_AGE = 12 * 3600  # seconds a preview stays publishable: a working day
_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script>", re.S | re.I)


class PreviewUploadForm(FlaskForm):
    file = FileField(_l("Questionnaire workbook (XLSForm, .xlsx)"),
                     validators=[FileRequired(_l("Choose a file."))])


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def _sample_context(q: Questionnaire) -> FormContext:
    """A respondent's form for ``q``: one rated unit, or two for a matrix questionnaire."""
    group = db.session().scalar(select(RespondentGroup).filter_by(code=q.group).limit(1))
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    units = [UnitInfo(i, f"U{i}", f"Đơn vị được đánh giá {name}", f"Rated unit {name}")
             for i, name in ((1, "A"), (2, "B"))]
    if q.rating.layout is not RatingLayout.MATRIX:
        units = units[:1]
    return FormContext(
        form=FormInfo(0, 0, 0, 0, Mode.WEB, FormStatus.OPENED, GroupInfo(
            0, q.group, group.name_vi if group else q.group, group.name_en if group else None)),
        campaign=CampaignInfo(0, "PREVIEW", "", "Xem trước bảng hỏi", "Questionnaire preview",
                              CampaignStatus.OPEN, now, now + dt.timedelta(days=30)),
        questionnaire=q,
        assignments=tuple(AssignmentInfo(u.id, u.id, u) for u in units),
        answers={})


def _respondent_page(q: Questionnaire, index: int) -> str:
    """The respondent's page ``index`` of ``q``, rendered by the respondent templates (plain
    text, so that the preview escapes it into its frames' ``srcdoc``)."""
    ctx = _sample_context(q)
    fields = {field_name(i, question.id): FieldView(field_name(i, question.id), None)
              for i in range(len(ctx.assignments)) for question in q.sections[index].questions}
    blocks, _errors = page_blocks(ctx, index, fields, {}, current_language())
    html = render_template("respond/page.html", ctx=ctx, index=index, blocks=blocks,
                           errors=[], honeypot=HONEYPOT, welcome=index == 0)
    # The frames are sandboxed without scripts (nothing in them can post or navigate); the
    # respondent pages work without scripts too, which only enhance saving, so drop them.
    return _SCRIPT.sub("", html)


def _preview(q: Questionnaire | None = None, filename: str = "", problems: Any = None,
             error: str | None = None, status: int = 200) -> Any:
    page = 0
    token = ""
    html = ""
    if q is not None:
        page = min(max(request.form.get("page", 1, type=int) or 1, 1), len(q.sections)) - 1
        token = _serializer().dumps({"doc": q.document, "file": filename})
        html = _respondent_page(q, page)
    return render_template(
        "manage/questionnaire_preview.html", form=PreviewUploadForm(), q=q, page=page,
        token=token, filename=filename, respondent_html=html, problems=problems or [],
        error=error), status


def _from_token() -> tuple[Questionnaire, str] | None:
    try:
        data = _serializer().loads(request.form.get("token", ""), max_age=_MAX_AGE)
        return build_questionnaire(data["doc"], data["file"]), str(data["file"])
    except (BadSignature, KeyError, TypeError, QuestionnaireInvalid):
        return None


@staff_route(bp, "/questionnaires/preview", "questionnaires.manage", methods=("GET", "POST"))
def questionnaire_preview() -> Any:
    if request.method == "GET":
        return _preview()
    if request.form.get("token"):  # another page of the workbook already uploaded
        found = _from_token()
        if found is None:
            return _preview(error=_l("The preview has expired or was altered; upload the "
                                     "workbook again."), status=422)
        return _preview(*found)
    form = PreviewUploadForm()
    if not form.validate_on_submit():
        return _preview(error=_l("Choose a workbook (.xlsx) to upload."), status=422)
    storage = form.file.data
    filename = storage.filename or "questionnaire.xlsx"
    try:
        q = read_xlsform(storage.read(), filename)
    except XLSFormInvalid as exc:
        return _preview(filename=filename, problems=list(iter_problems(exc)), status=422)
    return _preview(q, filename)


@staff_route(bp, "/questionnaires/publish", "questionnaires.manage", methods=("POST",))
def questionnaire_publish() -> Any:
    found = _from_token()
    if found is None:
        return _preview(error=_l("The preview has expired or was altered; upload the "
                                 "workbook again."), status=422)
    q, filename = found
    try:
        publish_uploaded_questionnaire(q, filename)
    except VersionConflict as exc:
        return _preview(q, filename, error=exc.message(translator()), status=422)
    flash(_l("Published %(key)s (content hash %(hash)s).", key=q.key, hash=q.content_hash[:12]))
    return redirect(url_for("manage.questionnaire_preview"))


@staff_route(bp, "/questionnaires/template.xlsx", "questionnaires.manage")
def questionnaire_template() -> Any:
    buf = io.BytesIO()
    write_template(buf)
    return Response(buf.getvalue(), mimetype=(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"), headers={
        "Content-Disposition": 'attachment; filename="questionnaire-template.xlsx"'})
