"""Writers for result tables (CSV, XLSX, JSON) and microdata (SPSS ``.sav``, Stata ``.dta``).

The writers know nothing about scoring: they take :class:`Table` / :class:`Report` /
:class:`Microdata` values built by the caller, so every export of the same numbers is the same.

Two rules hold for every writer:

* Formula injection: every text cell goes through :func:`safe_cell`, which prefixes a single
  quote to text starting with ``= + - @``, tab or carriage return (OWASP "CSV injection"), so
  a spreadsheet never evaluates a unit name or label as a formula.
* Determinism: rows are written in the order given (callers sort them), numbers are
  formatted with :func:`format_number` (12 significant digits, NaN as an empty cell), and
  nothing time-dependent is written, so the same input gives byte-identical CSV and JSON.

``pyreadstat`` (and ``pandas``, which it writes from) are imported only by the microdata
writers, so the rest works without them.
"""

from __future__ import annotations

import csv
import enum
import io
import json
import math
import re
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, overload

import numpy as np
import orjson
from numpy.typing import NDArray

from questionnaires.spreadsheet import safe_cell  # the one escaping function

__all__ = [
    "Column",
    "ColumnKind",
    "Columns",
    "Microdata",
    "Report",
    "Table",
    "Variable",
    "csv_bytes",
    "format_number",
    "json_bytes",
    "safe_cell",
    "write_csv",
    "write_dta",
    "write_json",
    "write_sav",
    "write_xlsx",
]

class ColumnKind(enum.Enum):
    TEXT = "text"
    INTEGER = "integer"
    NUMBER = "number"


@dataclass(frozen=True)
class Column:
    """A column of a result table: machine name, human label (shown in XLSX headers' notes)."""

    name: str
    kind: ColumnKind = ColumnKind.TEXT
    label: str = ""


class Columns(Sequence[tuple[Any, ...]]):
    """A table's rows held as its columns (equal-length sequences of cells), for large tables:
    a row tuple is made only when read (XLSX, CSV, pages); the JSON writer takes the columns
    as they are."""

    __slots__ = ("columns",)

    def __init__(self, columns: Sequence[Sequence[Any]]):
        self.columns = tuple(columns)
        if len({len(c) for c in self.columns}) > 1:
            raise ValueError(f"columns of different lengths: {[len(c) for c in self.columns]}")

    def __len__(self) -> int:
        return len(self.columns[0]) if self.columns else 0

    @overload
    def __getitem__(self, i: int) -> tuple[Any, ...]: ...
    @overload
    def __getitem__(self, i: slice) -> list[tuple[Any, ...]]: ...
    def __getitem__(self, i: int | slice) -> tuple[Any, ...] | list[tuple[Any, ...]]:
        if isinstance(i, slice):
            return [tuple(c[k] for c in self.columns) for k in range(*i.indices(len(self)))]
        return tuple(c[i] for c in self.columns)

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return zip(*self.columns, strict=True)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and tuple(self) == tuple(other)

    __hash__ = None  # type: ignore[assignment]  # equal to tuples, as mutable as its columns


@dataclass(frozen=True)
class Table:
    """A named result table; ``rows`` are tuples in column order, already sorted (or
    :class:`Columns`, the same rows held by column)."""

    name: str
    columns: tuple[Column, ...]
    rows: Sequence[tuple[Any, ...]]

    def __post_init__(self) -> None:
        width = len(self.columns)
        if isinstance(self.rows, Columns):
            if len(self.rows.columns) != width:
                raise ValueError(f"table {self.name!r}: {len(self.rows.columns)} columns of values for {width} "
                                 "columns")
            return
        if set(map(len, self.rows)) - {width}:  # in C over the rows; the loop names the first
            for i, row in enumerate(self.rows):
                if len(row) != width:
                    raise ValueError(f"table {self.name!r} row {i}: {len(row)} values for {width} columns")


@dataclass(frozen=True)
class Report:
    """Several tables written together (one XLSX sheet / one JSON key per table)."""

    tables: tuple[Table, ...]

    def __post_init__(self) -> None:
        names = [t.name for t in self.tables]
        if len(set(names)) != len(names):
            raise ValueError(f"table names repeat: {names}")


@dataclass(frozen=True)
class Variable:
    """A microdata variable: values per row (numeric with NaN for missing, or text)."""

    name: str
    values: NDArray[Any]
    label: str = ""
    value_labels: Mapping[int, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Microdata:
    """One row per response; variables in output order."""

    variables: tuple[Variable, ...]
    file_label: str = ""

    def __post_init__(self) -> None:
        sizes = {v.values.shape[0] for v in self.variables}
        if len(sizes) > 1:
            raise ValueError(f"variables have different lengths: {sorted(sizes)}")
        names = [v.name for v in self.variables]
        if len(set(names)) != len(names):
            raise ValueError(f"variable names repeat: {names}")


def format_number(value: Any) -> str:
    """Stable text for a number: integers as is, floats to 12 significant digits, NaN/None empty."""
    if value is None:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "1" if value else "0"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    x = float(value)
    if math.isnan(x):
        return ""
    if x == 0:
        return "0"  # no "-0"
    return f"{x:.12g}"


def _text(value: Any, kind: ColumnKind) -> str:
    if kind is ColumnKind.TEXT:
        return "" if value is None else str(safe_cell(str(value)))
    return format_number(value)


def _number(value: Any) -> float | int | None:
    """A finite number for a typed cell, else None (an empty cell; Excel has no NaN)."""
    if value is None:
        return None
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return int(value)
    x = float(value)
    return x if math.isfinite(x) else None


def csv_bytes(table: Table) -> bytes:
    """The table as CSV the way Excel reads it: UTF-8 with BOM, ``\\r\\n``, all fields quoted
    only when needed; byte-identical for identical input."""
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow([safe_cell(c.name) for c in table.columns])
    for row in table.rows:
        writer.writerow([_text(v, c.kind) for v, c in zip(row, table.columns, strict=True)])
    return buf.getvalue().encode("utf-8-sig")


def codebook(report: Report) -> Table:
    """One row per column of every table: table, column, kind, meaning."""
    cols = (Column("table"), Column("column"), Column("kind"), Column("meaning"))
    rows = tuple((t.name, c.name, c.kind.value, c.label) for t in report.tables for c in t.columns)
    return Table("codebook", cols, rows)


def csv_zip_bytes(report: Report) -> bytes:
    """The report as a ZIP of CSV files, one per table (methods included) plus
    ``codebook.csv``; entries are dated 1980-01-01 so identical input gives identical bytes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for table in (*report.tables, codebook(report)):
            info = zipfile.ZipInfo(f"{table.name}.csv", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, csv_bytes(table))
    return buf.getvalue()


def write_csv(table: Table, path: str | Path) -> None:
    """Write :func:`csv_bytes` of ``table`` to ``path``."""
    Path(path).write_bytes(csv_bytes(table))


def _json_value(value: Any, kind: ColumnKind) -> Any:
    if kind is ColumnKind.TEXT:
        return None if value is None else safe_cell(str(value))
    return _number(value)


def _json_column(values: list[Any], kind: ColumnKind) -> list[Any]:
    """One column's cells as JSON values: text made safe, NaN and infinities as null."""
    if kind is ColumnKind.TEXT:
        return [None if v is None else safe_cell(str(v)) for v in values]
    as_float = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    finite = np.isfinite(as_float).tolist()
    if kind is ColumnKind.INTEGER:
        return [int(x) if ok else None for x, ok in zip(as_float.tolist(), finite, strict=True)]
    # an integer-valued number written as given (60, not 60.0), as the CSV and XLSX do
    return [(int(v) if isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) else x)
            if ok else None for v, x, ok in zip(values, as_float.tolist(), finite, strict=True)]


_PLAIN_NUMBERS: dict[ColumnKind, set[type]] = {ColumnKind.NUMBER: {float, int, type(None)},
                                             ColumnKind.INTEGER: {int, type(None)}}


def _json_cells(values: list[Any], kind: ColumnKind, encode: Any) -> list[bytes]:
    """One column's cells as UTF-8 JSON text, as :func:`_json_column` then the encoder write them.

    Column by column: a text column encodes each distinct value once; a column of plain
    numbers (ints and floats, None; ints only for an integer column) is written by orjson in
    one call and split at its commas (a float as its shortest round-trip text, an int as
    given, None, NaN and the infinities as null).
    """
    if kind is ColumnKind.TEXT and set(map(type, values)) <= {str, type(None)}:  # 1 and True would share a key
        seen = {v: encode(None if v is None else safe_cell(v)).encode("utf-8") for v in set(values)}
        return list(map(seen.__getitem__, values))
    if kind in _PLAIN_NUMBERS and set(map(type, values)) <= _PLAIN_NUMBERS[kind]:
        try:
            return orjson.dumps(values)[1:-1].split(b",") if values else []
        except orjson.JSONEncodeError:  # an int beyond 64 bits: the encoder below writes it
            pass
    return [encode(v).encode("utf-8") for v in _json_column(values, kind)]


def json_chunks(report: Report) -> Iterator[bytes]:
    """The report as UTF-8 JSON, a table at a time: ``{table: [{column: value, ...}, ...]}``;
    NaN becomes null.

    One row object per line, ``{"column": value, ...}``, assembled column by column (each
    cell's text made once per column, not per row object).
    """
    encode = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(", ", ": ")).encode
    yield b"{"
    for t, table in enumerate(report.tables):
        if isinstance(table.rows, Columns):
            by_column: list[Sequence[Any]] = list(table.rows.columns)
        else:
            by_column = list(zip(*table.rows, strict=True)) if table.rows else [() for _ in table.columns]
        columns = [_json_cells(list(values), c.kind, encode)
                   for values, c in zip(by_column, table.columns, strict=True)]
        del by_column
        # one row object: the keys written once into a template, each row's cells put in by %
        template = ("{" + ", ".join(encode(c.name).replace("%", "%%") + ": %s" for c in table.columns)
                    + "}").encode("utf-8")
        yield (b"," if t else b"") + b"\n" + encode(table.name).encode("utf-8") + b": ["
        lines = list(map(template.__mod__, zip(*columns, strict=True)))
        yield (b"\n" + b",\n".join(lines) + b"\n]") if lines else b"]"
    yield b"\n}\n"


def json_bytes(report: Report) -> bytes:
    """The report as UTF-8 JSON (:func:`json_chunks`, joined)."""
    return b"".join(json_chunks(report))


def write_json(report: Report, path: str | Path) -> None:
    """Write :func:`json_chunks` of ``report`` to ``path``, a table at a time (the whole
    document is never one string in memory)."""
    with open(path, "wb") as out:
        out.writelines(json_chunks(report))


_SHEET_BAD = re.compile(r"[\[\]:*?/\\]")


def write_xlsx(report: Report, path: str | Path | BinaryIO) -> None:
    """One sheet per table (header row bold and frozen); numeric columns as typed numbers,
    text through :func:`safe_cell` so no cell is ever a formula."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    wb.remove(wb.active)
    bold = Font(bold=True)
    for table in report.tables:
        ws = wb.create_sheet(_SHEET_BAD.sub("_", table.name)[:31])
        ws.append([safe_cell(c.name) for c in table.columns])
        for cell in ws[1]:
            cell.font = bold
        for row in table.rows:
            ws.append(
                [
                    (None if v is None else safe_cell(str(v))) if c.kind is ColumnKind.TEXT else _number(v)
                    for v, c in zip(row, table.columns, strict=True)
                ]
            )
        ws.freeze_panes = "A2"
        for i, c in enumerate(table.columns, start=1):
            width = max([len(c.name)] + [len(_text(r[i - 1], c.kind)) for r in table.rows[:200]])
            ws.column_dimensions[ws.cell(1, i).column_letter].width = min(60, width + 2)
    wb.save(str(path) if isinstance(path, (str, Path)) else path)


def table_bytes(table: Table, fmt: str) -> bytes:
    """One table as CSV (see :func:`csv_bytes`) or single-sheet XLSX bytes, for downloads."""
    if fmt == "csv":
        return csv_bytes(table)
    if fmt != "xlsx":
        raise ValueError(f"unsupported format {fmt!r}")
    buf = io.BytesIO()
    write_xlsx(Report((table,)), buf)
    return buf.getvalue()


def _frame(micro: Microdata) -> Any:
    import pandas as pd

    data: dict[str, Any] = {}
    for v in micro.variables:
        if v.values.dtype.kind in "OUS":
            data[v.name] = [None if x is None else safe_cell(str(x)) for x in v.values.tolist()]
        else:
            data[v.name] = np.asarray(v.values, dtype=np.float64)
    return pd.DataFrame(data)


def _labels(micro: Microdata) -> tuple[list[str | None], dict[str, dict[int | float, str]]]:
    column_labels: list[str | None] = [safe_cell(v.label) or None for v in micro.variables]
    value_labels: dict[str, dict[int | float, str]] = {
        v.name: {int(k): safe_cell(t) for k, t in sorted(v.value_labels.items())}
        for v in micro.variables
        if v.value_labels
    }
    return column_labels, value_labels


def write_sav(micro: Microdata, path: str | Path) -> None:
    """SPSS ``.sav`` with variable and value labels (pyreadstat); NaN is system-missing."""
    import pyreadstat

    column_labels, value_labels = _labels(micro)
    pyreadstat.write_sav(
        _frame(micro),
        str(path),
        file_label=safe_cell(micro.file_label),
        column_labels=column_labels,
        variable_value_labels=value_labels,
    )


def write_dta(micro: Microdata, path: str | Path) -> None:
    """Stata ``.dta`` (version 15) with variable and value labels (pyreadstat).

    Stata names are at most 32 characters: callers keep them short.
    """
    import pyreadstat

    long = [v.name for v in micro.variables if len(v.name) > 32]
    if long:
        raise ValueError(f"Stata variable names longer than 32 characters: {long}")
    column_labels, value_labels = _labels(micro)
    # Stata labels are at most 80 characters.
    column_labels = [None if t is None else t[:80] for t in column_labels]
    pyreadstat.write_dta(
        _frame(micro),
        str(path),
        file_label=safe_cell(micro.file_label)[:80],
        column_labels=column_labels,
        variable_value_labels=value_labels,
    )

