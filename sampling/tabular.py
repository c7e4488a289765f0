"""Read CSV and XLSX tables as text, the way a person sees them in Excel.

Shared by the units file reader and the respondent list reader.  Cells come back as
stripped strings; row numbers are Excel's (the header is row 1).  Formula cells are
returned as their formula text (``=...``) and never evaluated.
"""

from __future__ import annotations

import csv
import datetime as dt
import enum
import io
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from questionnaires.problems import N_, Text

_XLSX_MAGIC = b"PK\x03\x04"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
# A sheet that Excel has formatted far below the data yields long runs of empty rows;
# after this many in a row we take the data to have ended.
_MAX_BLANK_RUN = 10_000


class TableProblem(enum.Enum):
    """Why a table could not be read; callers map these to their own error codes."""

    FORMAT = "format"
    READ = "read"
    TOO_LARGE = "too_large"
    TOO_MANY_ROWS = "too_many_rows"
    ENCODING = "encoding"
    EXPANDS = "expands"  # an XLSX (zip) that would expand past the limit: detail = MB


class TableReadError(Exception):
    """A file-level failure to read a table."""

    def __init__(self, problem: TableProblem, detail: str = "", position: int = 0) -> None:
        self.problem = problem
        self.detail = detail
        self.position = position
        super().__init__(f"{problem.value}: {detail}")


def read_error_text(exc: TableReadError) -> Text:
    """Why a table could not be read, as a catalog message (a problem's parameter)."""
    return {
        TableProblem.FORMAT: Text(N_("not a CSV or XLSX file")),
        TableProblem.READ: Text(N_("read error ({detail})"), {"detail": exc.detail}),
        TableProblem.TOO_LARGE: Text(N_("file too large")),
        TableProblem.TOO_MANY_ROWS: Text(N_("too many rows")),
        TableProblem.ENCODING: Text(N_("not UTF-8")),
        TableProblem.EXPANDS: Text(N_("the XLSX expands to {size} MB, over {limit} MB"),
                                   {"size": exc.detail, "limit": exc.position}),
    }[exc.problem]


@dataclass(frozen=True, slots=True)
class TableLimits:
    """Size limits applied before and while parsing.

    Attributes
    ----------
    max_bytes : int
        Largest accepted file size.
    max_rows : int
        Largest number of non-empty data rows (the header not counted).
    """

    max_bytes: int = 20 * 1024 * 1024
    max_rows: int = 200_000


DEFAULT_LIMITS = TableLimits()


@dataclass(frozen=True, slots=True)
class Table:
    """A header and its data rows.

    Attributes
    ----------
    header : tuple of str
        Header cells as written (stripped).
    rows : tuple of (int, tuple of str)
        ``(excel_row_number, cells)`` for each non-empty data row; ``cells`` may be
        shorter or longer than ``header``.
    """

    header: tuple[str, ...]
    rows: tuple[tuple[int, tuple[str, ...]], ...]
    header_row: int = 1


def read_table(
    source: Path | bytes, *, filename: str | None = None, limits: TableLimits = DEFAULT_LIMITS
) -> Table:
    """Read the first sheet of an XLSX workbook or a CSV file.

    The format is decided by content (XLSX files are ZIP archives), then by extension;
    an ``.xls`` or other binary file is refused.  CSV may be UTF-8 with or without BOM
    and delimited by comma, semicolon or tab (Excel's choice depends on the locale).

    Raises
    ------
    TableReadError
        For unreadable, oversized or non-UTF-8 files.
    """
    name = filename or (source.name if isinstance(source, Path) else "")
    data = _read_bytes(source, limits)

    suffix = Path(name).suffix.lower()
    if data.startswith(_XLSX_MAGIC):
        return _read_xlsx(data, limits)
    if data.startswith(_UTF16_BOMS):  # Excel's "Unicode Text": UTF-16 with a BOM, tabs
        return _read_csv(data, limits)
    if suffix in {".xlsx", ".xlsm", ".xls", ".ods"} or b"\x00" in data[:4096]:
        raise TableReadError(TableProblem.FORMAT, name)
    return _read_csv(data, limits)


def _read_csv(data: bytes, limits: TableLimits) -> Table:
    try:
        text = data.decode("utf-16" if data.startswith(_UTF16_BOMS) else "utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TableReadError(TableProblem.ENCODING, str(exc), exc.start) from exc
    # The csv module refuses a cell over 128 KiB with no row or column; the file size is
    # already bounded, so read long cells and let the caller's length rule locate them.
    if csv.field_size_limit() < limits.max_bytes:
        csv.field_size_limit(limits.max_bytes)
    first_line = text.split("\n", 1)[0]
    # Excel writes ';' where the decimal separator is ',' (Vietnamese locale); the header
    # holds only known names, so counting separators in it is a reliable sniff.
    delimiter = max((",", ";", "\t"), key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        return _collect(((list(r) for r in reader)), limits)
    except csv.Error as exc:
        raise TableReadError(TableProblem.READ, str(exc)) from exc


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    return str(value)


#: An XLSX is a zip: refuse one whose parts expand beyond this before any part is parsed.
MAX_XLSX_EXPANDED_BYTES = 200 * 1024 * 1024
MAX_XLSX_RATIO = 200  # no honest spreadsheet part compresses better than this


def _check_zip_expansion(data: bytes) -> None:
    """Refuse zip bombs from the zip directory alone, before decompressing anything."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise TableReadError(TableProblem.READ, str(exc) or type(exc).__name__) from exc
    total = sum(i.file_size for i in infos)
    worst = max((i.file_size / max(i.compress_size, 1) for i in infos), default=0.0)
    if total > MAX_XLSX_EXPANDED_BYTES or (worst > MAX_XLSX_RATIO and total > 10 * 1024 * 1024):
        # numbers only: the caller words the message in each language
        raise TableReadError(TableProblem.EXPANDS, str(total // (1024 * 1024)),
                             MAX_XLSX_EXPANDED_BYTES // (1024 * 1024))


def read_workbook(
    source: Path | bytes, *, limits: TableLimits = DEFAULT_LIMITS
) -> dict[str, Table]:
    """Read every sheet of an XLSX workbook by name (e.g. an XLSForm's survey and choices).

    The same guards as :func:`read_table`: the file size, the zip directory checked for
    bombs before anything is inflated, entities never expanded, at most ``max_rows`` rows
    per sheet, and formulas kept as text.

    Raises
    ------
    TableReadError
        For a file that is not a readable, reasonably sized XLSX workbook.
    """
    data = _read_bytes(source, limits)
    if not data.startswith(_XLSX_MAGIC):
        raise TableReadError(TableProblem.FORMAT, source.name if isinstance(source, Path) else "")
    wb = _open_xlsx(data)
    try:
        return {ws.title: _collect_sheet(ws, limits) for ws in wb.worksheets}
    finally:
        wb.close()


def _read_bytes(source: Path | bytes, limits: TableLimits) -> bytes:
    if isinstance(source, bytes):
        if len(source) > limits.max_bytes:
            raise TableReadError(TableProblem.TOO_LARGE, str(len(source)), len(source))
        return source
    try:
        size = source.stat().st_size
        if size > limits.max_bytes:
            raise TableReadError(TableProblem.TOO_LARGE, str(size), size)
        return source.read_bytes()
    except OSError as exc:
        raise TableReadError(TableProblem.READ, exc.strerror or str(exc)) from exc


def _open_xlsx(data: bytes) -> Any:
    # Imported here so that CSV-only callers do not pay for openpyxl's import.
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    _check_zip_expansion(data)
    try:
        with warnings.catch_warnings():
            # openpyxl warns about workbook features it drops (extensions, print settings);
            # they do not matter for reading values.
            warnings.simplefilter("ignore", UserWarning)
            # data_only=False: formula cells give their formula text, never a value that
            # some other program computed.
            return openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise TableReadError(TableProblem.READ, str(exc) or type(exc).__name__) from exc


def _collect_sheet(ws: Any, limits: TableLimits) -> Table:
    def rows() -> Iterator[list[str]]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            for values in ws.iter_rows(values_only=True):
                yield [_cell_text(v) for v in values]

    try:
        return _collect(rows(), limits)
    except (KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise TableReadError(TableProblem.READ, str(exc) or type(exc).__name__) from exc


def _read_xlsx(data: bytes, limits: TableLimits) -> Table:
    wb = _open_xlsx(data)
    try:
        return _collect_sheet(wb.worksheets[0], limits)
    finally:
        wb.close()


def _collect(raw_rows: Iterator[list[str]], limits: TableLimits) -> Table:
    header: tuple[str, ...] | None = None
    header_row = 1
    out: list[tuple[int, tuple[str, ...]]] = []
    blank_run = 0
    for number, cells in enumerate(raw_rows, start=1):
        stripped = list(map(str.strip, cells))
        while stripped and not stripped[-1]:
            stripped.pop()
        if not stripped:
            blank_run += 1
            if header is not None and blank_run > _MAX_BLANK_RUN:
                break
            continue
        blank_run = 0
        if header is None:
            header = tuple(stripped)
            header_row = number
            continue
        if len(out) >= limits.max_rows:
            raise TableReadError(TableProblem.TOO_MANY_ROWS, str(limits.max_rows))
        out.append((number, tuple(stripped)))
    return Table(header or (), tuple(out), header_row)
