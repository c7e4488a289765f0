"""Import and header details of issue 16, item 6: UTF-16 lists, 1 MB cells, the zip-bomb
line in Vietnamese, bilingual success lines, HSTS behind HTTPS."""

from __future__ import annotations

import io
import zipfile

import pytest

from sampling.lists import CleanList, RejectedList, clean_respondent_list
from survey.services.campaigns import create_campaign_from_config
from tests.survey.conftest import LIST, config

HEADER = "external_id\tfull_name\tgroup\tunit\temail\r\n"


@pytest.fixture
def campaign(app, tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(config("MSG-2026", "84"), encoding="utf-8")
    with app.app_context():
        create_campaign_from_config(path)
        from survey.services.campaigns import build_sampling_campaign, find_campaign
        return build_sampling_campaign(find_campaign("MSG-2026"))


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_csv_with_a_bom_is_read(campaign, encoding):
    """Excel's "Unicode Text": UTF-16 with a BOM, tab-separated."""
    text = HEADER + "A\tNguyễn Văn An\tdept_division_leader\tS01\tan@example.vn\r\n"
    data = text.encode(encoding)
    if encoding != "utf-16":  # the plain codec writes its own BOM
        data = ("\ufeff").encode(encoding) + data
    out = clean_respondent_list(data, campaign, filename="ds.txt")
    assert isinstance(out, CleanList), getattr(out, "errors", None)
    assert out.respondents[0].full_name == "Nguyễn Văn An"


def test_a_1mb_cell_is_located_by_row_and_column(campaign):
    data = (LIST.replace("Trần Thị Bích", "B" * (1024 * 1024))).encode()
    out = clean_respondent_list(data, campaign, filename="ds.csv")
    assert isinstance(out, RejectedList)
    assert [(e.code, e.row, e.column) for e in out.errors] == [
        ("LIST-VALUE-TOO-LONG", 3, "full_name")]


def test_the_zip_bomb_refusal_is_vietnamese_in_its_vietnamese_line(campaign, vi):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/worksheets/sheet1.xml", b"<" + b" " * (300 * 1024 * 1024) + b">")
    out = clean_respondent_list(buf.getvalue(), campaign, filename="bom.xlsx")
    assert isinstance(out, RejectedList)
    (error,) = out.errors
    assert error.code == "LIST-FILE-EXPANDS"
    vi = error.render(vi)
    assert "300 MB" in vi and "200 MB" in vi and "giải nén" in vi
    for english in ("workbook", "expands", "limit", "Save", "the "):
        assert english not in vi, english
    assert "expands to 300 MB" in error.render()


def test_import_success_line_in_the_chosen_language(app, campaign, tmp_path):
    lst = tmp_path / "l.csv"
    lst.write_text(LIST, encoding="utf-8")
    r = app.test_cli_runner().invoke(args=["respondents", "import", str(lst),
                                           "--campaign", "MSG-2026"])
    assert r.exit_code == 0, r.output
    assert "l.csv: tạo mới 2, cập nhật 0, không đổi 0; phiếu +2" in r.output
    assert "created" not in r.output  # Vietnamese only, by default
    again = app.test_cli_runner().invoke(args=["respondents", "import", str(lst),
                                               "--campaign", "MSG-2026", "--lang", "en"])
    assert again.exit_code == 0, again.output
    assert "l.csv: created 0, updated 0, unchanged 2; forms +0" in again.output
    assert "tạo mới" not in again.output


def test_hsts_only_behind_https(app):
    assert "Strict-Transport-Security" not in app.test_client().get("/").headers
    app.config["SESSION_COOKIE_SECURE"] = True  # PAR_SURVEY_SECURE_COOKIES=1
    r = app.test_client().get("/manage/login")
    assert r.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
