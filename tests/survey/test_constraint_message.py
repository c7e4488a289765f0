"""A question's authored constraint message replaces the engine's range or length message on
the respondent's page, in the respondent's language (on SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from questionnaires import build_questionnaire
from tests.conftest import csrf_from

QUESTIONNAIRE = build_questionnaire({
    "id": "constraint-check", "version": 1, "group": "citizen", "languages": ["vi", "en"],
    "title": {"vi": "Kiểm tra", "en": "Check"},
    "rates": {"unit_level": "department"},
    "sections": [{"id": "p1", "title": {"vi": "Trang một", "en": "Page one"}, "questions": [
        {"id": "years", "type": "integer", "min": 0, "max": 60,
         "text": {"vi": "Số năm công tác?", "en": "Years of service?"},
         "constraint_message": {"vi": "Số năm phải từ 0 đến 60 (100% trung thực)",
                                "en": "Years of service must be 0 to 60"}},
        {"id": "count", "type": "integer", "min": 1, "max": 9,
         "text": {"vi": "Số lần?", "en": "How many times?"}},
        {"id": "note", "type": "text", "max_length": 5,
         "text": {"vi": "Ghi chú?", "en": "Note?"},
         "constraint_message": {"vi": "Ghi chú ngắn thôi", "en": "Keep the note short"}},
    ]}],
}, "test:constraint-message")
POSTED = {"u0-years": "61", "u0-count": "10", "u0-note": "dài quá"}


def post_page(client, data: dict, lang: str):
    html = client.get(f"/f/p/1?lang={lang}").get_data(as_text=True)
    return client.post("/f/p/1", data={**data, "csrf_token": csrf_from(html), "action": "next"})


@pytest.mark.parametrize(("lang", "authored", "length", "generic"), [
    ("vi", "Số năm phải từ 0 đến 60 (100% trung thực)", "Ghi chú ngắn thôi",
     "Vui lòng nhập số nguyên từ 1 đến 9."),
    ("en", "Years of service must be 0 to 60", "Keep the note short",
     "Enter a whole number from 1 to 9."),
], ids=["vi", "en"])
def test_out_of_range_answers_show_the_authored_message(client, make_form, lang, authored,
                                                        length, generic):
    _, token = make_form(QUESTIONNAIRE)
    client.get(f"/s/{token}")
    r = post_page(client, POSTED, lang)
    assert r.status_code == 422
    body = r.get_data(as_text=True)
    assert authored in body and length in body
    assert generic in body  # the question without a message keeps the engine's own
    assert "0 đến 60" not in body.replace(authored, "") and "0 to 60." not in body
    r = post_page(client, {"u0-years": "60", "u0-count": "9", "u0-note": "ngắn"}, lang)
    assert r.status_code in (200, 302) and authored not in r.get_data(as_text=True)


def test_english_reader_sees_the_vietnamese_message_when_none_is_authored_in_english(
        client, make_form):
    document = {**QUESTIONNAIRE.document, "languages": ["vi"], "version": 2}
    document["sections"] = [{**document["sections"][0], "questions": [
        {**document["sections"][0]["questions"][0],
         "constraint_message": {"vi": "Chỉ có tiếng Việt"}}]}]
    _, token = make_form(build_questionnaire(document, "test:vi-only"))
    client.get(f"/s/{token}")
    r = post_page(client, {"u0-years": "-1"}, "en")
    assert r.status_code == 422
    assert "Chỉ có tiếng Việt" in r.get_data(as_text=True)
