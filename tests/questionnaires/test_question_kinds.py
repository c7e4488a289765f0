"""The pure side of the question-type registry (``questionnaires/qtypes.py``): a class for
every type, and what the classes decide (options, scoring and its packing, YAML keys)."""

from __future__ import annotations

import pytest

from questionnaires import KINDS, QuestionKind, QuestionnaireInvalid, QuestionType, build_questionnaire

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
