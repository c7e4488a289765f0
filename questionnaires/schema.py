"""The questionnaire model: frozen dataclasses built by :mod:`questionnaires.loader`.

A questionnaire is content, not code. Everything a respondent reads is a :class:`Label`
(Vietnamese required, English optional) and every rule (required, ranges, show-if) is
structured data evaluated here, never ``eval``.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from questionnaires.qtypes import QuestionType

#: Languages a questionnaire may be written in; Vietnamese is the default and required.
SUPPORTED_LANGUAGES = ("vi", "en")
DEFAULT_LANGUAGE = "vi"


@dataclass(frozen=True)
class Label:
    """A translated text; ``vi`` is always present."""

    vi: str
    en: str | None = None

    def get(self, lang: str) -> str:
        """Return the text in ``lang``, falling back to Vietnamese."""
        if lang == "en" and self.en:
            return self.en
        return self.vi


class RatingLayout(enum.Enum):
    PER_UNIT = "per_unit"  # one form per rated unit
    MATRIX = "matrix"  # one form, every question answered for each rated unit (paper grid)


class SectionLayout(enum.Enum):
    LIST = "list"
    GRID = "grid"  # Likert grid: questions as rows sharing one option scale


class Operator(enum.Enum):
    EQUALS = "equals"
    NOT_EQUALS = "not_equals"
    IN = "in"
    NOT_IN = "not_in"
    ANSWERED = "answered"
    NOT_ANSWERED = "not_answered"
    GT = "gt"
    GTE = "gte"
    LT = "lt"
    LTE = "lte"


@dataclass(frozen=True)
class Option:
    code: str
    label: Label
    score: float | None = None  # share of the sub-criterion's max points, 0..1
    dont_know: bool = False  # "don't know / no answer": never scored

    @property
    def printed(self) -> bool:
        """Whether the code is what a paper form prints beside the option (one letter A-Z,
        or a number such as a satisfaction scale's 1-5), so a respondent may be shown it;
        internal codes such as ``individual`` or ``land`` never are."""
        return (len(self.code) == 1 and "A" <= self.code <= "Z") or (
            len(self.code) <= 2 and self.code.isdigit())


def _is_blank(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == ()


@dataclass(frozen=True)
class Condition:
    """``question <op> value``; evaluated against the answers given so far."""

    question: str
    op: Operator
    value: Any = None

    def evaluate(self, answers: Mapping[str, Any]) -> bool:
        given: Any = answers.get(self.question)
        op = self.op
        if op is Operator.ANSWERED:
            return not _is_blank(given)
        if op is Operator.NOT_ANSWERED:
            return _is_blank(given)
        if _is_blank(given):
            # An unanswered question satisfies only the negative comparisons.
            return op in (Operator.NOT_EQUALS, Operator.NOT_IN)
        values = given if isinstance(given, (list, tuple)) else [given]
        if op is Operator.EQUALS:
            return self.value in values
        if op is Operator.NOT_EQUALS:
            return self.value not in values
        if op is Operator.IN:
            return any(v in self.value for v in values)
        if op is Operator.NOT_IN:
            return not any(v in self.value for v in values)
        number = float(given)
        limit = float(self.value)
        return {
            Operator.GT: number > limit,
            Operator.GTE: number >= limit,
            Operator.LT: number < limit,
            Operator.LTE: number <= limit,
        }[op]

    def questions(self) -> Iterator[str]:
        yield self.question


@dataclass(frozen=True)
class AllOf:
    conditions: tuple[ConditionLike, ...]

    def evaluate(self, answers: Mapping[str, Any]) -> bool:
        return all(c.evaluate(answers) for c in self.conditions)

    def questions(self) -> Iterator[str]:
        for c in self.conditions:
            yield from c.questions()


@dataclass(frozen=True)
class AnyOf:
    conditions: tuple[ConditionLike, ...]

    def evaluate(self, answers: Mapping[str, Any]) -> bool:
        return any(c.evaluate(answers) for c in self.conditions)

    def questions(self) -> Iterator[str]:
        for c in self.conditions:
            yield from c.questions()


ConditionLike = Condition | AllOf | AnyOf


@dataclass(frozen=True)
class Question:
    id: str
    type: QuestionType
    text: Label
    required: bool = False
    help: Label | None = None
    options: tuple[Option, ...] = ()
    show_if: ConditionLike | None = None
    subcriterion: str | None = None  # the index sub-criterion this item feeds
    minimum: int | None = None
    maximum: int | None = None
    max_length: int | None = None
    # Shown instead of the engine's own message when the range or length check fails.
    constraint_message: Label | None = None

    @property
    def scored(self) -> bool:
        """A scored item: a scorable type (one choice) whose options carry scores."""
        return self.type.kind.scorable and any(o.score is not None for o in self.options)

    def option(self, code: str) -> Option | None:
        for o in self.options:
            if o.code == code:
                return o
        return None

    def visible(self, answers: Mapping[str, Any]) -> bool:
        return self.show_if is None or self.show_if.evaluate(answers)


@dataclass(frozen=True)
class Section:
    id: str
    title: Label
    questions: tuple[Question, ...]
    intro: Label | None = None
    layout: SectionLayout = SectionLayout.LIST


@dataclass(frozen=True)
class Rating:
    """Which units a respondent rates with this questionnaire and how the form is laid out."""

    unit_levels: tuple[str, ...]
    layout: RatingLayout = RatingLayout.PER_UNIT


@dataclass(frozen=True)
class Questionnaire:
    id: str
    version: int
    group: str
    title: Label
    languages: tuple[str, ...]
    rating: Rating
    sections: tuple[Section, ...]
    description: Label | None = None
    illustrative: bool = False
    source: str = ""  # where the definition came from (file path), not part of the hash
    content_hash: str = field(default="", compare=False)
    # The parsed document the questionnaire was built from, stored verbatim when published.
    document: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def key(self) -> str:
        return f"{self.id}@v{self.version}"

    def questions(self) -> Iterator[Question]:
        for s in self.sections:
            yield from s.questions

    def question(self, qid: str) -> Question:
        for q in self.questions():
            if q.id == qid:
                return q
        raise KeyError(qid)

    @property
    def scored_questions(self) -> tuple[Question, ...]:
        """Scored items in questionnaire order: the column order of :meth:`item_codes`."""
        return tuple(q for q in self.questions() if q.scored)

    def item_codes(self, answers: Mapping[str, Any]) -> bytes:
        """Pack the scored answers as one byte per scored item.

        Byte ``k`` is 0 when item ``k`` has no answer, else the 1-based position of the chosen
        option in the item's option list. Analysis reads these vectors straight into a
        ``uint8`` matrix, so scoring a million responses never touches per-answer rows.
        """
        return bytes(q.type.kind.item_position(q, answers.get(q.id))
                     for q in self.scored_questions)

    def visible_answers(self, answers: Mapping[str, Any]) -> dict[str, Any]:
        """The answers without those to questions whose show-if is false (in page order)."""
        kept: dict[str, Any] = {}
        for q in self.questions():
            if q.id in answers and q.visible(kept):
                kept[q.id] = answers[q.id]
        return kept

    def missing_required(self, answers: Mapping[str, Any],
                         sections: tuple[Section, ...] | None = None) -> list[Question]:
        """Required questions that are visible given ``answers`` but have no answer."""
        kept = self.visible_answers(answers)
        missing = []
        for s in sections if sections is not None else self.sections:
            for q in s.questions:
                if q.required and q.visible(kept) and _is_blank(kept.get(q.id)):
                    missing.append(q)
        return missing

    def score_table(self) -> list[list[float]]:
        """Per scored item, option score by 1-based position (index 0 = missing = NaN)."""
        table = []
        for q in self.scored_questions:
            row = [math.nan]
            row.extend(math.nan if o.dont_know or o.score is None else o.score for o in q.options)
            table.append(row)
        return table
