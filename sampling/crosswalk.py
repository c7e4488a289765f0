"""A campaign's units across the 2025 merger: matching to GSO units, mapping, crosswalks.

A campaign names its units with its own codes (``S-NOIVU``, ``H-CAUKE``, ...).  Units at
the levels ``province``, ``district`` and ``commune`` are matched to the national old→new
table (:mod:`sampling.units_2025`): by GSO code when the campaign's code is one (``84``,
``00004``), otherwise by name within the campaign's province, case-, spacing- and
diacritic-insensitively after NFC (:func:`~sampling.units_2025.fold_name`); a unit that
matches nothing, or more than one unit, is reported for a person to map.  Departments and
any other level are each province's own decision: a province supplies a crosswalk file,
old campaign unit → new campaign unit with the share of the old unit that goes there.

Crosswalk columns (CSV or XLSX, header row 1): ``old_campaign`` (may be left empty when
there is one predecessor), ``old_code``, ``old_name``, ``new_code`` (``-`` = no successor),
``new_name``, ``share`` (empty = the whole unit), ``note``.  The names are for people and are
not checked.  A crosswalk row may also override the national table for a commune, e.g. to
settle a split.
"""

from __future__ import annotations

import enum
import io
import math
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from questionnaires.spreadsheet import safe_row
from questionnaires.problems import Problem
from sampling.errors import list_problem
from sampling.tabular import TableLimits, TableReadError, read_error_text, read_table
from sampling.units import Unit, UnitTree
from sampling.units_2025 import How, UnitTable, fold_name, strip_type

GSO_LEVELS: Final = ("province", "district", "commune")
CROSSWALK_COLUMNS: Final = ("old_campaign", "old_code", "old_name", "new_code", "new_name",
                            "share", "note")
CROSSWALK_REQUIRED: Final = ("old_code", "new_code")
NO_SUCCESSOR: Final = "-"
SHARE_TOLERANCE: Final = 1e-6


class Matched(enum.StrEnum):
    """How a campaign unit was tied to a GSO unit."""

    CODE = "code"
    NAME = "name"
    NONE = "none"           # at a GSO level but no (single) match: a person decides
    NOT_GSO = "not_gso"     # a department or other level: the crosswalk decides


@dataclass(frozen=True, slots=True)
class GsoMatch:
    """A campaign unit's GSO counterpart (old, pre-July 2025 codes)."""

    kind: str               # province / district / commune / "" (none)
    gso_code: str
    matched: Matched
    candidates: tuple[str, ...] = ()   # several equally good names: the GSO codes


def match_units(units: Iterable[Unit], province: str, table: UnitTable) -> dict[str, GsoMatch]:
    """Tie each unit at a GSO level to the old GSO unit it names (see the module notes)."""
    out: dict[str, GsoMatch] = {}
    # Districts before communes, so that a commune is looked for in its own district.
    order = {level: i for i, level in enumerate(GSO_LEVELS)}
    for unit in sorted(units, key=lambda u: order.get(u.level, len(order))):
        out[unit.code] = _match_one(unit, province, table, out)
    return out


def match_new_units(units: Iterable[Unit], province: str, table: UnitTable) -> dict[str, str]:
    """New (July 2025) GSO code → campaign unit code, for a campaign on the new units.

    The province unit matches the new province; commune-level units match a new commune of
    the province by code, else by folded name (unique matches only).
    """
    communes = table.new_communes_of_province(province)
    by_code = {c.code for c in communes}
    out: dict[str, str] = {}
    for unit in units:
        if unit.level == "province" and (unit.code == province or _names_match(
                unit.name_vi, table.new_provinces.get(province, ""))):
            out[province] = unit.code
        elif unit.level == "commune":
            if unit.code in by_code:
                out[unit.code] = unit.code
                continue
            hits = _by_name([(c.code, c.name) for c in communes], unit.name_vi)
            if len(hits) == 1:
                out.setdefault(hits[0], unit.code)
    return out


def _match_one(unit: Unit, province: str, table: UnitTable,
               done: Mapping[str, GsoMatch]) -> GsoMatch:
    if unit.level not in GSO_LEVELS:
        return GsoMatch("", "", Matched.NOT_GSO)
    if unit.level == "province":
        if unit.code in table.old_provinces:
            return GsoMatch("province", unit.code, Matched.CODE)
        hits = [p.code for p in table.old_provinces.values()
                if _names_match(p.name, unit.name_vi)]
        return _pick("province", hits)
    if unit.level == "district":
        d_codes = {d.code: d for d in table.districts_of_province(province)}
        if unit.code in d_codes:
            return GsoMatch("district", unit.code, Matched.CODE)
        hits = _by_name([(d.code, d.name) for d in d_codes.values()], unit.name_vi)
        return _pick("district", hits)
    c_codes = {c.code: c for c in table.old_communes_of_province(province)}
    if unit.code in c_codes:
        return GsoMatch("commune", unit.code, Matched.CODE)
    pool = list(c_codes.values())
    parent = done.get(unit.parent or "")
    if parent is not None and parent.kind == "district" and parent.gso_code:
        pool = [c for c in pool if c.district_code == parent.gso_code]
    return _pick("commune", _by_name([(c.code, c.name) for c in pool], unit.name_vi))


def _names_match(a: str, b: str) -> bool:
    return fold_name(a) == fold_name(b)


def _by_name(pool: Sequence[tuple[str, str]], name: str) -> list[str]:
    """Exact folded name first; the name without its type word only as a fallback."""
    key = fold_name(name)
    exact = [code for code, n in pool if fold_name(n) == key]
    if exact:
        return exact
    bare = strip_type(key)
    return [code for code, n in pool if strip_type(fold_name(n)) == bare]


def _pick(kind: str, hits: Sequence[str]) -> GsoMatch:
    if len(hits) == 1:
        return GsoMatch(kind, hits[0], Matched.NAME)
    return GsoMatch(kind, "", Matched.NONE, tuple(hits))


# -- crosswalk files -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CrosswalkLink:
    """One row of a crosswalk: part (``share``) of an old unit goes to a new unit."""

    row: int
    old_campaign: str
    old_code: str
    new_code: str           # "" when the old unit has no successor
    share: float
    new_name: str = ""      # as written in the file (for people; not checked)


@dataclass(frozen=True, slots=True)
class Crosswalk:
    """A validated crosswalk: every listed old unit's shares add up to 1."""

    file: str
    links: tuple[CrosswalkLink, ...]

    def targets(self, campaign: str, old_code: str) -> tuple[CrosswalkLink, ...]:
        """The rows of one old unit (empty when the crosswalk does not list it)."""
        return tuple(k for k in self.links if k.old_campaign == campaign
                     and k.old_code == old_code)

    def covers(self, campaign: str, old_code: str) -> bool:
        """Whether the crosswalk lists this old unit."""
        return any(k.old_campaign == campaign and k.old_code == old_code for k in self.links)


class CrosswalkInvalid(Exception):
    """The crosswalk was refused; ``errors`` lists every located problem."""

    def __init__(self, errors: Sequence[Problem]) -> None:
        self.errors = tuple(errors)
        super().__init__("; ".join(str(e) for e in self.errors[:3]))


def read_crosswalk(source: Path | bytes, *, old_units: Mapping[str, Mapping[str, str]],
                   required: Mapping[str, Collection[str]] | None = None,
                   new_units: Collection[str] | None = None,
                   filename: str | None = None) -> Crosswalk:
    """Read and validate a crosswalk (all or nothing).

    Parameters
    ----------
    old_units
        Predecessor campaign code → {unit code: name}: the codes a row may name.
    required
        Predecessor campaign code → unit codes that must have at least one row
        (default: none; the mapping commands pass the units the national table cannot map).
    new_units
        The new campaign's unit codes, when known; ``new_code`` must be one of them.

    Raises
    ------
    CrosswalkInvalid
        With every problem, each located by row and column (rendered in the reader's language).
    """
    name = filename or (source.name if isinstance(source, Path) else "crosswalk")
    try:
        table = read_table(source, filename=name, limits=TableLimits(max_rows=100_000))
    except TableReadError as exc:
        raise CrosswalkInvalid([list_problem("XW-FILE-READ", name, detail=read_error_text(exc))]) from exc
    header = [h.strip().lower() for h in table.header]
    errors: list[Problem] = []
    for column in CROSSWALK_REQUIRED:
        if column not in header:
            errors.append(list_problem("XW-HEADER-MISSING", name, 1, column,
                                         required=", ".join(CROSSWALK_REQUIRED)))
    if errors:
        raise CrosswalkInvalid(errors)
    col: dict[str, int] = {c: header.index(c) for c in CROSSWALK_COLUMNS if c in header}
    campaigns = list(old_units)
    allowed = ", ".join(campaigns)
    links: list[CrosswalkLink] = []
    first: dict[tuple[str, str, str], int] = {}
    raw_share: dict[int, str] = {}
    for number, cells in table.rows:
        def cell(column: str, cells: tuple[str, ...] = cells) -> str:
            i = col.get(column)
            return cells[i].strip() if i is not None and i < len(cells) else ""
        campaign = cell("old_campaign") or (campaigns[0] if len(campaigns) == 1 else "")
        old, new, share_text = cell("old_code"), cell("new_code"), cell("share")
        ok = True
        if not campaign:
            errors.append(list_problem("XW-EMPTY", name, number, "old_campaign"))
            ok = False
        elif campaign not in old_units:
            errors.append(list_problem("XW-CAMPAIGN-UNKNOWN", name, number, "old_campaign",
                                         value=campaign, allowed=allowed))
            ok = False
        if not old:
            errors.append(list_problem("XW-EMPTY", name, number, "old_code"))
            ok = False
        elif ok and old not in old_units[campaign]:
            errors.append(list_problem("XW-OLD-UNKNOWN", name, number, "old_code",
                                         value=old, campaign=campaign))
            ok = False
        if not new:
            errors.append(list_problem("XW-EMPTY", name, number, "new_code"))
            ok = False
        elif new != NO_SUCCESSOR and new_units is not None and new not in new_units:
            errors.append(list_problem("XW-NEW-UNKNOWN", name, number, "new_code", value=new))
            ok = False
        share = _share(share_text)
        if share is None:
            errors.append(list_problem("XW-SHARE-FORMAT", name, number, "share",
                                         value=share_text))
            ok = False
        if not ok:
            continue
        key = (campaign, old, new)
        if key in first:
            errors.append(list_problem("XW-DUPLICATE", name, number, "new_code", value=old,
                                         new=new, campaign=campaign, first=first[key]))
            continue
        first[key] = number
        raw_share[number] = share_text
        links.append(CrosswalkLink(number, campaign, old,
                                   "" if new == NO_SUCCESSOR else new, share or 1.0,
                                   cell("new_name")))
    by_old: dict[tuple[str, str], list[CrosswalkLink]] = defaultdict(list)
    for link in links:
        by_old[(link.old_campaign, link.old_code)].append(link)
    for (campaign, old), group in by_old.items():
        blanks = [k for k in group if not raw_share[k.row]]
        total = math.fsum(k.share for k in group)
        if (len(group) > 1 and blanks) or abs(total - 1.0) > SHARE_TOLERANCE:
            shown = "?" if len(group) > 1 and blanks else f"{total:g}"
            errors.append(list_problem(
                "XW-SHARE-SUM", name, group[0].row, "share", value=old, campaign=campaign,
                total=shown, rows=", ".join(str(k.row) for k in group)))
    for campaign, codes in (required or {}).items():
        for code in codes:
            if (campaign, code) not in by_old:
                errors.append(list_problem(
                    "XW-OLD-MISSING", name, None, "old_code", value=code, campaign=campaign,
                    name=old_units.get(campaign, {}).get(code, "")))
    if errors:
        raise CrosswalkInvalid(errors)
    return Crosswalk(name, tuple(links))


def _share(text: str) -> float | None:
    """Empty → 1 (checked against the unit's other rows); else a number in (0, 1]."""
    if not text:
        return 1.0
    try:
        value = float(text.replace(",", ".").rstrip("%")) / (100 if text.endswith("%") else 1)
    except ValueError:
        return None
    if not math.isfinite(value) or not 0 < value <= 1:
        return None
    return value


# -- the mapping of one campaign's units ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewRef:
    """A new unit an old unit (partly) went into; ``share`` ``None`` when no source says."""

    code: str
    name: str
    share: float | None


@dataclass(frozen=True, slots=True)
class UnitMapping:
    """Where one unit of a campaign built on the old units went.

    ``how`` is a :class:`~sampling.units_2025.How` value, ``split`` (the old unit went to
    several new units), ``abolished`` (districts; ``new`` then lists the new communes its
    communes went into, ``partial`` marking those that took only part of one) or
    ``unmapped``.  ``decide`` marks rows a person must settle; ``reason`` is a key of
    :data:`REASONS` (empty when there is nothing to say).
    """

    old_code: str
    old_name: str
    level: str
    gso_code: str
    matched: Matched
    new: tuple[NewRef, ...]
    how: str
    decide: bool
    reason: str
    source: str
    partial: tuple[str, ...] = ()
    candidates: tuple[str, ...] = ()


REASONS: Final[Mapping[str, tuple[str, str]]] = {
    "crosswalk": ("theo bảng chuyển đổi của tỉnh", "as the province's crosswalk says"),
    "crosswalk_no_successor": ("bảng chuyển đổi ghi không có đơn vị kế thừa",
                               "the crosswalk gives no successor"),
    "not_gso": ("không có trong bảng quốc gia: cần một dòng trong bảng chuyển đổi",
                "not in the national table: give it a crosswalk row"),
    "name_ambiguous": ("nhiều đơn vị hành chính trùng tên: cần chọn trong bảng chuyển đổi",
                       "several GSO units have this name: settle it in the crosswalk"),
    "name_unmatched": ("không tìm thấy đơn vị hành chính cùng tên trong tỉnh: cần một dòng "
                       "trong bảng chuyển đổi",
                       "no GSO unit of this name in the province: give it a crosswalk row"),
    "district_abolished": ("cấp huyện không còn từ 01/7/2025; liệt kê các xã mới nhận các xã "
                           "của huyện", "the district level ended on 1 July 2025; the new "
                           "communes its communes went into are listed"),
    "split_population": ("bị chia tách; ghi chú chính thức cho biết toàn bộ dân số về một "
                         "phần: cần xác nhận", "split; the official note puts all the "
                         "population in one part: confirm"),
    "split_no_share": ("bị chia tách, không nguồn nào cho tỷ lệ: cần quyết định đơn vị mới "
                       "nào tiếp nối", "split, no source gives shares: decide which new unit "
                       "continues it"),
}
"""Why a mapping row reads as it does, in Vietnamese and English."""


def reason_text(key: str, lang: str = "vi") -> str:
    """The text of a :data:`REASONS` key in ``lang`` (``vi`` or ``en``); empty for ``""``."""
    if not key:
        return ""
    vi, en = REASONS[key]
    return vi if lang == "vi" else en


def _how(n_targets: int, sources_of_target: int, same_name: bool) -> str:
    if n_targets > 1:
        return "split"
    if sources_of_target > 1:
        return How.MERGED_WHOLE.value
    return How.KEPT.value if same_name else How.RENAMED.value


def map_units(units: Iterable[Unit], province: str, table: UnitTable, *, campaign: str = "",
              crosswalk: Crosswalk | None = None,
              new_names: Mapping[str, str] | None = None) -> list[UnitMapping]:
    """Map every unit of a campaign on the old units to the new units (module notes).

    A crosswalk row for a unit takes precedence over the national table.  Split units, units
    the national table cannot place and units without a crosswalk row are marked ``decide``.
    """
    matches = match_units(units, province, table)
    names = dict(new_names or {})
    # How many old units feed each crosswalk target, to tell a merger from a rename.
    fed: dict[str, int] = defaultdict(int)
    if crosswalk is not None:
        for link in crosswalk.links:
            if link.old_campaign == campaign and link.new_code:
                fed[link.new_code] += 1
    out: list[UnitMapping] = []
    for unit in units:
        m = matches[unit.code]
        if crosswalk is not None and crosswalk.covers(campaign, unit.code):
            links = [k for k in crosswalk.targets(campaign, unit.code) if k.new_code]
            refs = tuple(NewRef(k.new_code, names.get(k.new_code) or k.new_name, k.share)
                         for k in links)
            if not refs:
                out.append(UnitMapping(unit.code, unit.name_vi, unit.level, m.gso_code, m.matched,
                                       (), "abolished", False, "crosswalk_no_successor",
                                       f"crosswalk {crosswalk.file}"))
                continue
            same = len(refs) == 1 and fold_name(refs[0].name) == fold_name(unit.name_vi)
            how = _how(len(refs), fed[refs[0].code], same)
            out.append(UnitMapping(unit.code, unit.name_vi, unit.level, m.gso_code, m.matched,
                                   refs, how, False, "crosswalk",
                                   f"crosswalk {crosswalk.file}"))
            continue
        out.append(_national(unit, m, table))
    return out


def _national(unit: Unit, m: GsoMatch, table: UnitTable) -> UnitMapping:
    base = (unit.code, unit.name_vi, unit.level, m.gso_code, m.matched)
    if m.matched is Matched.NOT_GSO:
        return UnitMapping(*base, (), "unmapped", True, "not_gso", "")
    if m.matched is Matched.NONE:
        why = "name_ambiguous" if m.candidates else "name_unmatched"
        return UnitMapping(*base, (), "unmapped", True, why, "", (), m.candidates)
    if m.kind == "province":
        p = table.old_provinces[m.gso_code]
        return UnitMapping(*base, (NewRef(p.new_code, p.new_name, 1.0),), p.how.value, False,
                           "", p.source)
    if m.kind == "district":
        parts = table.district_fate(m.gso_code)
        refs = tuple(NewRef(p.new_code, p.new_name, None) for p in parts)
        partial = tuple(p.new_code for p in parts if p.partial)
        return UnitMapping(*base, refs, How.ABOLISHED.value, False,
                           "district_abolished",
                           "nso", partial)
    targets = table.targets[m.gso_code]
    refs = tuple(NewRef(t.code, t.name, t.share) for t in targets)
    sources = ";".join(sorted({t.source for t in targets}))
    if len(targets) > 1:
        known = all(t.share is not None for t in targets)
        reason = "split_population" if known else "split_no_share"
        return UnitMapping(*base, refs, "split", True, reason, sources)
    return UnitMapping(*base, refs, targets[0].how.value, False, "", sources)


def crosswalk_template(units: UnitTree, province: str, table: UnitTable, campaign: str
                       ) -> list[list[str]]:
    """Rows (header first) of a crosswalk template for one predecessor campaign.

    Every unit the national table cannot settle gets a row to fill in: departments and
    other levels, unmatched units, and each part of a split commune (prefilled with the new
    GSO code; keep, delete or reshare the parts).  Districts and settled units are left out.
    """
    rows: list[list[str]] = [list(CROSSWALK_COLUMNS)]
    for mapping in map_units(units, province, table, campaign=campaign):
        if not mapping.decide:
            continue
        if mapping.new:
            for ref in mapping.new:
                share = "" if ref.share is None else f"{ref.share:g}"
                rows.append([campaign, mapping.old_code, mapping.old_name, ref.code, ref.name,
                             share, _note(mapping.reason)])
        else:
            rows.append([campaign, mapping.old_code, mapping.old_name, "", "", "",
                         _note(mapping.reason)])
    return rows


def _note(reason: str) -> str:
    return f"{reason_text(reason, 'vi')} / {reason_text(reason, 'en')}"


def needs_crosswalk(units: Iterable[Unit], province: str, table: UnitTable) -> list[str]:
    """Codes of the units only a crosswalk can map (departments, unmatched units)."""
    return [m.old_code for m in map_units(units, province, table)
            if m.decide and not m.new]


def template_csv(rows: Sequence[Sequence[str]]) -> str:
    """The template as CSV text (a spreadsheet opens it; UTF-8).

    Cells go through :func:`~questionnaires.spreadsheet.safe_row` (OWASP CSV injection): the
    province opens this file in Excel, and a unit name that starts with ``= + - @`` (from a
    hostile campaign file) must show as text, not run.  :func:`read_crosswalk` (``units
    crosswalk-check``) reads the file back: legitimate unit codes, names and shares never
    start with those characters, so they are written, and read back, unchanged.
    """
    import csv

    buffer = io.StringIO()
    # RFC 4180 line ends: a CR in a cell is then quoted, never a row break
    csv.writer(buffer, lineterminator="\r\n").writerows(safe_row(r) for r in rows)
    return buffer.getvalue()
