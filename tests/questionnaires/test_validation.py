"""Every validation rule, each shown on an inline bad definition, with its location."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from questionnaires import (
    ERROR_CODES,
    QuestionnaireInvalid,
    QuestionType,
    build_questionnaire,
    check_files,
    load_builtin,
    parse_questionnaire,
)
from questionnaires.loader import load_questionnaire

GOOD: dict[str, Any] = {
    "id": "mini",
    "version": 1,
    "group": "citizen",
    "languages": ["vi", "en"],
    "title": {"vi": "Phiếu thử", "en": "Test form"},
    "rates": {"unit_level": "department"},
    "option_sets": {
        "agree": [
            {"code": "A", "score": 1.0, "label": {"vi": "Đồng ý", "en": "Agree"}},
            {"code": "B", "score": 0.0, "label": {"vi": "Không đồng ý", "en": "Disagree"}},
            {"code": "E", "dont_know": True, "label": {"vi": "Không biết", "en": "Don't know"}},
        ]
    },
    "sections": [
        {"id": "p1", "title": {"vi": "Trang 1", "en": "Page 1"}, "questions": [
            {"id": "q1", "type": "likert", "required": True, "subcriterion": "1.1",
             "text": {"vi": "Câu một", "en": "Question one"}, "options": "agree"},
            {"id": "age", "type": "integer", "min": 18, "max": 99,
             "text": {"vi": "Tuổi", "en": "Age"}},
        ]},
        {"id": "p2", "title": {"vi": "Trang 2", "en": "Page 2"}, "layout": "grid", "questions": [
            {"id": "q2", "type": "likert", "subcriterion": "1.2",
             "text": {"vi": "Câu hai", "en": "Question two"}, "options": "agree"},
        ]},
        {"id": "p3", "title": {"vi": "Trang 3", "en": "Page 3"}, "questions": [
            {"id": "note", "type": "textarea", "show_if": {"question": "q1", "op": "equals",
                                                         "value": "B"},
             "text": {"vi": "Vì sao?", "en": "Why?"}},
        ]},
    ],
}


def bad(mutate) -> list[tuple[str, str]]:
    doc = copy.deepcopy(GOOD)
    mutate(doc)
    with pytest.raises(QuestionnaireInvalid) as info:
        build_questionnaire(doc, "bad.yaml")
    return [(p.code, p.path) for p in info.value.problems]


def q(doc: dict, section: int, question: int) -> dict:
    return doc["sections"][section]["questions"][question]


def test_the_good_definition_builds():
    questionnaire = build_questionnaire(copy.deepcopy(GOOD), "good.yaml")
    assert [x.id for x in questionnaire.scored_questions] == ["q1", "q2"]
    assert questionnaire.question("age").type is QuestionType.INTEGER


CASES = {
    "QN-TYPE": (lambda d: d.update(title=5), "title"),
    "QN-REQUIRED": (lambda d: d.pop("group"), "group"),
    "QN-UNKNOWN-KEY": (lambda d: q(d, 0, 0).update(requird=True), "sections[0].questions[0].requird"),
    "QN-ID": (lambda d: d.update(id="Bad Id"), "id"),
    "QN-VERSION": (lambda d: d.update(version=0), "version"),
    "QN-LANG": (lambda d: d.update(languages=["en"]), "languages"),
    "QN-TEXT-MISSING": (lambda d: q(d, 0, 0)["text"].pop("en"), "sections[0].questions[0].text.en"),
    "QN-DUPLICATE-ID": (lambda d: q(d, 1, 0).update(id="q1"), "sections[1].questions[0].id"),
    "QN-QUESTION-TYPE": (lambda d: q(d, 0, 1).update(type="date"), "sections[0].questions[1].type"),
    "QN-OPTIONS": (lambda d: q(d, 0, 1).update(options="agree"), "sections[0].questions[1].options"),
    "QN-OPTION-DUPLICATE": (lambda d: d["option_sets"]["agree"][1].update(code="A"),
                            "option_sets.agree[1].code"),
    "QN-OPTION-SET": (lambda d: q(d, 0, 0).update(options="agre"), "sections[0].questions[0].options"),
    "QN-SCORE": (lambda d: d["option_sets"]["agree"][0].update(score=1.5),
                 "option_sets.agree[0].score"),
    "QN-SUBCRITERION": (lambda d: q(d, 0, 0).pop("subcriterion"),
                        "sections[0].questions[0].subcriterion"),
    "QN-RANGE": (lambda d: q(d, 0, 1).update(min=100), "sections[0].questions[1]"),
    "QN-SHOW-IF": (lambda d: q(d, 2, 0)["show_if"].update(op="matches"),
                   "sections[2].questions[0].show_if.op"),
    "QN-SHOW-IF-ORDER": (lambda d: q(d, 2, 0)["show_if"].update(question="q9"),
                         "sections[2].questions[0].show_if.question"),
    "QN-GRID": (lambda d: d["sections"][1].update(questions=[q(d, 1, 0), q(d, 0, 1) | {"id": "a2"}]),
                "sections[1].questions[1]"),
    "QN-RATING": (lambda d: d["rates"].update(layout="table"), "rates.layout"),
    "QN-EMPTY": (lambda d: d["sections"][0].update(questions=[]), "sections[0].questions"),
}


@pytest.mark.parametrize("code", sorted(CASES))
def test_each_rule_reports_its_code_at_the_right_path(code):
    mutate, path = CASES[code]
    assert (code, path) in bad(mutate)


def test_every_error_code_has_a_case():
    file_codes = {"QN-YAML", "QN-FILENAME",  # need a file; tested below
                  "YAML-TOO-LARGE", "YAML-TOO-DEEP", "YAML-ALIASES"}  # test_hostile_yaml.py
    assert set(ERROR_CODES) == set(CASES) | file_codes


def test_no_question_of_page_one_can_be_hidden():
    """A fresh form's link leads straight to page 1 (``survey.respond.views.enter_form``), so
    page 1 must always show questions: show-if may not refer to a question of its own page."""
    problems = bad(lambda d: q(d, 0, 1).update(
        show_if={"question": q(d, 0, 0)["id"], "op": "equals", "value": "A"}))
    assert ("QN-SHOW-IF-ORDER", "sections[0].questions[1].show_if.question") in problems


def test_dont_know_option_cannot_carry_a_score():
    problems = bad(lambda d: d["option_sets"]["agree"][2].update(score=0.5))
    assert ("QN-SCORE", "option_sets.agree[2].score") in problems


def test_all_problems_are_reported_in_one_pass():
    def mutate(d):
        d.update(version="one")
        q(d, 0, 0)["text"].pop("vi")
        q(d, 0, 1).update(type="slider")
    codes = {c for c, _ in bad(mutate)}
    assert {"QN-VERSION", "QN-TEXT-MISSING", "QN-QUESTION-TYPE"} <= codes


def test_yaml_syntax_error_names_the_line(tmp_path):
    with pytest.raises(QuestionnaireInvalid) as info:
        parse_questionnaire("id: x\nsections: [\n  - oops", "broken.yaml")
    problem = info.value.problems[0]
    assert problem.code == "QN-YAML" and problem.line == 3
    assert str(problem).startswith("broken.yaml:3, column ")


def test_file_name_must_match_content(tmp_path):
    folder = tmp_path / "citizen"
    folder.mkdir()
    path = folder / "mini.v2.yaml"
    path.write_text(yaml.safe_dump(GOOD, allow_unicode=True), encoding="utf-8")
    with pytest.raises(QuestionnaireInvalid) as info:
        load_questionnaire(path)
    assert info.value.problems[0].code == "QN-FILENAME"
    assert "citizen/mini.v1.yaml" in info.value.problems[0].detail


def test_messages_are_bilingual_and_located(vi):
    problems = []
    try:
        build_questionnaire({**copy.deepcopy(GOOD), "version": -1}, "defs/x.yaml")
    except QuestionnaireInvalid as exc:
        problems = exc.problems
    text = problems[0].render(vi)
    assert text.startswith("defs/x.yaml: version: [QN-VERSION] ")
    assert "phiên bản" in text.lower() and "version must be" in str(problems[0])


def test_check_files_collects_problems_across_files(tmp_path):
    good_dir = tmp_path / "citizen"
    good_dir.mkdir()
    (good_dir / "mini.v1.yaml").write_text(yaml.safe_dump(GOOD, allow_unicode=True), "utf-8")
    (good_dir / "broken.v1.yaml").write_text("id: [", "utf-8")
    good, problems = check_files([tmp_path])
    assert [x.id for x in good] == ["mini"]
    assert [p.code for p in problems] == ["QN-YAML"]


def test_content_hash_ignores_layout_but_not_content():
    a = build_questionnaire(copy.deepcopy(GOOD))
    reordered = dict(reversed(list(copy.deepcopy(GOOD).items())))
    assert build_questionnaire(reordered).content_hash == a.content_hash
    changed = copy.deepcopy(GOOD)
    q(changed, 0, 0)["text"]["vi"] = "Câu một đã sửa"
    assert build_questionnaire(changed).content_hash != a.content_hash


def test_show_if_and_required_follow_answers():
    questionnaire = build_questionnaire(copy.deepcopy(GOOD))
    assert questionnaire.visible_answers({"q1": "A", "note": "x"}) == {"q1": "A"}
    assert questionnaire.visible_answers({"q1": "B", "note": "x"}) == {"q1": "B", "note": "x"}
    assert [m.id for m in questionnaire.missing_required({})] == ["q1"]
    assert questionnaire.missing_required({"q1": "E"}) == []


def test_item_codes_pack_one_byte_per_scored_item():
    questionnaire = build_questionnaire(copy.deepcopy(GOOD))
    assert questionnaire.item_codes({"q1": "B", "q2": "E", "age": 40}) == bytes([2, 3])
    assert questionnaire.item_codes({}) == bytes([0, 0])
    table = questionnaire.score_table()
    assert table[0][1:3] == [1.0, 0.0]


def test_every_builtin_definition_loads_clean():
    good = load_builtin()
    assert len(good) >= 9
    assert len({q.key for q in good}) == len(good)


def test_constraint_message_is_parsed_from_yaml_as_a_translated_label():
    doc = copy.deepcopy(GOOD)
    q(doc, 0, 1)["constraint_message"] = {"vi": "Tuổi từ 18 đến 99", "en": "Age 18 to 99"}
    questionnaire = parse_questionnaire(yaml.safe_dump(doc, allow_unicode=True), "mini.yaml")
    message = questionnaire.question("age").constraint_message
    assert message is not None
    assert (message.get("vi"), message.get("en")) == ("Tuổi từ 18 đến 99", "Age 18 to 99")
    assert questionnaire.question("q1").constraint_message is None
    # an authored message is content: it changes the hash; its absence leaves the hash alone
    assert questionnaire.content_hash != build_questionnaire(copy.deepcopy(GOOD)).content_hash


def test_constraint_message_needs_vietnamese_and_a_constraint_kind_of_question():
    def english_only(doc):
        q(doc, 0, 1)["constraint_message"] = {"en": "Age 18 to 99"}

    def on_a_choice(doc):
        q(doc, 0, 0)["constraint_message"] = {"vi": "Chọn một", "en": "Choose one"}

    def not_text(doc):
        q(doc, 0, 1)["constraint_message"] = ["Tuổi"]

    path = "sections[0].questions[1].constraint_message"
    assert bad(english_only) == [("QN-TEXT-MISSING", f"{path}.vi")]
    assert bad(on_a_choice) == [("QN-RANGE", "sections[0].questions[0].constraint_message")]
    assert bad(not_text) == [("QN-TYPE", path)]
