"""Vietnam's 1 July 2025 merger as data: old (2024) → new (2025) provinces and communes.

The tables in ``sampling/data/units_2025/`` are built by ``sampling/data/build_units_2025.py``
from the Statistics Office conversion table, corrected where the National Assembly Standing
Committee's resolutions say otherwise (see ``docs/units-2025.md``).  Codes are GSO/NSO codes
kept as strings.  The same code can name different territory before and after the merger,
so the old and new units live in separate mappings.

Districts were abolished; :meth:`UnitTable.district_fate` says where a district's communes
went.  No source gives area or population shares for split communes; a share is given only
where the official note says one part took all the population (or the commune went whole).
"""

from __future__ import annotations

import csv
import enum
import functools
import io
import unicodedata
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType
from typing import Final

DATA_PACKAGE: Final = "sampling.data"
DATA_DIR: Final = "units_2025"
EFFECTIVE_DATE: Final = "2025-07-01"


class How(enum.StrEnum):
    """How an old unit went into a new one."""

    KEPT = "kept"                    # the same unit, same name, nothing merged in
    RENAMED = "renamed"              # the same territory under a new name or type
    MERGED_WHOLE = "merged_whole"    # the whole old unit, with others, into this new unit
    MERGED_PART = "merged_part"      # part of the old unit into this new unit (a split)
    ABOLISHED = "abolished"          # districts: the level no longer exists


@dataclass(frozen=True, slots=True)
class Target:
    """One new unit an old unit went (wholly or partly) into.

    Attributes
    ----------
    code, name : str
        The new unit's GSO code and Vietnamese name.
    how : How
        How the old unit went into it.
    share : float or None
        Share of the old unit's population that went here; ``None`` when no source says.
    note_vi : str
        The official relation note (e.g. "Nhập một phần diện tích"), verbatim.
    source : str
        Source ids (see :attr:`UnitTable.sources`), ``;``-separated.
    """

    code: str
    name: str
    how: How
    share: float | None
    note_vi: str
    source: str


@dataclass(frozen=True, slots=True)
class OldProvince:
    """A province before 1 July 2025 and the new province it went whole into."""

    code: str
    name: str
    new_code: str
    new_name: str
    how: How
    source: str


@dataclass(frozen=True, slots=True)
class OldDistrict:
    """A district-level unit before 1 July 2025 (all abolished)."""

    code: str
    name: str
    province_code: str
    became: str                      # the special zone an island district became, else ""


@dataclass(frozen=True, slots=True)
class Commune:
    """A commune-level unit: old (with its district) or new (district ``""``)."""

    code: str
    name: str
    province_code: str
    district_code: str = ""


@dataclass(frozen=True, slots=True)
class Source:
    """Where part of the table comes from."""

    id: str
    title: str
    date: str
    licence: str


@dataclass(frozen=True, slots=True)
class DistrictPart:
    """Where an abolished district's communes went: one new commune and what it took."""

    new_code: str
    new_name: str
    old_communes: tuple[str, ...]    # the district's old communes that went (partly) here
    partial: bool                    # at least one of them went only in part


class UnitTable:
    """The old → new table, loaded once (:func:`load_unit_table`)."""

    def __init__(self, provinces: Sequence[OldProvince], new_provinces: Mapping[str, str],
                 districts: Sequence[OldDistrict], old_communes: Sequence[Commune],
                 new_communes: Sequence[Commune], targets: Mapping[str, tuple[Target, ...]],
                 sources: Sequence[Source]) -> None:
        self.old_provinces: Mapping[str, OldProvince] = MappingProxyType(
            {p.code: p for p in provinces})
        self.new_provinces: Mapping[str, str] = MappingProxyType(dict(new_provinces))
        self.old_districts: Mapping[str, OldDistrict] = MappingProxyType(
            {d.code: d for d in districts})
        self.old_communes: Mapping[str, Commune] = MappingProxyType(
            {c.code: c for c in old_communes})
        self.new_communes: Mapping[str, Commune] = MappingProxyType(
            {c.code: c for c in new_communes})
        self.targets: Mapping[str, tuple[Target, ...]] = MappingProxyType(dict(targets))
        self.sources: tuple[Source, ...] = tuple(sources)
        by_district: dict[str, list[str]] = defaultdict(list)
        for c in old_communes:
            by_district[c.district_code].append(c.code)
        self._by_district = MappingProxyType({k: tuple(v) for k, v in by_district.items()})

    def communes_of_district(self, district_code: str) -> tuple[str, ...]:
        """Old commune codes of an old district, in code order."""
        return self._by_district.get(district_code, ())

    def district_fate(self, district_code: str) -> tuple[DistrictPart, ...]:
        """The new communes an abolished district's communes went into, in code order."""
        district = self.old_districts[district_code]
        parts: dict[str, list[str]] = defaultdict(list)
        partial: set[str] = set()
        for old in self.communes_of_district(district_code):
            for t in self.targets[old]:
                parts[t.code].append(old)
                if t.how is How.MERGED_PART:
                    partial.add(t.code)
        if district.became:
            parts.setdefault(district.became, [])
        return tuple(DistrictPart(code, self.new_communes[code].name, tuple(olds),
                                  code in partial)
                     for code, olds in sorted(parts.items()))

    def districts_of_province(self, province_code: str) -> tuple[OldDistrict, ...]:
        """Old districts of an old province, in code order."""
        return tuple(d for d in self.old_districts.values() if d.province_code == province_code)

    def old_communes_of_province(self, province_code: str) -> tuple[Commune, ...]:
        """Old communes of an old province, in code order."""
        return tuple(c for c in self.old_communes.values() if c.province_code == province_code)

    def new_communes_of_province(self, province_code: str) -> tuple[Commune, ...]:
        """New communes of a new province, in code order."""
        return tuple(c for c in self.new_communes.values() if c.province_code == province_code)


def fold_name(text: str) -> str:
    """A key for matching names: NFC, case- and diacritic-insensitive, đ → d, ’ → ', spaces.

    >>> fold_name("Huyện  Càng Long") == fold_name("huyen cang long")
    True
    """
    decomposed = unicodedata.normalize("NFD", text.replace("’", "'").casefold())
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(bare.replace("đ", "d").split())


_TYPE_WORDS: Final = ("thanh pho", "thi xa", "thi tran", "huyen", "quan", "phuong", "xa",
                      "tinh", "dac khu")


def strip_type(folded: str) -> str:
    """Drop a leading unit-type word from a :func:`fold_name` key ("huyen cau ke" → "cau ke")."""
    for word in _TYPE_WORDS:
        if folded.startswith(word + " "):
            return folded[len(word) + 1:]
    return folded


def _rows(name: str) -> list[dict[str, str]]:
    text = resources.files(DATA_PACKAGE).joinpath(DATA_DIR, name).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


@functools.cache
def load_unit_table() -> UnitTable:
    """Load the packaged table (cached: it is immutable)."""
    new_provinces = {r["code"]: r["name"] for r in _rows("new_provinces.csv")}
    provinces = [OldProvince(r["old_code"], r["old_name"], r["new_code"], r["new_name"],
                             How(r["how"]), r["source"]) for r in _rows("provinces.csv")]
    districts = [OldDistrict(r["code"], r["name"], r["province_code"], r["became"])
                 for r in _rows("old_districts.csv")]
    old = [Commune(r["code"], r["name"], r["province_code"], r["district_code"])
           for r in _rows("old_communes.csv")]
    new = [Commune(r["code"], r["name"], r["province_code"]) for r in _rows("new_communes.csv")]
    new_names = {c.code: c.name for c in new}
    targets: dict[str, list[Target]] = defaultdict(list)
    for r in _rows("commune_map.csv"):
        share = float(r["population_share"]) if r["population_share"] else None
        targets[r["old_code"]].append(Target(r["new_code"], new_names[r["new_code"]],
                                             How(r["how"]), share, r["note_vi"], r["source"]))
    sources = [Source(r["id"], r["title"], r["date"], r["licence"]) for r in _rows("sources.csv")]
    return UnitTable(provinces, new_provinces, districts, old, new,
                     {k: tuple(v) for k, v in targets.items()}, sources)
