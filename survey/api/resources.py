"""The API's resources: campaigns, quotas, response microdata, scores, integrity, outbox,
respondent-list import jobs and webhooks. Each view is thin: parse, call one service, answer;
its OpenAPI description sits in its decorator."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterator
from typing import Any

from flask import Response, current_app, g, jsonify, request, stream_with_context, url_for
from itsdangerous import BadSignature, URLSafeSerializer

from questionnaires import Problem
from questionnaires.spreadsheet import safe_row
from survey import db
from survey.api import ApiProblem, Param, api_campaign, api_route, language
from survey.i18n import translator
from survey.manage.access import campaigns_in_scope, identity
from survey.models import Campaign, Role
from survey.services.import_jobs import (
    JobRefused,
    find_import_job,
    job_dict,
    start_import_thread,
    submit_import_job,
)
from survey.services.api_data import campaign_data, integrity_data, outbox_data
from survey.services.quota_reports import quota_state_dict
from survey.services.quotas import quota_state
from survey.services.response_rows import (
    RowFilters,
    iter_response_rows,
    next_page_after,
    response_columns,
)
from survey.services.scores import download_scores
from survey.services.scoring_config import ScoringConfigError, scoring_for_campaign, scoring_problems

JSON = "application/json"


def _obj(props: dict[str, Any], required: tuple[str, ...] | None = None,
         extra: bool | dict[str, Any] = False) -> dict[str, Any]:
    return {"type": "object", "properties": props,
            "required": list(props if required is None else required),
            "additionalProperties": extra}


STR = {"type": "string"}
INT = {"type": "integer"}
NSTR = {"type": ["string", "null"]}
NINT = {"type": ["integer", "null"]}
NUM_OR_NULL = {"type": ["number", "null"]}
TIME = {"type": "string", "format": "date-time"}
NTIME = {"type": ["string", "null"], "format": "date-time"}

CAMPAIGN = _obj({"code": STR, "name": _obj({"vi": STR, "en": STR}), "province": STR,
                 "year": INT, "status": STR, "opens_at": TIME, "closes_at": TIME,
                 "links": _obj({}, (), {"type": "string"})})


def _campaign_dict(c: Campaign) -> dict[str, Any]:
    base = url_for("api.get_campaign", code=c.code)
    return {**campaign_data(c), "links": {
        "self": base, **{k: f"{base}/{k}" for k in ("quotas", "responses", "scores",
                                                     "integrity", "outbox")}}}


@api_route("/campaigns", "campaigns.list", summary="Campaigns in the account's provinces",
           responses={200: {JSON: _obj({"campaigns": {"type": "array", "items": CAMPAIGN}})}},
           tags=("campaigns",))
def list_campaigns() -> Any:
    return jsonify({"campaigns": [_campaign_dict(c) for c in campaigns_in_scope()]})


@api_route("/campaigns/<code>", "campaigns.list", summary="One campaign",
           responses={200: {JSON: CAMPAIGN}}, tags=("campaigns",))
def get_campaign(code: str) -> Any:
    return jsonify(_campaign_dict(api_campaign(code)))


TALLY = {"type": "object", "additionalProperties": True,
         "properties": {k: INT for k in ("started", "completed", "valid")}}
CELL = _obj({"group": STR, "questionnaire": STR, "rated_unit": STR, "source_unit": NSTR,
             "rule": STR, "target": NINT, "invited": INT, "started": INT, "completed": INT,
             "valid": INT, "over_quota": INT, "public_started": INT, "public_completed": INT,
             "public_valid": INT})
QUOTAS = _obj({"cells": {"type": "array", "items": CELL},
               "by_group": {"type": "object", "additionalProperties": TALLY},
               "by_unit": {"type": "object", "additionalProperties": TALLY},
               "total": TALLY}, ("cells",))


@api_route("/campaigns/<code>/quotas", "quotas.view",
           summary="Quota progress per cell, group, unit and in total (the numbers of "
           "`par-survey quotas --format json`); a focal point sees its own agency's cells only",
           responses={200: {JSON: QUOTAS}}, tags=("campaigns",))
def get_quotas(code: str) -> Any:
    from survey.manage.campaigns import _visible_cells

    state = quota_state(api_campaign(code).id)
    if identity().role is Role.FOCAL_POINT:
        return jsonify({"cells": quota_state_dict(state, _visible_cells(state))["cells"]})
    return jsonify(quota_state_dict(state))


# ---------------------------------------------------------------------------- microdata

ROW = {"type": "object", "required": ["response_id", "unit", "unit_level", "group",
                                      "questionnaire", "mode", "submitted_on", "stratum",
                                      "psu", "weight", "fpc"],
       "properties": {"response_id": INT, "unit": STR, "unit_level": STR, "group": STR,
                      "questionnaire": STR, "mode": STR,
                      "submitted_on": {"type": "string", "format": "date"},
                      "stratum": {"type": "string", "description": "the design's stratum: "
                                  "`group|unit`, or `unit` when the design stratifies by unit"},
                      "psu": {"type": "integer", "description": "primary sampling unit: the "
                              "response itself"},
                      "weight": {"type": "number", "description": "analysis weight (N_h / n_h, "
                                 "then the group's weighting steps)"},
                      "fpc": {"type": "number", "description": "the stratum's population N_h"}},
       "additionalProperties": NINT,
       "description": "One valid response (one rated unit) of the design the published scores "
                      "use, as `par-survey responses export` writes it: R `svydesign(ids=~psu, "
                      "strata=~stratum, weights=~weight, fpc=~fpc)` on these rows gives the "
                      "published estimates. Public-QR responses (self-selected, no design "
                      "weight) are left out, as they are of the scores. Each other key is a "
                      "scored item `questionnaire@vN/question` holding the option position "
                      "(1 = first option) or null when not answered. No identity."}
MAX_PAGE = 100_000


def _cursor_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="api-responses-cursor")


def _filters() -> RowFilters:
    since = request.args.get("since") or None
    try:
        day = dt.date.fromisoformat(since) if since else None
    except ValueError:
        raise ApiProblem("API-BAD-PARAMETER", detail=Problem("API-SINCE", params={
            "value": repr(since)}), parameter="since") from None
    return RowFilters(unit=request.args.get("unit") or None,
                      group=request.args.get("group") or None, since=day)


def _limit() -> int:
    raw = request.args.get("limit", "10000")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        raise ApiProblem("API-BAD-PARAMETER", detail=Problem("API-LIMIT", params={
            "max": MAX_PAGE}), parameter="limit")
    return int(raw)


@api_route("/campaigns/<code>/responses", "responses.export",
           summary="Anonymous response microdata, streamed as NDJSON (one JSON row a line) or "
           "CSV, in pages: when rows remain, the `Link: <...>; rel=\"next\"` and "
           "`X-Next-Cursor` headers carry the opaque cursor of the next page",
           params=(Param("format", {"type": "string", "enum": ["ndjson", "csv"]},
                         "ndjson (default) or csv"),
                   Param("unit", STR, "only responses rating this unit code"),
                   Param("group", STR, "only this respondent group code"),
                   Param("since", {"type": "string", "format": "date"},
                         "only responses submitted on or after this day"),
                   Param("limit", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
                         "rows per page (default 10000)"),
                   Param("cursor", STR, "the next page's cursor from the previous page")),
           responses={200: {"application/x-ndjson": ROW, "text/csv": STR}},
           tags=("microdata",))
def list_responses(code: str) -> Any:
    campaign = api_campaign(code)
    fmt = request.args.get("format", "ndjson")
    if fmt not in ("ndjson", "csv"):
        raise ApiProblem("API-BAD-PARAMETER", detail=Problem("API-FORMAT"), parameter="format")
    filters, limit = _filters(), _limit()
    scope = [filters.unit, filters.group, filters.since.isoformat() if filters.since else None]
    after = None
    if request.args.get("cursor"):
        try:
            state = _cursor_serializer().loads(request.args["cursor"])
        except BadSignature:
            raise ApiProblem("API-BAD-CURSOR") from None
        if not isinstance(state, dict) or state.get("f") != scope or state.get("c") != campaign.id:
            raise ApiProblem("API-BAD-CURSOR")
        after = int(state["a"])
    columns = response_columns(campaign.id)
    rows = iter_response_rows(campaign.id, filters, after_id=after, limit=limit)
    last = next_page_after(campaign.id, filters, after_id=after, limit=limit)
    headers = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
    if last is not None:
        cursor = _cursor_serializer().dumps({"a": last, "f": scope, "c": campaign.id})
        args: dict[str, Any] = {**{k: v for k, v in request.args.items() if k != "cursor"},
                                "cursor": cursor}
        headers["Link"] = f'<{url_for("api.list_responses", code=code, **args)}>; rel="next"'
        headers["X-Next-Cursor"] = cursor

    def generate() -> Iterator[str]:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\r\n")  # RFC 4180; a CR in a cell is quoted
        if fmt == "csv":
            writer.writerow(safe_row(columns))
        for n, row in enumerate(rows, start=1):
            if fmt == "csv":  # escaped (OWASP CSV injection); NDJSON is not a spreadsheet
                writer.writerow(safe_row("" if (v := row.get(c)) is None else v
                                         for c in columns))
            else:
                buf.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")))
                buf.write("\n")
            if n % 1000 == 0:  # chunks of about 100 kB: few writes, constant memory
                yield buf.getvalue()
                buf.seek(0)
                buf.truncate()
        yield buf.getvalue()

    mime = "application/x-ndjson" if fmt == "ndjson" else "text/csv"
    return Response(stream_with_context(generate()), mimetype=mime, headers=headers)


# ---------------------------------------------------------------------------- scores, integrity

SCORES = {"type": "object", "required": ["scores", "units"],
          "additionalProperties": {"type": "array", "items": {"type": "object"}},
          "description": "The JSON of `par-survey scores --format json`: one array of row "
                         "objects per table (scores, units, sipas when present)."}


@api_route("/campaigns/<code>/scores", "scores.view",
           summary="Scores per unit and sub-criterion (the JSON of `par-survey scores`)",
           responses={200: {JSON: SCORES}}, tags=("results",))
def get_scores(code: str) -> Any:
    campaign = api_campaign(code)
    try:
        config = scoring_for_campaign(campaign.id).config
    except ScoringConfigError as exc:
        tr = translator(language())
        raise ApiProblem("SCORING-CONFIG-INVALID", status=422,
                         detail=Problem("SCORING-CONFIG-INVALID"),
                         errors=[p.render(tr) for p in scoring_problems(exc)]) from None
    if not config.sub_criteria:
        raise ApiProblem("SCORING-NO-ITEMS", status=422, detail=Problem("SCORING-NO-ITEMS"))
    return Response(download_scores(campaign, config, "json"), mimetype=JSON)


FLAG = _obj({"check": STR, "evidence": STR})
INTEGRITY = _obj({
    "scanned_at": NTIME,
    "responses": {"type": "array", "items": _obj({
        "response_id": INT, "unit": STR, "group": STR, "questionnaire": STR, "status": STR,
        "recommendation": STR, "families": INT, "decision": NSTR, "reason": NSTR,
        "flags": {"type": "array", "items": FLAG}})},
    "unit_flags": {"type": "array", "items": _obj({"unit": STR, "questionnaire": STR,
                                                   "check": STR, "evidence": STR,
                                                   "forms": INT})},
    "annulled": {"type": "array", "items": _obj({"unit": STR, "reason": STR, "at": TIME})}})


@api_route("/campaigns/<code>/integrity", "campaign.manage",
           summary="Integrity flags, recommendations, reviewers' decisions and annulled units",
           responses={200: {JSON: INTEGRITY}}, tags=("results",))
def get_integrity(code: str) -> Any:
    return jsonify(integrity_data(api_campaign(code)))


COUNTS = {"type": "object", "additionalProperties": INT}
OUTBOX = _obj({"mail": COUNTS, "webhooks": COUNTS})


@api_route("/campaigns/<code>/outbox", "invites.send",
           summary="Outbox status: invitations and reminders, and webhook deliveries, by status",
           responses={200: {JSON: OUTBOX}}, tags=("campaigns",))
def get_outbox(code: str) -> Any:
    return jsonify(outbox_data(api_campaign(code)))


# ---------------------------------------------------------------------------- import jobs

LIST_ERROR = _obj({"code": STR, "row": NINT, "column": NSTR,
                   "message": _obj({"vi": STR, "en": STR})})
JOB = _obj({"id": STR, "file": STR, "status": {"enum": ["queued", "running", "done", "failed"]},
            "stage": STR, "progress": {"type": "integer", "minimum": 0, "maximum": 100},
            "report": {"type": ["object", "null"], "properties": {
                "imported": {"type": "boolean"}, "error_count": INT,
                "errors": {"type": "array", "items": LIST_ERROR}}},
            "created_at": TIME, "finished_at": NTIME, "links": _obj({"self": STR})})


def _job_answer(campaign: Campaign, job: Any) -> dict[str, Any]:
    return {**job_dict(job), "links": {"self": url_for(
        "api.get_respondent_import", code=campaign.code, job_id=job.public_id)}}


@api_route("/campaigns/<code>/respondent-imports", "lists.upload", method="POST",
           summary="Import a respondent list (CSV or XLSX, multipart field `file`) as a job: "
           "all rows or none, as `par-survey respondents import`; poll the job's link",
           body={"multipart/form-data": _obj({"file": {"type": "string",
                                                       "contentMediaType":
                                                       "application/octet-stream"}})},
           responses={202: {JSON: JOB}}, tags=("respondents",))
def create_respondent_import(code: str) -> Any:
    campaign = api_campaign(code)
    upload = request.files.get("file")
    if upload is None:
        raise ApiProblem("API-BAD-PARAMETER", detail=Problem("API-FILE"), parameter="file")
    try:
        job = submit_import_job(campaign, upload.filename or "", upload.read(),
                                g.api_identity.user_id)
    except JobRefused as exc:
        raise ApiProblem(exc.code, status=422, detail=exc.problem) from None
    app, public_id = current_app._get_current_object(), job.public_id  # type: ignore[attr-defined]
    db.after_commit(lambda: start_import_thread(app, public_id))  # the runner must see the job
    answer = jsonify(_job_answer(campaign, job))
    answer.status_code = 202
    answer.headers["Location"] = _job_answer(campaign, job)["links"]["self"]
    return answer


@api_route("/campaigns/<code>/respondent-imports/<job_id>", "lists.upload",
           summary="An import job's status, progress and row report",
           responses={200: {JSON: JOB}}, tags=("respondents",))
def get_respondent_import(code: str, job_id: str) -> Any:
    campaign = api_campaign(code)
    job = find_import_job(campaign, job_id)
    if job is None:
        raise ApiProblem("API-NOT-FOUND")
    return jsonify(_job_answer(campaign, job))
