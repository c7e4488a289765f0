"""Each account's own API tokens: make one (shown once), see them with their last use, revoke."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, StringField
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from survey.i18n import translator
from survey.manage import bp
from survey.manage.access import identity, staff_route
from survey.services.api_tokens import MAX_EXPIRY_DAYS, create_api_token, list_api_tokens
from survey.services.api_tokens import revoke_api_token
from survey.services.staff import StaffError


class TokenForm(FlaskForm):
    name = StringField(_l("Token name (what uses it)"),
                       validators=[InputRequired(_l("Name the token.")), Length(max=100)])
    expires_days = IntegerField(_l("Expires after (days, empty: never)"),
                                validators=[Optional(), NumberRange(min=1, max=MAX_EXPIRY_DAYS)])


class RevokeForm(FlaskForm):
    token_id = HiddenField(validators=[InputRequired()])


@staff_route(bp, "/tokens", "tokens.own", methods=("GET", "POST"))
def tokens() -> Any:
    form = TokenForm()
    me = identity()
    created, error = None, None
    if form.validate_on_submit():
        try:
            row, raw = create_api_token(me.email, form.name.data or "", form.expires_days.data)
            created = (row, raw)
            form = TokenForm(formdata=None)
        except StaffError as exc:
            error = exc.message(translator())
    status = 422 if request.method == "POST" and created is None else 200
    response = render_template("manage/tokens.html", form=form, created=created, error=error,
                               tokens=list_api_tokens(me.email), revoke_form=RevokeForm()), status
    return response


@staff_route(bp, "/tokens/revoke", "tokens.own", methods=("POST",))
def revoke_token() -> Any:
    form = RevokeForm()
    if form.validate_on_submit() and (form.token_id.data or "").isdigit():
        try:
            revoke_api_token(identity().email, token_id=int(form.token_id.data or 0))
            flash(_l("Token revoked."))
        except StaffError as exc:
            flash(exc.message(translator()))
    return redirect(url_for("manage.tokens"))
