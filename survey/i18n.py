"""Flask-Babel: Vietnamese by default, English on request (kept in the session)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask, request, session
from flask_babel import Babel

from babel.support import NullTranslations, Translations

from questionnaires import Label, Question
from questionnaires.problems import Translator

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


class CatalogMissing(RuntimeError):
    """The compiled Vietnamese catalog is not there: pages would mix English chrome into
    Vietnamese questions, so the app does not start."""


def check_catalog(directories: str) -> None:
    """Raise :class:`CatalogMissing`, saying how to build it, unless ``vi`` is compiled."""
    found = [Path(d) / "vi" / "LC_MESSAGES" / "messages.mo" for d in directories.split(";")]
    if not any(mo.is_file() for mo in found):
        raise CatalogMissing(
            f"Thiếu bản dịch tiếng Việt đã biên dịch / the compiled Vietnamese catalog is missing: "
            f"{found[0]}. In a checkout run `make translations` (or `pybabel compile --use-fuzzy "
            f"-d survey/translations -D messages`); a wheel built with `python -m build` carries it.")


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES",
                          str(PROJECT_ROOT / "survey" / "translations"))
    check_catalog(app.config["BABEL_TRANSLATION_DIRECTORIES"])
    babel.init_app(app, locale_selector=select_locale)
    app.context_processor(_template_helpers)


def current_language() -> str:
    from flask_babel import get_locale

    locale = get_locale()
    return locale.language if locale else "vi"


_CATALOGS: dict[str, NullTranslations] = {}
#: where a command's ``--lang`` is kept (in the click context's shared ``meta``)
CLI_LANGUAGE = "par_survey.lang"


def translator(lang: str | None = None) -> Translator:
    """The compiled catalog of ``lang`` as a :class:`~questionnaires.problems.Translator`, for
    rendering problems at the edge. Without ``lang``: the reader's language in a request (the
    page's locale), else the command's ``--lang`` (Vietnamese by default)."""
    import click
    from flask import current_app, has_app_context, has_request_context

    if lang is None and has_request_context():
        from flask_babel import get_translations

        return Translator(current_language(), get_translations().gettext)
    if lang is None:
        ctx = click.get_current_context(silent=True)
        lang = ctx.meta.get(CLI_LANGUAGE, "vi") if ctx is not None else "vi"
    directory = (current_app.config["BABEL_TRANSLATION_DIRECTORIES"].split(";")[0]
                 if has_app_context() else str(PROJECT_ROOT / "survey" / "translations"))
    key = f"{directory}|{lang}"
    if key not in _CATALOGS:
        _CATALOGS[key] = Translations.load(directory, [lang], "messages")
    return Translator(lang, _CATALOGS[key].gettext)


def _template_helpers() -> dict[str, Any]:
    lang = current_language()

    def label(value: Label | None) -> str:
        return value.get(lang) if value else ""

    def answer_text(question: Question, value: Any) -> str:
        """An answer as the respondent sees it: option labels rather than codes."""
        if value is None or value == "" or value == []:
            return ""
        return question.type.kind.answer_text(question, value, lang)

    # the page's translator, looked up only when a template renders a problem with it
    tr = Translator(lang, _page_gettext)
    return {"lang": lang, "L": label, "answer_text": answer_text, "tr": tr}


def _page_gettext(msgid: str) -> str:
    from flask_babel import get_translations

    return get_translations().gettext(msgid)
