"""Result exports: formula injection defused everywhere, stable CSV, typed XLSX, labelled microdata."""

from __future__ import annotations

import json

import numpy as np
import pytest
from openpyxl import load_workbook

from analysis.exports import (
    Column,
    ColumnKind,
    Microdata,
    Report,
    Table,
    Variable,
    csv_bytes,
    format_number,
    json_bytes,
    safe_cell,
    write_dta,
    write_sav,
    write_xlsx,
)

TRIGGERS = ["=1+1", "+84 912", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd", "=HYPERLINK(\"http://x\")"]

COLUMNS = (Column("unit", ColumnKind.TEXT), Column("name", ColumnKind.TEXT),
           Column("n", ColumnKind.INTEGER), Column("score", ColumnKind.NUMBER))


def _table() -> Table:
    rows = [("S01", "Sở Nội vụ", 2, 0.6), ("S02", None, 0, float("nan")),
            ("S03", "a,b \"quoted\"", 3, 1 / 3), ("S04", "neg", 1, -0.0)]
    rows += [(f"X{i}", text, i, 0.1 * i) for i, text in enumerate(TRIGGERS)]
    return Table("scores", COLUMNS, tuple(rows))


@pytest.mark.parametrize("text", TRIGGERS)
def test_safe_cell_prefixes_formula_triggers(text):
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize("value", ["Sở Nội vụ", "", "1.5", "a=b", 3, 0.5, None, -1.0])
def test_safe_cell_leaves_safe_values_alone(value):
    assert safe_cell(value) == value


def test_format_number_is_stable_and_short():
    assert [format_number(x) for x in (0.6, 0.1 + 0.2, 1 / 3, 2, -0.0, float("nan"), None)] == [
        "0.6", "0.3", "0.333333333333", "2", "0", "", ""]


def test_csv_is_excel_utf8_with_crlf_and_byte_identical():
    first, second = csv_bytes(_table()), csv_bytes(_table())
    assert first == second
    assert first.startswith(b"\xef\xbb\xbfunit,name,n,score\r\n")
    text = first.decode("utf-8-sig")
    lines = text.split("\r\n")
    assert lines[1] == "S01,Sở Nội vụ,2,0.6"
    assert lines[2] == "S02,,0,"  # None and NaN are empty cells
    assert lines[3] == 'S03,"a,b ""quoted""",3,0.333333333333'
    assert lines[4] == "S04,neg,1,0"
    assert "\n" not in text.replace("\r\n", "")  # the CR trigger was quoted, not a bare line break
    for line, trigger in zip(lines[5:], TRIGGERS, strict=False):
        cell = line.split(",", 2)[1].strip('"')
        assert cell.startswith("'"), (trigger, line)


def test_xlsx_has_typed_numbers_and_no_formula(tmp_path):
    path = tmp_path / "out.xlsx"
    methods = Table("methods", (Column("key"), Column("value")), (("=cmd", "-1"), ("ci", "normal 0.95")))
    write_xlsx(Report((_table(), methods)), path)
    wb = load_workbook(path)
    assert wb.sheetnames == ["scores", "methods"]
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (ws.title, cell.coordinate, cell.value)
    ws = wb["scores"]
    assert [c.value for c in ws[1]] == ["unit", "name", "n", "score"]
    assert ws["C2"].value == 2 and ws["C2"].data_type == "n"
    assert ws["D2"].value == pytest.approx(0.6) and ws["D2"].data_type == "n"
    assert ws["D3"].value is None  # NaN: empty, never the text "nan"
    assert ws["B6"].value == "'=1+1"
    assert wb["methods"]["A2"].value == "'=cmd"
    assert wb["methods"]["B2"].value == "'-1"


def test_json_escapes_text_and_nulls_nan():
    doc = json.loads(json_bytes(Report((_table(),))))
    rows = doc["scores"]
    assert rows[0] == {"unit": "S01", "name": "Sở Nội vụ", "n": 2, "score": 0.6}
    assert rows[1]["score"] is None
    assert rows[4]["name"] == "'=1+1"
    assert json_bytes(Report((_table(),))) == json_bytes(Report((_table(),)))


def test_table_rejects_ragged_rows():
    with pytest.raises(ValueError, match="row 0"):
        Table("t", COLUMNS, (("S01",),))


def _micro() -> Microdata:
    return Microdata((
        Variable("unit", np.array(["S01", "=S02", "S01"], dtype=object), "rated unit"),
        Variable("lead_plan", np.array([1.0, np.nan, 3.0]), "lead_plan: kế hoạch",
                 {1: "Hoàn toàn đồng ý", 2: "Đồng ý", 3: "Đồng ý một phần", 4: "=Không"}),
    ), "PAR test")


def test_sav_round_trip_with_labels(tmp_path):
    pyreadstat = pytest.importorskip("pyreadstat")
    path = tmp_path / "m.sav"
    write_sav(_micro(), path)
    df, meta = pyreadstat.read_sav(str(path))
    assert list(df["unit"]) == ["S01", "'=S02", "S01"]
    assert df["lead_plan"].tolist()[0] == 1.0 and np.isnan(df["lead_plan"].tolist()[1])
    assert meta.column_names_to_labels["lead_plan"] == "lead_plan: kế hoạch"
    labels = meta.variable_value_labels["lead_plan"]
    assert labels[1.0] == "Hoàn toàn đồng ý" and labels[4.0] == "'=Không"


def test_dta_round_trip_with_labels(tmp_path):
    pyreadstat = pytest.importorskip("pyreadstat")
    path = tmp_path / "m.dta"
    write_dta(_micro(), path)
    df, meta = pyreadstat.read_dta(str(path))
    assert list(df["unit"]) == ["S01", "'=S02", "S01"]
    assert meta.column_names_to_labels["unit"] == "rated unit"
    assert meta.variable_value_labels["lead_plan"][3] == "Đồng ý một phần"


def test_dta_refuses_long_names(tmp_path):
    micro = Microdata((Variable("x" * 33, np.array([1.0])),))
    with pytest.raises(ValueError, match="32 characters"):
        write_dta(micro, tmp_path / "m.dta")


def test_json_written_column_by_column_is_what_the_encoder_writes_per_row():
    # The column-wise writer must give the bytes of json.dumps on each row object.
    from analysis.exports import _json_column

    kinds = (ColumnKind.TEXT, ColumnKind.INTEGER, ColumnKind.NUMBER, ColumnKind.NUMBER, ColumnKind.TEXT)
    rows = (("a\"b", 1, 1.5, 2, 1), ("=x", None, float("nan"), np.int64(3), True),
            ("Sở \n", np.int64(2), np.float64(1 / 3), True, None), (None, 5, -0.0, 2.5, "x"),
            ("x", 7, 1e300, float("inf"), "x"))
    table = Table("t", tuple(Column(f"c{i}", k) for i, k in enumerate(kinds)), rows)
    encode = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(", ", ": ")).encode
    columns = [_json_column([r[i] for r in rows], c.kind) for i, c in enumerate(table.columns)]
    lines = [encode(dict(zip([c.name for c in table.columns], cells, strict=True)))
             for cells in zip(*columns, strict=True)]
    expected = '{\n"t": [\n' + ",\n".join(lines) + "\n]\n}\n"
    assert json_bytes(Report((table,))) == expected.encode("utf-8")


def test_json_columns_of_plain_numbers_read_back_as_the_encoder_writes_them():
    """Columns of plain ints and floats are written in one call each (orjson): every value
    reads back as the standard encoder's (same number, same int/float type, null for NaN,
    the infinities and None), whatever the number's size."""
    from analysis.exports import _json_column

    kinds = (ColumnKind.INTEGER, ColumnKind.NUMBER, ColumnKind.NUMBER)
    rows = ((1, 1e-05, 60), (None, 2.5e-07, 0.1), (2**70, float("nan"), 1e16), (-3, float("inf"), None),
            (0, -0.0, 5e-324), (7, 0.30000000000000004, 123456789.123))
    table = Table("t", tuple(Column(f"c{i}", k) for i, k in enumerate(kinds)), rows)
    names = [c.name for c in table.columns]
    columns = [_json_column([r[i] for r in rows], c.kind) for i, c in enumerate(table.columns)]
    expected = [dict(zip(names, cells, strict=True)) for cells in zip(*columns, strict=True)]
    got = json.loads(json_bytes(Report((table,))))["t"]
    assert got == expected
    assert [[type(v) for v in r.values()] for r in got] == [[type(v) for v in r.values()] for r in expected]
    assert got[2] == {"c0": 2**70, "c1": None, "c2": 1e16} and type(got[0]["c2"]) is int
