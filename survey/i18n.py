"""Flask-Babel: Vietnamese by default, English on request (kept in the session)."""

from __future__ import annotations

from typing import Any

from flask import Flask, request, session
from flask_babel import Babel

from questionnaires import Label, Question

from survey.config import PROJECT_ROOT

babel = Babel()


def select_locale() -> str:
    from flask import current_app

    languages = current_app.config["LANGUAGES"]
    wanted = request.args.get("lang") if request else None
    if wanted in languages:
        session["lang"] = wanted
    lang = session.get("lang")
    return lang if isinstance(lang, str) and lang in languages else current_app.config["BABEL_DEFAULT_LOCALE"]


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES",
                          str(PROJECT_ROOT / "survey" / "translations"))
    babel.init_app(app, locale_selector=select_locale)
    app.context_processor(_template_helpers)


def current_language() -> str:
    from flask_babel import get_locale

    locale = get_locale()
    return locale.language if locale else "vi"


def _template_helpers() -> dict[str, Any]:
    lang = current_language()

    def label(value: Label | None) -> str:
        return value.get(lang) if value else ""

    def answer_text(question: Question, value: Any) -> str:
        """An answer as the respondent sees it: option labels rather than codes."""
        if value is None or value == "" or value == []:
            return ""
        if question.type.is_choice:
            codes = value if isinstance(value, list) else [value]
            return "; ".join(o.label.get(lang) for c in codes if (o := question.option(c)))
        return str(value)

    return {"lang": lang, "L": label, "answer_text": answer_text}
