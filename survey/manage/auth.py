"""Staff login and logout."""

from __future__ import annotations

from typing import Any

from flask import current_app, redirect, render_template, request, session, url_for
from flask_babel import lazy_gettext as _l
from flask_login import login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import InputRequired, Length

from survey.manage import bp
from survey.manage.access import StaffLogin, identity, staff_route
from survey.services.staff import log_in, log_out


DEVICE_COOKIE = "par_device"


class LoginForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[InputRequired(_l("Enter your email.")),
                                                Length(max=254)])
    password = PasswordField(_l("Password"), validators=[
        InputRequired(_l("Enter your password.")), Length(max=200)])


class LogoutForm(FlaskForm):
    """Nothing but the CSRF token."""


@staff_route(bp, "/login", None, methods=("GET", "POST"))
def login() -> Any:
    form = LoginForm()
    if not form.validate_on_submit():
        return render_template("manage/login.html", form=form, failed=False,
                               blocked=False), 422 if request.method == "POST" else 200
    result = log_in(form.email.data or "", form.password.data or "", request.remote_addr or "",
                    request.cookies.get(DEVICE_COOKIE))
    if result.identity is None or result.nonce is None:
        status = 429 if result.blocked else 401
        return render_template("manage/login.html", form=form, failed=not result.blocked,
                               blocked=result.blocked), status
    lang = session.get("lang")
    session.clear()  # a fresh session at login: nothing from before carries over
    if lang:
        session["lang"] = lang
    login_user(StaffLogin(result.identity, result.nonce))
    response = redirect(url_for("manage.index"))
    if result.device:  # a known device from now on (docs/security.md, login throttling)
        response.set_cookie(DEVICE_COOKIE, result.device, max_age=180 * 24 * 3600,
                            path=url_for("manage.login"), httponly=True, samesite="Lax",
                            secure=current_app.config.get("SESSION_COOKIE_SECURE", False))
    return response


@staff_route(bp, "/logout", "campaigns.list", methods=("POST",))
def logout() -> Any:
    LogoutForm().validate()
    log_out(identity())
    logout_user()
    session.clear()
    return redirect(url_for("manage.login"))
