"""XLSForm workbooks <-> questionnaire documents (the subset this engine can honour).

An XLSForm (the sheets ``survey``, ``choices`` and ``settings`` that KoboToolbox, ODK and
SurveyCTO authors write) is mapped onto the same parsed document a YAML definition yields, then
validated by :func:`questionnaires.loader.build_questionnaire`; so a workbook and a YAML file of
the same form have the same content hash. Everything outside the subset is refused with the
sheet, row and column it was found in, as a problem with a stable code (:data:`XLSFORM_CODES`)
whose message is in the Babel catalogs. ``relevant`` and ``constraint`` are parsed by a small recursive-descent
parser into the schema's structured conditions; nothing is ever evaluated.

This module is pure: it reads sheets as :class:`Sheet` values (cells as text, Excel row
numbers), which the caller gets from a hostile-input-safe reader (``sampling.tabular``), and
writes workbooks with openpyxl.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final

from questionnaires.loader import QuestionnaireInvalid, build_questionnaire
from questionnaires.problems import CODES, N_, Location, Problem, register
from questionnaires.qtypes import KINDS, QuestionKind, QuestionType
from questionnaires.schema import Questionnaire
from questionnaires.spreadsheet import safe_row

register([
    ("XLS-FILE",
     N_("The Excel (.xlsx) file cannot be read; save it again from Excel and retry.")),
    ("XLS-SHEET",
     N_("A required sheet is missing (survey, settings; choices for choice questions).")),
    ("XLS-COLUMN",
     N_("Unsupported column; delete it or fix its name as in the template.")),
    ("XLS-LANGUAGE",
     N_("The column's language is not supported; use (vi) or (en).")),
    ("XLS-TYPE",
     N_("Unsupported question type; use select_one, select_multiple, integer, text, note, "
        "begin_group, end_group.")),
    ("XLS-NAME",
     N_("The name is missing or invalid: lower-case letters, digits, '-' or '_', starting with a "
        "letter.")),
    ("XLS-DUPLICATE",
     N_("Duplicate name; every group, question, and choice within a list needs its own name.")),
    ("XLS-LABEL-VI",
     N_("The Vietnamese text is missing (column label::Vietnamese (vi)).")),
    ("XLS-CHOICE-LIST",
     N_("The choice list is not on the choices sheet; add rows with this list_name or fix the "
        "name.")),
    ("XLS-RELEVANT",
     N_("This relevant cannot be expressed; use only ${q} = 'value', !=, >, >=, <, <=, "
        "selected(${q}, 'value'), not(), and, or.")),
    ("XLS-RELEVANT-ORDER",
     N_("A relevant may only refer to questions on earlier pages (groups).")),
    ("XLS-CONSTRAINT",
     N_("This constraint cannot be expressed; use . >= a and . <= b for an integer, "
        "string-length(.) <= n for text.")),
    ("XLS-APPEARANCE",
     N_("Unsupported appearance for this type (groups: field-list, table-list; text: multiline; "
        "select_one: likert).")),
    ("XLS-GROUP",
     N_("Invalid group structure: every question lies inside one begin_group ... end_group, "
        "groups do not nest and take no relevant.")),
    ("XLS-NOTE",
     N_("A note is only accepted as an introduction: before the first group or as the first row "
        "of a group.")),
    ("XLS-VALUE",
     N_("Invalid cell value for this column.")),
    ("XLS-SETTING",
     N_("A required setting is missing on the settings sheet (form_id, version, group, "
        "form_title).")),
])
#: the codes of the XLSForm import
XLSFORM_CODES: Final = frozenset(code for code in CODES if code.startswith("XLS-"))

SURVEY, CHOICES, SETTINGS = "survey", "choices", "settings"
LANGUAGES = ("vi", "en")
LANGUAGE_NAMES = {"vi": "Tiếng Việt", "en": "English"}
_TRANSLATED = {SURVEY: ("label", "hint", "constraint_message"), CHOICES: ("label",),
               SETTINGS: ("form_title",)}
_PLAIN = {
    SURVEY: ("type", "name", "required", "relevant", "constraint", "appearance", "subcriterion"),
    CHOICES: ("list_name", "name", "score", "dont_know"),
    SETTINGS: ("form_id", "id_string", "version", "default_language", "group", "unit_level",
               "layout", "illustrative"),
}
#: Kobo's formbuilder records questions that only log timing; the engine keeps its own
#: paradata, so these rows are skipped rather than refused (a Kobo workbook imports as is).
_KOBO_META_TYPES = {"start", "end", "today"}
#: XLSForm type word -> the types written with it (``select_one``: single, likert), from the
#: registry (:data:`questionnaires.qtypes.KINDS`: each class's ``xlsform``).
_XLS_KINDS: dict[str, list[QuestionKind]] = {}
for _kind in KINDS.values():
    _XLS_KINDS.setdefault(_kind.xlsform[0], []).append(_kind)
_YES = {"yes", "true", "true()", "1", "x"}
_NO = {"", "no", "false", "false()", "0"}
_NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
_LANG_HEADER = re.compile(r"^(?P<base>[A-Za-z_]+)::(?:(?P<name>.*?)\s*\((?P<code>[A-Za-z-]+)\)"
                          r"|(?P<bare>[A-Za-z-]+))\s*$")


@dataclass(frozen=True)
class Sheet:
    """One worksheet as text: the header, its row number and ``(row number, cells)``."""

    name: str
    header: tuple[str, ...]
    rows: tuple[tuple[int, tuple[str, ...]], ...]
    header_row: int = 1


def column_letter(index: int) -> str:
    """Excel's letter for the 0-based column ``index`` (0 -> A, 26 -> AA)."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def sheet_problem(code: str, file: str, detail: str = "", *, sheet: str = "",
                  row: int | None = None, column: str = "", column_name: str = "") -> Problem:
    """A problem located at a cell: sheet, Excel row and column letter (with its header)."""
    return Problem(code, Location(file=file, sheet=sheet, row=row, column=column,
                                  column_name=column_name), {}, detail)


class XLSFormInvalid(QuestionnaireInvalid):
    """Raised with every located problem found in a workbook."""


# --- expressions (relevant, constraint) ----------------------------------------------------

_TOKEN = re.compile(r"""\s*(?:
    (?P<ref>\$\{(?P<refname>[^}]*)\})
  | (?P<str>'[^']*'|"[^"]*")
  | (?P<num>-?\d+(?:\.\d+)?)
  | (?P<op>!=|>=|<=|=|>|<)
  | (?P<punct>[(),])
  | (?P<dot>\.(?![0-9]))
  | (?P<word>[A-Za-z_][A-Za-z0-9_-]*)
  )""", re.VERBOSE)

_OPS = {"=": "equals", "!=": "not_equals", ">": "gt", ">=": "gte", "<": "lt", "<=": "lte"}
_NEGATE = {"equals": "not_equals", "not_equals": "equals", "in": "not_in", "not_in": "in",
           "answered": "not_answered", "not_answered": "answered",
           "gt": "lte", "gte": "lt", "lt": "gte", "lte": "gt"}


class ExpressionError(ValueError):
    """An expression outside the subset; the message says what was found."""


@dataclass
class _Tokens:
    items: list[tuple[str, str]]
    at: int = 0

    @classmethod
    def of(cls, text: str) -> _Tokens:
        items: list[tuple[str, str]] = []
        pos = 0
        text = text.strip()
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if not m or m.end() == pos:
                raise ExpressionError(f"unexpected {text[pos:pos + 12]!r}")
            kind = m.lastgroup or ""
            if kind == "refname":
                kind = "ref"
            value = m.group("refname") if kind == "ref" else m.group(kind).strip()
            items.append((kind, value))
            pos = m.end()
            while pos < len(text) and text[pos].isspace():
                pos += 1
        return cls(items)

    def peek(self) -> tuple[str, str]:
        return self.items[self.at] if self.at < len(self.items) else ("end", "")

    def take(self, kind: str, value: str | None = None) -> str:
        k, v = self.peek()
        if k != kind or (value is not None and v != value):
            raise ExpressionError(f"expected {value or kind}, found {v or 'the end'!r}")
        self.at += 1
        return v


def _literal(tokens: _Tokens) -> Any:
    kind, value = tokens.peek()
    if kind == "str":
        tokens.at += 1
        return value[1:-1]
    if kind == "num":
        tokens.at += 1
        return float(value) if "." in value else int(value)
    raise ExpressionError(f"expected a value in quotes or a number, found {value or 'the end'!r}")


def _negate(cond: dict[str, Any]) -> dict[str, Any]:
    """not(cond), pushed down to the leaves (De Morgan), keeping XPath's blank semantics."""
    if "all" in cond:
        return {"any": [_negate(c) for c in cond["all"]]}
    if "any" in cond:
        return {"all": [_negate(c) for c in cond["any"]]}
    op = cond["op"]
    out = {**cond, "op": _NEGATE[op]}
    if op in ("gt", "gte", "lt", "lte"):
        # In XPath a blank answer fails every comparison, so not(x > 3) holds for a blank x.
        return {"any": [out, {"question": cond["question"], "op": "not_answered"}]}
    return out


def _collapse(key: str, parts: list[dict[str, Any]]) -> dict[str, Any]:
    """``a = 1 or a = 2`` is ``a in [1, 2]`` (and ``!= ... and !=`` is ``not in``)."""
    leaf_op, set_op = ("equals", "in") if key == "any" else ("not_equals", "not_in")
    if (len(parts) > 1 and all(p.get("op") == leaf_op for p in parts)
            and len({p["question"] for p in parts}) == 1):
        return {"question": parts[0]["question"], "op": set_op,
                "value": [p["value"] for p in parts]}
    return {key: parts}


class _RelevantParser:
    """or_expr := and_expr ('or' and_expr)*; and_expr := unary ('and' unary)*;
    unary := 'not' '(' or_expr ')' | '(' or_expr ')' | selected(${q}, v) | ${q} op value."""

    def __init__(self, text: str):
        self.tokens = _Tokens.of(text)
        self.refs: list[str] = []

    def parse(self) -> dict[str, Any]:
        cond = self.or_expr()
        kind, value = self.tokens.peek()
        if kind != "end":
            raise ExpressionError(f"unexpected {value!r}")
        return cond

    def or_expr(self) -> dict[str, Any]:
        parts = [self.and_expr()]
        while self.tokens.peek() == ("word", "or"):
            self.tokens.at += 1
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else _collapse("any", parts)

    def and_expr(self) -> dict[str, Any]:
        parts = [self.unary()]
        while self.tokens.peek() == ("word", "and"):
            self.tokens.at += 1
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else _collapse("all", parts)

    def unary(self) -> dict[str, Any]:
        kind, value = self.tokens.peek()
        if (kind, value) == ("word", "not"):
            self.tokens.at += 1
            self.tokens.take("punct", "(")
            inner = self.or_expr()
            self.tokens.take("punct", ")")
            return _negate(inner)
        if (kind, value) == ("punct", "("):
            self.tokens.at += 1
            inner = self.or_expr()
            self.tokens.take("punct", ")")
            return inner
        if (kind, value) == ("word", "selected"):
            self.tokens.at += 1
            self.tokens.take("punct", "(")
            ref = self.ref()
            self.tokens.take("punct", ",")
            lit = _literal(self.tokens)
            self.tokens.take("punct", ")")
            return {"question": ref, "op": "equals", "value": str(lit)}
        if kind == "ref":
            ref = self.ref()
            op_kind, op = self.tokens.peek()
            if op_kind != "op":
                raise ExpressionError(f"expected a comparison after ${{{ref}}}")
            self.tokens.at += 1
            lit = _literal(self.tokens)
            if lit == "" and op in ("=", "!="):
                return {"question": ref, "op": "not_answered" if op == "=" else "answered"}
            if op in (">", ">=", "<", "<=") and isinstance(lit, str):
                raise ExpressionError(f"{op} compares with a number, not {lit!r}")
            return {"question": ref, "op": _OPS[op], "value": lit}
        raise ExpressionError(f"{value or 'the end'!r} is outside the accepted subset")

    def ref(self) -> str:
        name = self.tokens.take("ref")
        self.refs.append(name)
        return name


def parse_relevant(text: str) -> tuple[dict[str, Any], list[str]]:
    """The show-if document of an XLSForm ``relevant`` and the questions it names.

    Raises :class:`ExpressionError` for anything outside the subset.
    """
    parser = _RelevantParser(text)
    return parser.parse(), parser.refs


def parse_constraint(text: str, kind: str) -> dict[str, int]:
    """``{min, max}`` of an integer constraint or ``{max_length}`` of a text constraint."""
    tokens = _Tokens.of(text)
    out: dict[str, int] = {}
    while True:
        if kind == "integer":
            tokens.take("dot")
            op = tokens.take("op")
            value = _literal(tokens)
            if not isinstance(value, int) or op not in (">", ">=", "<", "<="):
                raise ExpressionError("use . >= whole number and . <= whole number")
            key = "min" if op in (">", ">=") else "max"
            out[key] = value + (1 if op == ">" else -1 if op == "<" else 0)
        else:
            tokens.take("word", "string-length")
            tokens.take("punct", "(")
            tokens.take("dot")
            tokens.take("punct", ")")
            op = tokens.take("op")
            value = _literal(tokens)
            if not isinstance(value, int) or op not in ("<", "<="):
                raise ExpressionError("use string-length(.) <= whole number")
            out["max_length"] = value - (1 if op == "<" else 0)
        if tokens.peek() == ("word", "and"):
            tokens.at += 1
            continue
        if tokens.peek()[0] != "end":
            raise ExpressionError(f"unexpected {tokens.peek()[1]!r}")
        return out


def _quote(value: Any) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return repr(value)
    text = str(value)
    return f'"{text}"' if "'" in text else f"'{text}'"


def format_relevant(cond: Mapping[str, Any], multiple: set[str], nested: bool = False) -> str:
    """The XLSForm ``relevant`` of a show-if document (inverse of :func:`parse_relevant`)."""
    for key, joiner in (("all", " and "), ("any", " or ")):
        if key in cond:
            text = joiner.join(format_relevant(c, multiple, True) for c in cond[key])
            return f"({text})" if nested else text
    ref, op, value = "${" + str(cond["question"]) + "}", cond["op"], cond.get("value")
    if op in ("in", "not_in"):
        leaf = "equals" if op == "in" else "not_equals"
        parts = {"question": cond["question"], "op": leaf}
        return format_relevant({"any" if op == "in" else "all":
                                [{**parts, "value": v} for v in value or ()]}, multiple,
                               nested)
    if op == "answered":
        return f"{ref} != ''"
    if op == "not_answered":
        return f"{ref} = ''"
    if cond["question"] in multiple and op in ("equals", "not_equals"):
        text = f"selected({ref}, {_quote(value)})"
        return text if op == "equals" else f"not({text})"
    symbol = {v: k for k, v in _OPS.items()}[op]
    return f"{ref} {symbol} {_quote(value)}"


# --- workbook -> document ------------------------------------------------------------------

@dataclass
class _Columns:
    """A sheet's header: plain column -> index, translated column -> language -> index."""

    sheet: Sheet
    plain: dict[str, int] = field(default_factory=dict)
    translated: dict[str, dict[str, int]] = field(default_factory=dict)

    def cell(self, cells: Sequence[str], name: str, lang: str | None = None) -> str:
        index = (self.translated.get(name, {}).get(lang) if lang else self.plain.get(name))
        if index is None or index >= len(cells):
            return ""
        return cells[index].strip()

    def letter(self, name: str, lang: str | None = None) -> str:
        index = self.translated.get(name, {}).get(lang) if lang else self.plain.get(name)
        return column_letter(index) if index is not None else ""


class _Reader:
    """One pass over a workbook, collecting located problems as it builds the document."""

    def __init__(self, file: str):
        self.file = file
        self.problems: list[Problem] = []
        # document path -> (sheet, row, {field -> (column name, lang)}) to locate the loader's
        # own findings (a score out of range, a grid with mixed scales) in the workbook
        self.places: dict[str, tuple[_Columns, int]] = {}
        self.default_language = "vi"
        self.bilingual = False

    def problem(self, code: str, cols: _Columns | None, row: int, column: str = "",
                lang: str | None = None, detail: str = "") -> None:
        letter, header = "", ""
        if cols is not None and column:
            letter = cols.letter(column, lang)
            header = _header_name(column, lang)
            if not letter:  # the column itself is missing: point at the header row
                row = cols.sheet.header_row
        self.problems.append(sheet_problem(
            code, self.file, detail, sheet=cols.sheet.name if cols else "", row=row,
            column=letter, column_name=header))

    def columns(self, sheet: Sheet) -> _Columns:
        cols = _Columns(sheet)
        for index, raw in enumerate(sheet.header):
            name = raw.strip()
            if not name or name.startswith("$"):
                continue  # Kobo's own bookkeeping columns ($kuid, $autoname, ...)
            m = _LANG_HEADER.match(name)
            if m and m["base"].lower() in _TRANSLATED[sheet.name]:
                lang = (m["code"] or m["bare"] or "").lower()
                if lang not in LANGUAGES:
                    self._header_problem("XLS-LANGUAGE", sheet, index, name)
                    continue
                cols.translated.setdefault(m["base"].lower(), {})[lang] = index
            elif name.lower() in _TRANSLATED[sheet.name]:
                cols.translated.setdefault(name.lower(), {})["*"] = index
            elif name.lower() in _PLAIN[sheet.name]:
                cols.plain[name.lower()] = index
            else:
                self._header_problem("XLS-COLUMN", sheet, index, name)
        return cols

    def _header_problem(self, code: str, sheet: Sheet, index: int, name: str) -> None:
        letter = column_letter(index)
        self.problems.append(sheet_problem(
            code, self.file, f"column {name!r}", sheet=sheet.name, row=sheet.header_row,
            column=letter, column_name=name))

    def resolve_default(self, cols: _Columns) -> None:
        """A ``label`` column without a language is in the settings' default language."""
        for langs in cols.translated.values():
            if "*" in langs:
                index = langs.pop("*")
                langs.setdefault(self.default_language, index)

    def label(self, cols: _Columns, cells: Sequence[str], row: int, name: str,
              required: bool = True) -> dict[str, str] | None:
        vi = cols.cell(cells, name, "vi")
        en = cols.cell(cells, name, "en")
        if self.bilingual and name != "label" and "en" not in cols.translated.get(name, {}):
            # A bilingual form whose hints or title have no English column (Kobo has no
            # translated form_title): English readers see the Vietnamese, as Label.get would.
            en = vi
        if not vi:
            if required or en:
                self.problem("XLS-LABEL-VI", cols, row, name, "vi")
            return None
        return {"vi": vi, "en": en} if en else {"vi": vi}

    def flag(self, cols: _Columns, cells: Sequence[str], row: int, name: str) -> bool:
        value = cols.cell(cells, name).lower()
        if value in _YES:
            return True
        if value not in _NO:
            self.problem("XLS-VALUE", cols, row, name, detail=f"{value!r}: use yes or no")
        return False


def _header_name(column: str, lang: str | None) -> str:
    return f"{column}::{LANGUAGE_NAMES.get(lang, lang)} ({lang})" if lang else column


def _number(text: str) -> float | int | None:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return None


def workbook_document(sheets: Mapping[str, Sheet], file: str = "<workbook>"
                      ) -> tuple[dict[str, Any], list[Problem], dict[str, tuple[_Columns, int]]]:
    """Map a workbook's sheets onto a questionnaire document; return it with the problems."""
    r = _Reader(file)
    named = {name.strip().lower(): sheet for name, sheet in sheets.items()}
    for required in (SURVEY, SETTINGS):
        if required not in named:
            r.problems.append(sheet_problem("XLS-SHEET", file, f"sheet {required!r}",
                                            sheet=required))
    if r.problems:
        return {}, r.problems, r.places
    settings = _named_as(named[SETTINGS], SETTINGS)
    survey = _named_as(named[SURVEY], SURVEY)
    choices = _named_as(named[CHOICES], CHOICES) if CHOICES in named else None

    doc: dict[str, Any] = {}
    s_cols = r.columns(settings)
    s_row = settings.rows[0] if settings.rows else (settings.header_row + 1, ())
    lang_raw = s_cols.cell(s_row[1], "default_language")
    if lang_raw:
        m = re.search(r"\(([A-Za-z-]+)\)\s*$", lang_raw)
        code = (m.group(1) if m else lang_raw).lower()
        if code not in LANGUAGES:
            r.problem("XLS-LANGUAGE", s_cols, s_row[0], "default_language", detail=lang_raw)
        else:
            r.default_language = code
    r.resolve_default(s_cols)
    sv_cols = r.columns(survey)
    r.resolve_default(sv_cols)
    c_cols = r.columns(choices) if choices is not None else None
    if c_cols is not None:
        r.resolve_default(c_cols)

    languages = ["vi"]
    if "en" in sv_cols.translated.get("label", {}):
        languages.append("en")
        r.bilingual = True
    _settings(r, s_cols, s_row, doc)
    lists = _choice_lists(r, c_cols) if c_cols is not None else {}
    doc["languages"] = languages
    _survey(r, sv_cols, lists, c_cols, doc)
    # Only keys with a value, in the loader's order; the hash does not depend on the order.
    order = ("id", "version", "group", "illustrative", "languages", "title", "description",
             "rates", "option_sets", "sections")
    return {k: doc[k] for k in order if k in doc}, r.problems, r.places


def _named_as(sheet: Sheet, name: str) -> Sheet:
    """The sheet under its XLSForm name (an author may have titled it "Survey")."""
    return Sheet(name, sheet.header, sheet.rows, sheet.header_row)


def _settings(r: _Reader, cols: _Columns, row: tuple[int, Sequence[str]],
              doc: dict[str, Any]) -> None:
    number, cells = row
    form_id = cols.cell(cells, "form_id") or cols.cell(cells, "id_string")
    id_column = "form_id" if "form_id" in cols.plain or "id_string" not in cols.plain \
        else "id_string"
    if not form_id:
        r.problem("XLS-SETTING", cols, number, id_column)
    elif not _NAME_RE.match(form_id):
        r.problem("XLS-NAME", cols, number, id_column, detail=repr(form_id))
    doc["id"] = form_id
    version_text = cols.cell(cells, "version")
    version = _number(version_text)
    if not version_text:
        r.problem("XLS-SETTING", cols, number, "version")
    elif not isinstance(version, int) or version < 1:
        r.problem("XLS-VALUE", cols, number, "version",
                  detail=f"{version_text!r}: a whole number such as 1, 2, 3")
    doc["version"] = version if isinstance(version, int) else 0
    group = cols.cell(cells, "group")
    if not group:
        r.problem("XLS-SETTING", cols, number, "group")
    doc["group"] = group
    if cols.cell(cells, "illustrative") and r.flag(cols, cells, number, "illustrative"):
        doc["illustrative"] = True
    title = r.label(cols, cells, number, "form_title")
    if title is not None:
        doc["title"] = title
    # Most forms rate departments one form at a time; a Kobo workbook has neither column.
    levels = cols.cell(cells, "unit_level").split() or ["department"]
    layout = cols.cell(cells, "layout") or "per_unit"
    doc["rates"] = {"unit_level": levels[0] if len(levels) == 1 else levels, "layout": layout}
    r.places["rates"] = (cols, number)
    r.places["id"] = r.places["version"] = r.places["group"] = (cols, number)
    r.places["title"] = r.places["illustrative"] = (cols, number)


def _choice_lists(r: _Reader, cols: _Columns) -> dict[str, list[tuple[int, dict[str, Any]]]]:
    lists: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for number, cells in cols.sheet.rows:
        list_name = cols.cell(cells, "list_name")
        code = cols.cell(cells, "name")
        if not list_name:
            r.problem("XLS-NAME", cols, number, "list_name")
            continue
        if not code:
            r.problem("XLS-NAME", cols, number, "name")
            continue
        entries = lists.setdefault(list_name, [])
        if any(e["code"] == code for _, e in entries):
            r.problem("XLS-DUPLICATE", cols, number, "name", detail=f"{list_name}: {code!r}")
            continue
        option: dict[str, Any] = {"code": code}
        label = r.label(cols, cells, number, "label")
        option["label"] = label or {"vi": ""}
        score_text = cols.cell(cells, "score")
        if score_text:
            score = _number(score_text)
            if score is None:
                r.problem("XLS-VALUE", cols, number, "score",
                          detail=f"{score_text!r}: a share between 0 and 1, e.g. 0.6")
            else:
                option["score"] = float(score)
        if cols.cell(cells, "dont_know") and r.flag(cols, cells, number, "dont_know"):
            option["dont_know"] = True
        entries.append((number, option))
    return lists


def _survey(r: _Reader, cols: _Columns, lists: dict[str, list[tuple[int, dict[str, Any]]]],
            c_cols: _Columns | None, doc: dict[str, Any]) -> None:
    # First pass: every question's page, so that a relevant can be told "later page" from
    # "no such question".
    page_of: dict[str, int] = {}
    page = -1
    for _, cells in cols.sheet.rows:
        first = (cols.cell(cells, "type").split() or [""])[0]
        if first == "begin_group":
            page += 1
        elif first and cols.cell(cells, "name"):
            page_of.setdefault(cols.cell(cells, "name"), page)

    sections: list[dict[str, Any]] = []
    section: dict[str, Any] | None = None
    seen: set[str] = set()
    multiple: set[str] = set()
    uses: dict[str, list[str]] = {}  # list name -> questions using it
    pending: list[tuple[dict[str, Any], str, int]] = []  # (question, list name, row)
    for number, cells in cols.sheet.rows:
        type_text = cols.cell(cells, "type")
        words = type_text.split()
        if not words:
            if any(c.strip() for c in cells):
                r.problem("XLS-TYPE", cols, number, "type", detail="the type is empty")
            continue
        kind = words[0]
        name = cols.cell(cells, "name")
        if kind in _KOBO_META_TYPES and len(words) == 1:
            continue
        if kind == "end_group":
            if section is None:
                r.problem("XLS-GROUP", cols, number, "type", detail="end_group without begin_group")
            section = None
            continue
        if kind not in ("begin_group", "note") and kind not in _XLS_KINDS:
            r.problem("XLS-TYPE", cols, number, "type", detail=repr(type_text))
            continue
        if not name or not _NAME_RE.match(name):
            r.problem("XLS-NAME", cols, number, "name", detail=repr(name))
            continue
        if name in seen:
            r.problem("XLS-DUPLICATE", cols, number, "name", detail=repr(name))
            continue
        seen.add(name)
        appearance = cols.cell(cells, "appearance")
        relevant = cols.cell(cells, "relevant")
        if kind == "begin_group":
            if section is not None:
                r.problem("XLS-GROUP", cols, number, "type",
                          detail=f"group {name!r} inside group {section['id']!r}")
                continue
            if relevant:
                r.problem("XLS-GROUP", cols, number, "relevant", detail="a group takes no relevant")
            if appearance not in ("", "field-list", "table-list"):
                r.problem("XLS-APPEARANCE", cols, number, "appearance", detail=repr(appearance))
            section = {"id": name, "title": r.label(cols, cells, number, "label") or {"vi": ""}}
            if appearance == "table-list":
                section["layout"] = "grid"
            section["questions"] = []
            r.places[f"sections[{len(sections)}]"] = (cols, number)
            sections.append(section)
            continue
        if kind == "note":
            label = r.label(cols, cells, number, "label")
            if section is None and not sections and "description" not in doc:
                if label:
                    doc["description"] = label
                r.places["description"] = (cols, number)
            elif section is not None and not section["questions"] and "intro" not in section:
                if label:
                    section["intro"] = label
                r.places[f"sections[{len(sections) - 1}].intro"] = (cols, number)
            else:
                r.problem("XLS-NOTE", cols, number, "type")
            continue
        if section is None:
            r.problem("XLS-GROUP", cols, number, "type",
                      detail=f"question {name!r} is outside begin_group ... end_group")
            continue
        path = f"sections[{len(sections) - 1}].questions[{len(section['questions'])}]"
        question = _question(r, cols, number, cells, words, name, appearance, section, path)
        if question is None:
            continue
        if len(words) > 1:
            pending.append((question, words[1], number))
            uses.setdefault(words[1], []).append(name)
            if QuestionType(question["type"]).kind.many:
                multiple.add(name)
        if relevant:
            _relevant(r, cols, number, relevant, question, page_of, len(sections) - 1)
        section["questions"].append(question)
        r.places[path] = (cols, number)
    if section is not None:
        r.problem("XLS-GROUP", cols, cols.sheet.rows[-1][0] if cols.sheet.rows else 1, "type",
                  detail=f"group {section['id']!r} has no end_group")

    option_sets: dict[str, Any] = {}
    for list_name, entries in lists.items():
        users = uses.get(list_name, [])
        if users != [list_name]:
            option_sets[list_name] = [o for _, o in entries]
            for i, (row, _o) in enumerate(entries):
                r.places[f"option_sets.{list_name}[{i}]"] = (c_cols, row)  # type: ignore[assignment]
    for question, list_name, number in pending:
        if list_name not in lists:
            r.problem("XLS-CHOICE-LIST", cols, number, "type", detail=repr(list_name))
            question["options"] = list_name
            continue
        if uses.get(list_name) == [list_name]:
            # A list named after its only question is that question's own options.
            question["options"] = [o for _, o in lists[list_name]]
            base = _path_of(doc, sections, question)
            for i, (row, _o) in enumerate(lists[list_name]):
                r.places[f"{base}.options[{i}]"] = (c_cols, row)  # type: ignore[assignment]
        else:
            question["options"] = list_name
    if option_sets:
        doc["option_sets"] = option_sets
    doc["sections"] = sections


def _path_of(doc: dict[str, Any], sections: list[dict[str, Any]], question: dict[str, Any]
             ) -> str:
    for i, s in enumerate(sections):
        for j, q in enumerate(s["questions"]):
            if q is question:
                return f"sections[{i}].questions[{j}]"
    return ""


def _question(r: _Reader, cols: _Columns, number: int, cells: Sequence[str], words: list[str],
              name: str, appearance: str, section: dict[str, Any], path: str
              ) -> dict[str, Any] | None:
    kind = words[0]
    grid = section.get("layout") == "grid"
    kinds = _XLS_KINDS[kind]
    if kinds[0].has_options and len(words) != 2:
        r.problem("XLS-TYPE", cols, number, "type",
                  detail=f"{' '.join(words)!r}: write {kind} <list_name>")
        return None
    if not kinds[0].has_options and len(words) != 1:
        r.problem("XLS-TYPE", cols, number, "type", detail=repr(" ".join(words)))
        return None
    by_appearance = {k.xlsform[1]: k for k in kinds}
    row = next((k for k in kinds if k.grid_row), None)  # what a grid's (table-list's) rows are
    if grid and row is not None and appearance in ("", row.xlsform[1], "list-nolabel"):
        chosen = row
    elif appearance in by_appearance:
        chosen = by_appearance[appearance]
    else:
        r.problem("XLS-APPEARANCE", cols, number, "appearance", detail=repr(appearance))
        chosen = row if grid and row is not None else by_appearance[""]
    qtype = chosen.type.value
    question: dict[str, Any] = {"id": name, "type": qtype}
    if r.flag(cols, cells, number, "required"):
        question["required"] = True
    sub = cols.cell(cells, "subcriterion")
    if sub:
        question["subcriterion"] = sub
    question["text"] = r.label(cols, cells, number, "label") or {"vi": ""}
    hint = r.label(cols, cells, number, "hint", required=False)
    if hint:
        question["help"] = hint
    constraint = cols.cell(cells, "constraint")
    if constraint:
        if not chosen.takes_constraint_message:
            r.problem("XLS-CONSTRAINT", cols, number, "constraint",
                      detail="only integer and text questions take a constraint")
        else:
            try:
                question.update(parse_constraint(constraint, "integer" if chosen.takes_range
                                                 else "text"))
            except ExpressionError as exc:
                r.problem("XLS-CONSTRAINT", cols, number, "constraint", detail=str(exc))
    message = r.label(cols, cells, number, "constraint_message", required=False)
    if message:
        question["constraint_message"] = message
    return question


def _relevant(r: _Reader, cols: _Columns, number: int, text: str, question: dict[str, Any],
              page_of: Mapping[str, int], page: int) -> None:
    try:
        cond, refs = parse_relevant(text)
    except ExpressionError as exc:
        r.problem("XLS-RELEVANT", cols, number, "relevant", detail=f"{text!r}: {exc}")
        return
    for ref in refs:
        where = page_of.get(ref)
        if where is None:
            r.problem("XLS-RELEVANT-ORDER", cols, number, "relevant",
                      detail=f"no question named {ref!r}")
            return
        if where >= page:
            r.problem("XLS-RELEVANT-ORDER", cols, number, "relevant",
                      detail=f"{ref!r} is on {'this' if where == page else 'a later'} page")
            return
    question["show_if"] = cond


_FIELD_COLUMNS: dict[str, tuple[str, str | None]] = {
    "id": ("name", None), "type": ("type", None), "text": ("label", "vi"),
    "help": ("hint", "vi"), "required": ("required", None), "options": ("type", None),
    "show_if": ("relevant", None), "subcriterion": ("subcriterion", None),
    "min": ("constraint", None), "max": ("constraint", None), "max_length": ("constraint", None),
    "constraint_message": ("constraint_message", "vi"),
    "code": ("name", None), "label": ("label", "vi"), "score": ("score", None),
    "dont_know": ("dont_know", None), "title": ("label", "vi"), "intro": ("label", "vi"),
    "layout": ("appearance", None), "questions": ("type", None), "description": ("label", "vi"),
}
_SETTING_COLUMNS: dict[str, tuple[str, str | None]] = {
    "id": ("form_id", None), "version": ("version", None), "group": ("group", None),
    "title": ("form_title", "vi"), "illustrative": ("illustrative", None),
    "unit_level": ("unit_level", None), "layout": ("layout", None), "rates": ("unit_level", None),
}


def _locate(r: _Reader, problem: Problem) -> Problem:
    """Re-home one of the loader's findings on the workbook cell it came from."""
    path = problem.path
    best = ""
    for known in r.places:
        if (path == known or path.startswith(known + ".") or path.startswith(known + "[")) \
                and len(known) > len(best):
            best = known
    if not best:
        return replace(problem, location=Location(file=r.file, path=problem.path))
    cols, row = r.places[best]
    rest = path[len(best):].lstrip(".")
    lang = rest.rsplit(".", 1)[-1] if rest.rsplit(".", 1)[-1] in LANGUAGES else None
    key = re.split(r"[.\[]", rest)[0] if rest and rest != lang else ""
    if not key:  # the place is the field itself (title, intro, description)
        key = re.split(r"[.\[]", best.rsplit(".", 1)[-1])[0]
    table = _SETTING_COLUMNS if cols.sheet.name == SETTINGS else _FIELD_COLUMNS
    column, default_lang = table.get(key, ("", None))
    if column == "label" and cols.sheet.name == SETTINGS:
        column = "form_title"
    letter = cols.letter(column, lang or default_lang) if column else ""
    return replace(problem, location=Location(
        file=r.file, sheet=cols.sheet.name, row=row, column=letter,
        column_name=_header_name(column, lang or default_lang) if column else ""))


def questionnaire_from_sheets(sheets: Mapping[str, Sheet], file: str = "<workbook>"
                              ) -> Questionnaire:
    """Convert and validate a workbook; raise :class:`XLSFormInvalid` with located problems."""
    doc, problems, places = workbook_document(sheets, file)
    r = _Reader(file)
    r.places = places
    if problems:
        raise XLSFormInvalid(problems)
    try:
        return build_questionnaire(doc, file)
    except QuestionnaireInvalid as exc:
        raise XLSFormInvalid([_locate(r, p) for p in exc.problems]) from None


# --- document -> workbook ------------------------------------------------------------------

SURVEY_HEADER = ("type", "name", "label::Tiếng Việt (vi)", "label::English (en)",
                 "hint::Tiếng Việt (vi)", "hint::English (en)", "required", "relevant",
                 "constraint", "constraint_message::Tiếng Việt (vi)",
                 "constraint_message::English (en)", "appearance", "subcriterion")
CHOICES_HEADER = ("list_name", "name", "label::Tiếng Việt (vi)", "label::English (en)", "score",
                  "dont_know")
SETTINGS_HEADER = ("form_id", "version", "form_title::Tiếng Việt (vi)",
                   "form_title::English (en)", "default_language", "group", "unit_level",
                   "layout", "illustrative")


def _text(label: Any, lang: str) -> str:
    if isinstance(label, str):
        return label if lang == "vi" else ""
    if isinstance(label, Mapping):
        return str(label.get(lang) or "")
    return ""


def document_rows(doc: Mapping[str, Any]) -> dict[str, list[list[Any]]]:
    """The three sheets (header first) of a validated questionnaire document."""
    survey: list[list[Any]] = [list(SURVEY_HEADER)]
    choices: list[list[Any]] = [list(CHOICES_HEADER)]

    def row(**cells: Any) -> list[Any]:
        """A survey row; a translated column's cell is given as ``(vi, en)``."""
        out = []
        for h in SURVEY_HEADER:
            name, _, lang = h.partition("::")
            value = cells.get(name, "")
            out.append(value[lang.endswith("(en)")] if lang and value else value)
        return out

    def both(text: Any) -> tuple[str, str]:
        return _text(text, "vi"), _text(text, "en")

    def choice_rows(list_name: str, options: Sequence[Mapping[str, Any]]) -> None:
        for o in options:
            choices.append([list_name, str(o["code"]), _text(o["label"], "vi"),
                            _text(o["label"], "en"),
                            float(o["score"]) if o.get("score") is not None else "",
                            "yes" if o.get("dont_know") else ""])

    multiple = {q["id"] for s in doc["sections"] for q in s["questions"]
                if QuestionType(q["type"]).kind.many}
    if doc.get("description") is not None:
        survey.append(row(type="note", name="description", label=both(doc["description"])))
    for list_name, options in (doc.get("option_sets") or {}).items():
        choice_rows(str(list_name), options)
    for s in doc["sections"]:
        grid = s.get("layout") == "grid"
        survey.append(row(type="begin_group", name=s["id"], label=both(s["title"]),
                          appearance="table-list" if grid else "field-list"))
        if s.get("intro") is not None:
            survey.append(row(type="note", name=f"{s['id']}_intro",
                              label=both(s["intro"])))
        for q in s["questions"]:
            qkind = QuestionType(q["type"]).kind
            kind, appearance = qkind.xlsform
            if qkind.has_options:
                if isinstance(q["options"], str):
                    list_name = q["options"]
                else:
                    list_name = q["id"]
                    choice_rows(list_name, q["options"])
                kind = f"{kind} {list_name}"
            if grid and qkind.grid_row:
                appearance = ""  # the group's table-list says it
            constraint = []
            if q.get("min") is not None:
                constraint.append(f". >= {q['min']}")
            if q.get("max") is not None:
                constraint.append(f". <= {q['max']}")
            if q.get("max_length") is not None:
                constraint.append(f"string-length(.) <= {q['max_length']}")
            survey.append(row(
                type=kind, name=q["id"], label=both(q["text"]), hint=both(q.get("help")),
                required="yes" if q.get("required") else "",
                relevant=format_relevant(q["show_if"], multiple) if q.get("show_if") else "",
                constraint=" and ".join(constraint),
                constraint_message=both(q.get("constraint_message")),
                appearance=appearance,
                subcriterion=str(q.get("subcriterion") or "")))
        survey.append(row(type="end_group", name=""))
    rates = doc["rates"]
    levels = rates["unit_level"]
    settings = [list(SETTINGS_HEADER), [
        doc["id"], doc["version"], _text(doc["title"], "vi"), _text(doc["title"], "en"),
        "Tiếng Việt (vi)", doc["group"], levels if isinstance(levels, str) else " ".join(levels),
        rates.get("layout", "per_unit"), "yes" if doc.get("illustrative") else ""]]
    return {SURVEY: survey, CHOICES: choices, SETTINGS: settings}


#: Columns written as text so that Excel keeps codes such as "01" and sub-criteria such as
#: "2.10" exactly as typed.
_TEXT_COLUMNS = {SURVEY: {"name", "subcriterion"}, CHOICES: {"list_name", "name"}, SETTINGS: set()}


def write_workbook(sheets: Mapping[str, Sequence[Sequence[Any]]], target: Any,
                   text_rows: int = 0) -> None:
    """Write ``sheets`` (header first) as an XLSX with a bold, frozen header row.

    Every text cell goes through :func:`~questionnaires.spreadsheet.safe_row` (OWASP CSV
    injection): a label typed as ``=HYPERLINK(...)`` is written as ``'=HYPERLINK(...)``, text
    Excel shows and never runs.  Legitimate XLSForm cells (names, codes, ``${q} = 'x'``
    conditions, labels) do not start with ``= + - @``, so the round trip through
    :func:`questionnaire_from_sheets` keeps their content hash.
    """
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    first = True
    bold = Font(bold=True)
    for name, rows in sheets.items():
        ws = wb.active if first else wb.create_sheet(name)
        assert ws is not None
        ws.title = name
        first = False
        for r in rows:
            ws.append(safe_row(r))
        for cell in ws[1]:
            cell.font = bold
        ws.freeze_panes = "A2"
        header = list(rows[0]) if rows else []
        for position, title in enumerate(header, start=1):
            letter = get_column_letter(position)
            wide = str(title).startswith(("label", "hint", "form_title", "relevant"))
            ws.column_dimensions[letter].width = 48 if wide else 16
            if str(title) in _TEXT_COLUMNS.get(name, set()):
                for index in range(2, max(len(rows), text_rows) + 1):
                    ws.cell(row=index, column=position).number_format = "@"
    wb.save(target)


def questionnaire_to_xlsx(q: Questionnaire) -> bytes:
    """The XLSForm workbook of a questionnaire (importing it gives the same content hash)."""
    buf = io.BytesIO()
    write_workbook(document_rows(q.document), buf)
    return buf.getvalue()


def iter_problems(exc: QuestionnaireInvalid) -> Iterator[Problem]:
    """The problems of a failed conversion, in sheet and row order."""
    yield from sorted(exc.problems, key=lambda p: (p.sheet, p.row or 0, p.column))


# --- the template ------------------------------------------------------------------------

_TEMPLATE_DOC: dict[str, Any] = {
    "id": "vi-du-phieu", "version": 1, "group": "citizen", "languages": ["vi", "en"],
    "title": {"vi": "Phiếu khảo sát mẫu (ví dụ)", "en": "Example survey form"},
    "description": {"vi": "Xin ông/bà cho biết ý kiến. Thông tin được giữ bí mật.",
                    "en": "Please give your opinion. Your answers are kept confidential."},
    "rates": {"unit_level": "department", "layout": "per_unit"},
    "option_sets": {"muc_do_5": [
        {"code": "A", "score": 1.0, "label": {"vi": "Rất tốt", "en": "Very good"}},
        {"code": "B", "score": 0.6, "label": {"vi": "Tốt", "en": "Good"}},
        {"code": "C", "score": 0.2, "label": {"vi": "Chưa tốt", "en": "Not good enough"}},
        {"code": "D", "score": 0.0, "label": {"vi": "Kém", "en": "Poor"}},
        {"code": "E", "dont_know": True, "label": {"vi": "Không biết", "en": "Don't know"}},
    ], "kenh": [
        {"code": "web", "label": {"vi": "Cổng thông tin điện tử", "en": "Web portal"}},
        {"code": "bao", "label": {"vi": "Báo, đài", "en": "Press, radio and television"}},
        {"code": "khac", "label": {"vi": "Kênh khác", "en": "Another channel"}},
    ]},
    "sections": [{
        "id": "trang_1", "title": {"vi": "Đánh giá chung", "en": "Overall rating"},
        "intro": {"vi": "Với mỗi câu hỏi, xin chọn một phương án.",
                  "en": "For each question, please choose one option."},
        "questions": [
            {"id": "chat_luong", "type": "single", "required": True, "subcriterion": "1.1",
             "text": {"vi": "Ông/bà đánh giá thế nào về chất lượng phục vụ của cơ quan?",
                      "en": "How do you rate the agency's quality of service?"},
             "options": "muc_do_5"},
            {"id": "kenh_thong_tin", "type": "multiple",
             "text": {"vi": "Ông/bà biết thông tin qua những kênh nào?",
                      "en": "Through which channels did you hear about it?"},
             "options": "kenh"},
            {"id": "so_lan", "type": "integer", "min": 0, "max": 50,
             "text": {"vi": "Trong năm qua ông/bà đến cơ quan bao nhiêu lần?",
                      "en": "How many times did you visit the agency in the past year?"}},
            {"id": "gop_y", "type": "textarea", "max_length": 1000,
             "text": {"vi": "Ông/bà có góp ý gì cho cơ quan?",
                      "en": "Do you have any suggestions for the agency?"},
             "help": {"vi": "Không bắt buộc.", "en": "Optional."}},
        ]}],
}
TEMPLATE_LISTS = "danh_muc"
_PLAIN_TYPES = ("begin_group", "end_group", "note",
                *(w for w, kinds in _XLS_KINDS.items() if not kinds[0].has_options))
_TEMPLATE_ROWS = 300


def template_document() -> dict[str, Any]:
    """The example questionnaire of the template workbook (one page, in Vietnamese)."""
    return _TEMPLATE_DOC


def write_template(target: Any) -> None:
    """Write the authors' template: the three sheets with one example page, drop-downs (data
    validation) for the type, appearance and yes/no columns, and a sheet of allowed values."""
    from openpyxl import load_workbook
    from openpyxl.worksheet.datavalidation import DataValidation

    doc = _TEMPLATE_DOC
    rows = document_rows(doc)
    lists = sorted(doc["option_sets"])
    types = [*_PLAIN_TYPES, *(f"{w} {n}" for w, kinds in _XLS_KINDS.items()
                              if kinds[0].has_options for n in lists)]
    appearances = ["field-list", "table-list",
                   *(k.xlsform[1] for k in KINDS.values() if k.xlsform[1])]
    catalog = [["type", "appearance", "yes/no", "layout", "default_language",
                "Hướng dẫn", "Notes"]]
    notes = [
        ("Mỗi trang là một nhóm begin_group ... end_group (field-list: một trang; table-list: "
         "bảng thang đo).", "Each page is a begin_group ... end_group (field-list: one page; "
         "table-list: a Likert grid)."),
        ("select_one <list_name>: list_name là tên danh sách trên trang choices.",
         "select_one <list_name>: list_name names a list on the choices sheet."),
        ("relevant chỉ dựa vào câu hỏi ở trang trước, ví dụ ${chat_luong} = 'C' or "
         "selected(${kenh_thong_tin}, 'web').", "relevant refers only to questions of earlier "
         "pages, e.g. ${chat_luong} = 'C' or selected(${kenh_thong_tin}, 'web')."),
        ("score: tỷ lệ điểm 0..1 của phương án; dont_know = yes cho 'Không biết'.",
         "score: the option's share 0..1 of the points; dont_know = yes for 'Don't know'."),
        ("subcriterion: mã tiêu chí thành phần (bắt buộc với câu có điểm).",
         "subcriterion: the sub-criterion code (required for scored questions)."),
    ]
    depth = max(len(types), len(appearances), len(notes))
    for i in range(depth):
        catalog.append([
            types[i] if i < len(types) else "",
            appearances[i] if i < len(appearances) else "",
            ("yes", "no")[i] if i < 2 else "",
            ("per_unit", "matrix")[i] if i < 2 else "",
            ("Tiếng Việt (vi)", "English (en)")[i] if i < 2 else "",
            notes[i][0] if i < len(notes) else "", notes[i][1] if i < len(notes) else ""])
    buf = io.BytesIO()
    write_workbook({**rows, TEMPLATE_LISTS: catalog}, buf, text_rows=_TEMPLATE_ROWS)
    buf.seek(0)
    wb = load_workbook(buf)
    ws_lists = wb[TEMPLATE_LISTS]
    ws_lists.column_dimensions["A"].width = 28
    ws_lists.column_dimensions["F"].width = 70
    ws_lists.column_dimensions["G"].width = 70

    def drop_down(sheet: str, header: str, column: str, count: int) -> None:
        ws = wb[sheet]
        position = [c.value for c in ws[1]].index(header)
        letter = column_letter(position)
        dv = DataValidation(type="list", allow_blank=True, showDropDown=False,
                            formula1=f"={TEMPLATE_LISTS}!${column}$2:${column}${count + 1}")
        # A warning, not a stop: an author adds list names of their own.
        dv.errorStyle = "warning"
        dv.error = "Chọn giá trị trong danh sách / Pick a value from the list"
        dv.errorTitle = "Giá trị ngoài danh sách / Value not in the list"
        dv.showErrorMessage = True
        ws.add_data_validation(dv)
        dv.add(f"{letter}2:{letter}{_TEMPLATE_ROWS + 1}")

    drop_down(SURVEY, "type", "A", len(types))
    drop_down(SURVEY, "appearance", "B", len(appearances))
    drop_down(SURVEY, "required", "C", 2)
    drop_down(CHOICES, "dont_know", "C", 2)
    drop_down(SETTINGS, "illustrative", "C", 2)
    drop_down(SETTINGS, "layout", "D", 2)
    drop_down(SETTINGS, "default_language", "E", 2)
    wb.save(target)
