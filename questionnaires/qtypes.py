"""Question types: the names a definition may use, and one class per type (a registry).

Each class says what the pure packages need to know of its type: whether it is answered by
option codes (and by one or several), whether those options can be scored, which YAML keys
it takes, how it is written in an XLSForm, how an answer reads to a person, and how a scored
answer is packed for scoring (:meth:`QuestionKind.item_position`). The web layer's class for
the same type (``survey/respond/qtypes.py``) extends it with the form field, the check of the
posted values, the template macro and the cached HTML's marks. ``docs/architecture.md`` ("How
to add a question type") lists the steps; ``tests/questionnaires/test_question_kinds.py``
fails on a :class:`QuestionType` member without a class.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from questionnaires.schema import Question


class QuestionType(enum.Enum):
    SINGLE = "single"  # one option, rendered as a vertical list of radio buttons
    LIKERT = "likert"  # one option on an ordered scale, rendered horizontally / in a grid
    MULTIPLE = "multiple"  # several options (check boxes)
    INTEGER = "integer"  # whole number within an optional range
    TEXT = "text"  # one line
    TEXTAREA = "textarea"  # several lines

    @property
    def kind(self) -> QuestionKind:
        """This type's class in :data:`KINDS`."""
        return KINDS[self]


class QuestionKind:
    """What the pure packages know of one question type (one subclass per type)."""

    type: ClassVar[QuestionType]
    #: Answered by the code of an option (the loader requires two options or more).
    has_options: ClassVar[bool] = False
    #: The answer is a list of option codes (several may be chosen).
    many: ClassVar[bool] = False
    #: Its options may carry scores; a question with scores is a scored item, packed into
    #: ``Questionnaire.item_codes`` by :meth:`item_position`.
    scorable: ClassVar[bool] = False
    #: May be a row of a grid section (rows share one option scale).
    grid_row: ClassVar[bool] = False
    #: Takes ``min`` / ``max``.
    takes_range: ClassVar[bool] = False
    #: Takes a ``constraint_message`` (shown when its range or length check fails).
    takes_constraint_message: ClassVar[bool] = False
    #: The XLSForm type word (``select_one`` ... takes the choice list's name after it) and
    #: ``appearance`` that stand for this type in a workbook (``questionnaires/xlsform.py``).
    xlsform: ClassVar[tuple[str, str]]

    def answer_text(self, question: Question, value: Any, lang: str) -> str:
        """A given (non-blank) answer as the respondent reads it."""
        return str(value)

    def item_position(self, question: Question, answer: Any) -> int:
        """The byte packed for a scored item: 0 when unanswered, else the 1-based position
        of the chosen option in ``question.options``."""
        raise TypeError(f"{self.type.value} questions are never scored items")


class OptionsKind(QuestionKind):
    """A type answered by option codes."""

    has_options = True

    def answer_text(self, question: Question, value: Any, lang: str) -> str:
        """The chosen options' labels (not their codes), joined with ``; ``."""
        codes = value if isinstance(value, list) else [value]
        return "; ".join(o.label.get(lang) for c in codes if (o := question.option(c)))


class OneOptionKind(OptionsKind):
    """A type answered by one option code: scorable, packed as the option's position."""

    scorable = True

    def item_position(self, question: Question, answer: Any) -> int:
        for i, o in enumerate(question.options, start=1):
            if o.code == answer:
                return i
        return 0


class Single(OneOptionKind):
    type = QuestionType.SINGLE
    xlsform = ("select_one", "")


class Likert(OneOptionKind):
    type = QuestionType.LIKERT
    grid_row = True
    xlsform = ("select_one", "likert")


class Multiple(OptionsKind):
    type = QuestionType.MULTIPLE
    many = True
    xlsform = ("select_multiple", "")


class Integer(QuestionKind):
    type = QuestionType.INTEGER
    takes_range = True
    takes_constraint_message = True
    xlsform = ("integer", "")


class Text(QuestionKind):
    type = QuestionType.TEXT
    takes_constraint_message = True
    xlsform = ("text", "")


class Textarea(QuestionKind):
    type = QuestionType.TEXTAREA
    takes_constraint_message = True
    xlsform = ("text", "multiline")


#: The registry: every :class:`QuestionType` member's class.
KINDS: Mapping[QuestionType, QuestionKind] = {
    k.type: k for k in (Single(), Likert(), Multiple(), Integer(), Text(), Textarea())}
