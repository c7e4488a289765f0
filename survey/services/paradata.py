"""Paradata: how a form was answered (page times, keyed client hashes), never who answered it.

While a form is answered its paradata lives on the identity side (:class:`FormParadata`,
keyed by form). At submit, :func:`copy_to_responses` writes what the integrity scan needs to
the answer side (:class:`ResponseParadata`, keyed by response) and deletes the form-side row,
inside the submit transaction, so no table pairs a form with the same times and hashes as a
response.

The client address is reduced to its network prefix (/24 for IPv4, /48 for IPv6) and the
prefix and the user agent are hashed with HMAC-SHA-256 under a key derived from the server
secret; only 64 bits of each are stored. The raw address and user agent are never stored.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import math
from collections.abc import Iterable
from dataclasses import dataclass

from flask import current_app, has_request_context, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from analysis.integrity import Mode as ScanMode
from survey.models import Form, FormStatus, Mode
from survey.models.integrity import SUBMIT_GRAIN_SECONDS, FormParadata, ResponseParadata

#: Form mode -> :class:`analysis.integrity.Mode` (stored as a small integer).
SCAN_MODE = {Mode.WEB: int(ScanMode.WEB), Mode.PUBLIC: int(ScanMode.QR),
             Mode.PAPER: int(ScanMode.PAPER)}
#: One visit to a page counts at most this long (a tab left open overnight is not answering).
MAX_PAGE_SECONDS = 1800.0
MAX_LINK_DEVICES = 16


@dataclass(frozen=True)
class ClientInfo:
    """Keyed hashes of the client's network prefix and user agent (0 = unknown)."""

    network_hash: int = 0
    device_hash: int = 0


@dataclass(frozen=True)
class PageTiming:
    """What the web layer measured for one page POST."""

    seconds: float | None  # since the page was shown; None when unknown
    client: ClientInfo


def network_prefix(address: str | None) -> str | None:
    """``a.b.c.0/24`` for IPv4 (also IPv4-mapped IPv6), the /48 for IPv6; None if unparsable."""
    if not address:
        return None
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    bits = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{bits}", strict=False))


def keyed_hash(kind: str, value: str) -> int:
    """HMAC-SHA-256 of ``value`` under a paradata key, as a signed 64-bit integer (never 0)."""
    secret = current_app.config["SECRET_KEY"].encode("utf-8")
    key = hmac.new(secret, b"paradata-key", hashlib.sha256).digest()
    digest = hmac.new(key, f"{kind}:{value}".encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big", signed=True) or 1


def client_info(address: str | None, user_agent: str | None) -> ClientInfo:
    prefix = network_prefix(address)
    agent = (user_agent or "").strip()
    return ClientInfo(network_hash=keyed_hash("net", prefix) if prefix else 0,
                      device_hash=keyed_hash("ua", agent) if agent else 0)


def current_client() -> ClientInfo:
    """The hashes of the current request's client (behind a proxy, configure ProxyFix)."""
    if not has_request_context():
        return ClientInfo()
    return client_info(request.remote_addr, request.user_agent.string)


def _row(s: Session, form_id: int, now: dt.datetime) -> FormParadata:
    row = s.get(FormParadata, form_id)
    if row is None:
        row = FormParadata(form_id=form_id, first_opened_at=now, page_seconds={}, page_items={},
                           network_hash=0, device_hash=0, link_devices=[], honeypot_filled=False,
                           updated_at=now)
        s.add(row)
    return row


def record_open(s: Session, form_id: int, client: ClientInfo, now: dt.datetime) -> None:
    """A personal link was opened: note the first opening and the opening device."""
    status = s.scalar(select(Form.status).where(Form.id == form_id))
    if status is None or status is FormStatus.SUBMITTED:
        return
    row = _row(s, form_id, now)
    devices = list(row.link_devices or [])
    if client.device_hash and client.device_hash not in devices and len(devices) < MAX_LINK_DEVICES:
        row.link_devices = [*devices, client.device_hash]
    row.updated_at = now


def record_page(s: Session, form_id: int, section_index: int, items: int, timing: PageTiming,
                now: dt.datetime, honeypot: bool = False) -> None:
    """Add one visit's time to a page and keep the latest client hashes."""
    row = _row(s, form_id, now)
    key = str(section_index)
    if timing.seconds is not None and math.isfinite(timing.seconds) and timing.seconds >= 0:
        seconds = dict(row.page_seconds or {})
        seconds[key] = float(seconds.get(key, 0.0)) + min(float(timing.seconds), MAX_PAGE_SECONDS)
        row.page_seconds = seconds
    row.page_items = {**(row.page_items or {}), key: int(items)}
    if timing.client.network_hash:
        row.network_hash = timing.client.network_hash
    if timing.client.device_hash:
        row.device_hash = timing.client.device_hash
    row.honeypot_filled = bool(row.honeypot_filled or honeypot)
    row.updated_at = now


def coarse_time(at: dt.datetime) -> dt.datetime:
    """``at`` floored to :data:`SUBMIT_GRAIN_SECONDS`."""
    epoch = int(at.timestamp())
    return dt.datetime.fromtimestamp(epoch - epoch % SUBMIT_GRAIN_SECONDS, dt.UTC)


def copy_to_responses(s: Session, form: Form, response_ids: Iterable[int], sections: int,
                      now: dt.datetime) -> None:
    """Write the scan's paradata for each response of ``form`` and drop the form-side row.

    Call inside the submit transaction, after the responses are flushed.
    """
    row = s.get(FormParadata, form.id)
    pages: list[float | None] = [None] * sections
    items: list[int] = [0] * sections
    if row is not None:
        for k, v in (row.page_seconds or {}).items():
            if k.isdigit() and int(k) < sections:
                pages[int(k)] = float(v)
        for k, v in (row.page_items or {}).items():
            if k.isdigit() and int(k) < sections:
                items[int(k)] = int(v)
    timed = [p for p in pages if p is not None]
    mode = SCAN_MODE[form.mode]
    paper = mode == int(ScanMode.PAPER)
    for rid in response_ids:
        s.add(ResponseParadata(
            response_id=rid, mode=mode, submitted_at=coarse_time(now),
            total_seconds=None if paper or not timed else float(sum(timed)),
            page_seconds=[None] * sections if paper else pages, page_items=items,
            network_hash=0 if row is None or paper else row.network_hash,
            device_hash=0 if row is None or paper else row.device_hash,
            link_open_devices=0 if row is None else len(row.link_devices or []),
            honeypot_filled=bool(row.honeypot_filled) if row is not None else False))
    if row is not None:
        s.delete(row)
