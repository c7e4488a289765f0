"""The pure side of the question-type registry (``questionnaires/qtypes.py``): a class for
every type, and what the classes decide (options, scoring and its packing, YAML keys, the
paper layout, the demo's simulated answers)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from questionnaires import (
    KINDS,
    PaperAnswer,
    PaperLayout,
    QuestionKind,
    QuestionnaireInvalid,
    QuestionType,
    build_questionnaire,
)
from questionnaires.qtypes import Single

OPTIONS = [{"code": "A", "score": 1.0, "label": {"vi": "Có"}},
           {"code": "B", "score": 0.0, "label": {"vi": "Không"}},
           {"code": "E", "dont_know": True, "label": {"vi": "Không biết"}}]


def _question(qtype: QuestionType) -> dict[str, object]:
    q: dict[str, object] = {"id": f"q_{qtype.value}", "type": qtype.value,
                            "text": {"vi": qtype.value}}
    if KINDS[qtype].has_options:
        q["options"] = OPTIONS
    if KINDS[qtype].scorable:
        q["subcriterion"] = "1.1"
    return q


ALL = build_questionnaire({
    "id": "every-type", "version": 1, "group": "citizen", "languages": ["vi"],
    "title": {"vi": "Mọi loại câu hỏi"}, "rates": {"unit_level": "department"},
    "sections": [{"id": "s1", "title": {"vi": "Một"},
                  "questions": [_question(t) for t in QuestionType]}],
}, "test:every-type")


def test_every_question_type_has_its_class():
    assert set(KINDS) == set(QuestionType)
    for qtype, kind in KINDS.items():
        assert isinstance(kind, QuestionKind) and kind is qtype.kind
        assert kind.type is qtype, f"{type(kind).__name__} is registered as {qtype}"


def test_a_question_of_every_type_loads_and_only_scorable_types_are_scored_items():
    assert [q.type for q in ALL.questions()] == list(QuestionType)
    assert [q.type for q in ALL.scored_questions] == [t for t in QuestionType if t.kind.scorable]
    assert all(t.kind.has_options for t in QuestionType if t.kind.scorable)


def test_scored_answers_pack_as_the_chosen_options_position():
    scored = ALL.scored_questions
    assert len(scored) >= 2
    answers = {scored[0].id: "B", scored[1].id: "E"}
    assert ALL.item_codes(answers) == bytes([2, 3, *[0] * (len(scored) - 2)])
    assert ALL.item_codes({}) == bytes(len(scored))
    assert ALL.item_codes({scored[0].id: "Z", scored[1].id: ["A"]})[:2] == bytes([0, 0])


@pytest.mark.parametrize("qtype", [t for t in QuestionType if not t.kind.scorable])
def test_a_type_that_is_never_scored_packs_nothing(qtype):
    q = ALL.question(f"q_{qtype.value}")
    assert not q.scored
    with pytest.raises(TypeError):
        qtype.kind.item_position(q, "A")


def test_answers_read_as_option_labels_or_as_given():
    for q in ALL.questions():
        answer = ["A", "E"] if q.type.kind.many else "A" if q.type.kind.has_options else "12"
        text = q.type.kind.answer_text(q, answer, "vi")
        assert text == {"many": "Có; Không biết", "one": "Có", "none": "12"}[
            "many" if q.type.kind.many else "one" if q.type.kind.has_options else "none"]


def _problems(question: dict[str, object]) -> set[tuple[str, str]]:
    doc = {"id": "keys", "version": 1, "group": "citizen", "languages": ["vi"],
           "title": {"vi": "Khóa"}, "rates": {"unit_level": "department"},
           "sections": [{"id": "s1", "title": {"vi": "Một"}, "questions": [question]}]}
    try:
        build_questionnaire(doc, "test:keys")
    except QuestionnaireInvalid as exc:
        return {(p.code, p.path.rsplit(".", 1)[-1]) for p in exc.problems}
    return set()


@pytest.mark.parametrize("qtype", list(QuestionType))
def test_the_yaml_keys_a_type_takes(qtype):
    kind = qtype.kind
    ranged = _problems(_question(qtype) | {"min": 1, "max": 5})
    assert (("QN-RANGE", "questions[0]") in ranged) is not kind.takes_range
    message = _problems(_question(qtype) | {"constraint_message": {"vi": "Sai"}})
    assert (("QN-RANGE", "constraint_message") in message) is not kind.takes_constraint_message
    no_options = _problems({k: v for k, v in _question(qtype).items() if k != "options"})
    assert (("QN-OPTIONS", "options") in no_options) is kind.has_options


#: What each type must say for itself (abstract on :class:`QuestionKind`).
OWN_METHODS = ("paper_layout", "simulated_answer")


def test_a_type_class_must_say_how_it_prints_and_what_the_demo_answers():
    assert set(OWN_METHODS) <= QuestionKind.__abstractmethods__
    for qtype in QuestionType:
        assert not type(qtype.kind).__abstractmethods__, qtype
    for name in OWN_METHODS:
        # a new type written like Single but without one of them cannot be registered
        missing = type("Missing", (QuestionKind,), {
            "type": QuestionType.SINGLE, "xlsform": ("select_one", ""),
            **{m: getattr(Single, m) for m in OWN_METHODS if m != name}})
        with pytest.raises(TypeError, match=name):
            missing()


OPTION_LAYOUTS = {PaperAnswer.OPTION_LIST, PaperAnswer.OPTION_ROW}


@pytest.mark.parametrize("qtype", list(QuestionType))
def test_the_paper_layout_of_every_type(qtype):
    q = ALL.question(f"q_{qtype.value}")
    layout = qtype.kind.paper_layout(q)
    assert isinstance(layout, PaperLayout)
    # options print as a box each; any other answer is written, in boxes or on lines
    assert (layout.answer in OPTION_LAYOUTS) is qtype.kind.has_options
    assert layout.count >= (0 if qtype.kind.has_options else 1)
    # a grid row is a scale: it prints on one line, as the grid shows it
    assert not qtype.kind.grid_row or layout.answer is PaperAnswer.OPTION_ROW
    # the paper says when several options may be ticked, in both languages
    assert bool(layout.hint) is qtype.kind.many
    assert not layout.hint or " / " in layout.hint


def _draws(qtype, seed=7, n=300, mean=0.5, straight=False, question=None):
    rng = np.random.default_rng(seed)
    q = question or ALL.question(f"q_{qtype.value}")
    return [qtype.kind.simulated_answer(rng, q, mean, straight) for _ in range(n)]


@pytest.mark.parametrize("qtype", list(QuestionType))
def test_simulated_answers_are_answers_the_type_takes_and_follow_the_seed(qtype):
    q = ALL.question(f"q_{qtype.value}")
    answers = _draws(qtype)
    assert answers == _draws(qtype), "same seed, same answers"
    codes = {o.code for o in q.options}
    for a in answers:
        if qtype.kind.many:
            assert isinstance(a, list) and a and set(a) <= codes
        elif qtype.kind.has_options:
            assert a in codes
        elif qtype.kind.takes_range:
            assert isinstance(a, int) and 0 <= a <= 20
        else:
            assert a is None  # not required: left blank
    if qtype.kind.has_options:
        assert len(set(map(str, answers))) > 1, "drawn, not fixed"


@pytest.mark.parametrize("qtype", [t for t in QuestionType if not t.kind.has_options])
def test_simulated_written_answers_keep_to_the_range_and_fill_required_questions(qtype):
    base = ALL.question(f"q_{qtype.value}")
    doc = {"id": "ranged", "version": 1, "group": "citizen", "languages": ["vi"],
           "title": {"vi": "Khoảng"}, "rates": {"unit_level": "department"},
           "sections": [{"id": "s1", "title": {"vi": "Một"}, "questions": [
               _question(qtype) | {"required": True}
               | ({"min": 3, "max": 5} if qtype.kind.takes_range else {})]}]}
    q = build_questionnaire(doc, "test:ranged").question(base.id)
    answers = _draws(qtype, question=q)
    if qtype.kind.takes_range:
        assert set(answers) == {3, 4, 5}
    else:
        assert all(isinstance(a, str) and a.strip() for a in answers)


@pytest.mark.parametrize("qtype", [t for t in QuestionType if t.kind.scorable])
def test_simulated_scored_answers_lean_with_the_respondent(qtype):
    # A scores 1, B scores 0, E is "don't know"
    high = Counter(_draws(qtype, mean=0.9))
    low = Counter(_draws(qtype, mean=0.1))
    assert high["A"] > 4 * high["B"] and low["B"] > 4 * low["A"]
    assert 0 < high["E"] < 0.1 * sum(high.values())  # "don't know" now and then
    assert set(_draws(qtype, mean=0.1, straight=True, n=20)) == {"A"}  # straight-liners
