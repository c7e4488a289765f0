"""Who may do what, in one place: roles, permissions, province scope, the route registry.

Every staff route is declared with :func:`staff_route`, naming the permission it needs. The
decorator runs the request as one unit of work (:func:`survey.db.unit_of_work`) and checks
login and permission; :func:`campaign_in_scope` is the only way a view gets a
campaign, and it answers 404 for a campaign outside the user's provinces (no hint that it
exists). ``tests/survey/test_access_matrix.py`` walks every registered route for every role,
in the user's own province and in another, and fails on a route declared without a rule.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, abort, g
from flask_babel import lazy_gettext as _l
from flask_login import LoginManager, UserMixin, current_user
from sqlalchemy import select

from survey import db
from survey.models import Campaign, Role
from survey.services.campaigns import CampaignNotFound, find_campaign
from survey.services.staff import Identity

PERMISSIONS: dict[str, frozenset[Role]] = {
    "campaigns.list": frozenset(Role),
    "quotas.view": frozenset({Role.ADMIN, Role.CONTRACTOR, Role.FOCAL_POINT}),
    "lists.upload": frozenset({Role.ADMIN, Role.CONTRACTOR}),
    "invites.send": frozenset({Role.ADMIN, Role.CONTRACTOR}),
    "campaign.manage": frozenset({Role.ADMIN}),
    "scores.view": frozenset({Role.ADMIN, Role.VIEWER}),
    "audit.view": frozenset({Role.ADMIN}),
    "users.manage": frozenset({Role.ADMIN}),
    "questionnaires.manage": frozenset({Role.ADMIN}),
    # anonymous response microdata (Home Affairs only, as the scores issue's exports)
    "responses.export": frozenset({Role.ADMIN}),
    # an account's own API tokens
    "tokens.own": frozenset(Role),
}


#: What a role is called on the pages (the code stays in URLs, files and the audit log).
ROLE_LABELS = {Role.ADMIN: _l("Home Affairs administrator"),
               Role.CONTRACTOR: _l("Survey contractor"),
               Role.FOCAL_POINT: _l("Agency focal point"),
               Role.VIEWER: _l("Viewer")}


@dataclass(frozen=True)
class RouteRule:
    endpoint: str
    permission: str | None  # None: public (login page)
    campaign_scoped: bool
    api: bool = False  # a JSON API route (token auth, problem details) rather than a page


#: endpoint -> rule, filled by :func:`staff_route` as the views are imported
ROUTES: dict[str, RouteRule] = {}

login_manager = LoginManager()
login_manager.login_view = "manage.login"
login_manager.session_protection = "basic"
login_manager.login_message = _l("Please log in to access this page.")
login_manager.localize_callback = str  # the lazy message, in the request's language, flashed


class StaffLogin(UserMixin):  # type: ignore[misc]
    """What Flask-Login keeps: the session nonce as the id, the identity alongside."""

    def __init__(self, identity: Identity, nonce: str):
        self.identity = identity
        self.nonce = nonce

    def get_id(self) -> str:
        return self.nonce


def identity() -> Identity:
    api = g.get("api_identity")  # set by an API token (survey/api), else the page login
    return api if api is not None else current_user.identity  # type: ignore[no-any-return]


def allowed(permission: str, role: Role) -> bool:
    return role in PERMISSIONS[permission]


def staff_route(bp: Blueprint, rule: str, permission: str | None,
                methods: tuple[str, ...] = ("GET",)) -> Callable[[Callable[..., Any]],
                                                                 Callable[..., Any]]:
    """Register a staff view with the permission it needs (None = public)."""
    if permission is not None and permission not in PERMISSIONS:
        raise KeyError(f"unknown permission {permission!r}")

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        endpoint = f"{bp.name}.{view.__name__}"

        @functools.wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            # one unit of work per staff request: committed when the view returns, rolled
            # back when it raises (an abort included), so a multi-step action is all or nothing
            with db.unit_of_work():
                if permission is not None:
                    if not current_user.is_authenticated:
                        return login_manager.unauthorized()
                    g.staff = identity()
                    if not allowed(permission, g.staff.role):
                        abort(403)
                return view(*args, **kwargs)

        ROUTES[endpoint] = RouteRule(endpoint, permission, "<code>" in rule)
        bp.add_url_rule(rule, view.__name__, guarded, methods=list(methods))
        return guarded

    return decorate


def register_api_route(endpoint: str, rule: str, permission: str | None) -> None:
    """Enter an API route in the same registry as the pages (see :mod:`survey.api`)."""
    if permission is not None and permission not in PERMISSIONS:
        raise KeyError(f"unknown permission {permission!r}")
    ROUTES[endpoint] = RouteRule(endpoint, permission, "<code>" in rule, api=True)


def campaign_in_scope(code: str) -> Campaign:
    """The campaign ``code`` if it lies in the user's provinces, else 404 (never 403)."""
    try:
        return find_campaign(code, identity().provinces)
    except CampaignNotFound:
        abort(404)


def campaigns_in_scope() -> list[Campaign]:
    return list(db.session().scalars(select(Campaign).where(
        Campaign.province_code.in_(identity().provinces)).order_by(Campaign.year.desc(),
                                                                   Campaign.code)))
