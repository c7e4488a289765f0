"""WTForms classes generated from a stored questionnaire, one class per page layout.

Classes are built once per (questionnaire version, page, number of rated units) and cached:
building a form class is WTForms' largest cost, so requests only instantiate them. Labels are
not part of the class; templates render the questionnaire's own text in the page language.

A respondent's page POST does not instantiate them either: binding 40 fields cost more than
the rest of the request. :func:`validate_page` applies the same rules (the fields'
processing, ``Optional``, the choice checks, ``NumberRange``, ``Length``: same data, same
messages) straight to the posted values; ``tests/survey/test_page_validation.py`` checks it
against the WTForms classes on random input.

A question's authored ``constraint_message`` replaces the engine's range or length message,
in the respondent's language (Vietnamese when it has no English).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    Field,
    IntegerField,
    RadioField,
    SelectChoice,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import Length, NumberRange, Optional, ValidationError

from questionnaires import Label, Question, Questionnaire, QuestionType
from questionnaires.schema import Section
from survey.i18n import current_language

TEXT_MAX = 500
TEXTAREA_MAX = 5000


class WholeNumberField(IntegerField):
    """An integer field whose parse error is translated (WTForms ships no Vietnamese)."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        if not valuelist or valuelist[0] in ("", None):
            self.data = None
            return
        try:
            self.data = int(str(valuelist[0]).strip())
        except ValueError:
            self.data = None
            raise ValueError(_l("Enter a whole number.")) from None


class ChoiceField(RadioField):
    def pre_validate(self, form: Any) -> None:
        if self.data is not None and self.data not in {c.value for c in self.choices}:
            raise ValidationError(_l("Choose one of the options shown."))


class ChoicesField(SelectMultipleField):
    def pre_validate(self, form: Any) -> None:
        allowed = {c.value for c in self.choices}
        if self.data and any(v not in allowed for v in self.data):
            raise ValidationError(_l("Choose among the options shown."))


class AuthoredMessage:
    """A question's own constraint message as a WTForms validator message.

    Read in the request's language when the check fails (the form class is shared by every
    language), and never %-formatted: an author's "0-100%" is shown as written.
    """

    def __init__(self, label: Label):
        self.label = label

    def __str__(self) -> str:
        return self.label.get(current_language())

    def __mod__(self, values: Any) -> str:
        return str(self)


def field_name(unit_index: int, question_id: str) -> str:
    return f"u{unit_index}-{question_id}"


def _make_field(q: Question) -> Field:
    choices = [SelectChoice(o.code) for o in q.options]
    if q.type in (QuestionType.SINGLE, QuestionType.LIKERT):
        return ChoiceField(choices=choices, validators=[Optional()], validate_choice=False)
    if q.type is QuestionType.MULTIPLE:
        return ChoicesField(choices=choices, validators=[Optional()], validate_choice=False)
    if q.type is QuestionType.INTEGER:
        lo = q.minimum if q.minimum is not None else -(2**31)
        hi = q.maximum if q.maximum is not None else 2**31 - 1
        return WholeNumberField(validators=[Optional(), NumberRange(
            min=lo, max=hi, message=AuthoredMessage(q.constraint_message) if q.constraint_message
            else _l("Enter a whole number from %(min)s to %(max)s."))])
    limit = q.max_length or (TEXT_MAX if q.type is QuestionType.TEXT else TEXTAREA_MAX)
    cls = StringField if q.type is QuestionType.TEXT else TextAreaField
    return cls(validators=[Optional(), Length(
        max=limit, message=AuthoredMessage(q.constraint_message) if q.constraint_message
        else _l("Write at most %(max)d characters."))])


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
            fields[field_name(i, q.id)] = _make_field(q)
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


@dataclass(frozen=True)
class _Rule:
    """How one field of a page is read and checked (see :func:`_make_field`)."""

    name: str
    kind: QuestionType
    allowed: frozenset[str]
    low: int
    high: int
    limit: int
    message: Label | None  # the authored constraint message, if any


_RULES: dict[tuple[str, str, int, int], tuple[_Rule, ...]] = {}


def _page_rules(questionnaire: Questionnaire, section_index: int, n_units: int
                ) -> tuple[_Rule, ...]:
    key = (questionnaire.key, questionnaire.content_hash, section_index, n_units)
    rules = _RULES.get(key)
    if rules is None:
        section: Section = questionnaire.sections[section_index]
        rules = _RULES[key] = tuple(
            _Rule(field_name(i, q.id), q.type, frozenset(o.code for o in q.options),
                  q.minimum if q.minimum is not None else -(2**31),
                  q.maximum if q.maximum is not None else 2**31 - 1,
                  q.max_length or (TEXT_MAX if q.type is QuestionType.TEXT else TEXTAREA_MAX),
                  q.constraint_message)
            for i in range(n_units) for q in section.questions)
    return rules


def _blank(raw: list[Any]) -> bool:
    """WTForms' ``Optional()``: no value, or only whitespace."""
    return not raw or (isinstance(raw[0], str) and not raw[0].strip())


def _check(rule: _Rule, raw: list[Any]) -> FieldView:
    errors: list[str] = []
    kind = rule.kind
    if kind in (QuestionType.SINGLE, QuestionType.LIKERT):
        data: Any = str(raw[0]) if raw else None
        if data is not None and data not in rule.allowed:
            errors.append(_("Choose one of the options shown."))
    elif kind is QuestionType.MULTIPLE:
        data = [str(v) for v in raw]
        if any(v not in rule.allowed for v in data):
            errors.append(_("Choose among the options shown."))
    elif kind is QuestionType.INTEGER:
        data = None
        if raw and raw[0] not in ("", None):
            try:
                data = int(str(raw[0]).strip())
            except ValueError:
                errors.append(_("Enter a whole number."))
        if not _blank(raw) and (data is None or not rule.low <= data <= rule.high):
            errors.append(rule.message.get(current_language()) if rule.message
                          else _("Enter a whole number from %(min)s to %(max)s.")
                          % {"min": rule.low, "max": rule.high})
    else:
        data = raw[0] if raw else None
        if not _blank(raw) and len(data or "") > rule.limit:
            errors.append(rule.message.get(current_language()) if rule.message
                          else _("Write at most %(max)d characters.")
                          % {"min": -1, "max": rule.limit, "length": len(data)})
    if _blank(raw):
        errors = []
    return FieldView(rule.name, data, raw, errors)


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
