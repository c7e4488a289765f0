"""Question types: the names a definition may use, and one class per type (a registry).

Each class says what the pure packages need to know of its type: whether it is answered by
option codes (and by one or several), whether those options can be scored, which YAML keys
it takes, how it is written in an XLSForm, how an answer reads to a person, how a scored
answer is packed for scoring (:meth:`QuestionKind.item_position`), how it prints on the paper
questionnaire (:meth:`QuestionKind.paper_layout`: ``survey/services/paper.py`` draws it) and
what a simulated respondent of the demo answers (:meth:`QuestionKind.simulated_answer`). The
web layer's class for the same type (``survey/respond/qtypes.py``) extends it with the form
field, the check of the posted values, the template macro and the cached HTML's marks.
``docs/architecture.md`` ("How to add a question type") lists the steps;
``tests/questionnaires/test_question_kinds.py`` fails on a :class:`QuestionType` member without
a class, and a class without one of the abstract methods cannot be made.
"""

from __future__ import annotations

import enum
import math
from abc import ABCMeta, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

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


class PaperAnswer(enum.Enum):
    """The answer space of a question on the paper questionnaire (each drawn by
    ``survey/services/paper.py``)."""

    OPTION_LIST = "option_list"  # a box per option, one option a line
    OPTION_ROW = "option_row"  # a box per option, side by side on one line (a scale)
    DIGITS = "digits"  # a row of boxes, one digit in each
    LINES = "lines"  # ruled lines to write on


@dataclass(frozen=True)
class PaperLayout:
    """How a question prints on the paper questionnaire, below its number and text."""

    answer: PaperAnswer
    #: How many digit boxes or ruled lines (the option layouts draw one box per option).
    count: int = 0
    #: Printed after the question's text, in both languages as the paper form is.
    hint: str = ""


class QuestionKind(metaclass=ABCMeta):
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

    @abstractmethod
    def paper_layout(self, question: Question) -> PaperLayout:
        """How ``question`` prints on the paper questionnaire."""

    @abstractmethod
    def simulated_answer(self, rng: np.random.Generator, question: Question, mean: float,
                         straight: bool) -> Any:
        """A demo respondent's answer to ``question`` (None: left blank), drawn from ``rng``.

        ``mean`` (0..1) is the respondent's leaning: scored options are drawn around it;
        ``straight``: a straight-liner, who gives every scored item its best option.
        """


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

    def simulated_answer(self, rng: np.random.Generator, question: Question, mean: float,
                         straight: bool) -> Any:
        """A scored option drawn with weights exp(-(score - mean)^2 / (2 * 0.22^2)), "don't
        know" one time in 25 where there is one; an unscored question's option at random
        (not "don't know")."""
        scored = [o for o in question.options if o.score is not None]
        if scored:
            if straight:
                return max(scored, key=lambda o: o.score or 0.0).code
            if rng.random() < 0.04:
                dk = [o for o in question.options if o.dont_know]
                if dk:
                    return dk[0].code
            w = np.array([math.exp(-((o.score or 0.0) - mean) ** 2 / (2 * 0.22 ** 2))
                          for o in scored])
            return scored[int(rng.choice(len(scored), p=w / w.sum()))].code
        plain = [o for o in question.options if not o.dont_know] or list(question.options)
        return plain[int(rng.integers(len(plain)))].code


class Single(OneOptionKind):
    type = QuestionType.SINGLE
    xlsform = ("select_one", "")

    def paper_layout(self, question: Question) -> PaperLayout:
        return PaperLayout(PaperAnswer.OPTION_LIST)


class Likert(OneOptionKind):
    type = QuestionType.LIKERT
    grid_row = True
    xlsform = ("select_one", "likert")

    def paper_layout(self, question: Question) -> PaperLayout:
        return PaperLayout(PaperAnswer.OPTION_ROW)


class Multiple(OptionsKind):
    type = QuestionType.MULTIPLE
    many = True
    xlsform = ("select_multiple", "")

    def paper_layout(self, question: Question) -> PaperLayout:
        return PaperLayout(PaperAnswer.OPTION_LIST, hint="chọn nhiều / choose all that apply")

    def simulated_answer(self, rng: np.random.Generator, question: Question, mean: float,
                         straight: bool) -> Any:
        """One option at random."""
        if not question.options:
            return []
        return [question.options[int(rng.integers(len(question.options)))].code]


class Integer(QuestionKind):
    type = QuestionType.INTEGER
    takes_range = True
    takes_constraint_message = True
    xlsform = ("integer", "")

    def paper_layout(self, question: Question) -> PaperLayout:
        return PaperLayout(PaperAnswer.DIGITS, count=6)

    def simulated_answer(self, rng: np.random.Generator, question: Question, mean: float,
                         straight: bool) -> Any:
        """A whole number at random in the question's range (0 to 20 or more without one)."""
        lo = question.minimum if question.minimum is not None else 0
        hi = question.maximum if question.maximum is not None else max(lo + 20, 20)
        return int(rng.integers(lo, hi + 1))


class WrittenKind(QuestionKind):
    """A type answered in the respondent's own words."""

    takes_constraint_message = True

    def simulated_answer(self, rng: np.random.Generator, question: Question, mean: float,
                         straight: bool) -> Any:
        """A stock remark where an answer is required, else nothing."""
        return "Không có ý kiến thêm." if question.required else None


class Text(WrittenKind):
    type = QuestionType.TEXT
    xlsform = ("text", "")

    def paper_layout(self, question: Question) -> PaperLayout:
        return PaperLayout(PaperAnswer.LINES, count=1)


class Textarea(WrittenKind):
    type = QuestionType.TEXTAREA
    xlsform = ("text", "multiline")

    def paper_layout(self, question: Question) -> PaperLayout:
        return PaperLayout(PaperAnswer.LINES, count=4)


#: The registry: every :class:`QuestionType` member's class.
KINDS: Mapping[QuestionType, QuestionKind] = {
    k.type: k for k in (Single(), Likert(), Multiple(), Integer(), Text(), Textarea())}
