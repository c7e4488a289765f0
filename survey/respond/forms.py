"""WTForms classes generated from a stored questionnaire, one class per page layout.

Classes are built once per (questionnaire version, page, number of rated units) and cached:
building a form class is WTForms' largest cost, so requests only instantiate them. Labels are
not part of the class; templates render the questionnaire's own text in the page language.

A respondent's page POST does not instantiate them either: binding 40 fields cost more than
the rest of the request. :func:`validate_page` applies the same rules (the fields'
processing, ``Optional``, the choice checks, ``NumberRange``, ``Length``: same data, same
messages) straight to the posted values; ``tests/survey/test_page_validation.py`` checks it
against the WTForms classes on random input. Both come from the question's type class
(:mod:`survey.respond.qtypes`: ``field`` and ``check``).

A question's authored ``constraint_message`` replaces the engine's range or length message,
in the respondent's language (Vietnamese when it has no English).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flask_wtf import FlaskForm

from questionnaires import Questionnaire
from survey.respond.qtypes import Rule, blank, question_class


def field_name(unit_index: int, question_id: str) -> str:
    return f"u{unit_index}-{question_id}"


_CLASSES: dict[tuple[str, str, int, int], type[FlaskForm]] = {}


def page_form_class(questionnaire: Questionnaire, section_index: int, n_units: int
                    ) -> type[FlaskForm]:
    """The form class for one page of ``questionnaire`` answered for ``n_units`` rated units."""
    key = (questionnaire.key, questionnaire.content_hash, section_index, n_units)
    if key not in _CLASSES:
        _CLASSES[key] = _build_page_class(questionnaire, section_index, n_units)
    return _CLASSES[key]


def _build_page_class(questionnaire: Questionnaire, section_index: int, n_units: int
                      ) -> type[FlaskForm]:
    fields: dict[str, Any] = {}
    for i in range(n_units):
        for q in questionnaire.sections[section_index].questions:
            fields[field_name(i, q.id)] = question_class(q).field(q)
    return type(f"Page{section_index}", (FlaskForm,), fields)


def page_data(questionnaire: Questionnaire, section_index: int,
              answers_by_unit: list[dict[str, Any]]) -> dict[str, Any]:
    """Initial field data for a page from saved answers."""
    data: dict[str, Any] = {}
    for i, answers in enumerate(answers_by_unit):
        for q in questionnaire.sections[section_index].questions:
            if q.id in answers:
                data[field_name(i, q.id)] = answers[q.id]
    return data


@dataclass
class FieldView:
    """What the question macros and :func:`page_answers` read of a field."""

    name: str
    data: Any = None
    raw_data: list[Any] | None = None
    errors: list[str] = field(default_factory=list)


_RULES: dict[tuple[str, str, int, int], tuple[Rule, ...]] = {}


def _page_rules(questionnaire: Questionnaire, section_index: int, n_units: int
                ) -> tuple[Rule, ...]:
    key = (questionnaire.key, questionnaire.content_hash, section_index, n_units)
    rules = _RULES.get(key)
    if rules is None:
        questions = questionnaire.sections[section_index].questions
        rules = _RULES[key] = tuple(question_class(q).rule(q, field_name(i, q.id))
                                    for i in range(n_units) for q in questions)
    return rules


def _check(rule: Rule, raw: list[Any]) -> FieldView:
    data, errors = rule.qclass.check(rule, raw)
    return FieldView(rule.name, data, raw, [] if blank(raw) else errors)


def validate_page(questionnaire: Questionnaire, section_index: int, n_units: int,
                  formdata: Any) -> dict[str, FieldView]:
    """The posted page's fields, read and checked as :func:`page_form_class`'s form would.

    ``formdata``: the request's form (a werkzeug ``MultiDict``).
    """
    return {r.name: _check(r, formdata.getlist(r.name) if r.name in formdata else [])
            for r in _page_rules(questionnaire, section_index, n_units)}


def page_answers(form: FlaskForm | Mapping[str, Any], questionnaire: Questionnaire,
                 section_index: int, n_units: int) -> list[dict[str, Any]]:
    """Answers from the valid fields of a posted page, per rated unit (invalid ones dropped).

    ``form``: a page form after ``validate()``, or the result of :func:`validate_page`.
    """
    out: list[dict[str, Any]] = []
    for i in range(n_units):
        answers: dict[str, Any] = {}
        for q in questionnaire.sections[section_index].questions:
            f = form[field_name(i, q.id)]
            if f.errors or f.data in (None, "", []):
                continue
            value = f.data.strip() if isinstance(f.data, str) else f.data
            if value != "":
                answers[q.id] = list(value) if isinstance(value, (list, tuple)) else value
        out.append(answers)
    return out
