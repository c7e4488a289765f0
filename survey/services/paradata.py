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
from typing import Protocol

from flask import current_app, has_request_context, request
from sqlalchemy import BigInteger, bindparam, delete, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import Insert
from sqlalchemy.sql.selectable import CTE

from analysis.integrity import Mode as ScanMode
from survey.models import Form, FormStatus, Mode
from survey.models.integrity import SUBMIT_GRAIN_SECONDS, FormParadata, ResponseParadata

class _FormLike(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def mode(self) -> Mode: ...


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


@dataclass
class PageState:
    """A form's page paradata as read with the form (see ``load_form``), kept up to date by
    :func:`record_page` (so one context can save several pages)."""

    exists: bool = False  # False: the form has no paradata row yet
    page_seconds: dict[str, float] | None = None
    page_items: dict[str, int] | None = None
    honeypot_filled: bool = False


_OPEN_STATE = (select(Form.status, FormParadata.form_id, FormParadata.link_devices)
               .outerjoin(FormParadata, FormParadata.form_id == Form.id)
               .where(Form.id == bindparam("fid")))
_INSERT_ROW = insert(FormParadata)
_UPDATE_OPEN = (update(FormParadata).where(FormParadata.form_id == bindparam("fid"))
                .values(link_devices=bindparam("v_link_devices"), updated_at=bindparam("now")))
#: One visit to a page: the values of :func:`page_params`.
UPDATE_PAGE = (update(FormParadata).where(FormParadata.form_id == bindparam("fid"))
                .values(page_seconds=bindparam("v_page_seconds"),
                        page_items=bindparam("v_page_items"),
                        # 0 = unknown: keep the hash seen before
                        network_hash=func.coalesce(func.nullif(bindparam("v_network_hash",
                                                                         type_=BigInteger), 0),
                                                   FormParadata.network_hash),
                        device_hash=func.coalesce(func.nullif(bindparam("v_device_hash",
                                                                        type_=BigInteger), 0),
                                                  FormParadata.device_hash),
                        honeypot_filled=bindparam("v_honeypot_filled"),
                        updated_at=bindparam("now")))


#: A new row's values, but for its form, times and what the caller passes.
_NEW_ROW: dict[str, object] = {"page_seconds": {}, "page_items": {}, "network_hash": 0,
                               "device_hash": 0, "link_devices": [], "honeypot_filled": False}


def _insert_row(conn: Connection, form_id: int, now: dt.datetime, values: dict[str, object]
                ) -> None:
    conn.execute(_INSERT_ROW, {
        "form_id": form_id, "first_opened_at": now, **_NEW_ROW, "updated_at": now,
        **{k: v for k, v in values.items() if k != "now"}})


def first_open_insert(opened: CTE) -> Insert:
    """The paradata row of a link's first opening for the form ids ``opened`` returns (a
    PostgreSQL data-modifying CTE): the row :func:`record_open` inserts when ``first``.
    Parameters ``now`` and ``v_link_devices``."""
    c = FormParadata.__table__.c
    fixed = {k: v for k, v in _NEW_ROW.items() if k != "link_devices"}
    return insert(FormParadata).from_select(
        [c.form_id, c.first_opened_at, c.link_devices, c.updated_at, *fixed],
        select(opened.c.id, bindparam("now", type_=c.first_opened_at.type),
               bindparam("v_link_devices", type_=c.link_devices.type),
               bindparam("now", type_=c.updated_at.type),
               *(bindparam(f"v_{k}", v, type_=c[k].type) for k, v in fixed.items())),
        include_defaults=False).add_cte(opened)


def opening_devices(client: ClientInfo) -> list[int]:
    """A first opening's device list."""
    return [client.device_hash] if client.device_hash else []


def record_open(s: Session, form_id: int, client: ClientInfo, now: dt.datetime,
                first: bool = False) -> None:
    """A personal link was opened: note the first opening and the opening device.

    ``first``: this transaction has just moved the form out of *pending* (or created it),
    holding its row: a form gets paradata only once opened, so there is no row to read.
    """
    conn = s.connection()
    if first:
        _insert_row(conn, form_id, now, {"link_devices": opening_devices(client)})
        return
    found = conn.execute(_OPEN_STATE, {"fid": form_id}).first()
    if found is None or found.status is FormStatus.SUBMITTED:
        return
    devices = list(found.link_devices or [])
    if client.device_hash and client.device_hash not in devices and len(devices) < MAX_LINK_DEVICES:
        devices.append(client.device_hash)
    params = {"fid": form_id, "v_link_devices": devices, "now": now}
    # Writers of one form's row are serialised by the form's lock or SQLite's write lock.
    if found.form_id is None or not conn.execute(_UPDATE_OPEN, params).rowcount:
        _insert_row(conn, form_id, now, {"link_devices": devices})


def page_params(state: PageState, form_id: int, section_index: int, items: int,
                timing: PageTiming, now: dt.datetime, honeypot: bool = False
                ) -> dict[str, object]:
    """The values :data:`UPDATE_PAGE` writes for one visit to a page, from ``state`` (the
    row as read with the form): this visit's seconds added, the latest client hashes."""
    key = str(section_index)
    seconds = dict(state.page_seconds or {})
    if timing.seconds is not None and math.isfinite(timing.seconds) and timing.seconds >= 0:
        seconds[key] = float(seconds.get(key, 0.0)) + min(float(timing.seconds), MAX_PAGE_SECONDS)
    return {"fid": form_id, "v_page_seconds": seconds,
            "v_page_items": {**(state.page_items or {}), key: int(items)},
            "v_network_hash": timing.client.network_hash,
            "v_device_hash": timing.client.device_hash,
            "v_honeypot_filled": bool(state.honeypot_filled or honeypot), "now": now}


def page_written(state: PageState, params: dict[str, object]) -> None:
    """``state`` as it is once ``params`` (:func:`page_params`) are written."""
    state.exists = True
    state.page_seconds = params["v_page_seconds"]  # type: ignore[assignment]
    state.page_items = params["v_page_items"]  # type: ignore[assignment]
    state.honeypot_filled = bool(params["v_honeypot_filled"])


def record_page(conn: Connection, params: dict[str, object], state: PageState) -> None:
    """Write one visit to a page (``params`` from :func:`page_params`), inserting the row if
    there is none yet; ``state`` (the row as read with the form) is updated. Two tabs saving
    pages of one form at the same moment may lose one visit's seconds, as a read-modify-write
    under READ COMMITTED always could."""
    if not (state.exists and conn.execute(UPDATE_PAGE, params).rowcount):
        _insert_row(conn, params["fid"], params["now"], {  # type: ignore[arg-type]
            "page_seconds": params["v_page_seconds"], "page_items": params["v_page_items"],
            "honeypot_filled": params["v_honeypot_filled"],
            "network_hash": params["v_network_hash"], "device_hash": params["v_device_hash"]})
    page_written(state, params)


def coarse_time(at: dt.datetime) -> dt.datetime:
    """``at`` floored to :data:`SUBMIT_GRAIN_SECONDS`."""
    epoch = int(at.timestamp())
    return dt.datetime.fromtimestamp(epoch - epoch % SUBMIT_GRAIN_SECONDS, dt.UTC)


# Read and delete in one statement (PostgreSQL and SQLite 3.35+ both have RETURNING).
_TAKE_FORM_ROW = (delete(FormParadata).where(FormParadata.form_id == bindparam("fid"))
                  .returning(FormParadata.page_seconds, FormParadata.page_items,
                             FormParadata.network_hash, FormParadata.device_hash,
                             FormParadata.link_devices, FormParadata.honeypot_filled))
_INSERT_RESPONSE_ROW = insert(ResponseParadata)


def copy_to_responses(s: Session, form: _FormLike, response_ids: Iterable[int], sections: int,
                      now: dt.datetime) -> None:
    """Write the scan's paradata for each response of ``form`` and drop the form-side row.

    Call inside the submit transaction, after the responses are inserted.
    """
    conn = s.connection()
    row = conn.execute(_TAKE_FORM_ROW, {"fid": form.id}).first()
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
    rows = [dict(
        response_id=rid, mode=mode, submitted_at=coarse_time(now),
        total_seconds=None if paper or not timed else float(sum(timed)),
        page_seconds=[None] * sections if paper else pages, page_items=items,
        network_hash=0 if row is None or paper else row.network_hash,
        device_hash=0 if row is None or paper else row.device_hash,
        link_open_devices=0 if row is None else len(row.link_devices or []),
        honeypot_filled=bool(row.honeypot_filled) if row is not None else False)
        for rid in response_ids]
    if rows:
        conn.execute(_INSERT_RESPONSE_ROW, rows)
