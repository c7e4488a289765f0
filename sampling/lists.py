"""Respondent lists: reading, validating, de-duplicating, and the XLSX template.

Provinces send lists as Excel files or CSV.  :func:`clean_respondent_list` is all or
nothing: it returns either a :class:`CleanList` (every row valid, cross-group duplicates
merged by the campaign's priority list, with a report) or a :class:`RejectedList`
carrying every error found, each naming the row as Excel shows it, the column, what is
wrong and how to fix it, in Vietnamese and English.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Final

from questionnaires.spreadsheet import safe_cell, safe_row
from sampling.config import Campaign
from sampling.contacts import (
    EmailInvalid,
    email_key,
    name_key,
    normalize_email,
    normalize_name,
    normalize_phone,
)
from questionnaires.problems import N_, Problem, Text
from sampling.errors import list_problem
from sampling.tabular import TableLimits, TableProblem, TableReadError, read_table

if TYPE_CHECKING:
    from openpyxl.worksheet.worksheet import Worksheet

COLUMNS: Final = ("external_id", "full_name", "group", "unit", "position", "sex",
                  "birth_year", "age", "email", "phone", "rated_units")
"""Columns of a respondent list, in template order."""

REQUIRED_COLUMNS: Final = ("external_id", "full_name", "group", "unit")
"""Columns that must be present in the header and filled in every row."""

_MAX_LENGTH: Final = {"external_id": 64, "full_name": 200, "position": 200, "email": 254,
                      "phone": 40, "rated_units": 4000}
_DEFAULT_MAX_LENGTH: Final = 200

_COLUMN_NOTES: Final = {
    "external_id": ("Mã định danh của người trong danh sách (duy nhất trong tệp), ví dụ số "
                    "thứ tự hoặc mã cán bộ.",
                    "The person's identifier in this list (unique in the file), e.g. a "
                    "staff number.", "TV-0001"),
    "full_name": ("Họ và tên đầy đủ, có dấu.", "Full name, with diacritics.",
                  "Nguyễn Thị Hoà"),
    "group": ("Mã nhóm đối tượng (chọn trong danh sách thả xuống).",
              "Respondent group code (pick from the drop-down).", ""),
    "unit": ("Mã đơn vị công tác của người này; với người dân là mã cơ quan nơi đã giải "
             "quyết thủ tục.",
             "Code of the person's own unit; for citizens, the agency that handled their "
             "procedure.", ""),
    "position": ("Chức vụ (không bắt buộc).", "Position (optional).", "Phó Trưởng phòng"),
    "sex": ("Giới tính: Nam, Nữ hoặc Khác (không bắt buộc).",
            "Sex: Nam (male), Nữ (female) or Khác (other) (optional).", "Nữ"),
    "birth_year": ("Năm sinh, 4 chữ số (không bắt buộc; điền năm sinh hoặc tuổi).",
                   "Birth year, 4 digits (optional; give birth year or age).", "1980"),
    "age": ("Tuổi (không bắt buộc; chỉ điền khi không có năm sinh).",
            "Age (optional; only when the birth year is unknown).", ""),
    "email": ("Địa chỉ email nhận thư mời khảo sát.", "Email address for the invitation.",
              "hoa.nt@travinh.gov.vn"),
    "phone": ("Số điện thoại di động, ví dụ 0912 345 678 (định dạng ô là Văn bản).",
              "Mobile number, e.g. 0912 345 678 (format the cell as Text).", "0912345678"),
    "rated_units": ("Mã các đơn vị người này đánh giá, cách nhau bằng dấu ';' (không bắt "
                    "buộc; để trống thì theo chỉ tiêu của đợt khảo sát).",
                    "Codes of the units this person rates, separated by ';' (optional; "
                    "empty means as the campaign's quotas say).", ""),
}


class Sex(enum.StrEnum):
    """Sex as recorded on the list."""

    MALE = "male"
    FEMALE = "female"
    OTHER = "other"


_SEX_WORDS: Final = {"nam": Sex.MALE, "male": Sex.MALE, "m": Sex.MALE,
                     "nữ": Sex.FEMALE, "nu": Sex.FEMALE, "female": Sex.FEMALE, "f": Sex.FEMALE,
                     "khác": Sex.OTHER, "khac": Sex.OTHER, "other": Sex.OTHER}


@dataclass(frozen=True, slots=True)
class Respondent:
    """A validated list row.

    Attributes
    ----------
    row : int
        Row number in the source file as Excel shows it.
    external_id, full_name, group, unit, position : str
        ``full_name`` is NFC with single spaces.
    sex : Sex or None
    birth_year, age : int or None
        When only one was given the other is derived at the reference year.
    email : str or None
        Normalised by email-validator.
    phone : str or None
        E.164, ``+84...``.
    rated_units : tuple of str
        Units named on the list for this person to rate (empty: as the quotas say).
    """

    row: int
    external_id: str
    full_name: str
    group: str
    unit: str
    position: str = ""
    sex: Sex | None = None
    birth_year: int | None = None
    age: int | None = None
    email: str | None = None
    phone: str | None = None
    rated_units: tuple[str, ...] = ()


class MatchKind(enum.StrEnum):
    """What made two rows of different groups the same person."""

    EMAIL = "email"
    PHONE = "phone"
    NAME_UNIT = "name+unit"


@dataclass(frozen=True, slots=True)
class MergeReport:
    """One person found in several groups, resolved by the priority list.

    Attributes
    ----------
    kept : tuple of Respondent
        Rows kept: those of the highest-priority group in the match (normally one).
    dropped : tuple of Respondent
        Rows removed from the list.
    matched_on : tuple of MatchKind
        The keys that linked the rows.
    """

    kept: tuple[Respondent, ...]
    dropped: tuple[Respondent, ...]
    matched_on: tuple[MatchKind, ...]


@dataclass(frozen=True, slots=True)
class CleanList:
    """An accepted list: valid rows, cross-group duplicates already resolved."""

    file: str
    respondents: tuple[Respondent, ...]
    merges: tuple[MergeReport, ...] = ()

    def counts_by_group_unit(self) -> dict[tuple[str, str], int]:
        """Respondents per (group, own unit), for :func:`sampling.quotas.resolve_census`."""
        return dict(Counter((r.group, r.unit) for r in self.respondents))


@dataclass(frozen=True, slots=True)
class RejectedList:
    """A refused list with its errors.

    Attributes
    ----------
    errors : tuple of Problem
        At most ``ListPolicy.max_errors`` of them, in row order.
    error_count : int
        All errors found, including those not kept.
    """

    file: str
    errors: tuple[Problem, ...]
    error_count: int


ListOutcome = CleanList | RejectedList


@dataclass(frozen=True, slots=True)
class ListPolicy:
    """Limits and switches for list cleaning.

    Attributes
    ----------
    max_bytes, max_rows : int
        File size and data-row limits.
    max_errors : int
        Errors kept in a :class:`RejectedList` (the count covers all).
    require_contact : bool
        Every row needs an email or a phone number.
    reference_year : int or None
        Year for converting between age and birth year; default: the campaign's year.
    age_range : (int, int)
        Plausible respondent ages.
    """

    max_bytes: int = 20 * 1024 * 1024
    max_rows: int = 200_000
    max_errors: int = 1000
    require_contact: bool = True
    reference_year: int | None = None
    age_range: tuple[int, int] = (15, 100)


class _Errors:
    def __init__(self, file: str, limit: int) -> None:
        self.file = file
        self.limit = limit
        self.items: list[Problem] = []
        self.count = 0

    def add(self, code: str, row: int | None, column: str | None, **params: object) -> None:
        self.count += 1
        if len(self.items) < self.limit:
            self.items.append(list_problem(code, self.file, row, column, **params))


def _parse_int(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 4 else None


def clean_respondent_list(
    source: Path | bytes, campaign: Campaign, *, filename: str | None = None,
    policy: ListPolicy = ListPolicy(),
) -> ListOutcome:
    """Read, validate and de-duplicate a respondent list against a campaign.

    Parameters
    ----------
    source : Path or bytes
        A CSV (UTF-8, with or without BOM; comma, semicolon or tab) or XLSX file.
    campaign : Campaign
        Supplies group and unit codes, group levels, the duplicate priority and the year.
    filename : str, optional
        Name shown in messages (defaults to the path's name).
    policy : ListPolicy
        Limits and switches.

    Returns
    -------
    CleanList or RejectedList
        All rows or none: any error rejects the whole file.
    """
    file = filename or (source.name if isinstance(source, Path) else "list")
    errors = _Errors(file, policy.max_errors)
    try:
        table = read_table(source, filename=filename,
                           limits=TableLimits(policy.max_bytes, policy.max_rows))
    except TableReadError as exc:
        if exc.problem is TableProblem.FORMAT:
            errors.add("LIST-FILE-FORMAT", None, None, value=file)
        elif exc.problem is TableProblem.TOO_LARGE:
            errors.add("LIST-FILE-TOO-LARGE", None, None, size=exc.position,
                       limit=policy.max_bytes)
        elif exc.problem is TableProblem.TOO_MANY_ROWS:
            errors.add("LIST-TOO-MANY-ROWS", None, None, limit=policy.max_rows)
        elif exc.problem is TableProblem.EXPANDS:
            errors.add("LIST-FILE-EXPANDS", None, None, size=exc.detail, limit=exc.position)
        elif exc.problem is TableProblem.ENCODING:
            errors.add("LIST-ENCODING", None, None, position=exc.position)
        else:
            errors.add("LIST-FILE-READ", None, None, detail=exc.detail)
        return RejectedList(file, tuple(errors.items), errors.count)

    header = [h.strip().lower() for h in table.header]
    index: dict[str, int] = {}
    for position, name in enumerate(header):
        if not name:
            continue
        if name in index:
            errors.add("LIST-HEADER-DUPLICATE", 1, name)
        elif name not in COLUMNS:
            errors.add("LIST-HEADER-UNKNOWN", 1, table.header[position],
                       allowed=", ".join(COLUMNS))
        else:
            index[name] = position
    for name in REQUIRED_COLUMNS:
        if name not in index:
            errors.add("LIST-HEADER-MISSING", 1, name, required=", ".join(REQUIRED_COLUMNS))
    if errors.count:
        return RejectedList(file, tuple(errors.items), errors.count)
    if not table.rows:
        errors.add("LIST-EMPTY", None, None)
        return RejectedList(file, tuple(errors.items), errors.count)

    respondents = _validate_rows(table.rows, header, index, campaign, policy, errors)
    if errors.count:
        return RejectedList(file, tuple(errors.items), errors.count)
    respondents, in_group = _resolve_within_group(respondents, campaign, errors)
    if errors.count:
        return RejectedList(file, tuple(errors.items), errors.count)
    kept, merges = merge_cross_group_duplicates(respondents, campaign.duplicate_priority)
    return CleanList(file, kept, in_group + merges)


_MATCHED: Final = {MatchKind.EMAIL: Text(N_("email")), MatchKind.PHONE: Text(N_("phone")),
                   MatchKind.NAME_UNIT: Text(N_("name within the unit"))}
_MATCH_COLUMN: Final = {MatchKind.EMAIL: "email", MatchKind.PHONE: "phone",
                        MatchKind.NAME_UNIT: "full_name"}


def _compatible(a: Respondent, b: Respondent) -> bool:
    """Whether two rows with the same name in one unit may be one person: two different
    emails or phones say they are namesakes."""
    if a.email and b.email and email_key(a.email) != email_key(b.email):
        return False
    return not (a.phone and b.phone and a.phone != b.phone)


def find_within_group_duplicates(respondents: Sequence[Respondent]
                                 ) -> list[tuple[int, int, MatchKind]]:
    """Rows of one group that are the same person, by the cross-group identity rules.

    Two rows of the same group match on the normalised email (:func:`email_key`), the
    normalised phone (``+84``/``0084``/``0`` forms are one number after
    :func:`normalize_phone`), or the name key (:func:`name_key`: NFC/NFD, case and old or new
    tone placement are one name) within the same unit unless their emails or phones differ.
    Matches chain. Returns ``(row index, index of the first row of its person, kind)`` for
    every row after the first of each person, in row order.
    """
    parent = list(range(len(respondents)))
    kind_of: dict[int, MatchKind] = {}

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def link(i: int, j: int, kind: MatchKind) -> None:
        a, b = find(i), find(j)
        if a != b:
            parent[max(a, b)] = min(a, b)  # the root is the set's first row
            kind_of.setdefault(max(i, j), kind)

    seen: dict[tuple[MatchKind, str, str], int] = {}
    for i, r in enumerate(respondents):
        keys = [(MatchKind.EMAIL, email_key(r.email)) if r.email else None,
                (MatchKind.PHONE, r.phone) if r.phone else None,
                (MatchKind.NAME_UNIT, f"{name_key(r.full_name)}\x00{r.unit}")]
        for key in keys:
            if key is None:
                continue
            j = seen.setdefault((key[0], r.group, key[1]), i)
            if j != i and (key[0] is not MatchKind.NAME_UNIT
                           or _compatible(r, respondents[j])):
                link(i, j, key[0])
    return [(i, find(i), kind_of.get(i, MatchKind.NAME_UNIT))
            for i in range(len(respondents)) if find(i) != i]


def _resolve_within_group(respondents: list[Respondent], campaign: Campaign, errors: _Errors
                          ) -> tuple[list[Respondent], tuple[MergeReport, ...]]:
    """Refuse (an error naming both rows) or merge each same-person repeat within a group."""
    found = find_within_group_duplicates(respondents)
    if not found:
        return respondents, ()
    if campaign.duplicates_in_group != "merge":
        for i, first, kind in found:
            r = respondents[i]
            errors.add("LIST-DUPLICATE-PERSON", r.row, _MATCH_COLUMN[kind],
                       first_row=respondents[first].row, group=r.group,
                       matched=_MATCHED[kind])
        return respondents, ()
    dropped: dict[int, list[int]] = {}
    kinds: dict[int, set[MatchKind]] = {}
    for i, first, kind in found:
        dropped.setdefault(first, []).append(i)
        kinds.setdefault(first, set()).add(kind)
    gone = {i for rows in dropped.values() for i in rows}
    reports = tuple(MergeReport((respondents[first],), tuple(respondents[i] for i in rows),
                                tuple(k for k in MatchKind if k in kinds[first]))
                    for first, rows in sorted(dropped.items()))
    return [r for i, r in enumerate(respondents) if i not in gone], reports


def _validate_rows(rows: Sequence[tuple[int, tuple[str, ...]]], header: Sequence[str],
                   index: Mapping[str, int], campaign: Campaign, policy: ListPolicy,
                   errors: _Errors) -> list[Respondent]:
    tree = campaign.units
    level_of = {u.code: u.level for u in tree}
    groups = {g.code: g for g in campaign.groups}
    allowed_groups = ", ".join(groups)
    year = policy.reference_year or campaign.year
    low_age, high_age = policy.age_range
    width = len(header)
    # Position -> column name; "" for headerless columns, whose cells must stay empty.
    names = tuple(name if index.get(name) == i else "" for i, name in enumerate(header))
    has_blank_header = "" in names
    defaults = dict.fromkeys(COLUMNS, "")
    shortest_limit = min(_MAX_LENGTH.get(n, _DEFAULT_MAX_LENGTH) for n in COLUMNS)
    first_id: dict[str, int] = {}
    first_email: dict[tuple[str, str], int] = {}
    out: list[Respondent] = []

    for number, cells in rows:
        before = errors.count
        if len(cells) > width:
            extra = next((i for i in range(width, len(cells)) if cells[i]), None)
            if extra is not None:
                errors.add("LIST-CELL-NO-HEADER", number, None, position=extra + 1)
            cells = cells[:width]
        values = defaults.copy()
        values.update(zip(names, cells))
        if has_blank_header:
            stray = next((i for i, n in enumerate(names) if not n and i < len(cells)
                          and cells[i]), None)
            if stray is not None:
                errors.add("LIST-CELL-NO-HEADER", number, None, position=stray + 1)
            values.pop("", None)
        flagged: set[str] = set()
        # Most rows have neither formulas nor long values; check cell by cell only if needed.
        if cells and (max(map(len, cells)) > shortest_limit
                      or "\x00=" in "\x00" + "\x00".join(cells)):
            for name in COLUMNS:
                value = values[name]
                if value.startswith("="):
                    # Kept as text, never evaluated; "=..." is a formula pasted into the list
                    # (and would run again if the list were exported back to Excel).
                    errors.add("LIST-FORMULA", number, name, value=value[:60])
                elif len(value) > _MAX_LENGTH.get(name, _DEFAULT_MAX_LENGTH):
                    errors.add("LIST-VALUE-TOO-LONG", number, name, length=len(value),
                               limit=_MAX_LENGTH.get(name, _DEFAULT_MAX_LENGTH))
                else:
                    continue
                flagged.add(name)
                values[name] = ""
        for name in REQUIRED_COLUMNS:
            if not values[name] and name not in flagged:
                errors.add("LIST-REQUIRED", number, name)

        group_code = values["group"]
        group = groups.get(group_code)
        if group_code and group is None:
            errors.add("LIST-GROUP-UNKNOWN", number, "group", value=group_code,
                       allowed=allowed_groups)
        unit = values["unit"]
        unit_level = level_of.get(unit)
        if unit and unit_level is None:
            errors.add("LIST-UNIT-UNKNOWN", number, "unit", value=unit)
        elif unit and group is not None and group.unit_levels \
                and unit_level not in group.unit_levels:
            errors.add("LIST-UNIT-LEVEL", number, "unit", value=unit, level=unit_level,
                       group=group_code, allowed=", ".join(group.unit_levels))

        raw_email, raw_phone = values["email"], values["phone"]
        email = phone = None
        if raw_email:
            try:
                email = normalize_email(raw_email)
            except EmailInvalid as exc:
                errors.add("LIST-EMAIL-INVALID", number, "email", value=raw_email,
                           detail=str(exc))
        if raw_phone:
            phone = normalize_phone(raw_phone)
            if phone is None:
                errors.add("LIST-PHONE-INVALID", number, "phone", value=raw_phone)
        if policy.require_contact and not raw_email and not raw_phone \
                and not flagged.intersection(("email", "phone")):
            errors.add("LIST-CONTACT-MISSING", number, None)

        sex = None
        if values["sex"]:
            sex = _SEX_WORDS.get(normalize_name(values["sex"]).casefold())
            if sex is None:
                errors.add("LIST-SEX-INVALID", number, "sex", value=values["sex"])
        birth_year = age = None
        if values["birth_year"]:
            birth_year = _parse_int(values["birth_year"])
            if birth_year is None or not year - high_age <= birth_year <= year - low_age:
                errors.add("LIST-AGE-INVALID", number, "birth_year",
                           value=values["birth_year"], what=Text(N_("birth year")),
                           low=year - high_age, high=year - low_age)
                birth_year = None
        if values["age"]:
            age = _parse_int(values["age"])
            if age is None or not low_age <= age <= high_age:
                errors.add("LIST-AGE-INVALID", number, "age", value=values["age"],
                           what=Text(N_("age")), low=low_age, high=high_age)
                age = None
        if birth_year is not None and age is not None and abs(year - birth_year - age) > 1:
            errors.add("LIST-AGE-CONFLICT", number, "age", birth_year=birth_year, age=age,
                       year=year)
        if birth_year is None and age is not None:
            birth_year = year - age
        elif age is None and birth_year is not None:
            age = year - birth_year

        rated: tuple[str, ...] = ()
        if values["rated_units"]:
            parts = values["rated_units"].replace(",", ";").replace("\n", ";").split(";")
            rated = tuple(dict.fromkeys(p.strip() for p in parts if p.strip()))
            for code in rated:
                if code not in level_of:
                    errors.add("LIST-RATED-UNIT-UNKNOWN", number, "rated_units", value=code)

        external_id = values["external_id"]
        if external_id:
            first = first_id.setdefault(external_id, number)
            if first != number:
                errors.add("LIST-DUPLICATE-ID", number, "external_id", value=external_id,
                           first_row=first)
        if email is not None and group_code and campaign.duplicates_in_group == "refuse":
            first = first_email.setdefault((group_code, email_key(email)), number)
            if first != number:
                errors.add("LIST-DUPLICATE-EMAIL", number, "email", value=email,
                           first_row=first, group=group_code)

        if errors.count == before:
            out.append(Respondent(
                number, external_id, normalize_name(values["full_name"]), group_code, unit,
                normalize_name(values["position"]) if values["position"] else "", sex,
                birth_year, age, email, phone, rated))
    return out


def merge_cross_group_duplicates(respondents: Sequence[Respondent], priority: Sequence[str]
                                 ) -> tuple[tuple[Respondent, ...], tuple[MergeReport, ...]]:
    """Keep one group per person when the same person is listed in several groups.

    Rows of different groups are the same person when they share an email address, a
    phone number, or a name (see :func:`sampling.contacts.name_key`) within the same unit
    unless their emails or phones differ (namesakes); matches chain (A~B, B~C).  The rows of
    the matched set's highest-priority group are kept and the others dropped.

    Returns
    -------
    kept, merges
        Kept rows in input order, and one report per merged set.
    """
    parent = list(range(len(respondents)))
    links: dict[int, set[MatchKind]] = {}

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def link(i: int, j: int, kind: MatchKind) -> None:
        a, b = find(i), find(j)
        if a != b:
            parent[a] = b
        links.setdefault(i, set()).add(kind)
        links.setdefault(j, set()).add(kind)

    def compatible(a: Respondent, b: Respondent) -> bool:
        # A shared name in one unit is weak evidence; two different emails or phones
        # say these are namesakes.
        if a.email and b.email and email_key(a.email) != email_key(b.email):
            return False
        return not (a.phone and b.phone and a.phone != b.phone)

    # First row per key in a plain dict; lists only for the rare keys seen twice.  (A list
    # per key would make ~3 GC-tracked objects per row, and the collector's passes over
    # them cost more than the matching itself.)
    first: tuple[dict[str, int], dict[str, int], dict[str, int]] = ({}, {}, {})
    by_name: dict[str, list[int]] = {}
    by_email: dict[str, list[int]] = {}
    by_phone: dict[str, list[int]] = {}
    for i, r in enumerate(respondents):
        key = f"{name_key(r.full_name)}\x00{r.unit}"
        j = first[0].setdefault(key, i)
        if j != i:
            by_name.setdefault(key, [j]).append(i)
        if r.email:
            key = email_key(r.email)
            j = first[1].setdefault(key, i)
            if j != i:
                by_email.setdefault(key, [j]).append(i)
        if r.phone:
            j = first[2].setdefault(r.phone, i)
            if j != i:
                by_phone.setdefault(r.phone, [j]).append(i)

    for kind, buckets in ((MatchKind.EMAIL, by_email), (MatchKind.PHONE, by_phone)):
        for rows in buckets.values():
            first_of_group: dict[str, int] = {}
            for i in rows:
                first_of_group.setdefault(respondents[i].group, i)
            if len(first_of_group) < 2:
                continue  # same-group repeats are validation's business
            for i in rows:
                j = next(j for g, j in first_of_group.items() if g != respondents[i].group)
                link(i, j, kind)

    for rows in by_name.values():
        people = [respondents[i] for i in rows]
        # Rows that all carry a phone (or all an email) can only be compatible by sharing
        # it, and then the phone (email) buckets have linked them already.
        if all(p.phone for p in people) or all(p.email for p in people):
            continue
        if len({p.group for p in people}) < 2:
            continue
        for x, i in enumerate(rows):
            for y in range(x):
                if people[x].group != people[y].group and compatible(people[x], people[y]):
                    link(i, rows[y], MatchKind.NAME_UNIT)
                    break

    if not links:
        return tuple(respondents), ()
    rank = {g: k for k, g in enumerate(priority)}
    members: dict[int, list[int]] = {}
    for i in links:
        members.setdefault(find(i), []).append(i)
    dropped: set[int] = set()
    reports: list[MergeReport] = []
    for root in sorted(members, key=lambda k: min(members[k])):
        rows = sorted(members[root])
        best = min(rank.get(respondents[i].group, len(rank)) for i in rows)
        keep = [i for i in rows if rank.get(respondents[i].group, len(rank)) == best]
        drop = [i for i in rows if i not in keep]
        dropped.update(drop)
        kinds = set().union(*(links[i] for i in rows))
        reports.append(MergeReport(tuple(respondents[i] for i in keep),
                                   tuple(respondents[i] for i in drop),
                                   tuple(k for k in MatchKind if k in kinds)))
    kept = tuple(r for i, r in enumerate(respondents) if i not in dropped)
    return kept, tuple(reports)


# -- template --------------------------------------------------------------------------------

_DATA_SHEET: Final = "Danh sách"
_NOTES_SHEET: Final = "Hướng dẫn - Notes"
_CODES_SHEET: Final = "Mã - Codes"
_TEMPLATE_ROWS: Final = 5000


def write_list_template(target: Path | BinaryIO, campaign: Campaign) -> None:
    """Write an XLSX list template for a campaign.

    The first sheet has the header row and drop-down lists for ``group``, ``unit`` and
    ``sex`` (text-formatted id and phone columns keep leading zeros); a notes sheet
    explains each column in Vietnamese and English; a codes sheet lists group and unit
    codes with their names.
    """
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    wb = Workbook()
    data = wb.active
    assert data is not None
    data.title = _DATA_SHEET
    data.append(list(COLUMNS))
    bold = Font(bold=True)
    for cell in data[1]:
        cell.font = bold
    data.freeze_panes = "A2"
    widths = {"full_name": 28, "email": 30, "unit": 16, "group": 24, "rated_units": 30}
    for position, name in enumerate(COLUMNS, start=1):
        letter = get_column_letter(position)
        data.column_dimensions[letter].width = widths.get(name, 14)
        if name in ("external_id", "phone", "unit", "rated_units"):
            # Text format so Excel keeps "0912..." and codes like "084" as typed.
            for row in range(2, _TEMPLATE_ROWS + 2):
                data.cell(row=row, column=position).number_format = "@"

    notes = wb.create_sheet(_NOTES_SHEET)
    notes.append(["Cột / Column", "Bắt buộc / Required", "Hướng dẫn", "Notes", "Ví dụ / Example"])
    for cell in notes[1]:
        cell.font = bold
    for name in COLUMNS:
        vi, en, example = _COLUMN_NOTES[name]
        notes.append([name, "x" if name in REQUIRED_COLUMNS else "", vi, en, example])
    notes.append([])
    notes.append(["", "", safe_cell(f"Đợt khảo sát: {campaign.name_vi} ({campaign.code})."),
                  safe_cell(f"Campaign: {campaign.name_en} ({campaign.code})."), ""])
    notes.append(["", "", "Điền từ dòng 2 của trang '" + _DATA_SHEET + "'; không đổi tên cột; "
                  "không dùng công thức; lưu dạng .xlsx hoặc CSV UTF-8.",
                  "Fill in from row 2 of the '" + _DATA_SHEET + "' sheet; keep the column "
                  "names; no formulas; save as .xlsx or CSV UTF-8.", ""])
    notes.append(["", "", "Người thuộc nhiều nhóm: giữ theo thứ tự ưu tiên " +
                  " > ".join(campaign.duplicate_priority) + ".",
                  "People in several groups are kept in the first group of " +
                  " > ".join(campaign.duplicate_priority) + ".", ""])
    for letter, width in zip("ABCDE", (14, 12, 60, 60, 22), strict=True):
        notes.column_dimensions[letter].width = width

    codes = wb.create_sheet(_CODES_SHEET)
    codes.append(["group", "Tên nhóm", "Group name", "", "unit", "Tên đơn vị", "Unit name",
                  "level", "parent_code"])
    for cell in codes[1]:
        cell.font = bold
    group_rows = [(g.code, g.name_vi, g.name_en) for g in campaign.groups]
    unit_rows = [(u.code, u.name_vi, u.name_en, u.level, u.parent or "")
                 for u in campaign.units]
    for i in range(max(len(group_rows), len(unit_rows))):
        g = group_rows[i] if i < len(group_rows) else ("", "", "")
        u = unit_rows[i] if i < len(unit_rows) else ("", "", "", "", "")
        codes.append(safe_row([*g, "", *u]))
    for letter, width in zip("ABCDEFGHI", (24, 36, 36, 2, 16, 40, 40, 12, 12), strict=True):
        codes.column_dimensions[letter].width = width

    quoted = "'" + _CODES_SHEET.replace("'", "''") + "'"
    _drop_down(data, COLUMNS.index("group") + 1,
               f"={quoted}!$A$2:$A${len(group_rows) + 1}", DataValidation)
    _drop_down(data, COLUMNS.index("unit") + 1,
               f"={quoted}!$E$2:$E${len(unit_rows) + 1}", DataValidation)
    _drop_down(data, COLUMNS.index("sex") + 1, '"Nam,Nữ,Khác"', DataValidation)
    wb.save(target)


def _drop_down(ws: Worksheet, column: int, formula: str, validation_type: type) -> None:
    from openpyxl.utils import get_column_letter

    letter = get_column_letter(column)
    dv = validation_type(type="list", formula1=formula, allow_blank=True, showDropDown=False)
    dv.error = "Chọn giá trị trong danh sách / Pick a value from the list"
    dv.errorTitle = "Giá trị không hợp lệ / Invalid value"
    dv.showErrorMessage = True
    ws.add_data_validation(dv)
    dv.add(f"{letter}2:{letter}{_TEMPLATE_ROWS + 1}")


def respondents_to_rows(respondents: Iterable[Respondent]) -> list[list[str]]:
    """Rows (header first) in template column order, e.g. to export a cleaned list."""
    out = [list(COLUMNS)]
    for r in respondents:
        out.append([r.external_id, r.full_name, r.group, r.unit, r.position,
                    r.sex.value if r.sex else "", "" if r.birth_year is None else str(r.birth_year),
                    "" if r.age is None else str(r.age), r.email or "", r.phone or "",
                    ";".join(r.rated_units)])
    return out

