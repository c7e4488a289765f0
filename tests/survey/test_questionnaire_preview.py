"""/manage/questionnaires/preview: an admin uploads an XLSForm workbook, sees the respondent's
pages (phone and computer width) or the located problems, and publishes a new version."""

from __future__ import annotations

import html
import io
import re

from openpyxl import load_workbook
from sqlalchemy import select

from questionnaires import load_builtin_by_id
from questionnaires.xlsform import questionnaire_to_xlsx, write_template
from survey import db
from survey.models import AuditEvent, QuestionnaireVersion
from tests.conftest import csrf_from
from tests.survey.conftest import login

URL = "/manage/questionnaires/preview"


def template_bytes(**cells: str) -> bytes:
    buf = io.BytesIO()
    write_template(buf)
    wb = load_workbook(io.BytesIO(buf.getvalue()))
    for ref, value in cells.items():
        sheet, cell = ref.split("_")
        wb[sheet][cell] = value
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def upload(client, data: bytes, name: str = "phieu.xlsx"):
    page = client.get(URL).get_data(as_text=True)
    return client.post(URL, data={"csrf_token": csrf_from(page), "file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def frames(page: str) -> list[str]:
    return [html.unescape(m) for m in re.findall(r'<iframe sandbox [^>]*srcdoc="([^"]*)"', page)]


def token_of(page: str) -> str:
    return html.unescape(re.search(r'name="token" value="([^"]+)"', page).group(1))


def test_admin_previews_and_publishes_a_workbook(world):  # noqa: F811
    client = world.test_client()
    login(client, "admin@tvh.gov.vn")
    r = upload(client, template_bytes())
    page = r.get_data(as_text=True)
    assert r.status_code == 200, page[:500]
    phone, desktop = frames(page)
    assert phone == desktop  # one respondent page, shown at two widths
    assert 'width="360"' in page and 'width="1024"' in page
    assert "Ông/bà đánh giá thế nào về chất lượng phục vụ của cơ quan?" in phone
    assert "Rất tốt" in phone and 'type="radio"' in phone
    assert "vi-du-phieu@v1" in page
    with world.app_context():
        assert db.session().scalar(select(QuestionnaireVersion).filter_by(qid="vi-du-phieu")) \
            is None  # a preview stores nothing

    r = client.post("/manage/questionnaires/publish",
                    data={"csrf_token": csrf_from(page), "token": token_of(page)})
    assert r.status_code == 302
    with world.app_context():
        row = db.session().scalar(select(QuestionnaireVersion).filter_by(qid="vi-du-phieu"))
        assert row is not None and row.version == 1
        stored_hash = row.content_hash
        event = db.session().scalar(select(AuditEvent).filter_by(action="questionnaire.publish"))
        assert event is not None and event.object_id == "vi-du-phieu@v1"
        assert event.detail["content_hash"] == stored_hash and event.actor_email

    # the same version again, and other content under the same version: both refused
    r = client.post("/manage/questionnaires/publish",
                    data={"csrf_token": csrf_from(page), "token": token_of(page)})
    assert r.status_code == 422 and "đúng nội dung này" in r.get_data(as_text=True)
    changed = upload(client, template_bytes(survey_C4="Chất lượng phục vụ thế nào?"))
    text = changed.get_data(as_text=True)
    r = client.post("/manage/questionnaires/publish",
                    data={"csrf_token": csrf_from(text), "token": token_of(text)})
    assert r.status_code == 422 and "version = 2" in r.get_data(as_text=True)
    with world.app_context():
        rows = db.session().scalars(select(QuestionnaireVersion).filter_by(qid="vi-du-phieu")).all()
        assert [(x.version, x.content_hash) for x in rows] == [(1, stored_hash)]


def test_problems_are_listed_by_sheet_row_and_column(world):  # noqa: F811
    client = world.test_client()
    login(client, "admin@tvh.gov.vn")
    r = upload(client, template_bytes(survey_A4="geopoint", survey_C5=""))
    page = r.get_data(as_text=True)
    assert r.status_code == 422
    assert not frames(page) and "Publish" not in page
    rows = re.findall(r"<tr><td>(\w*)</td><td>(\d*)</td><td>(\w*)", page)
    assert ("survey", "4", "A") in rows and ("survey", "5", "C") in rows
    assert "Loại câu hỏi không được hỗ trợ" in page  # Vietnamese by default


def test_a_tampered_preview_is_not_published(world):  # noqa: F811
    client = world.test_client()
    login(client, "admin@tvh.gov.vn")
    page = upload(client, template_bytes()).get_data(as_text=True)
    token = token_of(page)
    forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    r = client.post("/manage/questionnaires/publish",
                    data={"csrf_token": csrf_from(page), "token": forged})
    assert r.status_code == 422
    with world.app_context():
        assert db.session().scalar(select(QuestionnaireVersion).filter_by(qid="vi-du-phieu")) \
            is None


def test_other_pages_and_a_matrix_form_are_previewed(world):  # noqa: F811
    client = world.test_client()
    login(client, "admin@tvh.gov.vn")
    hdnd = load_builtin_by_id("hdnd-rates-departments")
    page = upload(client, questionnaire_to_xlsx(hdnd), "hdnd.xlsx").get_data(as_text=True)
    r = client.post(URL, data={"csrf_token": csrf_from(page), "token": token_of(page),
                               "page": "2"})
    assert r.status_code == 200
    phone = frames(r.get_data(as_text=True))[0]
    assert hdnd.sections[1].questions[0].text.vi.split("(")[0].strip()[:40] in phone
    assert "Đơn vị được đánh giá A" in phone and "Đơn vị được đánh giá B" in phone  # a matrix


def test_only_admins_reach_the_preview(world):  # noqa: F811
    for role in ("contractor", "viewer", "focal_point"):
        client = world.test_client()
        login(client, f"{role}@tvh.gov.vn")
        assert client.get(URL).status_code == 403
        assert client.get("/manage/questionnaires/template.xlsx").status_code == 403
