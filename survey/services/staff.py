"""Staff accounts, logins (rate-limited across processes) and server-side session records."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select, update
from sqlalchemy.orm import selectinload

from questionnaires.problems import ProblemError
from survey import db
from survey.models import Role, StaffProvince, StaffSession, StaffUser, utcnow
from survey.services.audit import record_audit
from survey.services.ratelimit import failure_counter

_hasher = PasswordHasher()  # argon2id with the library's current parameters


@functools.cache
def _dummy_hash() -> str:
    """A hash to verify against when the account does not exist, so timing does not tell.

    Made on the first login, not at import: hashing costs about 0.1 s of CPU, which every CLI
    command and worker start would otherwise pay.
    """
    return _hasher.hash("not-a-password")

FAILURE_WINDOW = dt.timedelta(minutes=15)
MAX_FAILURES_PER_ACCOUNT = 5
MAX_FAILURES_PER_ADDRESS = 20
MIN_PASSWORD_LENGTH = 12


class StaffError(ProblemError, ValueError):
    """A refused account or API token change: a problem code and its parameters."""


@dataclass(frozen=True)
class Identity:
    """Who is logged in, as the request sees it (no ORM object kept across requests)."""

    user_id: int
    email: str
    full_name: str
    role: Role
    provinces: tuple[str, ...]
    agency_code: str | None
    session_id: int


@dataclass(frozen=True)
class LoginResult:
    identity: Identity | None
    nonce: str | None = None
    blocked: bool = False
    device: str | None = None  # the device cookie to (re)set after a success


def _key(kind: str, value: str) -> str:
    secret = current_app.config["SECRET_KEY"].encode()
    digest = hmac.new(secret, f"{kind}:{value.strip().lower()}".encode(), hashlib.sha256)
    return f"{kind}:{digest.hexdigest()[:64]}"


def _nonce_hash(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()


def create_staff_user(email: str, full_name: str, password: str, role: Role,
                      provinces: Sequence[str], agency_code: str | None = None) -> StaffUser:
    """Create an account scoped to ``provinces``; focal points need their agency's unit code."""
    email = email.strip().lower()
    if "@" not in email:
        raise StaffError("STAFF-EMAIL")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise StaffError("STAFF-PASSWORD", length=MIN_PASSWORD_LENGTH)
    if not provinces:
        raise StaffError("STAFF-PROVINCES")
    if role is Role.FOCAL_POINT and not agency_code:
        raise StaffError("STAFF-AGENCY")
    with db.write_transaction() as s:
        if s.scalar(select(StaffUser.id).where(StaffUser.email == email)) is not None:
            raise StaffError("STAFF-EXISTS", email=email)
        user = StaffUser(email=email, full_name=full_name.strip(),
                         password_hash=_hasher.hash(password), role=role,
                         agency_code=agency_code,
                         provinces=[StaffProvince(province_code=p) for p in sorted(set(provinces))])
        s.add(user)
        s.flush()
        for p in sorted(set(provinces)):
            record_audit("user.create", province_code=p, object_type="staff_user",
                         object_id=user.id, detail={"email": email, "role": role.value})
    return user


def device_cookie(email: str) -> str:
    """A signed value naming this account, given to a browser after a successful login.

    A browser that shows it for the same account is a known device: it is throttled on its own
    key, so an attacker's failures against the account do not lock its owner out there
    (OWASP "device cookies"; docs/security.md).
    """
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="par-device").dumps(
        {"a": _key("account", email), "d": secrets.token_urlsafe(12)})


def _device_key(email: str, cookie: str | None) -> str | None:
    if not cookie:
        return None
    try:
        data = URLSafeSerializer(current_app.config["SECRET_KEY"], salt="par-device").loads(
            cookie)
    except BadSignature:
        return None
    if not isinstance(data, dict) or data.get("a") != _key("account", email):
        return None
    return _key("device", f"{data['a']}:{data.get('d')}")


def log_in(email: str, password: str, address: str, device: str | None = None) -> LoginResult:
    """Check a password; on success open a session record and return its nonce.

    Before the password is checked, the attempt is counted as a failure in the store every
    worker shares, in one atomic step that refuses it when a limit is reached (per account,
    or per known device when ``device`` is a valid device cookie of this account; and per
    address). So N parallel attempts check at most the limit; a success takes its count back.
    """
    now = utcnow()
    email = email.strip().lower()
    device_key = _device_key(email, device)
    account_key, address_key = _key("account", email), _key("address", address)
    limits = [(device_key or account_key, MAX_FAILURES_PER_ACCOUNT),
              (address_key, MAX_FAILURES_PER_ADDRESS)]
    failures = failure_counter()
    # Named exception (own_transaction): committed before the password is checked, so this
    # attempt counts as a failure for every worker until the password proves right.
    with db.own_transaction():
        reservation = failures.reserve(limits, now, FAILURE_WINDOW)
        if reservation is None:
            record_audit("login.blocked", actor_email=email[:254])
            return LoginResult(None, blocked=True)
    user = db.session().scalar(select(StaffUser).where(StaffUser.email == email))
    try:
        ok: bool = _hasher.verify(user.password_hash if user else _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        ok = False
    with db.write_transaction() as s:
        if not ok or user is None or not user.active:
            record_audit("login.failure", actor_email=email[:254])
            return LoginResult(None)
        user = s.scalar(select(StaffUser).options(selectinload(StaffUser.provinces))
                        .where(StaffUser.id == user.id))
        assert user is not None
        if _hasher.check_needs_rehash(user.password_hash):
            user.password_hash = _hasher.hash(password)
        failures.release(reservation)
        failures.clear(device_key or account_key)
        nonce = secrets.token_urlsafe(32)
        session_row = StaffSession(user_id=user.id, nonce_hash=_nonce_hash(nonce),
                                   created_at=now, last_seen_at=now)
        s.add(session_row)
        user.last_login_at = now
        s.flush()
        record_audit("login.success", actor_id=user.id, actor_email=user.email)
        identity = _identity(user, session_row.id)
    return LoginResult(identity, nonce, device=device if device_key else device_cookie(email))


def set_staff_password(email: str, password: str) -> None:
    """Replace an account's password (argon2id), e.g. the demo admin's on every demo run."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise StaffError("STAFF-PASSWORD", length=MIN_PASSWORD_LENGTH)
    with db.write_transaction() as s:
        s.execute(update(StaffUser).where(StaffUser.email == email.strip().lower())
                  .values(password_hash=_hasher.hash(password)))
        record_audit("user.password", object_type="staff_user", object_id=email.strip().lower())


def _identity(user: StaffUser, session_id: int) -> Identity:
    return Identity(user_id=user.id, email=user.email, full_name=user.full_name, role=user.role,
                    provinces=user.province_codes, agency_code=user.agency_code,
                    session_id=session_id)


def resume_session(nonce: str, idle: dt.timedelta) -> Identity | None:
    """The identity of a live session, or None once ended or idle for longer than ``idle``."""
    now = utcnow()
    s = db.session()
    row = s.scalar(select(StaffSession).options(
        selectinload(StaffSession.user).selectinload(StaffUser.provinces))
        .where(StaffSession.nonce_hash == _nonce_hash(nonce), StaffSession.ended_at.is_(None)))
    if row is None or not row.user.active or now - row.last_seen_at > idle:
        return None
    identity = _identity(row.user, row.id)
    if now - row.last_seen_at > dt.timedelta(minutes=1):  # one write a minute, not per request
        # Named exception: bookkeeping, not part of the request's action; committed at once so
        # the request's unit of work does not hold a write (and SQLite's lock) from its start.
        with db.own_transaction() as s:
            s.execute(update(StaffSession).where(StaffSession.id == row.id)
                      .values(last_seen_at=now))
    return identity


def log_out(identity: Identity) -> None:
    """End the session record: the cookie that named it no longer logs anyone in."""
    with db.write_transaction() as s:
        s.execute(update(StaffSession).where(StaffSession.id == identity.session_id)
                  .values(ended_at=utcnow()))
        record_audit("logout", actor_id=identity.user_id, actor_email=identity.email)


def list_staff(provinces: Sequence[str]) -> list[StaffUser]:
    """Accounts that share a province with ``provinces``."""
    return list(db.session().scalars(
        select(StaffUser).options(selectinload(StaffUser.provinces))
        .where(StaffUser.id.in_(select(StaffProvince.user_id)
                                .where(StaffProvince.province_code.in_(provinces))))
        .order_by(StaffUser.email)))


def staff_provinces(email: str) -> tuple[str, ...]:
    """The provinces of an active account, for a CLI command run as that account."""
    user = db.session().scalar(select(StaffUser).options(selectinload(StaffUser.provinces))
                               .where(StaffUser.email == email.strip().lower()))
    if user is None or not user.active:
        raise StaffError("STAFF-NOT-ACTIVE", email=email)
    return tuple(user.province_codes)
