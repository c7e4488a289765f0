"""Formula injection (issue 16, item 4): every CSV and XLSX writer escapes formula-like text.

The writers are FOUND by reading the code (calls of ``csv.writer``/``csv.DictWriter`` and of
openpyxl's ``Workbook``), not listed by hand: each found writer must have a driver here that
feeds it a hostile value in every text column and reads back what it wrote. A writer added
without a driver fails :func:`test_every_writer_found_in_the_code_is_driven`.
"""

from __future__ import annotations

import ast
import csv
import inspect
import io
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from questionnaires.spreadsheet import FORMULA_TRIGGERS, safe_cell

ROOT = Path(__file__).resolve().parents[1]
#: The packages that write files people open; bench/ writes synthetic benchmark inputs only.
PACKAGES = ("survey", "sampling", "analysis", "questionnaires")

HOSTILE = ("=HYPERLINK(\"http://evil.example\",\"x\")", "+SUM(1,2)", "-2+3+cmd|' /C calc'!A0",
           "@SUM(1)", "\t=1+1", "\r=1+1")


def _is_writer_call(node: ast.Call) -> bool:
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    if name == "Workbook":
        return True
    return (isinstance(func, ast.Attribute) and name in ("writer", "DictWriter")
            and isinstance(func.value, ast.Name) and func.value.id == "csv")


def find_writers() -> set[tuple[str, str]]:
    """(file, enclosing function) of every CSV/XLSX writer in the product's packages."""
    found: set[tuple[str, str]] = set()
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            rel = path.relative_to(ROOT).as_posix()

            def visit(node: ast.AST, function: str, rel: str = rel) -> None:
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    function = node.name
                if isinstance(node, ast.Call) and _is_writer_call(node):
                    found.add((rel, function))
                for child in ast.iter_child_nodes(node):
                    visit(child, function)

            visit(tree, "<module>")
    return found


def _csv_cells(data: str | bytes) -> list[str]:
    text = data.decode("utf-8-sig") if isinstance(data, bytes) else data.lstrip("\ufeff")
    return [cell for row in csv.reader(io.StringIO(text, newline="")) for cell in row]


def _xlsx_cells(data: bytes) -> list[str]:
    from openpyxl import load_workbook

    cells = []
    for ws in load_workbook(io.BytesIO(data)).worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.data_type == "f":  # a formula cell: report it as the formula it is
                    cells.append(str(cell.value))
                elif isinstance(cell.value, str):
                    cells.append(cell.value)
    return cells


# -- drivers: each writes with hostile text in every text column and returns the cells -----

def drive_csv_bytes(**_: Any) -> list[str]:
    from analysis.exports import Column, ColumnKind, Table, csv_bytes

    table = Table("t", tuple(Column(h, ColumnKind.TEXT) for h in HOSTILE)
                  + (Column("n", ColumnKind.NUMBER),), (tuple(HOSTILE) + (-1.5,),))
    return _csv_cells(csv_bytes(table))


def drive_write_xlsx(**_: Any) -> list[str]:
    from analysis.exports import Column, ColumnKind, Report, Table, write_xlsx

    table = Table("t", tuple(Column(h, ColumnKind.TEXT) for h in HOSTILE)
                  + (Column("n", ColumnKind.NUMBER),), (tuple(HOSTILE) + (-1.5,),))
    buf = io.BytesIO()
    write_xlsx(Report((table,)), buf)
    return _xlsx_cells(buf.getvalue())


def hostile_campaign_yaml(code: str = "HOSTILE-2026") -> str:
    """A valid campaign whose every free-text field (names) is a formula."""
    q = [f'"{x}"' for x in (v.replace('"', '\\"').replace("\t", "\\t").replace("\r", "\\r")
                             for v in HOSTILE)]
    return textwrap.dedent(f"""\
        version: 1
        code: {code}
        name: {{vi: {q[0]}, en: {q[1]}}}
        province: "84"
        year: 2026
        opens_at: 2020-01-01
        closes_at: 2099-12-31
        levels:
          - {{code: province, name: {{vi: {q[2]}, en: {q[3]}}}}}
          - {{code: department, name: {{vi: {q[4]}, en: {q[5]}}}, parent: province}}
        units:
          - {{code: "84", level: province, name: {{vi: {q[0]}, en: {q[1]}}}}}
          - {{code: S01, level: department, parent: "84", name: {{vi: {q[0]}, en: {q[2]}}}}}
          - {{code: S02, level: department, parent: "84", name: {{vi: {q[3]}, en: {q[4]}}}}}
        groups:
          - code: dept_division_leader
            name: {{vi: {q[5]}, en: {q[3]}}}
            kind: department_division_leader
            unit_level: department
            questionnaires: [dept-division-rates-own-department]
        quotas:
          - {{group: dept_division_leader, questionnaire: dept-division-rates-own-department,
             count: 2, per: department}}
        """)


def drive_write_list_template(**_: Any) -> list[str]:
    from sampling import write_list_template
    from sampling.config import parse_campaign

    buf = io.BytesIO()
    write_list_template(buf, parse_campaign(hostile_campaign_yaml()))
    return _xlsx_cells(buf.getvalue())


def drive_demo_list_csv(monkeypatch: pytest.MonkeyPatch, **_: Any) -> list[str]:
    from survey.services import demo

    # the list is the default argument (bound when demo.py loads), so it is passed in
    return _csv_cells(demo.demo_list_csv([(h, h, h + " Văn An") for h in HOSTILE]))


def drive_quotas(monkeypatch: pytest.MonkeyPatch, app: Any, **_: Any) -> list[str]:
    from survey.cli import campaign_cmd

    monkeypatch.setattr(campaign_cmd, "campaign_or_exit",
                        lambda code, provinces=None: SimpleNamespace(id=1))
    monkeypatch.setattr(campaign_cmd, "quota_state", lambda cid: SimpleNamespace(cells=[]))
    width = len(campaign_cmd.QUOTA_COLUMNS)
    monkeypatch.setattr(campaign_cmd, "quota_rows", lambda cells: [
        [HOSTILE[(i + k) % len(HOSTILE)] for i in range(width)] for k in range(len(HOSTILE))])
    result = app.test_cli_runner().invoke(args=["quotas", "--campaign", "X", "--format", "csv"])
    assert result.exit_code == 0, result.output
    return _csv_cells(result.output)


def drive_qr(app: Any, tmp_path: Path, **_: Any) -> list[str]:
    """End to end: a campaign file with formula names, a list whose names are formulas."""
    from survey.services.campaigns import create_campaign_from_config
    from survey.services.respondents import import_respondents

    with app.app_context():
        path = tmp_path / "c.yaml"
        path.write_text(hostile_campaign_yaml(), encoding="utf-8")
        create_campaign_from_config(path)
        names = ("+SUM(1,2)", "-2+3+cmd|' /C calc'!A0", "@SUM(1)")  # the import refuses "=..."
        rows = "".join(f'P{i},"{n}",dept_division_leader,S0{1 + i % 2},p{i}@x.vn\n'
                       for i, n in enumerate(names))
        lst = tmp_path / "l.csv"
        lst.write_text("external_id,full_name,group,unit,email\n" + rows, encoding="utf-8")
        import_respondents("HOSTILE-2026", lst)
    out = tmp_path / "qr"
    result = app.test_cli_runner().invoke(args=["qr", "--campaign", "HOSTILE-2026",
                                                "--format", "svg", "--out", str(out)])
    assert result.exit_code == 0, result.output
    cells = _csv_cells((out / "index.csv").read_bytes())
    assert "'+SUM(1,2)" in cells  # a respondent's name, as written by the list
    return cells


def drive_public_posters(monkeypatch: pytest.MonkeyPatch, app: Any, tmp_path: Path,
                         **_: Any) -> list[str]:
    from survey.cli import qr_cmd

    codes = [h.replace("/", "") for h in HOSTILE]  # codes go into file names too
    links = [SimpleNamespace(id=i, rated_unit=SimpleNamespace(code=c),
                             group=SimpleNamespace(code=c)) for i, c in enumerate(codes)]
    items = [SimpleNamespace(url=h) for h in HOSTILE]
    monkeypatch.setattr(qr_cmd, "campaign_or_exit",
                        lambda code, provinces=None: SimpleNamespace(code=code))
    monkeypatch.setattr(qr_cmd, "public_posters", lambda *a, **k: (links, items))
    monkeypatch.setattr(qr_cmd, "svg_many", lambda matrices: [b"<svg/>"] * len(HOSTILE))
    out = tmp_path / "posters"
    result = app.test_cli_runner().invoke(args=["qr", "--campaign", "X", "--public",
                                                "--format", "svg", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return _csv_cells((out / "index.csv").read_bytes())


def drive_write_workbook(**_: Any) -> list[str]:
    from questionnaires.xlsform import write_workbook

    buf = io.BytesIO()
    write_workbook({"survey": [list(HOSTILE), list(HOSTILE) + [3, -1.5]],
                    "choices": [list(HOSTILE), list(reversed(HOSTILE))]}, buf)
    cells = _xlsx_cells(buf.getvalue())
    from openpyxl import load_workbook

    row = [c.value for c in load_workbook(buf).worksheets[0][2]]
    assert row[-2:] == [3, -1.5]  # numbers stay numbers
    return cells


def drive_template_csv(**_: Any) -> list[str]:
    from sampling.crosswalk import template_csv

    return _csv_cells(template_csv([list(HOSTILE) for _ in range(2)]))


def drive_build_units_write(tmp_path: Path, **_: Any) -> list[str]:
    """Cells reach ``write`` only through ``clean`` (``build`` reads every source cell with it),
    which collapses whitespace, so no cell carries the CR that its LF line ends would not quote
    (LF stays: the committed table is byte-identical to a rebuild)."""
    from sampling.data import build_units_2025

    hostile = [build_units_2025.clean(h) for h in HOSTILE]
    build_units_2025.write({"t.csv": [hostile, hostile[::-1]]}, tmp_path)
    return _csv_cells((tmp_path / "t.csv").read_bytes())


def drive_demo_data_list_csv(**_: Any) -> list[str]:
    from survey.services.demo_data import _list_csv, _Person

    return _csv_cells(_list_csv([_Person(h, h, h, h, (h,)) for h in HOSTILE]))


def _response_rows() -> tuple[list[str], list[dict[str, Any]]]:
    """Rows as :mod:`survey.services.response_rows` yields them, every text cell hostile."""
    columns = ["response", "weight", *(f"c{i}" for i in range(len(HOSTILE)))]
    rows = [{"response": k, "weight": -1.5,
             **{f"c{i}": HOSTILE[(i + k) % len(HOSTILE)] for i in range(len(HOSTILE))}}
            for k in range(len(HOSTILE))]
    return columns, rows


def drive_api_responses(monkeypatch: pytest.MonkeyPatch, app: Any, **_: Any) -> list[str]:
    """The API's CSV stream of /responses (its view, behind the token check)."""
    from survey.api import resources

    columns, rows = _response_rows()
    monkeypatch.setattr(resources, "api_campaign", lambda code: SimpleNamespace(id=1))
    monkeypatch.setattr(resources, "response_columns", lambda cid: columns)
    monkeypatch.setattr(resources, "iter_response_rows", lambda *a, **k: iter(rows))
    monkeypatch.setattr(resources, "next_page_after", lambda *a, **k: None)
    with app.test_request_context("/?format=csv"):
        text = resources.list_responses.__wrapped__("X").get_data(as_text=True)
    assert ",-1.5," in text  # numbers stay numbers
    return _csv_cells(text)


def drive_responses_stream(monkeypatch: pytest.MonkeyPatch, app: Any, **_: Any) -> list[str]:
    from survey.cli import api_cmd

    columns, rows = _response_rows()
    monkeypatch.setattr(api_cmd, "campaign_or_exit",
                        lambda code, provinces=None: SimpleNamespace(id=1))
    monkeypatch.setattr(api_cmd, "response_columns", lambda cid: columns)
    monkeypatch.setattr(api_cmd, "iter_response_rows", lambda *a, **k: iter(rows))
    result = app.test_cli_runner().invoke(args=["responses", "stream", "--campaign", "X",
                                                "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert ",-1.5," in result.output
    return _csv_cells(result.output)


def drive_units_map(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **_: Any) -> list[str]:
    from click.testing import CliRunner

    from sampling.crosswalk import NewRef, UnitMapping
    from survey.cli import units_cmd

    rows = [UnitMapping(h, h, h, h, SimpleNamespace(value=h), (NewRef(h, h, None),), h, True,
                        "", h) for h in HOSTILE]
    monkeypatch.setattr(units_cmd, "_campaign", lambda path: SimpleNamespace(
        units=[], province="84", code="X"))
    monkeypatch.setattr(units_cmd, "load_unit_table", lambda: None)
    monkeypatch.setattr(units_cmd, "map_units", lambda *a, **k: rows)
    config = tmp_path / "c.yaml"
    config.write_text("", encoding="utf-8")
    out = tmp_path / "map.csv"
    result = CliRunner().invoke(units_cmd.units_group, ["map", "--config", str(config),
                                                        "--format", "csv", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return _csv_cells(out.read_bytes())


def drive_export_responses(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                           **_: Any) -> list[str]:
    """csv and xlsx (sav and dta are not spreadsheets), from hostile design rows and items."""
    from survey.services import microdata
    from survey.services.microdata import DESIGN_COLUMNS, ItemColumn

    items = tuple(ItemColumn(f"q{i}", h, h, (h, "2"), (h, h), (1.0, 0.0), ())
                  for i, h in enumerate(HOSTILE))
    numbers = {"response": 7, "psu": 7, "weight": -1.5, "fpc": 12.0}
    rows = [{**{n: numbers.get(n, HOSTILE[(i + k) % len(HOSTILE)])
                for i, n in enumerate(DESIGN_COLUMNS)},
             **{c.name: c.codes[0] for c in items}} for k in range(len(HOSTILE))]
    monkeypatch.setattr(microdata, "load_microdata", lambda *a, **k: SimpleNamespace(items=items))
    monkeypatch.setattr(microdata, "iter_microdata_rows", lambda *a, **k: iter(rows))
    csv_path = microdata.export_responses(1, "csv", tmp_path / "r.csv")
    xlsx_path = microdata.export_responses(1, "xlsx", tmp_path / "r.xlsx")
    assert ",-1.5," in csv_path.read_text(encoding="utf-8-sig")
    from openpyxl import load_workbook

    first = [c.value for c in load_workbook(xlsx_path).worksheets[0][2]]
    assert first[:5:2] == [7, 7, 12] and first[3] == -1.5  # numbers stay numbers
    return _csv_cells(csv_path.read_bytes()) + _xlsx_cells(xlsx_path.read_bytes())


DRIVERS: dict[tuple[str, str], Callable[..., list[str]]] = {
    ("analysis/exports.py", "csv_bytes"): drive_csv_bytes,
    ("analysis/exports.py", "write_xlsx"): drive_write_xlsx,
    ("sampling/lists.py", "write_list_template"): drive_write_list_template,
    ("survey/services/demo.py", "demo_list_csv"): drive_demo_list_csv,
    ("survey/cli/campaign_cmd.py", "quotas"): drive_quotas,
    ("survey/cli/qr_cmd.py", "qr"): drive_qr,
    ("survey/cli/qr_cmd.py", "_public_posters"): drive_public_posters,
    ("questionnaires/xlsform.py", "write_workbook"): drive_write_workbook,
    ("sampling/crosswalk.py", "template_csv"): drive_template_csv,
    ("sampling/data/build_units_2025.py", "write"): drive_build_units_write,
    ("survey/services/demo_data.py", "_list_csv"): drive_demo_data_list_csv,
    ("survey/api/resources.py", "generate"): drive_api_responses,
    ("survey/cli/api_cmd.py", "responses_export"): drive_responses_stream,
    ("survey/cli/units_cmd.py", "map_"): drive_units_map,
    ("survey/services/microdata.py", "export_responses"): drive_export_responses,
}


def test_every_writer_found_in_the_code_is_driven() -> None:
    found = find_writers()
    assert len(found) >= 15
    assert found - set(DRIVERS) == set(), "a CSV/XLSX writer without a driver in this test"
    assert set(DRIVERS) - found == set(), "a driver whose writer is gone"


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _unsafe(cells: list[str]) -> Iterator[str]:
    """Cells a spreadsheet would run: formula-like text (a written number such as -1.5 is not)."""
    return (c for c in cells if c.startswith(FORMULA_TRIGGERS) and not _is_number(c))


def _check(cells: list[str], writer: tuple[str, str]) -> None:
    assert list(_unsafe(cells)) == [], writer
    # the hostile values did reach the file, escaped rather than dropped
    assert any(c.startswith("'") and c[1:].startswith(FORMULA_TRIGGERS) for c in cells)


WITH_APP = sorted(w for w in DRIVERS if "app" in inspect.signature(DRIVERS[w]).parameters)
PURE = sorted(set(DRIVERS) - set(WITH_APP))


@pytest.mark.parametrize("writer", PURE, ids=lambda w: f"{w[0]}:{w[1]}")
def test_writer_escapes_formula_text(writer: tuple[str, str], monkeypatch: pytest.MonkeyPatch,
                                     tmp_path: Path) -> None:
    _check(DRIVERS[writer](monkeypatch=monkeypatch, tmp_path=tmp_path), writer)


@pytest.mark.parametrize("writer", WITH_APP, ids=lambda w: f"{w[0]}:{w[1]}")
def test_command_writer_escapes_formula_text(writer: tuple[str, str], app: Any,
                                             monkeypatch: pytest.MonkeyPatch,
                                             tmp_path: Path) -> None:
    _check(DRIVERS[writer](monkeypatch=monkeypatch, tmp_path=tmp_path, app=app), writer)


def test_safe_cell() -> None:
    assert [safe_cell(h) for h in HOSTILE] == ["'" + h for h in HOSTILE]
    assert [safe_cell(v) for v in ("Sở Nội vụ", "", None, -3, 2.5, "0912")] == [
        "Sở Nội vụ", "", None, -3, 2.5, "0912"]
