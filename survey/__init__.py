"""The web layer of the PAR survey engine: ``create_app`` and its extensions.

This package is the only importer of Flask, SQLAlchemy and WTForms; ``questionnaires``,
``sampling`` and ``analysis`` stay pure.
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from survey import problems  # noqa: F401  (registers the web layer's problem codes)
from survey.config import load_config, shipped


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    app = Flask(
        __name__,
        template_folder=str(shipped("templates")),
        static_folder="static",
    )
    app.config.update(load_config())
    if test_config:
        app.config.update(test_config)

    from flask_wtf.csrf import CSRFProtect

    from survey import cli, db, errors, i18n, manage, security
    from survey.health import bp as health_bp
    from survey.respond import bp as respond_bp

    db.init_app(app)
    i18n.init_app(app)
    CSRFProtect(app)
    security.init_app(app)
    errors.init_app(app)
    app.register_blueprint(respond_bp)
    app.register_blueprint(health_bp)
    manage.init_app(app)
    from survey import api

    api.init_app(app)
    cli.init_app(app)
    proxies = int(app.config.get("TRUSTED_PROXIES", 0))
    if proxies > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)  # type: ignore[method-assign]
    return app
