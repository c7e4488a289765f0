"""Properties of the built-in questionnaire content that a survey author relies on.

The loader tests check the format; these check the *content* shipped in
``questionnaires/definitions/``: which forms exist, how they rate units, how answers score, the
shared sub-criterion code scheme, the SIPAS structure, and that the Vietnamese is real Vietnamese.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from questionnaires import (
    DEFINITIONS_DIR,
    Label,
    Questionnaire,
    QuestionType,
    SectionLayout,
    check_files,
    load_builtin,
)

# (group, id) -> (rated unit level, layout)
EXPECTED: dict[tuple[str, str], tuple[str | tuple[str, ...], str]] = {
    ("council_delegate", "hdnd-rates-departments"): ("department", "matrix"),
    ("dept_leader", "dept-leader-rates-districts"): ("district", "matrix"),
    ("dept_division_leader", "dept-division-rates-own-department"): ("department", "per_unit"),
    # version 2 (the latest) is the paper grid's matrix; version 1 was per_unit
    ("district_division_leader", "district-division-rates-departments"): ("department", "matrix"),
    ("district_division_leader", "district-division-rates-own-district"): ("district", "per_unit"),
    ("commune_leader", "commune-leader-rates-district"): ("district", "per_unit"),
    ("commune_leader", "commune-leader-rates-departments"): ("department", "matrix"),
    ("civil_servant", "civil-servant-rates-own-agency"): (("department", "district", "commune"), "per_unit"),
    ("citizen", "citizen-sipas"): (("department", "district", "commune"), "per_unit"),
    ("citizen", "citizen-sipas-short"): (("department", "district", "commune"), "per_unit"),
}

#: Groups whose forms are citizen satisfaction (SIPAS) forms; every other group fills a PAR form.
CITIZEN_GROUPS = {"citizen"}

#: The full PAR forms written to the brief (the exemplar is deliberately short).
FULL_PAR_FORMS = {
    "hdnd-rates-departments", "dept-leader-rates-districts", "district-division-rates-departments",
    "district-division-rates-own-district", "commune-leader-rates-district",
    "commune-leader-rates-departments", "civil-servant-rates-own-agency",
}

#: The sub-criterion codes the PAR forms may use (area.item); the scoring config gives max points.
SUBCRITERIA: dict[str, str] = {
    "1.1": "annual reform plan issued on time and fit for the situation",
    "1.2": "head of the unit's commitment and direct leadership of reform",
    "1.3": "reform initiatives and new approaches applied effectively",
    "1.4": "inspection of reform work and remedy of shortcomings found",
    "1.5": "information and communication (propaganda) on reform",
    "1.6": "completion of assigned reform tasks and follow-up of supervision recommendations",
    "1.7": "guidance and answers given to lower levels",
    "2.1": "quality of legal documents issued or drafted (lawful, fit for practice, workable)",
    "2.2": "timeliness of documents detailing or applying higher-level rules",
    "2.3": "review, amendment and repeal of outdated documents",
    "2.4": "organisation of law enforcement in the unit's field or area",
    "2.5": "consultation of affected people, businesses and lower levels on drafts",
    "3.1": "publication of administrative procedures",
    "3.2": "one-stop shop and interlinked one-stop mechanism",
    "3.3": "procedures settled on time (apology for late cases)",
    "3.4": "no harassment, extra papers or informal demands",
    "3.5": "cutting and simplifying procedures and compliance costs",
    "3.6": "receiving and handling feedback and petitions",
    "4.1": "streamlining the organisational apparatus",
    "4.2": "clear functions and tasks without overlap",
    "4.3": "decentralisation and delegation, with guidance and means",
    "4.4": "coordination with other agencies and levels",
    "4.5": "staff quota managed according to job positions",
    "5.1": "open, transparent, lawful recruitment and appointment",
    "5.2": "discipline and administrative order",
    "5.3": "professional competence of officials",
    "5.4": "public-service ethics and attitude of service",
    "5.5": "substantive annual assessment and grading of officials",
    "5.6": "training and development of officials",
    "6.1": "financial autonomy and internal spending rules",
    "6.2": "budget transparency (estimates, final accounts, allocations)",
    "6.3": "thrift and fight against waste",
    "6.4": "management and use of public assets",
    "6.5": "disbursement of public investment",
    "7.1": "online public services and the systems behind them",
    "7.2": "electronic documents and digital signatures",
    "7.3": "digitised records, databases and data sharing",
    "7.4": "web portal information complete and up to date",
    "8.1": "impact on the investment and business climate",
    "8.2": "impact on the quality of service and satisfaction of citizens and businesses",
    "8.3": "impact on socio-economic development tasks",
}

#: SIPAS elements (Decision 1001/QĐ-BNV) and their item counts.
SIPAS_ELEMENTS = {"S1": 4, "S2": 4, "S3": 5, "S4": 3, "S5": 3}
SIPAS_SCALE = [
    ("1", 0.0, "Rất không hài lòng"),
    ("2", 0.25, "Không hài lòng"),
    ("3", 0.5, "Bình thường"),
    ("4", 0.75, "Hài lòng"),
    ("5", 1.0, "Rất hài lòng"),
]

VI_DIACRITICS = set(
    "àáảãạăằắẳẵặâầấẩẫậèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵđ"
)


@pytest.fixture(scope="module")
def builtin() -> dict[str, Questionnaire]:
    return {q.id: q for q in load_builtin()}


def par_forms(builtin: dict[str, Questionnaire]) -> list[Questionnaire]:
    return [q for q in builtin.values() if q.group not in CITIZEN_GROUPS]


def citizen_forms(builtin: dict[str, Questionnaire]) -> list[Questionnaire]:
    return [q for q in builtin.values() if q.group in CITIZEN_GROUPS]


def unit_levels(q: Questionnaire) -> tuple[str, ...]:
    return q.rating.unit_levels


def labels(q: Questionnaire) -> Iterator[tuple[str, Label]]:
    """Every translated text of a questionnaire, with where it sits."""
    yield "title", q.title
    if q.description:
        yield "description", q.description
    for s in q.sections:
        yield f"{s.id}.title", s.title
        if s.intro:
            yield f"{s.id}.intro", s.intro
        for question in s.questions:
            yield f"{question.id}.text", question.text
            if question.help:
                yield f"{question.id}.help", question.help
            for o in question.options:
                yield f"{question.id}.{o.code}", o.label


# --- the set loads and is complete ------------------------------------------------------------

def test_every_builtin_definition_loads_clean() -> None:
    good, problems = check_files()
    assert problems == [], "\n".join(str(p) for p in problems)
    files = sorted(DEFINITIONS_DIR.rglob("*.yaml")) + sorted(DEFINITIONS_DIR.rglob("*.yml"))
    assert len(load_builtin()) == len(good) == len(files)


def test_expected_groups_and_ids_exist(builtin: dict[str, Questionnaire]) -> None:
    present = {(q.group, q.id) for q in builtin.values()}
    missing = set(EXPECTED) - present
    assert not missing, f"missing built-in questionnaires: {sorted(missing)}"
    folders = {p.name for p in DEFINITIONS_DIR.iterdir() if p.is_dir()}
    assert {g for g, _ in EXPECTED} <= folders


@pytest.mark.parametrize(("key", "rating"), sorted(EXPECTED.items()))
def test_rated_unit_level_and_layout(builtin: dict[str, Questionnaire],
                                     key: tuple[str, str], rating: tuple[str | tuple[str, ...], str]) -> None:
    q = builtin[key[1]]
    assert q.version >= 1
    assert q.languages == ("vi", "en")
    expected = rating[0] if isinstance(rating[0], tuple) else (rating[0],)
    assert unit_levels(q) == expected
    assert q.rating.layout.value == rating[1]


# --- PAR (leader, civil servant) forms ---------------------------------------------------------

def test_par_forms_are_marked_illustrative(builtin: dict[str, Questionnaire]) -> None:
    for q in par_forms(builtin):
        assert q.illustrative, f"{q.key} must be illustrative: no national wording is public"
        header = []
        for line in Path(q.source).read_text(encoding="utf-8").splitlines():
            if not line.startswith("#"):
                break
            header.append(line)
        assert "illustrative" in " ".join(header).lower(), (
            f"{q.source}: the opening comment must say the wording is illustrative")


def test_citizen_forms_are_not_illustrative(builtin: dict[str, Questionnaire]) -> None:
    for q in citizen_forms(builtin):
        assert not q.illustrative, f"{q.key}: SIPAS structure is national, not illustrative"


def test_par_forms_open_with_the_purpose(builtin: dict[str, Questionnaire]) -> None:
    for q in par_forms(builtin):
        assert q.description is not None, q.key
        assert "Chỉ số cải cách hành chính" in q.description.vi, q.key
        assert "ý kiến đánh giá" in q.description.vi, q.key
        assert q.description.en and "PAR Index" in q.description.en, q.key


def test_par_scored_questions_use_a_to_e_weights(builtin: dict[str, Questionnaire]) -> None:
    for q in par_forms(builtin):
        assert q.scored_questions, q.key
        for item in q.scored_questions:
            where = f"{q.key} {item.id}"
            assert [o.code for o in item.options] == ["A", "B", "C", "D", "E"], where
            assert [o.score for o in item.options] == [1.0, 0.6, 0.2, 0.0, None], where
            assert [o.dont_know for o in item.options] == [False] * 4 + [True], where
            assert item.options[-1].label.vi == "Không biết", where
            assert item.required, f"{where}: E (don't know) exists, so the item can be required"


def test_par_subcriteria_follow_the_shared_scheme(builtin: dict[str, Questionnaire]) -> None:
    for q in par_forms(builtin):
        for item in q.scored_questions:
            assert item.subcriterion in SUBCRITERIA, f"{q.key} {item.id}: {item.subcriterion}"


def test_par_form_non_scored_questions_are_only_profile_or_comments(
        builtin: dict[str, Questionnaire]) -> None:
    for q in par_forms(builtin):
        for item in q.questions():
            if item.scored:
                continue
            assert item.subcriterion is None, f"{q.key} {item.id}"


@pytest.mark.parametrize("qid", sorted(FULL_PAR_FORMS))
def test_full_par_form_shape(builtin: dict[str, Questionnaire], qid: str) -> None:
    q = builtin[qid]
    questions = list(q.questions())
    assert 20 <= len(questions) <= 30, f"{qid}: {len(questions)} questions"
    assert any(s.layout is SectionLayout.GRID for s in q.sections), f"{qid}: no grid section"
    areas = {item.subcriterion.split(".")[0] for item in q.scored_questions}
    assert areas == {str(a) for a in range(1, 9)}, f"{qid}: covers areas {sorted(areas)}"
    codes = Counter(item.subcriterion for item in q.scored_questions)
    assert max(codes.values()) == 1, f"{qid}: a sub-criterion is asked twice: {codes}"
    last = q.sections[-1]
    assert all(item.type is QuestionType.TEXTAREA and not item.required
               for item in last.questions), f"{qid}: must end with optional comments"


def test_civil_servant_profile(builtin: dict[str, Questionnaire]) -> None:
    q = builtin["civil-servant-rates-own-agency"]
    profile = q.sections[0]
    assert all(not item.scored for item in profile.questions)
    years = q.question("years_in_service")
    assert years.type is QuestionType.INTEGER
    assert (years.minimum, years.maximum) == (0, 45)
    assert q.question("position").type is QuestionType.SINGLE


# --- citizen (SIPAS) forms -------------------------------------------------------------------

def test_citizen_scored_questions_use_the_sipas_scale(builtin: dict[str, Questionnaire]) -> None:
    for q in citizen_forms(builtin):
        assert q.scored_questions, q.key
        for item in q.scored_questions:
            where = f"{q.key} {item.id}"
            assert item.type is QuestionType.LIKERT, where
            *scale, dont_know = item.options
            assert [(o.code, o.score, o.label.vi) for o in scale] == SIPAS_SCALE, where
            assert not any(o.dont_know for o in scale), where
            assert dont_know.dont_know and dont_know.score is None, where
            assert re.fullmatch(r"S[1-5]\.[1-5]", item.subcriterion or ""), where


def test_sipas_has_the_five_elements(builtin: dict[str, Questionnaire]) -> None:
    q = builtin["citizen-sipas"]
    codes = [item.subcriterion for item in q.scored_questions]
    expected = [f"{e}.{i}" for e, n in SIPAS_ELEMENTS.items() for i in range(1, n + 1)]
    assert codes == expected, "SIPAS items must be S1.1 ... S5.3, in order, each once"
    per_element = Counter(c.split(".")[0] for c in codes)
    assert dict(per_element) == SIPAS_ELEMENTS
    # each element is one grid page holding exactly its own items
    grids = [s for s in q.sections if s.layout is SectionLayout.GRID]
    assert [{item.subcriterion.split(".")[0] for item in s.questions} for s in grids] == [
        {e} for e in SIPAS_ELEMENTS]
    polite = q.question("s3_polite").text.vi
    assert polite == "Công chức có thái độ giao tiếp lịch sự, tôn trọng người dân."


def test_sipas_profile_gives_the_raking_margins(builtin: dict[str, Questionnaire]) -> None:
    q = builtin["citizen-sipas"]
    sex, age = q.question("sex"), q.question("age_band")
    assert sex.required and age.required
    assert [o.label.vi for o in sex.options] == ["Nam", "Nữ", "Khác"]
    assert age.type is QuestionType.SINGLE and len(age.options) == 5
    for qid in ("education", "occupation", "residence"):
        item = q.question(qid)
        assert item.type is QuestionType.SINGLE and not item.scored
    assert len(q.question("education").options) == 6
    assert len(q.question("occupation").options) == 7


def test_sipas_procedure_and_visits(builtin: dict[str, Questionnaire]) -> None:
    q = builtin["citizen-sipas"]
    mode = q.question("submission_mode")
    assert [o.code for o in mode.options] == ["in_person", "online", "postal"]
    visits = q.question("visits")
    assert visits.type is QuestionType.INTEGER
    assert (visits.minimum, visits.maximum) == (1, 20)


def test_sipas_harassment_follow_up_shows_only_after_a_problem(
        builtin: dict[str, Questionnaire]) -> None:
    q = builtin["citizen-sipas"]
    problems = q.question("problems")
    assert problems.type is QuestionType.MULTIPLE
    assert "none" in [o.code for o in problems.options]
    detail = q.question("problems_detail")
    assert detail.type is QuestionType.TEXTAREA and not detail.required
    assert not detail.visible({})
    assert not detail.visible({"problems": ["none"]})
    for o in problems.options:
        if o.code != "none":
            assert detail.visible({"problems": [o.code]}), o.code
    # the follow-up sits on a later page than the question it depends on
    page_of = {item.id: i for i, s in enumerate(q.sections) for item in s.questions}
    assert page_of["problems_detail"] > page_of["problems"]


def test_sipas_expectations(builtin: dict[str, Questionnaire]) -> None:
    q = builtin["citizen-sipas"]
    priorities = q.question("priorities")
    assert priorities.type is QuestionType.MULTIPLE and len(priorities.options) == 10
    assert q.sections[-1].questions[-1].type is QuestionType.TEXTAREA


def test_sipas_short_is_nine_statements_in_one_grid(builtin: dict[str, Questionnaire]) -> None:
    short, full = builtin["citizen-sipas-short"], builtin["citizen-sipas"]
    grids = [s for s in short.sections if s.layout is SectionLayout.GRID]
    assert len(grids) == 1 and len(grids[0].questions) == 9
    assert len(short.scored_questions) == 9
    # same question id means the same sub-criterion in both forms, so one scoring config fits
    for item in short.scored_questions:
        assert full.question(item.id).subcriterion == item.subcriterion, item.id
    assert {item.subcriterion.split(".")[0] for item in short.scored_questions} == set(
        SIPAS_ELEMENTS)


# --- language -------------------------------------------------------------------------------

@pytest.mark.parametrize("qid", sorted(i for _, i in EXPECTED))
def test_vietnamese_text_has_diacritics(builtin: dict[str, Questionnaire], qid: str) -> None:
    """ASCII-only "Vietnamese" (a lost encoding or an unaccented draft) is caught here."""
    q = builtin[qid]
    for where, label in labels(q):
        text = label.vi
        assert text == unicodedata.normalize("NFC", text), f"{qid} {where}: not NFC"
        if len(text.split()) >= 2:
            assert VI_DIACRITICS & set(text.lower()), f"{qid} {where}: no diacritics in {text!r}"
    raw = Path(q.source).read_text(encoding="utf-8")
    assert sum(ch in VI_DIACRITICS for ch in raw.lower()) > 100


@pytest.mark.parametrize("qid", sorted(i for _, i in EXPECTED))
def test_english_translation_present(builtin: dict[str, Questionnaire], qid: str) -> None:
    q = builtin[qid]
    for where, label in labels(q):
        assert label.en, f"{qid} {where}: missing English"
    for s in q.sections:
        for item in s.questions:
            assert item.text.en != item.text.vi, f"{qid} {item.id}: English not translated"
            assert not VI_DIACRITICS & set(item.text.en.lower()), f"{qid} {item.id}: en has vi"
