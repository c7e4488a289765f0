"""Response headers for every page, and keeping tokens out of logs."""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

from flask import Flask, Response, current_app, g, request

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")

REFERRER_POLICY = "same-origin"
HSTS = "max-age=31536000; includeSubDomains"

TOKEN_IN_PATH = re.compile(r"(/[sq]/)[A-Za-z0-9_\-]+")  # personal links, public QR codes


class RedactTokens(logging.Filter):
    """Rewrite ``/s/<token>`` (and ``/q/<code>``) to ``/s/[redacted]`` in any log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = TOKEN_IN_PATH.sub(r"\1[redacted]", record.msg)
        if record.args:
            args: Any = record.args
            if isinstance(args, dict):
                record.args = {k: _redact(v) for k, v in args.items()}
            else:
                record.args = tuple(_redact(a) for a in args)
        return True


def _redact(value: Any) -> Any:
    return TOKEN_IN_PATH.sub(r"\1[redacted]", value) if isinstance(value, str) else value


def install_log_redaction() -> None:
    for name in ("werkzeug", "gunicorn.access", "gunicorn.error", ""):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactTokens) for f in handler.filters):
            handler.addFilter(RedactTokens())


def _headers(response: Response) -> Response:
    h = response.headers
    h.setdefault("Content-Security-Policy", CSP)
    h.setdefault("X-Content-Type-Options", "nosniff")
    h.setdefault("X-Frame-Options", "DENY")
    # same-origin, not no-referrer: over HTTPS Flask-WTF refuses a POST whose Referer is not
    # this site (CSRF "SSL strict"), and no-referrer sent none, so every form failed there.
    # Other sites get no Referer at all. Pages whose address holds a token or a poster's code
    # (/s/<token>'s 404 and 429, /q/<code>) send it only back here, with their stylesheet,
    # scripts and Start; the log filter above redacts it in the Referer field as well.
    h.setdefault("Referrer-Policy", REFERRER_POLICY)
    h.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if current_app.config.get("SESSION_COOKIE_SECURE"):
        # Served over HTTPS (PAR_SURVEY_SECURE_COOKIES=1): browsers keep to HTTPS for a year,
        # so no later visit is downgraded to plain HTTP and its cookies read on the way.
        h.setdefault("Strict-Transport-Security", HSTS)
    if "request_id" in g:
        h["X-Request-ID"] = g.request_id
    if not request.path.startswith("/static/"):
        h["Cache-Control"] = "no-store"
    return response


def _request_id() -> None:
    """An id per request, echoed in X-Request-ID and stored with audit events."""
    incoming = request.headers.get("X-Request-ID", "")
    g.request_id = incoming if re.fullmatch(r"[A-Za-z0-9\-]{8,64}", incoming) else uuid.uuid4().hex


def init_app(app: Flask) -> None:
    app.before_request(_request_id)
    app.after_request(_headers)
    install_log_redaction()
