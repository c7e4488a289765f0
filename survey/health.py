"""``GET /healthz`` for load balancers: is this worker able to reach the database?

200 ``{"status": "ok"}`` when a ``SELECT 1`` on a pooled connection succeeds, 503
``{"status": "unavailable", ...}`` when it does not. The check touches neither the session
cookie nor any table, so a balancer may call it every few seconds on every worker. The reply
names no host, driver or error text.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from survey import db

log = logging.getLogger(__name__)

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Any:
    try:
        with db.engine().connect() as conn:
            conn.execute(text("SELECT 1")).scalar_one()
    except SQLAlchemyError as exc:
        orig = getattr(exc, "orig", None)
        log.warning("health check: database unavailable (%s)",
                    type(orig).__name__ if orig is not None else type(exc).__name__)
        response = jsonify(status="unavailable", database="unreachable")
        response.status_code = 503
        response.headers["Retry-After"] = "5"
        return response
    return jsonify(status="ok", database="ok")
