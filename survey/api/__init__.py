"""The JSON API under ``/api/v1``: token authentication, problem details, the route registry.

Every API route is declared with :func:`api_route`, which (1) enters it in the same registry as
the staff pages (:data:`survey.manage.access.ROUTES`, so the route x role x province test walks
it and a route without a rule fails), and (2) keeps its OpenAPI description beside the view
(:data:`OPERATIONS`, read by :mod:`survey.api.openapi`): the description is written once, where
the route is.

A call: ``Authorization: Bearer par_...`` -> the account's role and provinces (401 when the
token is unknown, revoked or expired) -> the per-token rate limit (429) -> the permission (403)
-> the view (a campaign outside the provinces is 404, as on the pages) -> an ``api.call`` audit
event naming the account, the token, the route and the answer's status.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Flask, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException

from questionnaires import Problem
from survey import db
from survey.i18n import translator
from survey.manage.access import allowed, campaign_in_scope, register_api_route
from survey.models import Campaign, utcnow
from survey.services.api_tokens import authenticate_api_token
from survey.services.audit import record_audit
from survey.services.ratelimit import failure_counter

bp = Blueprint("api", __name__, url_prefix="/api/v1")

PROBLEM_TYPE = "application/problem+json"
RATE_WINDOW = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class Param:
    """A query parameter, as the OpenAPI description shows it."""

    name: str
    schema: dict[str, Any]
    description: str
    required: bool = False


@dataclass(frozen=True)
class Operation:
    """One route's description: written beside the view, published in openapi.json."""

    endpoint: str
    rule: str
    method: str
    permission: str | None
    summary: str
    responses: dict[int, dict[str, Any]]  # status -> {media type: schema}
    params: tuple[Param, ...] = ()
    body: dict[str, Any] | None = None  # {media type: schema}
    public: bool = False
    tags: tuple[str, ...] = field(default_factory=tuple)


#: endpoint -> its description, filled by :func:`api_route` as the views are imported
OPERATIONS: dict[str, Operation] = {}

# ---------------------------------------------------------------------------- problems

#: the API's own problem codes -> HTTP status; their titles are registered in survey/problems.py
#: (English msgid, Vietnamese in the catalog). A refused list or campaign answers with the
#: codes and located problems the CLI prints.
STATUSES: dict[str, int] = {
    "API-TOKEN-MISSING": 401,
    "API-TOKEN-INVALID": 401,
    "API-FORBIDDEN": 403,
    "API-NOT-FOUND": 404,
    "API-METHOD": 405,
    "API-RATE-LIMITED": 429,
    "API-BAD-PARAMETER": 400,
    "API-BAD-CURSOR": 400,
    "API-TOO-LARGE": 413,
    "API-SERVER-ERROR": 500,
}


def language() -> str:
    return request.accept_languages.best_match(["vi", "en"], default="vi") or "vi"


def problem(code: str, *, status: int | None = None, detail: Problem | None = None,
            **extra: Any) -> Any:
    """An RFC 9457 problem details answer: ``type``, ``title`` (the code's message), ``status``,
    ``detail`` (``detail``'s message, else the title) in the caller's language (Accept-Language,
    Vietnamese by default), the stable ``code`` and the detail in both languages."""
    status = status or STATUSES.get(code, 400)
    tr = translator(language())
    about = detail or Problem(code)
    vi, en = about.message(translator("vi")), about.message()
    body = {"type": f"/api/v1/problems/{code}", "title": Problem(code).message(tr),
            "status": status, "detail": about.message(tr), "code": code,
            "messages": {"vi": vi, "en": en}, **extra}
    response = jsonify(body)
    response.status_code = status
    response.mimetype = PROBLEM_TYPE
    return response


def _json_problem_for(exc: HTTPException) -> Any:
    code = {401: "API-TOKEN-INVALID", 403: "API-FORBIDDEN", 404: "API-NOT-FOUND",
            405: "API-METHOD", 413: "API-TOO-LARGE", 429: "API-RATE-LIMITED"}.get(
        exc.code or 500, "API-BAD-PARAMETER" if (exc.code or 500) < 500 else "API-SERVER-ERROR")
    return problem(code, status=exc.code)


class ApiProblem(Exception):
    """Raised by a view to answer with a problem (caught by :func:`api_route`): the answer's
    ``code``, and the :class:`~questionnaires.problems.Problem` that says what is wrong."""

    def __init__(self, code: str, *, status: int | None = None, detail: Problem | None = None,
                 **extra: Any):
        super().__init__(code)
        self.code, self.status, self.detail, self.extra = code, status, detail, extra


# ---------------------------------------------------------------------------- the decorator

def _rate_key(token_id: int) -> str:
    secret = current_app.config["SECRET_KEY"].encode()
    return "api:" + hmac.new(secret, f"token:{token_id}".encode(), hashlib.sha256).hexdigest()[:48]


def _authenticate() -> Any:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer ") or not header[7:].strip():
        return problem("API-TOKEN-MISSING"), None
    found = authenticate_api_token(header[7:].strip())
    if found is None:
        return problem("API-TOKEN-INVALID"), None
    return None, found


def api_campaign(code: str) -> Campaign:
    """The campaign in the caller's provinces (else 404), remembered for the audit event."""
    campaign = campaign_in_scope(code)
    g.api_campaign = campaign
    return campaign


def _audit_call(endpoint: str, status: int, token_id: int) -> None:
    """The ``api.call`` event: the account, the token, the route and the answer's status."""
    campaign = g.get("api_campaign")
    with db.write_transaction():
        record_audit("api.call", province_code=campaign.province_code if campaign else None,
                     object_type="api_route", object_id=endpoint,
                     detail={"method": request.method, "path": request.path,
                             "query": request.query_string.decode()[:300],
                             "status": status, "token_id": token_id})


def api_route(rule: str, permission: str | None, *, summary: str,
              responses: dict[int, dict[str, Any]], method: str = "GET",
              params: tuple[Param, ...] = (), body: dict[str, Any] | None = None,
              tags: tuple[str, ...] = ()) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register an API view with the permission it needs (None: public, e.g. the description)
    and its OpenAPI description."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        endpoint = f"{bp.name}.{view.__name__}"

        @functools.wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if permission is None:
                with db.unit_of_work():
                    return view(*args, **kwargs)
            # Named exception: the token's use and the call's count are kept whatever the
            # call does, so calls that fail count against the rate limit too.
            with db.own_transaction():
                refused, found = _authenticate()
                if refused is not None:
                    return refused
                ident, token_id = found
                g.api_identity = g.staff = ident
                g.api_token_id = token_id
                limit = int(current_app.config.get("API_RATE_PER_MINUTE", 600))
                counter, key, now = failure_counter(), _rate_key(token_id), utcnow()
                if limit > 0 and counter.count(key, now - RATE_WINDOW) >= limit:
                    answer = problem("API-RATE-LIMITED")
                    answer.headers["Retry-After"] = "60"
                    return answer
                counter.add([key], now, RATE_WINDOW)
            # One unit of work: the view's changes and the api.call audit event, together; a
            # refused call's changes are rolled back and its audit event is kept.
            try:
                with db.unit_of_work():
                    if not allowed(permission, ident.role):
                        raise ApiProblem("API-FORBIDDEN")
                    answer = current_app.make_response(view(*args, **kwargs))
                    _audit_call(endpoint, answer.status_code, token_id)
            except ApiProblem as exc:
                answer = current_app.make_response(problem(
                    exc.code, status=exc.status, detail=exc.detail, **exc.extra))
            except HTTPException as exc:
                answer = current_app.make_response(_json_problem_for(exc))
            else:
                return answer
            with db.unit_of_work():
                _audit_call(endpoint, answer.status_code, token_id)
            return answer

        register_api_route(endpoint, rule, permission)
        OPERATIONS[endpoint] = Operation(endpoint, (bp.url_prefix or "") + rule, method, permission,
                                         summary, responses, params, body,
                                         permission is None, tags)
        bp.add_url_rule(rule, view.__name__, guarded, methods=[method])
        return guarded

    return decorate


def init_app(app: Flask) -> None:
    app.config.setdefault("API_IMPORT_THREADS", True)
    from survey.api import docs, resources  # noqa: F401  (routes register on import)

    app.register_blueprint(bp)
    csrf = app.extensions.get("csrf")
    if csrf is not None:
        csrf.exempt(bp)  # bearer tokens, never cookies: nothing for a forged form to ride on
