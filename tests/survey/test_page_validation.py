"""The page POST's validation (``validate_page``, no WTForms instance) reads and judges every
field exactly as the generated WTForms page class does: same data, same messages."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from questionnaires import QuestionType, build_questionnaire
from survey import create_app
from survey.respond.forms import field_name, page_answers, page_form_class, validate_page

SETTINGS = settings(max_examples=300, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])

OPTIONS = [{"code": "A", "score": 1.0, "label": {"vi": "Có", "en": "Yes"}},
           {"code": "B", "score": 0.0, "label": {"vi": "Không", "en": "No"}},
           {"code": "E", "dont_know": True, "label": {"vi": "Không biết", "en": "Don't know"}}]
QUESTIONNAIRE = build_questionnaire({
    "id": "validation-check", "version": 1, "group": "citizen", "languages": ["vi", "en"],
    "title": {"vi": "Kiểm tra", "en": "Check"},
    "rates": {"unit_level": "department", "layout": "matrix"},
    "option_sets": {"yn": OPTIONS},
    "sections": [{"id": "s1", "title": {"vi": "Một", "en": "One"}, "questions": [
        {"id": "one", "type": "single", "options": "yn", "required": True,
         "subcriterion": "1.1", "text": {"vi": "Một?", "en": "One?"}},
        {"id": "scale", "type": "likert", "options": "yn", "subcriterion": "1.2",
         "text": {"vi": "Thang?", "en": "Scale?"}},
        {"id": "many", "type": "multiple", "options": "yn", "text": {"vi": "Nhiều?", "en": "Many?"}},
        {"id": "years", "type": "integer", "min": 0, "max": 60,
         "text": {"vi": "Số năm?", "en": "Years?"},
         "constraint_message": {"vi": "Từ 0 đến 60 năm (100%)", "en": "0 to 60 years (100%)"}},
        {"id": "count", "type": "integer", "text": {"vi": "Số?", "en": "Count?"}},
        {"id": "note", "type": "text", "max_length": 12, "text": {"vi": "Ghi chú?", "en": "Note?"},
         "constraint_message": {"vi": "Ghi chú ngắn", "en": "A short note"}},
        {"id": "long", "type": "textarea", "text": {"vi": "Ý kiến?", "en": "Opinion?"}},
    ]}],
}, "test:inline")
UNITS = 2
NAMES = [field_name(i, q.id) for i in range(UNITS) for q in QUESTIONNAIRE.sections[0].questions]
VALUES = st.one_of(
    st.text(max_size=8),
    st.sampled_from(["A", "B", "E", "Z", "a", "", " ", "  A ", "0", "-1", "60", "61", "7 ",
                     " 12", "1_0", "٣", "1e3", "NaN", "2147483648", "-2147483648", "x" * 13,
                     "y" * 5001, "\x00", "ạ" * 12]),
)
POSTED = st.lists(st.tuples(st.sampled_from(NAMES + ["u5-one", "action"]), VALUES), max_size=20)


def test_the_questionnaire_has_every_question_type():
    """So that every type's WTForms field and fast check are compared below."""
    assert {q.type for q in QUESTIONNAIRE.questions()} == set(QuestionType)


@pytest.fixture(scope="module")
def app():
    return create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://",
                       "WTF_CSRF_ENABLED": False})


@pytest.mark.parametrize("lang", ["vi", "en"])
@SETTINGS
@given(posted=POSTED)
def test_validate_page_agrees_with_the_wtforms_page_class(app, lang, posted):
    formdata = MultiDict(posted)
    with app.test_request_context(f"/?lang={lang}", method="POST", data=formdata):
        form = page_form_class(QUESTIONNAIRE, 0, UNITS)(formdata=formdata)
        form.validate()
        fast = validate_page(QUESTIONNAIRE, 0, UNITS, formdata)
        for name in NAMES:
            expected = form[name]
            got = fast[name]
            assert got.data == expected.data, name
            assert [str(e) for e in got.errors] == [str(e) for e in expected.errors], name
            assert list(got.raw_data or []) == list(expected.raw_data or []), name
        assert (page_answers(fast, QUESTIONNAIRE, 0, UNITS)
                == page_answers(form, QUESTIONNAIRE, 0, UNITS))


def test_messages_are_translated(app):
    formdata = MultiDict([("u0-one", "Z"), ("u0-years", "abc"), ("u1-note", "x" * 13)])
    with app.test_request_context("/?lang=vi", method="POST", data=formdata):
        fields = validate_page(QUESTIONNAIRE, 0, UNITS, formdata)
    assert fields["u0-one"].errors and fields["u0-years"].errors and fields["u1-note"].errors
    assert fields["u0-one"].errors[0] != "Choose one of the options shown."  # Vietnamese
    assert len(fields["u0-years"].errors) == 2  # not a number, and not in 0..60


def test_authored_messages_replace_the_generic_ones_in_both_validators(app):
    formdata = MultiDict([("u0-years", "61"), ("u0-count", "2147483648"), ("u0-note", "x" * 13),
                          ("u0-long", "y" * 5001)])
    for lang, years, note in (("vi", "Từ 0 đến 60 năm (100%)", "Ghi chú ngắn"),
                              ("en", "0 to 60 years (100%)", "A short note")):
        with app.test_request_context(f"/?lang={lang}", method="POST", data=formdata):
            form = page_form_class(QUESTIONNAIRE, 0, UNITS)(formdata=formdata)
            form.validate()
            for fields in (validate_page(QUESTIONNAIRE, 0, UNITS, formdata), form):
                assert [str(e) for e in fields["u0-years"].errors] == [years]
                assert [str(e) for e in fields["u0-note"].errors] == [note]
                assert "2147483647" in str(fields["u0-count"].errors[0])  # none authored
                assert "5000" in str(fields["u0-long"].errors[0])
