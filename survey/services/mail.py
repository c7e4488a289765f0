"""Mail: SMTP settings from the environment, templates, message building, SMTP delivery.

Settings (read from the environment by ``survey/config.py`` into the app config keys
``SMTP_URL``, ``MAIL_FROM``, ``MAIL_RATE_PER_MINUTE``, which tests set directly):

* ``PAR_SURVEY_SMTP_URL``: ``smtp://user:pass@host:587?starttls=1`` (``smtps://`` for implicit
  TLS; ``timeout=`` seconds, default 30). User and password are URL-quoted.
* ``PAR_SURVEY_MAIL_FROM``: the sender, e.g. ``"Sở Nội vụ <khaosat@example.gov.vn>"``.
* ``PAR_SURVEY_MAIL_RATE_PER_MINUTE``: messages per minute over all workers (default 300;
  0 = unlimited), to spare the government mail server.

Templates: ``templates/mail/{kind}.{lang}.subject.txt|.txt|.html``, overridden per campaign by
:class:`survey.models.MailTemplate` rows. They are Jinja in a sandbox (staff edit them) with
``name``, ``campaign``, ``units`` (names), ``deadline`` and ``link``.

:class:`SmtpSender` sends one message at a time over a kept connection and classifies each
outcome by *where* in the SMTP dialogue it happened, which is what the exactly-once protocol in
:mod:`survey.services.outbox` needs: before the message content was sent nothing can have been
delivered (safe to retry); after it, without the server's final reply, delivery is unknown.
"""

from __future__ import annotations

import base64
import enum
import re
import smtplib
import socket
import ssl
import uuid
from dataclasses import dataclass
from email.utils import format_datetime, formataddr, parseaddr
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from flask import current_app, has_app_context
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy import select

from questionnaires.problems import ProblemError
from survey import db
from survey.config import shipped
from survey.models import MailKind, MailTemplate, utcnow

TEMPLATE_DIR = shipped("templates") / "mail"
LANGUAGES = ("vi", "en")
DEFAULT_LANGUAGE = "vi"


class MailConfigError(ProblemError, RuntimeError):
    """The mail settings cannot work (MAIL-SMTP-URL, MAIL-NOT-CONFIGURED, MAIL-SENDER-REFUSED)."""


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    implicit_tls: bool = False
    timeout: float = 30.0
    mail_from: str = ""
    rate_per_minute: int = 300

    @property
    def from_domain(self) -> str:
        addr = parseaddr(self.mail_from)[1]
        return addr.rpartition("@")[2] or "localhost"


def _setting(key: str) -> str | None:
    """An app setting (``survey/config.py`` reads them from the environment), None if unset."""
    value = current_app.config.get(key) if has_app_context() else None
    return None if value is None else str(value)


def parse_smtp_url(url: str) -> dict[str, Any]:
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        # never echo the URL: it may hold the password
        raise MailConfigError("MAIL-SMTP-URL")
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    implicit = parts.scheme == "smtps"
    return {
        "host": parts.hostname,
        "port": parts.port or (465 if implicit else 25),
        "username": unquote(parts.username) if parts.username else None,
        "password": unquote(parts.password) if parts.password else None,
        "starttls": query.get("starttls", "0").lower() in ("1", "true", "yes"),
        "implicit_tls": implicit,
        "timeout": float(query.get("timeout", "30")),
    }


def smtp_settings() -> SmtpSettings:
    url = _setting("SMTP_URL")
    mail_from = _setting("MAIL_FROM")
    if not url or not mail_from:
        raise MailConfigError("MAIL-NOT-CONFIGURED")
    rate = int(_setting("MAIL_RATE_PER_MINUTE") or 300)
    return SmtpSettings(mail_from=mail_from, rate_per_minute=rate, **parse_smtp_url(url))


# ---------------------------------------------------------------------------- templates

@dataclass(frozen=True)
class TemplateSource:
    subject: str
    text: str
    html: str


def default_template(kind: MailKind, language: str) -> TemplateSource:
    lang = language if language in LANGUAGES else DEFAULT_LANGUAGE
    return _file_template(kind.value, lang)


@lru_cache(maxsize=16)
def _file_template(kind: str, lang: str) -> TemplateSource:
    def read(suffix: str) -> str:
        return (TEMPLATE_DIR / f"{kind}.{lang}.{suffix}").read_text(encoding="utf-8")
    return TemplateSource(read("subject.txt").strip(), read("txt"), read("html"))


def template_for(campaign_id: int, kind: MailKind, language: str) -> TemplateSource:
    """The campaign's override for (kind, language), else the file default."""
    row = db.session().scalar(select(MailTemplate).filter_by(
        campaign_id=campaign_id, kind=kind, language=language))
    if row is None:
        return default_template(kind, language)
    return TemplateSource(row.subject, row.body_text, row.body_html)


def set_template(campaign_id: int, kind: MailKind, language: str, source: TemplateSource) -> None:
    """Store a campaign's override (checked by rendering it once with sample values)."""
    render(source, sample_context())
    with db.write_transaction() as s:
        row = s.scalar(select(MailTemplate).filter_by(
            campaign_id=campaign_id, kind=kind, language=language))
        if row is None:
            row = MailTemplate(campaign_id=campaign_id, kind=kind, language=language)
            s.add(row)
        row.subject, row.body_text, row.body_html = source.subject, source.text, source.html
        row.updated_at = utcnow()


def sample_context() -> dict[str, Any]:
    return {"name": "Nguyễn Văn A", "campaign": "PAR Index", "units": ["Sở Nội vụ"],
            "deadline": "31/12/2026", "link": "https://example.vn/s/TOKEN"}


_TEXT_ENV = SandboxedEnvironment(autoescape=False, keep_trailing_newline=True)
_HTML_ENV = SandboxedEnvironment(autoescape=True, keep_trailing_newline=True)


@lru_cache(maxsize=64)
def _compiled(source: str, html: bool) -> Any:
    return (_HTML_ENV if html else _TEXT_ENV).from_string(source)


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def render(source: TemplateSource, context: dict[str, Any]) -> Rendered:
    subject = " ".join(_compiled(source.subject, False).render(context).split())  # one line
    return Rendered(subject, _compiled(source.text, False).render(context),
                    _compiled(source.html, True).render(context))


def _encoded_words(value: str, budget: int = 42) -> str:
    """RFC 2047 ``=?utf-8?b?...?=`` words (folded), never splitting a character."""
    if value.isascii():
        return value
    words: list[str] = []
    chunk: list[str] = []
    size = 0
    for ch in value:
        n = len(ch.encode("utf-8"))
        if size + n > budget and chunk:
            words.append("".join(chunk))
            chunk, size = [], 0
        chunk.append(ch)
        size += n
    words.append("".join(chunk))
    return "\r\n ".join(
        "=?utf-8?b?" + base64.b64encode(w.encode("utf-8")).decode("ascii") + "?=" for w in words)


def _mailbox(name: str, address: str) -> str:
    if not name:
        return address
    if name.isascii():
        return formataddr((name, address))
    return f"{_encoded_words(name)} <{address}>"


def _body(text: str) -> bytes:
    return base64.encodebytes(text.encode("utf-8")).replace(b"\n", b"\r\n")


def build_message(settings: SmtpSettings, *, to_name: str, to_address: str, language: str,
                  rendered: Rendered, message_id: str) -> bytes:
    """The message as sent (CRLF): multipart/alternative, text then HTML (UTF-8, base64),
    RFC 2047 headers.

    Written out directly: ``email.policy``'s header folding costs ~20 ms a message with
    Vietnamese headers and the ``compat32`` generator ~2 ms, both too slow for 30,000
    invitations; the tests parse every message back with :mod:`email`.
    """
    from_name, from_address = parseaddr(settings.mail_from)
    boundary = "=_par_" + uuid.uuid4().hex
    head = "\r\n".join([
        f"From: {_mailbox(from_name, from_address)}",
        f"To: {_mailbox(to_name, to_address)}",
        f"Subject: {_encoded_words(rendered.subject)}",
        f"Date: {format_datetime(utcnow())}",
        f"Message-ID: {message_id}",
        f"Content-Language: {language}",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/alternative; boundary="{boundary}"',
        "", ""])
    part = (f"--{boundary}\r\nContent-Type: text/%s; charset=\"utf-8\"\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n")
    return b"".join([
        head.encode("ascii"),
        (part % "plain").encode("ascii"), _body(rendered.text),
        (part % "html").encode("ascii"), _body(rendered.html),
        f"--{boundary}--\r\n".encode("ascii")])


def make_message_id(outbox_id: int, claim_id: str, domain: str) -> str:
    return f"<par-{outbox_id}.{claim_id}@{domain}>"


# ---------------------------------------------------------------------------- SMTP

class Outcome(enum.Enum):
    ACCEPTED = "accepted"  # final 250 after DATA
    TEMPORARY = "temporary"  # 4xx or connection trouble before the content: not delivered
    PERMANENT = "permanent"  # 5xx for this recipient/message: bounced
    UNKNOWN = "unknown"  # content sent, no final reply: maybe delivered
    SENDER_REFUSED = "sender_refused"  # 5xx at MAIL FROM: our configuration, not the address


@dataclass(frozen=True)
class SendResult:
    outcome: Outcome
    detail: str = ""


_DOT = re.compile(rb"(?m)^\.")



class SmtpSender:
    """One SMTP connection, opened on demand and reopened after a failure."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self.conn: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        if s.implicit_tls:
            conn: smtplib.SMTP = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout,
                                                  context=ssl.create_default_context())
        else:
            conn = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        conn.ehlo_or_helo_if_needed()
        if s.starttls:
            conn.starttls(context=ssl.create_default_context())
            conn.ehlo()
        if s.username:
            conn.login(s.username, s.password or "")
        return conn

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.quit()
            except (smtplib.SMTPException, OSError):
                self.conn.close()
            self.conn = None

    def _drop(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            except OSError:
                pass
        self.conn = None

    def send(self, msg: bytes, to_address: str) -> SendResult:
        """Send ``msg`` to one recipient; never raises for SMTP or network trouble."""
        content_sent = False
        try:
            if self.conn is None:
                self.conn = self._connect()
            conn = self.conn
            sender = parseaddr(self.settings.mail_from)[1]
            code, reply = conn.mail(sender, ["SMTPUTF8"] if _needs_utf8(to_address)
                                    and conn.has_extn("smtputf8") else [])
            if code != 250:
                return self._refused(code, reply, at_mail=True)
            code, reply = conn.rcpt(to_address)
            if code not in (250, 251):
                return self._refused(code, reply)
            code, reply = conn.docmd("DATA")
            if code != 354:
                return self._refused(code, reply)
            data = _DOT.sub(b"..", msg)
            if not data.endswith(b"\r\n"):
                data += b"\r\n"
            content_sent = True
            conn.send(data + b".\r\n")
            code, reply = conn.getreply()
        except (smtplib.SMTPException, OSError, socket.timeout) as exc:
            self._drop()
            detail = f"{type(exc).__name__}: {exc}"[:500]
            if isinstance(exc, smtplib.SMTPResponseException) and not content_sent:
                return self._classify(exc.smtp_code, exc.smtp_error, detail)
            return SendResult(Outcome.UNKNOWN if content_sent else Outcome.TEMPORARY, detail)
        if code == 250:
            return SendResult(Outcome.ACCEPTED)
        return self._refused(code, reply)

    def _refused(self, code: int, reply: bytes, at_mail: bool = False) -> SendResult:
        detail = f"{code} {reply.decode('utf-8', 'replace')}"[:500]
        try:  # leave the connection usable for the next message
            if self.conn is not None:
                self.conn.rset()
        except (smtplib.SMTPException, OSError):
            self._drop()
        if at_mail and 500 <= code < 600:
            return SendResult(Outcome.SENDER_REFUSED, detail)
        return self._classify(code, reply, detail)

    @staticmethod
    def _classify(code: int, _reply: bytes | str, detail: str) -> SendResult:
        if 500 <= code < 600:
            return SendResult(Outcome.PERMANENT, detail)
        return SendResult(Outcome.TEMPORARY, detail)


def _needs_utf8(address: str) -> bool:
    return not address.isascii()


def template_files() -> list[Path]:
    return sorted(TEMPLATE_DIR.glob("*.*"))
