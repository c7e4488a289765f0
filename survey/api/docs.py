"""The description, served: ``openapi.json`` and a readable page rendered from it on the
server (no script, no CDN)."""

from __future__ import annotations

import json
from typing import Any

from flask import current_app, jsonify, render_template

from survey.api import api_route
from survey.api.openapi import build_openapi


@api_route("/openapi.json", None, summary="This API's OpenAPI 3.1 description",
           responses={200: {"application/json": {"type": "object",
                                                 "required": ["openapi", "paths"]}}},
           tags=("description",))
def openapi_json() -> Any:
    return jsonify(build_openapi(current_app))


@api_route("/docs", None, summary="This API's description as a page",
           responses={200: {"text/html": {"type": "string"}}}, tags=("description",))
def api_docs() -> Any:
    spec = build_openapi(current_app)
    operations = [(path, method.upper(), op) for path, methods in spec["paths"].items()
                  for method, op in methods.items()]
    return render_template("api/docs.html", spec=spec, operations=operations,
                           dumps=lambda v: json.dumps(v, ensure_ascii=False, indent=2))
