"""Access tokens: 128 random bits from ``secrets``; only their SHA-256 is stored.

A token opens a respondent's home (:func:`issue_respondent_token`, the one link a person is
sent) or one form (:func:`issue_token`: public and paper forms, and the per-form links issued
before homes existed, which lead to their respondent's home).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import String, bindparam, cast, func, select
from sqlalchemy.orm import aliased

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


def issue_respondent_token(respondent_id: int) -> str:
    """Create a token opening the home of respondent ``respondent_id`` and return it; the
    caller commits. The raw token is never stored."""
    raw = secrets.token_urlsafe(TOKEN_BYTES)
    db.session().add(AccessToken(respondent_id=respondent_id, token_hash=hash_token(raw)))
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


@dataclass(frozen=True)
class Link:
    """What a live token opens, read in one query: a respondent's home (``respondent_id``,
    with the id and status of each of their forms) or, for a form without a respondent
    (public, paper), that form alone."""

    respondent_id: int | None
    forms: tuple[LinkedForm, ...]


_OF = aliased(Form)
_OWNER = func.coalesce(AccessToken.respondent_id, Form.respondent_id)
_FIND_LINK = (
    select(AccessToken.form_id, Form.status, _OWNER.label("rid"),
           select(func.aggregate_strings(cast(_OF.id, String) + ":" + cast(_OF.status, String),
                                         ","))
           .where(_OF.respondent_id == _OWNER).scalar_subquery().label("owned"))
    .select_from(AccessToken)
    .outerjoin(Form, Form.id == AccessToken.form_id)
    .where(AccessToken.token_hash == bindparam("hash"), AccessToken.revoked_at.is_(None)))


def find_link(raw: str) -> Link | None:
    """What a live (not revoked) token opens, or None; unknown and revoked look the same."""
    if not raw or len(raw) > 64:
        return None
    row = db.session().connection().execute(_FIND_LINK, {"hash": hash_token(raw)}).first()
    if row is None:
        return None
    if row.rid is None:
        return (Link(None, (LinkedForm(row.form_id, row.status),))
                if row.form_id is not None else None)
    pairs = sorted((int(i), FormStatus(st)) for i, st in
                   (p.split(":") for p in (row.owned or "").split(",") if p))
    return Link(row.rid, tuple(LinkedForm(i, st) for i, st in pairs))


def revoke_tokens(form_id: int) -> int:
    """Revoke every live token of a form; return how many."""
    from survey.models import utcnow

    with db.write_transaction() as s:
        tokens = s.scalars(select(AccessToken).where(AccessToken.form_id == form_id,
                                                     AccessToken.revoked_at.is_(None))).all()
        for t in tokens:
            t.revoked_at = utcnow()
    return len(tokens)
