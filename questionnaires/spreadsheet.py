"""The one defence of every CSV and XLSX file the project writes against formula injection.

A text cell that starts with ``= + - @``, a tab or a carriage return is read by Excel,
LibreOffice and Google Sheets as a formula (``=HYPERLINK(...)``, ``-2+3+cmd|' /C calc'!A0``):
OWASP "CSV Injection" advises prefixing such a cell with ``'`` so it shows as the text it is.
Every writer (``csv.writer`` or an openpyxl ``Workbook``) passes its text cells through
:func:`safe_cell`; ``tests/test_spreadsheet_writers.py`` finds the writers by searching the code
and drives each one with hostile text. It lives in this lowest pure package so that
``sampling``, ``analysis`` and ``survey`` all use the same function.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, TypeVar

T = TypeVar("T")

#: Leading characters that make spreadsheet software read a text cell as a formula.
FORMULA_TRIGGERS: Final = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: T) -> T | str:
    """Return ``value`` with text that a spreadsheet would read as a formula defused.

    Text starting with ``= + - @``, tab or carriage return gets a leading ``'``; any other
    value (numbers, None, safe text) is returned unchanged.
    """
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def safe_row(values: Iterable[T]) -> list[T | str]:
    """:func:`safe_cell` of each value of a row."""
    return [safe_cell(v) for v in values]
