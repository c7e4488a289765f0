"""Pages for respondents: token links, the multi-page form, review and submit."""

from flask import Blueprint

bp = Blueprint("respond", __name__)

from survey.respond import public, views  # noqa: E402,F401  (routes register on import)
