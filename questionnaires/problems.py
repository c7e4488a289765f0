"""One problem type for every loader, import and service: a stable code, a location, the rule
and a suggested fix, pyxform-style.

A :class:`Problem` is data: its ``code`` (a key of the registry, never renamed or reused), its
:class:`Location` (file, sheet, row, column, path, line) and the ``params`` its templates name.
The registry maps each code to a :class:`Spec`: the message (what rule is broken) and the fix,
as English ``str.format`` templates marked with :func:`N_` so that ``pybabel extract -k N_``
finds them. The English text is the msgid; the Vietnamese is in the Babel catalog
(``survey/translations/vi/LC_MESSAGES/messages.po``).

Rendering happens at the edge (CLI, staff page, API), in the reader's language, through a
:class:`Translator` the edge builds from the compiled catalogs (``survey.i18n.translator``).
This package never renders Vietnamese itself: without a translator a problem reads in
English (``str(problem)``, for logs and tests).

Adding a code: call :func:`register` with the code and its English texts wrapped in ``N_``
next to the code that raises it, then append the msgid/msgstr pairs (message and fix) at the
end of the Vietnamese ``messages.po``; ``tests/survey/test_problems.py`` fails on a code
whose texts are not translated.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final


def N_(message: str) -> str:
    """Mark ``message`` for extraction into the catalog; translated when rendered, not here."""
    return message


@dataclass(frozen=True, slots=True)
class Spec:
    """A registered code: what is wrong and how to fix it (English msgids, named placeholders)."""

    code: str
    message: str
    fix: str = ""


_REGISTRY: dict[str, Spec] = {}
#: code -> :class:`Spec` of every registered problem (read-only view)
CODES: Final[Mapping[str, Spec]] = MappingProxyType(_REGISTRY)


def register(specs: Iterable[tuple[str, str] | tuple[str, str, str]]) -> None:
    """Add ``(code, message[, fix])`` entries to the registry; a code is registered once."""
    for entry in specs:
        spec = Spec(*entry)
        if spec.code in _REGISTRY and _REGISTRY[spec.code] != spec:
            raise ValueError(f"problem code {spec.code!r} is registered twice")
        _REGISTRY[spec.code] = spec


@dataclass(frozen=True, slots=True)
class Translator:
    """A language and its gettext; the edge builds one from the compiled catalogs."""

    lang: str
    gettext: Callable[[str], str]


ENGLISH: Final = Translator("en", lambda msgid: msgid)


@dataclass(frozen=True, slots=True)
class Text:
    """A catalog message with its parameters: a problem's parameter that is itself text to
    translate (the kind of value expected, a configuration section's rule), or a line an edge
    prints. Its ``params`` may be :class:`Text` in turn."""

    msgid: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def text(self, tr: Translator = ENGLISH) -> str:
        """The message in ``tr``'s language (English without one)."""
        return _format(tr.gettext(self.msgid), self.params, tr)


def _value(value: Any, tr: Translator) -> Any:
    if isinstance(value, Text):
        return value.text(tr)
    return value


def _format(template: str, params: Mapping[str, Any], tr: Translator) -> str:
    try:
        return template.format(**{k: _value(v, tr) for k, v in params.items()})
    except (KeyError, IndexError):
        return template  # a template naming a parameter the caller did not pass reads fine raw


@dataclass(frozen=True, slots=True)
class Location:
    """Where a problem is: any of file, sheet, row (as the spreadsheet shows it), column (a
    header, or a letter with its header in ``column_name``), path inside the document, line."""

    file: str = ""
    sheet: str = ""
    row: int | None = None
    column: str | None = None
    path: str = ""
    line: int | None = None
    column_name: str = ""

    def text(self, tr: Translator = ENGLISH) -> str:
        """``file:line, row 3, column email: path`` (sheet cells as Excel names them)."""
        head = self.file if self.line is None else f"{self.file}:{self.line}"
        parts = [head] if head else []
        if self.sheet:
            cell = f"{self.sheet}!{self.column or ''}{self.row or ''}" if self.column or self.row \
                else self.sheet
            parts.append(f"{cell} ({self.column_name})" if self.column_name else cell)
        else:
            if self.row is not None:
                parts.append(tr.gettext(N_("row {row}")).format(row=self.row))
            if self.column:
                parts.append(tr.gettext(N_("column {column}")).format(column=self.column))
        where = ", ".join(parts)
        if self.path:
            where = f"{where}: {self.path}" if where else self.path
        return where


_NOWHERE: Final = Location()


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem: a registered ``code``, its :class:`Location`, the parameters its message
    and fix name, and an optional language-neutral ``detail`` (the value found, a size)."""

    code: str
    location: Location = _NOWHERE
    params: Mapping[str, Any] = field(default_factory=dict)
    detail: str = ""

    def __post_init__(self) -> None:
        if self.code not in _REGISTRY:
            raise ValueError(f"unregistered problem code {self.code!r}")
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))

    @property
    def file(self) -> str:
        return self.location.file

    @property
    def sheet(self) -> str:
        return self.location.sheet

    @property
    def row(self) -> int | None:
        return self.location.row

    @property
    def column(self) -> str | None:
        return self.location.column

    @property
    def column_name(self) -> str:
        return self.location.column_name

    @property
    def path(self) -> str:
        return self.location.path

    @property
    def line(self) -> int | None:
        return self.location.line

    def message(self, tr: Translator = ENGLISH) -> str:
        """What is wrong, in ``tr``'s language."""
        return _format(tr.gettext(_REGISTRY[self.code].message), self.params, tr)

    def fix(self, tr: Translator = ENGLISH) -> str:
        """How to fix it, in ``tr``'s language ("" when the message says it)."""
        fix = _REGISTRY[self.code].fix
        return _format(tr.gettext(fix), self.params, tr) if fix else ""

    def where(self, tr: Translator = ENGLISH) -> str:
        return self.location.text(tr)

    def render(self, tr: Translator = ENGLISH) -> str:
        """One line: ``where: [CODE] message (detail) Fix: fix``, in ``tr``'s language."""
        where = self.where(tr)
        text = f"{where}: [{self.code}] " if where else f"[{self.code}] "
        text += self.message(tr)
        if self.detail:
            text += f" ({self.detail})"
        fix = self.fix(tr)
        if fix:
            text += " " + tr.gettext(N_("Fix: {fix}")).format(fix=fix)
        return text

    def __str__(self) -> str:
        return self.render()


class ProblemError(Exception):
    """An exception carrying one :class:`Problem`: services raise subclasses of it, the edge
    renders ``exc.problem`` in the reader's language; ``str(exc)`` is the English message."""

    def __init__(self, code: str, /, location: Location = _NOWHERE, **params: Any) -> None:
        self.problem = Problem(code, location, params)
        super().__init__(self.problem.message())

    @property
    def code(self) -> str:
        return self.problem.code

    def message(self, tr: Translator = ENGLISH) -> str:
        """The message, in ``tr``'s language."""
        return self.problem.message(tr)

