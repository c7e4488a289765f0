"""Rendering a form page: the question macros' HTML, rendered once and reused.

A page of 40 Likert questions is 200 radio buttons; running the macros for each of them on
every request was most of a page GET. The HTML of an unanswered, error-free option question
depends only on the questionnaire, the page, the unit slot and the language, so each is
rendered once per worker by its macro (``templates/respond/_questions.html``, still the one
source of the markup) with its options' marks left as slots, and a request only fills the
slots. The contract is the type class's (:mod:`survey.respond.qtypes`: ``checked`` in the
macro, :meth:`~survey.respond.qtypes.QuestionClass.marks` here). A question with an error
message, and a type without marks (integer, text), is rendered by its macro as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from markupsafe import Markup, escape

from questionnaires import Question, Questionnaire
from survey.respond.forms import FieldView, field_name
from survey.respond.qtypes import OPTION_SLOT, QUESTION_CLASSES, SLOTS, question_class
from survey.services.responding import FormContext, UnitInfo

#: Stands for the rated unit's name in a cached matrix fragment (never in real text: NUL).
UNIT_SLOT = "\x00unit\x00"
MAX_FRAGMENTS = 50_000  # per worker; a questionnaire has a few hundred per language


@dataclass(frozen=True)
class QuestionBlock:
    """One question of a page: its rendered field(s), one per rated unit for a matrix."""

    question: Question
    num: int
    fields: tuple[Markup, ...]
    rows: bool = False  # a matrix question shown as compact rows under a key (compact_row)


def _macros() -> Any:
    """The question macros with the context every template gets (``L``, ``lang``, ``_``)."""
    context: dict[str, Any] = {}
    current_app.update_template_context(context)
    return current_app.jinja_env.get_template("respond/_questions.html").make_module(context)


class PageRenderer:
    """Renders the questions of one page for one request, reusing cached fragments."""

    def __init__(self, questionnaire: Questionnaire, lang: str):
        self.questionnaire = questionnaire
        self.lang = lang
        self.cache: dict[tuple[Any, ...], tuple[str, ...] | None] = \
            current_app.extensions.setdefault("respond_fragments", {})
        self._module: Any = None

    @property
    def macros(self) -> Any:
        if self._module is None:
            self._module = _macros()
        return self._module

    def question(self, section_index: int, q: Question, f: Any, num: int | str,
                 err: list[str], unit_index: int, unit_name: str | None) -> Markup:
        """The macro's HTML for ``q`` with field ``f`` (anything with name/data/raw_data)."""
        marks = None if err else QUESTION_CLASSES[q.type].marks(q, f.data)
        if marks is None:
            return self._render(q, f, num, err, unit_name)
        key = (self.questionnaire.key, self.questionnaire.content_hash, section_index, q.id,
               unit_index, unit_name is not None, self.lang)
        parts = self.cache.get(key, ())
        if parts == ():
            parts = self._blank(q, f.name, num, unit_name is not None, len(marks))
            if len(self.cache) >= MAX_FRAGMENTS:
                self.cache.clear()
            self.cache[key] = parts
        if parts is None:  # the macro did not write one slot per mark: render it
            return self._render(q, f, num, err, unit_name)
        html = _fill(parts, marks)
        if unit_name is not None:
            html = html.replace(UNIT_SLOT, str(escape(unit_name)))
        return Markup(html)

    def _render(self, q: Question, f: Any, num: int | str, err: list[str],
                unit_name: str | None) -> Markup:
        macro = getattr(self.macros, question_class(q).macro_for(q, unit_name))
        return macro(q, f, num, err, unit_name)  # type: ignore[no-any-return]

    def _blank(self, q: Question, name: str, num: int | str, matrix: bool, n_marks: int
               ) -> tuple[str, ...] | None:
        """The blank fragment split at its slots (None: not one slot per mark)."""
        parts = tuple(str(self._render(q, FieldView(name, SLOTS), num, [],
                                       UNIT_SLOT if matrix else None)).split(OPTION_SLOT))
        return parts if len(parts) == n_marks + 1 else None


def _fill(parts: tuple[str, ...], marks: tuple[str, ...]) -> str:
    """Join the cut fragment with the marks between its pieces."""
    if not any(marks):
        return "".join(parts)
    out = [parts[0]]
    for mark, part in zip(marks, parts[1:]):
        out.append(mark)
        out.append(part)
    return "".join(out)


def page_blocks(ctx: FormContext, index: int, fields: Any, missing: dict[int, set[str]],
                lang: str) -> tuple[list[QuestionBlock], list[tuple[str, Question, UnitInfo]]]:
    """The page's visible questions, rendered, and the error summary's entries.

    ``fields``: field name -> field (a WTForms form after a POST, or :class:`FieldView`
    values for a GET); ``missing``: unit index -> ids of required questions left blank.
    """
    q = ctx.questionnaire
    section = q.sections[index]
    units = ctx.units
    n = len(units)
    renderer = PageRenderer(q, lang)
    errors: list[tuple[str, Question, UnitInfo]] = []
    messages: dict[str, list[str]] = {}
    for i in range(n):
        for question in section.questions:
            f = fields[field_name(i, question.id)]
            err = list(f.errors)
            if question.id in missing.get(i, ()):
                err.append(_("Please answer this question."))
            if err:
                messages[f.name] = err
                errors.append((f.name, question, units[i]))
    visible = q.visible_answers(ctx.answers_for(ctx.assignments[0])) if n else {}
    blocks = []
    for num, question in enumerate(section.questions, start=1):
        if question.show_if and not question.visible(visible):
            continue  # hidden by an answer on an earlier page
        rendered = []
        for i in range(n):
            f = fields[field_name(i, question.id)]
            rendered.append(renderer.question(
                index, question, f, num if n == 1 else f"{num}.{i + 1}",
                messages.get(f.name, []), i, None if n == 1 else units[i].name(lang)))
        blocks.append(QuestionBlock(question, num, tuple(rendered),
                                    n > 1 and question_class(question).compact_row(question)))
    return blocks, errors


@dataclass(frozen=True)
class ReviewSection:
    """One page of one rated unit on the review page: its visible questions and answers."""

    id: str
    page: int  # 1-based
    title: str
    items: tuple[tuple[str, str], ...]  # (question text, answer as shown; "" = not answered)


def review_sections(ctx: FormContext) -> list[tuple[Any, list[ReviewSection]]]:
    """Per assignment, the pages with a visible question (a page emptied by show-if is
    skipped in the form, so it is not listed), with answers as the respondent sees them.

    Built here rather than in the template: a Jinja call per question and answer cost more
    than the rest of the request. Texts come from the template helpers (``L``,
    ``answer_text``) so they read exactly as on the other pages.
    """
    helpers: dict[str, Any] = {}
    current_app.update_template_context(helpers)
    label, answer_text = helpers["L"], helpers["answer_text"]
    q = ctx.questionnaire
    out = []
    for a in ctx.assignments:
        answers = q.visible_answers(ctx.answers_for(a))
        sections = []
        for page, section in enumerate(q.sections, start=1):
            items = tuple((label(question.text), answer_text(question, answers.get(question.id)))
                          for question in section.questions if question.visible(answers))
            if items:
                sections.append(ReviewSection(section.id, page, label(section.title), items))
        out.append((a, sections))
    return out
