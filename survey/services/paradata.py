"""Paradata: how a form was answered (page times, keyed client hashes), never who answered it.

While a form is answered its paradata lives on the identity side (:class:`FormParadata`,
keyed by form). At submit, the submit writes what the integrity scan needs to the answer side
(:class:`ResponseParadata`, keyed by response) and deletes the form-side row, in its
transaction, so no table pairs a form with the same times and hashes as a response. The
writes are the respondent's (:mod:`survey.services.responding`); this module holds what they
record: the keyed client hashes, the page state read with a form, the limits.

The client address is reduced to its network prefix (/24 for IPv4, /48 for IPv6) and the
prefix and the user agent are hashed with HMAC-SHA-256 under a key derived from the server
secret; only 64 bits of each are stored. The raw address and user agent are never stored.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
from dataclasses import dataclass

from flask import current_app, has_request_context, request

from analysis.integrity import Mode as ScanMode
from survey.models import Mode
from survey.models.integrity import SUBMIT_GRAIN_SECONDS


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


def _paradata_key(secret: str) -> bytes:
    key = _KEYS.get(secret)
    if key is None:
        key = _KEYS[secret] = hmac.new(secret.encode("utf-8"), b"paradata-key",
                                       hashlib.sha256).digest()
    return key


_KEYS: dict[str, bytes] = {}  # server secret -> derived paradata key (derived once)


def keyed_hash(kind: str, value: str) -> int:
    """HMAC-SHA-256 of ``value`` under a paradata key, as a signed 64-bit integer (never 0)."""
    key = _paradata_key(current_app.config["SECRET_KEY"])
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


@dataclass(frozen=True)
class PageState:
    """A form's page paradata as read with the form (see ``load_form``); a page save returns
    the context with the state it wrote (:func:`survey.services.responding.save_page`)."""

    exists: bool = False  # False: the form has no paradata row yet
    page_seconds: dict[str, float] | None = None
    page_items: dict[str, int] | None = None
    honeypot_filled: bool = False


def coarse_time(at: dt.datetime) -> dt.datetime:
    """``at`` floored to :data:`SUBMIT_GRAIN_SECONDS`."""
    epoch = int(at.timestamp())
    return dt.datetime.fromtimestamp(epoch - epoch % SUBMIT_GRAIN_SECONDS, dt.UTC)
