"""Pages for respondents: token links, the multi-page form, review and submit."""

from flask import Blueprint

from survey.respond.qtypes import checked, question_macro

bp = Blueprint("respond", __name__)
# The question macros' helpers, for every template that imports them (the staff's paper entry).
bp.add_app_template_global(checked)
bp.add_app_template_global(question_macro)

from survey.respond import public, views  # noqa: E402,F401  (routes register on import)
