"""Questionnaires as data: the schema, the YAML loader and its validation rules.

Pure package: no Flask, SQLAlchemy or WTForms.
"""

from questionnaires.loader import (
    DEFINITIONS_DIR,
    ERROR_CODES,
    QuestionnaireInvalid,
    build_questionnaire,
    check_files,
    content_hash,
    load_builtin,
    load_builtin_by_id,
    load_questionnaire,
    parse_questionnaire,
)
from questionnaires.problems import Location, Problem, ProblemError
from questionnaires.qtypes import KINDS, PaperAnswer, PaperLayout, QuestionKind, QuestionType
from questionnaires.schema import (
    AllOf,
    AnyOf,
    Condition,
    Label,
    Operator,
    Option,
    Question,
    Questionnaire,
    Rating,
    RatingLayout,
    Section,
    SectionLayout,
)

__all__ = [
    "DEFINITIONS_DIR", "ERROR_CODES", "Location", "Problem", "ProblemError",
    "QuestionnaireInvalid", "build_questionnaire", "check_files",
    "content_hash", "load_builtin", "load_builtin_by_id", "load_questionnaire", "parse_questionnaire",
    "AllOf", "AnyOf", "Condition", "Label", "Operator", "Option", "Question", "Questionnaire",
    "KINDS", "PaperAnswer", "PaperLayout", "QuestionKind", "QuestionType", "Rating", "RatingLayout",
    "Section", "SectionLayout",
]
