"""The OpenAPI 3.1 description, generated from the routes' own declarations.

Why no library: each route already declares its permission in the one registry; its OpenAPI
part (summary, parameters, response schemas) sits in the same decorator, and this module
walks Flask's URL map to write the document. apispec or flask-smorest would add a second way to
declare routes (marshmallow schemas, their own blueprints) beside ``staff_route``, for a dozen
read routes. The schemas are plain JSON Schema (OpenAPI 3.1 uses draft 2020-12), so the tests
validate answers with ``jsonschema`` directly.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Flask

from questionnaires import Problem
from survey.api import OPERATIONS, STATUSES, Operation
from survey.i18n import translator

PROBLEM = {"type": "object", "required": ["type", "title", "status", "code", "messages"],
           "properties": {"type": {"type": "string"}, "title": {"type": "string"},
                          "status": {"type": "integer"}, "detail": {"type": "string"},
                          "code": {"type": "string"},
                          "messages": {"type": "object", "required": ["vi", "en"],
                                       "properties": {"vi": {"type": "string"},
                                                      "en": {"type": "string"}}},
                          "errors": {"type": "array"}, "parameter": {"type": "string"}},
           "additionalProperties": True}
_PARAM = re.compile(r"<(?:[^:>]+:)?([^>]+)>")


def openapi_path(rule: str) -> str:
    return _PARAM.sub(r"{\1}", rule)


def _problem_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {
        "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}


def _operation(op: Operation, rule: str) -> dict[str, Any]:
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _PARAM.findall(rule)]
    params += [{"name": p.name, "in": "query", "required": p.required, "schema": p.schema,
                "description": p.description} for p in op.params]
    responses: dict[str, Any] = {
        str(status): {"description": op.summary.split(":")[0][:80],
                      "content": {media: {"schema": schema} for media, schema in content.items()}}
        for status, content in op.responses.items()}
    if not op.public:
        responses["401"] = _problem_response("No token, or a token unknown, revoked or expired")
        responses["403"] = _problem_response("The account's role may not do this")
        responses["429"] = _problem_response("Rate limit of the token reached")
        if "<code>" in rule:
            responses["404"] = _problem_response(
                "No such campaign in the account's provinces (or no such job)")
        if op.params or op.body:
            responses["400"] = _problem_response("A parameter is not valid")
        if op.body or "scores" in rule:
            responses["422"] = _problem_response("Refused input or configuration")
    out: dict[str, Any] = {"operationId": op.endpoint.split(".", 1)[1], "summary": op.summary,
                           "tags": list(op.tags), "parameters": params, "responses": responses}
    if op.public:
        out["security"] = []
    else:
        out["x-permission"] = op.permission
    if op.body:
        out["requestBody"] = {"required": True, "content": {
            media: {"schema": schema} for media, schema in op.body.items()}}
    return out


def build_openapi(app: Flask) -> dict[str, Any]:
    """The description of every API route in ``app``'s URL map."""
    paths: dict[str, dict[str, Any]] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        op = OPERATIONS.get(rule.endpoint)
        if op is None:
            continue
        paths.setdefault(openapi_path(rule.rule), {})[op.method.lower()] = _operation(op, rule.rule)
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {"title": "PAR survey engine API", "version": "1.0.0",
                 "description": "Read campaigns, quotas, anonymous response microdata, scores "
                                "and integrity results; import respondent lists. Tokens belong "
                                "to a staff account and act with its role and provinces. "
                                "Errors are RFC 9457 problem details with a stable `code` and "
                                "messages in Vietnamese and English."},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "par_... token from the Tokens "
                                                          "page or `par-survey users token "
                                                          "create`"}},
            "schemas": {"Problem": PROBLEM},
            "x-problem-codes": {code: {"status": st,
                                       "vi": Problem(code).message(translator("vi")),
                                       "en": Problem(code).message()}
                                for code, st in STATUSES.items()},
        },
        "paths": paths,
    }
