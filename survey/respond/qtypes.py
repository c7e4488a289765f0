"""The question-type registry, web side: one class per type (a registry of instances).

Each class extends its type's pure class (:mod:`questionnaires.qtypes`: options, scoring,
packing, YAML keys, XLSForm names, paper layout, the demo's simulated answers) with what the
respondent's pages need:

- :meth:`QuestionClass.field`: the WTForms field of the generated page class
  (:func:`survey.respond.forms.page_form_class`, used by the staff's paper entry);
- :meth:`QuestionClass.check`: the same reading and checks applied straight to the posted
  values (the respondent's page POST, :func:`survey.respond.forms.validate_page`): same data,
  same messages (``tests/survey/test_page_validation.py`` compares the two on random input);
- :attr:`QuestionClass.macro`: its macro in ``templates/respond/_questions.html``;
- :meth:`QuestionClass.marks`: the contract of the page-render cache
  (:mod:`survey.respond.pages`). An option type's macro writes ``checked(q, f, o)`` in each
  option's input; rendered once with :data:`SLOTS` as the field's data, that call writes
  :data:`OPTION_SLOT` instead, and the cached HTML is split there. A request then joins the
  pieces with the marks :meth:`marks` gives for its answer (`` checked`` or nothing), which
  is what ``checked`` would have written. A type whose ``marks`` is ``None`` (integer and
  text: the value is the only variable part, cheap to render) is rendered by its macro every
  time.

``tests/survey/test_question_classes.py`` fails on a :class:`QuestionType` member without a
class here, or a class whose macro is not in the template.
"""

from __future__ import annotations

from abc import ABCMeta, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
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

from questionnaires import qtypes
from questionnaires.qtypes import QuestionKind, QuestionType
from questionnaires.schema import Label, Question
from survey.i18n import current_language

TEXT_MAX = 500
TEXTAREA_MAX = 5000
INT_MIN, INT_MAX = -(2**31), 2**31 - 1  # the range of an integer question without min / max

#: Stands for an option's mark in a cached blank fragment (never in real text: NUL).
OPTION_SLOT = "\x00opt\x00"
CHECKED = " checked"


class _Slots:
    """The data of the field a blank fragment is rendered with (see :data:`SLOTS`)."""

    def __repr__(self) -> str:
        return "SLOTS"


#: A field's ``data`` that makes ``checked(q, f, o)`` write :data:`OPTION_SLOT`.
SLOTS = _Slots()


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


@dataclass(frozen=True)
class Rule:
    """How one field of a page is read and checked, worked out once per page layout."""

    name: str
    qclass: QuestionClass
    allowed: frozenset[str]  # the option codes
    low: int
    high: int
    limit: int  # the longest text
    message: Label | None  # the authored constraint message, if any


class QuestionClass(QuestionKind, metaclass=ABCMeta):
    """The web side of one question type (one subclass per type, see the module docstring)."""

    #: Its macro in ``templates/respond/_questions.html``, called as
    #: ``macro(q, f, num, err, unit=None)``.
    macro: ClassVar[str]
    #: The most characters of an answer when the question sets no ``max_length``.
    max_chars: ClassVar[int] = 0

    @abstractmethod
    def field(self, q: Question) -> Field:
        """The WTForms field of ``q`` in the generated page class."""

    def rule(self, q: Question, name: str) -> Rule:
        """The field ``name`` of ``q``'s rule for :meth:`check`."""
        return Rule(name, self, frozenset(o.code for o in q.options),
                    q.minimum if q.minimum is not None else INT_MIN,
                    q.maximum if q.maximum is not None else INT_MAX,
                    q.max_length or self.max_chars, q.constraint_message)

    @abstractmethod
    def check(self, rule: Rule, raw: list[Any]) -> tuple[Any, list[str]]:
        """The posted values ``raw`` read as the field would: (data, error messages).
        Errors of a blank field are dropped by the caller (WTForms' ``Optional``)."""

    def macro_for(self, q: Question, unit: str | None) -> str:
        """The macro that renders ``q`` (``unit``: the rated unit's name on a matrix form)."""
        return self.macro

    def compact_row(self, q: Question) -> bool:
        """Whether a matrix form shows ``q`` for each rated unit as one compact row under a
        shared key of its options (``matrix_choice``) instead of a full fieldset per unit."""
        return False

    def marks(self, q: Question, data: Any) -> tuple[str, ...] | None:
        """Per option of ``q``, what its input carries for the field's ``data`` (`` checked``
        or nothing): what ``checked`` writes, and what fills each :data:`OPTION_SLOT` of the
        cached blank HTML. None: not an option type; its macro renders it every time."""
        return None


def blank(raw: list[Any]) -> bool:
    """WTForms' ``Optional()``: no value, or only whitespace."""
    return not raw or (isinstance(raw[0], str) and not raw[0].strip())


class OneOptionClass(QuestionClass):
    """A type answered by one option code."""

    def field(self, q: Question) -> Field:
        return ChoiceField(choices=[SelectChoice(o.code) for o in q.options],
                           validators=[Optional()], validate_choice=False)

    def check(self, rule: Rule, raw: list[Any]) -> tuple[Any, list[str]]:
        data = str(raw[0]) if raw else None
        if data is not None and data not in rule.allowed:
            return data, [_("Choose one of the options shown.")]
        return data, []

    def marks(self, q: Question, data: Any) -> tuple[str, ...] | None:
        code = None if data is None else str(data)
        return tuple([CHECKED if o.code == code else "" for o in q.options])

    def macro_for(self, q: Question, unit: str | None) -> str:
        return "matrix_choice" if unit and self.compact_row(q) else self.macro

    def compact_row(self, q: Question) -> bool:
        # one choice, every code one the paper prints (A-E, 1-5): a key above the rows says them
        return all(o.printed for o in q.options)


class SingleQuestion(OneOptionClass, qtypes.Single):
    macro = "single"


class LikertQuestion(OneOptionClass, qtypes.Likert):
    macro = "likert"


class MultipleQuestion(QuestionClass, qtypes.Multiple):
    macro = "multiple"

    def field(self, q: Question) -> Field:
        return ChoicesField(choices=[SelectChoice(o.code) for o in q.options],
                            validators=[Optional()], validate_choice=False)

    def check(self, rule: Rule, raw: list[Any]) -> tuple[Any, list[str]]:
        data = [str(v) for v in raw]
        if any(v not in rule.allowed for v in data):
            return data, [_("Choose among the options shown.")]
        return data, []

    def marks(self, q: Question, data: Any) -> tuple[str, ...] | None:
        chosen = {str(v) for v in data} if data else set()
        return tuple([CHECKED if o.code in chosen else "" for o in q.options])


class IntegerQuestion(QuestionClass, qtypes.Integer):
    macro = "integer"

    def field(self, q: Question) -> Field:
        lo = q.minimum if q.minimum is not None else INT_MIN
        hi = q.maximum if q.maximum is not None else INT_MAX
        return WholeNumberField(validators=[Optional(), NumberRange(
            min=lo, max=hi, message=AuthoredMessage(q.constraint_message) if q.constraint_message
            else _l("Enter a whole number from %(min)s to %(max)s."))])

    def check(self, rule: Rule, raw: list[Any]) -> tuple[Any, list[str]]:
        errors: list[str] = []
        data = None
        if raw and raw[0] not in ("", None):
            try:
                data = int(str(raw[0]).strip())
            except ValueError:
                errors.append(_("Enter a whole number."))
        if not blank(raw) and (data is None or not rule.low <= data <= rule.high):
            errors.append(rule.message.get(current_language()) if rule.message
                          else _("Enter a whole number from %(min)s to %(max)s.")
                          % {"min": rule.low, "max": rule.high})
        return data, errors


class TextClass(QuestionClass):
    field_class: ClassVar[type[StringField]]

    def field(self, q: Question) -> Field:
        return self.field_class(validators=[Optional(), Length(
            max=q.max_length or self.max_chars,
            message=AuthoredMessage(q.constraint_message) if q.constraint_message
            else _l("Write at most %(max)d characters."))])

    def check(self, rule: Rule, raw: list[Any]) -> tuple[Any, list[str]]:
        data: Any = raw[0] if raw else None
        if not blank(raw) and len(data or "") > rule.limit:
            return data, [rule.message.get(current_language()) if rule.message
                          else _("Write at most %(max)d characters.")
                          % {"min": -1, "max": rule.limit, "length": len(data)}]
        return data, []


class TextQuestion(TextClass, qtypes.Text):
    macro = "text"
    max_chars = TEXT_MAX
    field_class = StringField


class TextareaQuestion(TextClass, qtypes.Textarea):
    macro = "textarea"
    max_chars = TEXTAREA_MAX
    field_class = TextAreaField


#: The registry: every :class:`QuestionType` member's class.
QUESTION_CLASSES: Mapping[QuestionType, QuestionClass] = {c.type: c for c in (
    SingleQuestion(), LikertQuestion(), MultipleQuestion(), IntegerQuestion(), TextQuestion(),
    TextareaQuestion())}


def question_class(q: Question) -> QuestionClass:
    """The class of ``q``'s type."""
    return QUESTION_CLASSES[q.type]


def question_macro(q: Question, unit: str | None = None) -> str:
    """Template global: the name of the macro that renders ``q``."""
    return QUESTION_CLASSES[q.type].macro_for(q, unit)


def checked(q: Question, f: Any, o: Any) -> str:
    """Template global, in an option's input: `` checked`` when field ``f``'s data chose
    option ``o``, else nothing (:data:`OPTION_SLOT` in a blank fragment being cached)."""
    data = f.data
    if data is SLOTS:
        return OPTION_SLOT
    marks = QUESTION_CLASSES[q.type].marks(q, data)
    return marks[q.options.index(o)] if marks else ""
