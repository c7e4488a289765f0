"""The web side of the question-type registry (``survey/respond/qtypes.py``): a class for every
type, its macro in the template, and the page cache's contract (the cached HTML filled with
the type's marks is the HTML its macro renders)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from jinja2.runtime import Macro

from questionnaires import KINDS, QuestionType, build_questionnaire
from survey import create_app
from survey.respond.forms import FieldView
from survey.respond.pages import PageRenderer
from survey.respond.qtypes import OPTION_SLOT, QUESTION_CLASSES, SLOTS, question_macro

OPTIONS = [{"code": "A", "score": 1.0, "label": {"vi": "Có", "en": "Yes"}},
           {"code": "B", "score": 0.0, "label": {"vi": "Không", "en": "No"}},
           {"code": "E", "dont_know": True, "label": {"vi": "Không biết", "en": "Don't know"}}]
WORDS = [{"code": "land", "label": {"vi": "Đất", "en": "Land"}},
         {"code": "house", "label": {"vi": "Nhà", "en": "House"}}]


def _questions(qtype: QuestionType) -> list[dict[str, object]]:
    """A question of ``qtype`` (with printed option codes, and one with internal codes)."""
    base: dict[str, object] = {"type": qtype.value, "text": {"vi": "Câu?", "en": "Question?"},
                               "help": {"vi": "Giúp", "en": "Help"}, "required": True}
    if not qtype.kind.has_options:
        return [base | {"id": qtype.value}]
    scored = {"subcriterion": "1.1"} if qtype.kind.scorable else {}
    return [base | scored | {"id": qtype.value, "options": OPTIONS},
            base | {"id": f"{qtype.value}_words", "options": WORDS}]


QUESTIONNAIRE = build_questionnaire({
    "id": "every-type-web", "version": 1, "group": "citizen", "languages": ["vi", "en"],
    "title": {"vi": "Mọi loại", "en": "Every type"},
    "rates": {"unit_level": "department", "layout": "matrix"},
    "sections": [{"id": "s1", "title": {"vi": "Một", "en": "One"},
                  "questions": [q for t in QuestionType for q in _questions(t)]}],
}, "test:every-type-web")


@pytest.fixture(scope="module")
def app():
    return create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://"})


def _module(app):
    context: dict[str, object] = {}
    app.update_template_context(context)
    return app.jinja_env.get_template("respond/_questions.html").make_module(context)


def test_every_question_type_has_its_class():
    assert set(QUESTION_CLASSES) == set(QuestionType)
    for qtype, qclass in QUESTION_CLASSES.items():
        assert qclass.type is qtype
        assert isinstance(qclass, type(KINDS[qtype])), "the web class extends the pure one"


def test_every_class_has_its_macro_in_the_template(app):
    with app.test_request_context("/"):
        module = _module(app)
        names = {qclass.macro for qclass in QUESTION_CLASSES.values()}
        names |= {question_macro(q, unit) for q in QUESTIONNAIRE.questions()
                  for unit in (None, "Sở")}
        for name in names:
            macro = getattr(module, name, None)
            assert isinstance(macro, Macro), f"no macro {name!r} in respond/_questions.html"
            assert macro.arguments[:5] == ("q", "f", "num", "err", "unit"), name
    assert len({qclass.macro for qclass in QUESTION_CLASSES.values()}) == len(QuestionType)


def _values(q):
    """Field data to render ``q`` with: blank, every option alone, pairs, odd input."""
    if q.type.kind.many:
        codes = [o.code for o in q.options]
        return [None, [], *([c] for c in codes), *map(list, itertools.combinations(codes, 2)),
                ["Z"]]
    if q.type.kind.has_options:
        return [None, *(o.code for o in q.options), "Z"]
    return [None, "", "7", "<b>&"]


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_the_cached_html_filled_with_the_marks_is_what_the_macro_renders(app, lang):
    with app.test_request_context(f"/?lang={lang}"):
        renderer = PageRenderer(QUESTIONNAIRE, lang)
        module = _module(app)
        for unit_index, unit in ((0, None), (1, "Sở <Tư pháp>")):
            for q in QUESTIONNAIRE.questions():
                for value in _values(q) * 2:  # the second time from the cache
                    f = FieldView(f"u{unit_index}-{q.id}", value)
                    got = renderer.question(0, q, f, 3, [], unit_index, unit)
                    want = getattr(module, question_macro(q, unit))(q, f, 3, [], unit)
                    assert str(got) == str(want), (q.id, value, unit)
                    given = value if isinstance(value, list) else [value]
                    chosen = {o.code for o in q.options if o.code in given}
                    assert str(got).count(" checked") == len(chosen), (q.id, value)


def test_option_types_are_cached_with_one_slot_per_option(app):
    with app.test_request_context("/"):
        module = _module(app)
        for q in QUESTIONNAIRE.questions():
            qclass = QUESTION_CLASSES[q.type]
            marks = qclass.marks(q, None)
            html = str(getattr(module, qclass.macro)(q, FieldView("u0-x", SLOTS), 1, []))
            if marks is None:
                assert OPTION_SLOT not in html
            else:
                assert html.count(OPTION_SLOT) == len(marks) == len(q.options), q.id


def test_the_demos_simulated_answers_are_what_the_page_accepts(app):
    """The demo saves its answers without the page's checks: each must pass them, read back as
    drawn (a posted value is text, several for a multiple choice)."""
    rng = np.random.default_rng(3)
    with app.test_request_context("/"):
        for q in QUESTIONNAIRE.questions():
            qclass = QUESTION_CLASSES[q.type]
            rule = qclass.rule(q, q.id)
            for straight in (False, True):
                for _ in range(50):
                    value = qclass.simulated_answer(rng, q, float(rng.random()), straight)
                    assert value is not None, "every question here is required"
                    posted = [str(v) for v in value] if isinstance(value, list) else [str(value)]
                    assert qclass.check(rule, posted) == (value, []), (q.id, value)
