"""XLSForm workbooks through the command line, and hostile workbooks refused as list uploads are."""

from __future__ import annotations

import io
import time
import tracemalloc
from pathlib import Path

import pytest
import yaml
from openpyxl import Workbook, load_workbook

from questionnaires import load_builtin, load_questionnaire
from questionnaires.xlsform import XLSFormInvalid
from survey.services.questionnaires import read_xlsform
from tests.survey.test_hostile_input import _xlsx_with


def test_import_writes_yaml_with_the_same_hash_and_check_shows_it(app, tmp_path: Path) -> None:
    runner = app.test_cli_runner()
    for q in load_builtin():
        book = tmp_path / f"{q.id}.xlsx"
        result = runner.invoke(args=["questionnaires", "export", q.id, "--version",
                                     str(q.version), "--format", "xlsx", "--out", str(book)])
        assert result.exit_code == 0, result.output
        result = runner.invoke(args=["questionnaires", "import", str(book), "--out",
                                     str(tmp_path / "defs")])
        assert result.exit_code == 0, result.output
        written = tmp_path / "defs" / q.group / f"{q.id}.v{q.version}.yaml"
        assert load_questionnaire(written).content_hash == q.content_hash
    result = runner.invoke(args=["questionnaires", "check", str(tmp_path / "defs"),
                                 str(tmp_path / "citizen-sipas.xlsx")])
    assert result.exit_code == 0, result.output
    sipas = next(q for q in load_builtin() if q.id == "citizen-sipas")
    lines = [x for x in result.output.splitlines() if x.startswith("citizen-sipas@v1 ")]
    assert len(lines) == 2  # the YAML and the workbook: the same form, the same hash
    assert all(sipas.content_hash[:12] in x for x in lines)


def test_import_of_a_bad_workbook_writes_nothing_and_locates_the_problem(app, tmp_path) -> None:
    book = tmp_path / "bad.xlsx"
    app.test_cli_runner().invoke(args=["questionnaires", "template", "--out", str(book)])
    wb = load_workbook(book)
    wb["survey"]["A4"] = "geopoint"
    wb.save(book)
    result = app.test_cli_runner().invoke(args=["questionnaires", "import", str(book), "--out",
                                                str(tmp_path / "out")])
    assert result.exit_code == 1
    assert "survey!A4 (type): [XLS-TYPE]" in result.output
    assert "Loại câu hỏi không được hỗ trợ" in result.output
    assert not (tmp_path / "out").exists()


def test_export_of_an_unknown_version_fails(app, tmp_path) -> None:
    result = app.test_cli_runner().invoke(args=["questionnaires", "export", "citizen-sipas",
                                                "--version", "99", "--out",
                                                str(tmp_path / "x.xlsx")])
    assert result.exit_code == 1
    assert not (tmp_path / "x.xlsx").exists()


def test_export_yaml_is_the_same_document(app, tmp_path) -> None:
    out = tmp_path / "c.yaml"
    result = app.test_cli_runner().invoke(args=["questionnaires", "export", "citizen-sipas",
                                                "--version", "1", "--format", "yaml",
                                                "--out", str(out)])
    assert result.exit_code == 0, result.output
    sipas = next(q for q in load_builtin() if q.id == "citizen-sipas")
    assert yaml.safe_load(out.read_text(encoding="utf-8")) == sipas.document


# --- hostile workbooks ---------------------------------------------------------------------

ENTITIES = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
            + b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1
                                                       else b"&lol;") * 10) for i in range(1, 10))
            + b"]>")
#: a billion laughs in the shared strings, and in the worksheet itself
LAUGHS = (ENTITIES + b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
          b"<si><t>&lol9;</t></si></sst>")
SHEET_LAUGHS = (ENTITIES + b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
                b'2006/main"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&lol9;</t>'
                b"</is></c></row></sheetData></worksheet>")


def _huge_sheet() -> bytes:
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("survey")
    ws.append(["type", "name", "label"])
    for i in range(6_000):
        ws.append(["text", f"q{i}", "Câu hỏi"])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


@pytest.mark.parametrize("kind", ["zip-bomb", "xml-bomb", "sheet-xml-bomb", "huge-sheet",
                                  "oversized", "not-xlsx", "broken-zip"])
def test_hostile_workbooks_are_refused_quickly_and_cleanly(kind: str, vi) -> None:
    payload = {
        "zip-bomb": lambda: _xlsx_with("xl/worksheets/sheet1.xml",
                                       b"<" + b" " * (400 * 1024 * 1024) + b">"),
        "xml-bomb": lambda: _xlsx_with("xl/sharedStrings.xml", LAUGHS),
        "sheet-xml-bomb": lambda: _xlsx_with("xl/worksheets/sheet1.xml", SHEET_LAUGHS),
        "huge-sheet": _huge_sheet,
        "oversized": lambda: b"PK\x03\x04" + b"\x00" * (6 * 1024 * 1024),
        "not-xlsx": lambda: b"type,name,label\ntext,a,b\n",
        "broken-zip": lambda: b"PK\x03\x04" + b"\x00" * 100,
    }[kind]()
    tracemalloc.start()
    started = time.monotonic()
    with pytest.raises(XLSFormInvalid) as info:
        read_xlsform(payload, f"{kind}.xlsx")
    elapsed = time.monotonic() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert elapsed < 10, elapsed
    assert peak < 100 * 1024 * 1024, peak
    codes = [p.code for p in info.value.problems]
    if kind == "xml-bomb":
        # openpyxl never reads the (unused) shared strings: the entities stay unexpanded and
        # the workbook, which has no XLSForm sheets, is refused for that
        assert set(codes) == {"XLS-SHEET"}
    else:
        assert codes == ["XLS-FILE"]
        assert "Không đọc được tệp Excel" in info.value.problems[0].message(vi)
