"""API tokens of staff accounts: made (shown once), listed, revoked, checked at each call.

A token is ``par_`` + 32 random bytes (URL-safe). Only its SHA-256 is stored, as for session
nonces: a token has 256 bits of entropy, so a fast hash is enough (no password to stretch).
The token carries no rights of its own: each call reads the account's role and provinces, so a
deactivated account or a changed scope takes effect on its tokens at once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import selectinload

from survey import db
from survey.models import ApiToken, StaffUser, utcnow
from survey.services.audit import record_audit
from survey.services.staff import Identity, StaffError

TOKEN_PREFIX = "par_"
MAX_EXPIRY_DAYS = 3650


def hash_api_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@dataclass(frozen=True)
class TokenRow:
    id: int
    name: str
    prefix: str
    created_at: dt.datetime
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None

    @property
    def live(self) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > utcnow())


def _user(s: object, email: str) -> StaffUser:
    user = db.session().scalar(select(StaffUser).where(StaffUser.email == email.strip().lower()))
    if user is None:
        raise StaffError("STAFF-UNKNOWN", email=email)
    return user


def create_api_token(email: str, name: str,
                     expires_days: int | None = None) -> tuple[TokenRow, str]:
    """Make a named token for the account ``email``; return its row and the raw token (the only
    time it exists outside the caller)."""
    name = name.strip()
    if not name or len(name) > 100:
        raise StaffError("TOKEN-NAME")
    if expires_days is not None and not 1 <= expires_days <= MAX_EXPIRY_DAYS:
        raise StaffError("TOKEN-EXPIRY", max_days=MAX_EXPIRY_DAYS)
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    with db.write_transaction() as s:
        user = _user(s, email)
        if not user.active:
            raise StaffError("STAFF-DISABLED", email=email)
        row = ApiToken(user_id=user.id, name=name, token_hash=hash_api_token(raw),
                       prefix=raw[:len(TOKEN_PREFIX) + 6], created_at=now,
                       expires_at=now + dt.timedelta(days=expires_days) if expires_days else None)
        s.add(row)
        s.flush()
        record_audit("api_token.create", actor_id=user.id, actor_email=user.email,
                     object_type="api_token", object_id=row.id,
                     detail={"name": name, "expires_days": expires_days})
        out = _row(row)
    return out, raw


def _row(t: ApiToken) -> TokenRow:
    return TokenRow(t.id, t.name, t.prefix, t.created_at, t.expires_at, t.revoked_at,
                    t.last_used_at)


def list_api_tokens(email: str) -> list[TokenRow]:
    """The account's tokens, newest first, with their last use."""
    user = _user(None, email)
    return [_row(t) for t in db.session().scalars(
        select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc()))]


def revoke_api_token(email: str, *, token_id: int | None = None, name: str | None = None) -> int:
    """Revoke the account's token by id or by name (every live one of that name); return how
    many were revoked. Someone else's token is never found."""
    with db.write_transaction() as s:
        user = _user(s, email)
        stmt = update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        if token_id is not None:
            stmt = stmt.where(ApiToken.id == token_id)
        elif name is not None:
            stmt = stmt.where(ApiToken.name == name.strip())
        else:
            raise StaffError("TOKEN-CHOOSE")
        n = int(s.execute(stmt.values(revoked_at=utcnow())).rowcount or 0)  # type: ignore[attr-defined]
        if n == 0:
            raise StaffError("TOKEN-UNKNOWN")
        record_audit("api_token.revoke", actor_id=user.id, actor_email=user.email,
                     object_type="api_token", object_id=token_id or name, detail={"count": n})
    return n


#: last_used_at is written at most this often per token (not one write per call)
LAST_USED_EVERY = dt.timedelta(seconds=60)


def authenticate_api_token(raw: str) -> tuple[Identity, int] | None:
    """The identity a live token acts as (and the token's id), or None when it is unknown,
    revoked, expired or its account disabled."""
    if not raw.startswith(TOKEN_PREFIX) or len(raw) > 200:
        return None
    now = utcnow()
    s = db.session()
    found = s.execute(select(ApiToken, StaffUser).join(StaffUser, StaffUser.id == ApiToken.user_id)
                      .options(selectinload(StaffUser.provinces))
                      .where(ApiToken.token_hash == hash_api_token(raw))).first()
    if found is None:
        return None
    token, user = found
    if (token.revoked_at is not None or (token.expires_at is not None and token.expires_at <= now)
            or not user.active):
        return None
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_EVERY:
        with db.write_transaction() as w:
            w.execute(update(ApiToken).where(ApiToken.id == token.id).values(last_used_at=now))
    ident = Identity(user_id=user.id, email=user.email, full_name=user.full_name, role=user.role,
                     provinces=user.province_codes, agency_code=user.agency_code, session_id=0)
    return ident, token.id
