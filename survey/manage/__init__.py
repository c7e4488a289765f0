"""Staff pages (contractor, Home Affairs, focal points, viewers) under /manage."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, Flask

from survey.manage.access import ROLE_LABELS, StaffLogin, login_manager

bp = Blueprint("manage", __name__, url_prefix="/manage")


@bp.app_context_processor
def _role_labels() -> dict[str, object]:
    return {"role_labels": ROLE_LABELS}


@login_manager.user_loader
def _load(nonce: str) -> StaffLogin | None:
    from flask import current_app

    from survey.services.staff import resume_session

    idle = dt.timedelta(minutes=current_app.config["STAFF_IDLE_MINUTES"])
    found = resume_session(nonce, idle)
    return StaffLogin(found, nonce) if found else None


def init_app(app: Flask) -> None:
    app.config.setdefault("STAFF_IDLE_MINUTES", 30)
    login_manager.init_app(app)
    from survey.manage import (  # noqa: F401  (routes register on import)
        admin,
        auth,
        campaigns,
        integrity,
        paper,
        public,
        questionnaires,
        scores,
        tokens,
    )

    app.register_blueprint(bp)
