"""Access tokens: 128 random bits from ``secrets``; only their SHA-256 is stored."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select

from survey import db
from survey.models import AccessToken, Form

TOKEN_BYTES = 16  # 128 bits


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def issue_token(form: Form) -> str:
    """Create a token for ``form`` and return it; the caller commits. The raw token is never stored."""
    raw = secrets.token_urlsafe(TOKEN_BYTES)
    db.session().add(AccessToken(form_id=form.id, token_hash=hash_token(raw)))
    return raw


def find_form_id(raw: str) -> int | None:
    """The form a live (not revoked) token opens, or None; unknown and revoked look the same."""
    if not raw or len(raw) > 64:
        return None
    return db.session().scalar(
        select(AccessToken.form_id).where(AccessToken.token_hash == hash_token(raw),
                                          AccessToken.revoked_at.is_(None)))


def revoke_tokens(form_id: int) -> int:
    """Revoke every live token of a form; return how many."""
    from survey.models import utcnow

    with db.write_transaction() as s:
        tokens = s.scalars(select(AccessToken).where(AccessToken.form_id == form_id,
                                                     AccessToken.revoked_at.is_(None))).all()
        for t in tokens:
            t.revoked_at = utcnow()
    return len(tokens)
