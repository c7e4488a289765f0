"""XLSForm workbooks <-> questionnaire definitions: round trips, the accepted subset, and a
located refusal (sheet, row, column) for everything else."""

from __future__ import annotations

import io
from dataclasses import replace
from collections.abc import Sequence
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook

from questionnaires import Problem, Questionnaire, QuestionType, SectionLayout, load_builtin
from questionnaires.schema import AnyOf, Condition, Operator
from questionnaires.xlsform import (
    ExpressionError,
    XLSFormInvalid,
    format_relevant,
    parse_relevant,
    questionnaire_to_xlsx,
    write_template,
)
from survey.services.questionnaires import read_xlsform

SURVEY_HEADER = ["type", "name", "label::Vietnamese (vi)", "label::English (en)", "required",
                 "relevant", "appearance", "subcriterion", "constraint", "hint::Vietnamese (vi)"]
#            A       B       C                          D                       E
#            F           G             H               I             J
CHOICES_HEADER = ["list_name", "name", "label::Vietnamese (vi)", "label::English (en)", "score",
                  "dont_know"]
SETTINGS = [["form_id", "version", "form_title", "default_language", "group"],
            ["phieu-thu", "1", "Phiếu thử", "Vietnamese (vi)", "citizen"]]
SCALE = [["muc_do", "A", "Tốt", "Good", 1.0, ""], ["muc_do", "B", "Chưa tốt", "Not good", 0.0, ""],
         ["muc_do", "E", "Không biết", "Don't know", "", "yes"]]


def workbook(survey: Sequence[Sequence[Any]], choices: Sequence[Sequence[Any]] = SCALE,
             settings: Sequence[Sequence[Any]] = SETTINGS,
             survey_header: Sequence[str] = SURVEY_HEADER) -> bytes:
    wb = Workbook()
    sheets = {"survey": [survey_header, *survey], "choices": [CHOICES_HEADER, *choices],
              "settings": settings}
    for i, (name, rows) in enumerate(sheets.items()):
        ws = wb.active if i == 0 else wb.create_sheet(name)
        ws.title = name
        for row in rows:
            ws.append(list(row))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def page(name: str, *rows: Sequence[Any], appearance: str = "field-list") -> list[list[Any]]:
    return [["begin_group", name, f"Trang {name}", f"Page {name}", "", "", appearance],
            *[list(r) for r in rows], ["end_group"]]


def q(kind: str, name: str, label: str = "Câu hỏi", en: str = "Question", **cells: Any
      ) -> list[Any]:
    row = [kind, name, label, en, cells.get("required", "yes"), cells.get("relevant", ""),
           cells.get("appearance", ""), cells.get("subcriterion", ""), cells.get("constraint", ""),
           cells.get("hint", "")]
    return row


def refusal(data: bytes) -> list[Problem]:
    with pytest.raises(XLSFormInvalid) as info:
        read_xlsform(data, "phieu.xlsx")
    return info.value.problems  # type: ignore[return-value]


def located(problems: list[Problem]) -> list[tuple[str, str, int, str]]:
    return [(p.code, p.sheet, p.row, p.column) for p in problems]


# --- round trips -------------------------------------------------------------------------

@pytest.mark.parametrize("builtin", load_builtin(), ids=lambda q: q.key)
def test_every_builtin_round_trips_to_the_same_content_hash(builtin: Questionnaire) -> None:
    data = questionnaire_to_xlsx(builtin)
    back = read_xlsform(data, f"{builtin.key}.xlsx")
    assert back.content_hash == builtin.content_hash
    assert replace(back, source=builtin.source) == builtin  # the same dataclasses, field by field


def test_a_minimal_workbook_maps_onto_the_schema() -> None:
    data = workbook([
        ["note", "gioi_thieu", "Xin chào", "Hello"],
        *page("p1", q("select_one muc_do", "chat_luong", subcriterion="1.1"),
              q("select_multiple kenh", "kenh", required=""),
              q("integer", "tuoi", constraint=". >= 18 and . <= 120"),
              q("text", "y_kien", appearance="multiline", required="",
                constraint="string-length(.) <= 500", hint="Không bắt buộc")),
        *page("p2", q("select_one muc_do", "g1", subcriterion="2.1"),
              q("select_one muc_do", "g2", subcriterion="2.2",
                relevant="${chat_luong} = 'B' or selected(${kenh}, 'web')"),
              appearance="table-list"),
    ], choices=[*SCALE, ["kenh", "web", "Cổng thông tin", "Web portal", "", ""],
                ["kenh", "bao", "Báo chí", "Press", "", ""]])
    form = read_xlsform(data, "phieu.xlsx")
    assert (form.id, form.version, form.group, form.languages) == ("phieu-thu", 1, "citizen",
                                                                   ("vi", "en"))
    assert form.description is not None and form.description.vi == "Xin chào"
    assert form.rating.unit_levels == ("department",)
    first, second = form.sections
    assert [x.type for x in first.questions] == [QuestionType.SINGLE, QuestionType.MULTIPLE,
                                                 QuestionType.INTEGER, QuestionType.TEXTAREA]
    assert (first.questions[2].minimum, first.questions[2].maximum) == (18, 120)
    assert first.questions[3].max_length == 500
    assert first.questions[3].help is not None and first.questions[3].help.vi == "Không bắt buộc"
    assert first.questions[0].scored and first.questions[0].options[2].dont_know
    assert second.layout is SectionLayout.GRID
    assert {x.type for x in second.questions} == {QuestionType.LIKERT}
    assert second.questions[1].show_if == AnyOf((
        Condition("chat_luong", Operator.EQUALS, "B"), Condition("kenh", Operator.EQUALS, "web")))


@pytest.mark.parametrize(("text", "expected"), [
    ("${a} = 'x'", {"question": "a", "op": "equals", "value": "x"}),
    ("${a} != \"x\"", {"question": "a", "op": "not_equals", "value": "x"}),
    ("${n} >= 3", {"question": "n", "op": "gte", "value": 3}),
    ("${a} = 'x' or ${a} = 'y'", {"question": "a", "op": "in", "value": ["x", "y"]}),
    ("${a} != 'x' and ${a} != 'y'", {"question": "a", "op": "not_in", "value": ["x", "y"]}),
    ("${a} != ''", {"question": "a", "op": "answered"}),
    ("not(selected(${m}, 'web'))", {"question": "m", "op": "not_equals", "value": "web"}),
    ("not(${n} > 3)", {"any": [{"question": "n", "op": "lte", "value": 3},
                               {"question": "n", "op": "not_answered"}]}),
    ("${a} = 'x' and (${b} = 'y' or ${n} < 2)",
     {"all": [{"question": "a", "op": "equals", "value": "x"},
              {"any": [{"question": "b", "op": "equals", "value": "y"},
                       {"question": "n", "op": "lt", "value": 2}]}]}),
    ("not(${a} = 'x' and ${b} = 'y')",
     {"any": [{"question": "a", "op": "not_equals", "value": "x"},
              {"question": "b", "op": "not_equals", "value": "y"}]}),
])
def test_relevant_parser_maps_the_subset_onto_show_if(text: str, expected: dict[str, Any]) -> None:
    assert parse_relevant(text)[0] == expected
    # and writing it back then parsing again gives the same condition
    assert parse_relevant(format_relevant(expected, {"m"}))[0] == expected


@pytest.mark.parametrize("text", [
    "${a} + 1 > 2", "count-selected(${m}) > 1", "${a} = ${b}", "${a} > 'x'", "${a} = 'x' or",
    "__import__('os').system('x')", "${a} = 'x')", "position(..) = 1", "${a}",
])
def test_relevant_parser_refuses_what_show_if_cannot_express(text: str) -> None:
    with pytest.raises(ExpressionError):
        parse_relevant(text)


# --- refusals, each at its exact cell ------------------------------------------------------

def test_unknown_type_is_refused_at_its_cell(vi) -> None:
    data = workbook(page("p1", q("select_one muc_do", "a", subcriterion="1.1"),
                         q("geopoint", "vi_tri")))
    problems = refusal(data)
    assert located(problems) == [("XLS-TYPE", "survey", 4, "A")]
    assert "survey!A4" in str(problems[0]) and "geopoint" in str(problems[0])
    assert "Loại câu hỏi không được hỗ trợ" in problems[0].message(vi)
    assert "Unsupported question type" in problems[0].message()


def test_inexpressible_relevant_is_refused_at_its_cell() -> None:
    data = workbook([*page("p1", q("integer", "n")),
                     *page("p2", q("text", "t", relevant="${n} + 1 > 2"))])
    assert located(refusal(data)) == [("XLS-RELEVANT", "survey", 6, "F")]


def test_relevant_on_a_later_page_is_refused_at_its_cell() -> None:
    data = workbook([*page("p1", q("text", "t", relevant="${n} > 2")),
                     *page("p2", q("integer", "n"))])
    problems = refusal(data)
    assert located(problems) == [("XLS-RELEVANT-ORDER", "survey", 3, "F")]
    assert "later page" in problems[0].detail


def test_relevant_on_the_same_page_is_refused() -> None:
    data = workbook(page("p1", q("integer", "n"), q("text", "t", relevant="${n} > 2")))
    assert located(refusal(data)) == [("XLS-RELEVANT-ORDER", "survey", 4, "F")]


def test_missing_vietnamese_label_is_refused_at_its_cell() -> None:
    data = workbook(page("p1", q("text", "t", label="", en="Only English")))
    problems = refusal(data)
    assert located(problems) == [("XLS-LABEL-VI", "survey", 3, "C")]
    assert problems[0].column_name == "label::Tiếng Việt (vi)"


def test_duplicated_name_is_refused_at_its_cell() -> None:
    data = workbook([*page("p1", q("text", "t")), *page("p2", q("integer", "t"))])
    assert located(refusal(data)) == [("XLS-DUPLICATE", "survey", 6, "B")]


def test_missing_choice_list_is_refused_at_its_cell() -> None:
    data = workbook(page("p1", q("text", "t"), q("select_one khong_co", "s")))
    problems = refusal(data)
    assert located(problems) == [("XLS-CHOICE-LIST", "survey", 4, "A")]
    assert "khong_co" in problems[0].detail


def test_unknown_column_is_refused_at_its_header_cell() -> None:
    data = workbook(page("p1", q("text", "t")),
                    survey_header=[*SURVEY_HEADER, "calculation"])
    assert located(refusal(data)) == [("XLS-COLUMN", "survey", 1, "K")]


def test_the_loaders_rules_are_located_in_the_workbook() -> None:
    # a score outside 0..1 (choices sheet) and a scored question without a sub-criterion
    data = workbook(page("p1", q("select_one muc_do", "a")),
                    choices=[*SCALE[:1], ["muc_do", "B", "Chưa tốt", "Not good", 1.5, ""]])
    assert sorted(located(refusal(data))) == [("QN-SCORE", "choices", 3, "E"),
                                              ("QN-SUBCRITERION", "survey", 3, "H")]


def test_every_problem_of_a_workbook_is_reported_at_once() -> None:
    data = workbook([*page("p1", q("geopoint", "g"), q("text", "t", label="")),
                     *page("p2", q("text", "t"))])
    assert located(refusal(data)) == [("XLS-TYPE", "survey", 3, "A"),
                                      ("XLS-LABEL-VI", "survey", 4, "C"),
                                      ("XLS-DUPLICATE", "survey", 7, "B")]


# --- Kobo habits and the template ----------------------------------------------------------

def test_a_kobo_workbook_imports_without_edits() -> None:
    # As KoboToolbox's form builder exports it: its bookkeeping columns, start/end timing rows,
    # "true"/"false" for required, labels named "Vietnamese (vi)", an id_string setting.
    header = ["type", "$kuid", "name", "label::Vietnamese (vi)", "label::English (en)",
              "required", "relevant", "appearance", "$autoname"]
    survey = [
        ["start", "k1", "start"], ["end", "k2", "end"],
        ["begin_group", "k3", "thong_tin", "Thông tin", "About you", "false", "", "field-list"],
        ["integer", "k4", "tuoi", "Tuổi", "Age", "true", "", "", "tuoi"],
        ["select_one co_khong", "k5", "da_den", "Đã đến cơ quan?", "Visited?", "true"],
        ["end_group", "k6"],
        ["begin_group", "k7", "danh_gia", "Đánh giá", "Rating", "false", "", "field-list"],
        ["select_one muc_do", "k8", "hai_long", "Hài lòng?", "Satisfied?", "true",
         "${da_den} = 'co'", "likert"],
        ["end_group", "k9"],
    ]
    choices = [["co_khong", "co", "Có", "Yes", "", ""],
               ["co_khong", "khong", "Không", "No", "", ""],
               ["muc_do", "1", "Không hài lòng", "Dissatisfied", "", ""],
               ["muc_do", "2", "Hài lòng", "Satisfied", "", ""]]
    settings = [["form_title", "id_string", "version", "default_language", "group"],
                ["Phiếu Kobo", "phieu-kobo", 3, "Vietnamese (vi)", "citizen"]]
    form = read_xlsform(workbook(survey, choices, settings, header), "kobo.xlsx")
    assert form.key == "phieu-kobo@v3"
    assert [s.id for s in form.sections] == ["thong_tin", "danh_gia"]
    assert form.question("hai_long").type is QuestionType.LIKERT
    assert form.question("hai_long").show_if == Condition("da_den", Operator.EQUALS, "co")
    assert form.title.vi == "Phiếu Kobo" and form.languages == ("vi", "en")


def test_the_template_imports_and_offers_drop_downs(tmp_path: Any) -> None:
    path = tmp_path / "mau.xlsx"
    write_template(path)
    form = read_xlsform(path)
    assert len(form.sections) == 1 and form.question("chat_luong").scored
    wb = load_workbook(path)
    assert wb.sheetnames[:3] == ["survey", "choices", "settings"]
    formulas = {dv.formula1 for dv in wb["survey"].data_validations.dataValidation}
    assert any("danh_muc" in f for f in formulas)
    types = [c.value for c in wb["danh_muc"]["A"][1:] if c.value]
    assert "select_one muc_do_5" in types and "begin_group" in types


def test_constraint_message_columns_import_and_export_back() -> None:
    header = [*SURVEY_HEADER, "constraint_message::Vietnamese (vi)",
              "constraint_message::English (en)"]
    data = workbook(page("p1", [*q("integer", "tuoi", constraint=". >= 18 and . <= 120"),
                                "Tuổi phải từ 18 đến 120", "Age must be 18 to 120"],
                         [*q("text", "y_kien", required="", constraint="string-length(.) <= 20"),
                          "Tối đa 20 ký tự", "At most 20 characters"],
                         q("integer", "so_lan")),
                    survey_header=header)
    form = read_xlsform(data, "phieu.xlsx")
    age, opinion, times = form.sections[0].questions
    assert age.constraint_message is not None
    assert (age.constraint_message.vi, age.constraint_message.en) == (
        "Tuổi phải từ 18 đến 120", "Age must be 18 to 120")
    assert opinion.constraint_message is not None
    assert opinion.constraint_message.get("en") == "At most 20 characters"
    assert times.constraint_message is None
    exported = questionnaire_to_xlsx(form)
    sheet = load_workbook(io.BytesIO(exported))["survey"]
    rows = [[c.value for c in r] for r in sheet.iter_rows()]
    vi_column = rows[0].index("constraint_message::Tiếng Việt (vi)")
    assert rows[0][vi_column + 1] == "constraint_message::English (en)"
    assert [r[vi_column:vi_column + 2] for r in rows if r[1] == "tuoi"] == [
        ["Tuổi phải từ 18 đến 120", "Age must be 18 to 120"]]
    back = read_xlsform(exported, "phieu.xlsx")
    assert back.content_hash == form.content_hash
    assert back.question("tuoi").constraint_message == age.constraint_message


def test_plain_constraint_message_is_in_the_default_language() -> None:
    header = [*SURVEY_HEADER, "constraint_message"]
    data = workbook(page("p1", [*q("integer", "tuoi", constraint=". <= 120"), "Tối đa 120"]),
                    survey_header=header)
    message = read_xlsform(data, "phieu.xlsx").question("tuoi").constraint_message
    assert message is not None and message.vi == "Tối đa 120"


def test_constraint_message_on_a_choice_question_is_refused_at_its_cell() -> None:
    header = [*SURVEY_HEADER, "constraint_message::Vietnamese (vi)"]
    data = workbook(page("p1", [*q("select_one muc_do", "a", subcriterion="1.1"), "Chọn"]),
                    survey_header=header)
    problems = refusal(data)
    assert located(problems) == [("QN-RANGE", "survey", 3, "K")]
    assert problems[0].column_name == "constraint_message::Tiếng Việt (vi)"
