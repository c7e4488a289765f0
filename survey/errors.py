"""Error pages: generic, translated, never a traceback or a hint about tokens."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError, OperationalError

log = logging.getLogger(__name__)


def _page(kind: str, status: int) -> Any:
    if request.path.startswith("/api/"):  # the JSON API answers problem details, never a page
        from survey.api import problem

        return problem({404: "API-NOT-FOUND", 405: "API-METHOD", 413: "API-TOO-LARGE",
                        500: "API-SERVER-ERROR"}.get(status, "API-BAD-PARAMETER"), status=status)
    return render_template("errors.html", kind=kind, status=status), status


def init_app(app: Flask) -> None:
    @app.errorhandler(404)
    def not_found(_e: Any) -> Any:
        # Unknown and revoked links end here alike: same body, same status.
        return _page("not_found", 404)

    @app.errorhandler(CSRFError)
    def csrf_error(_e: Any) -> Any:
        return _page("csrf", 400)

    @app.errorhandler(400)
    def bad_request(_e: Any) -> Any:
        return _page("bad_request", 400)

    @app.errorhandler(403)
    def forbidden(_e: Any) -> Any:
        return _page("forbidden", 403)

    @app.errorhandler(405)
    def not_allowed(_e: Any) -> Any:
        return _page("bad_request", 405)

    @app.errorhandler(413)
    def too_large(_e: Any) -> Any:
        return _page("too_large", 413)

    @app.errorhandler(OperationalError)
    def database_away(e: Any) -> Any:
        log.warning("database unavailable: %s", type(e.orig).__name__ if isinstance(
            e, DBAPIError) else type(e).__name__)
        return _page("unavailable", 503)

    @app.errorhandler(500)
    def server_error(_e: Any) -> Any:
        return _page("server_error", 500)
