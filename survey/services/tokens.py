"""Access tokens: 128 random bits from ``secrets``; only their SHA-256 is stored."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import bindparam, select

from survey import db
from survey.models import AccessToken, Form, FormStatus

TOKEN_BYTES = 16  # 128 bits


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def issue_token(form: Form) -> str:
    """Create a token for ``form`` and return it; the caller commits. The raw token is never stored."""
    raw = secrets.token_urlsafe(TOKEN_BYTES)
    db.session().add(AccessToken(form_id=form.id, token_hash=hash_token(raw)))
    return raw


@dataclass(frozen=True)
class LinkedForm:
    """The form a token opens and its status, read with the token in one query."""

    form_id: int
    status: FormStatus

    @property
    def begun(self) -> bool:
        """A page of it was saved (or it was submitted)."""
        return self.status in (FormStatus.STARTED, FormStatus.SUBMITTED)


_FIND_FORM = (select(AccessToken.form_id, Form.status)
              .join(Form, Form.id == AccessToken.form_id)
              .where(AccessToken.token_hash == bindparam("hash"),
                     AccessToken.revoked_at.is_(None)))


def find_form(raw: str) -> LinkedForm | None:
    """The form a live (not revoked) token opens, or None; unknown and revoked look the same."""
    if not raw or len(raw) > 64:
        return None
    row = db.session().connection().execute(_FIND_FORM, {"hash": hash_token(raw)}).first()
    return LinkedForm(row.form_id, row.status) if row is not None else None


def revoke_tokens(form_id: int) -> int:
    """Revoke every live token of a form; return how many."""
    from survey.models import utcnow

    with db.write_transaction() as s:
        tokens = s.scalars(select(AccessToken).where(AccessToken.form_id == form_id,
                                                     AccessToken.revoked_at.is_(None))).all()
        for t in tokens:
            t.revoked_at = utcnow()
    return len(tokens)
