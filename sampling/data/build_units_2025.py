"""Build the project's old (2024) → new (1 July 2025) unit table from the shared sources.

Run from the repository root::

    python -m sampling.data.build_units_2025 SOURCE_DIR [OUT_DIR]

``SOURCE_DIR`` is the folder described by its README (``units-2025``: the Statistics Office
(NSO) conversion table and pre-merger commune list, the dvhcvn transcriptions of letters
915/CTK-CSCL and 1027/CTK-CSCL).  ``OUT_DIR`` defaults to ``sampling/data/units_2025``.
The output is deterministic: running it twice gives byte-identical files, and
``tests/sampling/test_units_2025.py`` checks the committed files against the sources when
they are present.

The base is the NSO conversion table (the README's cross-check finds it the most reliable of
the three sources); :data:`CORRECTIONS` applies the five cases where the text of the
resolutions supports dvhcvn instead.  Every decision is explained in ``docs/units-2025.md``.
"""

from __future__ import annotations

import csv
import re
import sys
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from questionnaires.spreadsheet import safe_row

NSO_TABLE: Final = "nso/BangChuyendoiĐVHCmoi_cu_khong_merge.csv"
NSO_OLD_LIST: Final = "nso/Xa_2025-01-04.csv"
PROVINCE_LIST: Final = "dvhcvn-20250701/915_CTK-CSCL.csv"
COMMUNE_LIST: Final = "dvhcvn-20250701/1027_CTK-CSCL.md"

SOURCES: Final[tuple[tuple[str, str, str, str], ...]] = (
    ("nso", "Bảng chuyển đổi ĐVHC mới–cũ (Statistics Office conversion table), "
     "file BangChuyendoiĐVHCmoi_cu_khong_merge.csv via sunshine-tech/VietnamProvinces "
     "commit 6d9e4fe", "2025-07-01", "government data (IP Law 2005 Art. 15)"),
    ("nso-2025-01", "NSO pre-merger commune list Xa_2025-01-04.csv via "
     "sunshine-tech/VietnamProvinces commit 5d7df63", "2025-01-04",
     "government data (IP Law 2005 Art. 15)"),
    ("915/CTK-CSCL", "Statistics Office letter 915/CTK-CSCL: the 34 new province codes "
     "(transcription in dvhcvn/20250701)", "2025-07-01", "government document"),
    ("1027/CTK-CSCL", "Statistics Office letter 1027/CTK-CSCL of 25 June 2025, Annex I: the "
     "3,321 new commune codes (transcription in dvhcvn/20250701)", "2025-06-25",
     "government document"),
    ("NQ1654-1687", "Resolutions 1654–1687/NQ-UBTVQH15 of 16 June 2025 (commune "
     "arrangements), read against the NSO table in the shared README's cross-check",
     "2025-06-16", "government document"),
)
DATE_EFFECTIVE: Final = "2025-07-01"


@dataclass(frozen=True)
class Correction:
    """One change to the NSO pair rows that a resolution clause supports."""

    old_code: str           # the code on the NSO row
    new_code: str           # the row's new commune
    fixed_old_code: str     # the old commune the row really belongs to ("" = unchanged)
    add: bool               # True: the row is missing and is added
    note_vi: str
    source: str


CORRECTIONS: Final = (
    # The row "Xã Mỹ Hưng → Xã Phục Hòa" carries Hồng Quang's code; Mỹ Hưng is 01651.
    Correction("01615", "01648", "01651", False, "", "nso;fix:NQ-UBTVQH15 Cao Bằng (code)"),
    # The row "Xã Phú Thịnh → Xã Thái Bình" carries Công Đa's code; Phú Thịnh is 02482.
    Correction("02485", "02494", "02482", False, "", "nso;fix:NQ-UBTVQH15 Tuyên Quang (code)"),
    # "Cổ Bi → Thuận An, part of the area, all the population" belongs to Đặng Xá.
    Correction("00553", "00562", "00556", False, "", "nso;fix:NQ1656 cl.110"),
    # Hòa Thắng also gives part to Hồng Thái (missing row).
    Correction("23053", "23041", "", True, "Nhập một phần", "nso;fix:NQ1671 cl.46"),
)


def clean(text: str) -> str:
    """NFC, with runs of whitespace (including line breaks in cells) collapsed."""
    return unicodedata.normalize("NFC", re.sub(r"\s+", " ", text).strip())


_CODE_IN_PARENS = re.compile(r"^(.*?)\s*\((\d+)\)$")


def split_code(cell: str) -> tuple[str, str]:
    """``"Huyện Kim Sơn (376)"`` → ``("Huyện Kim Sơn", "376")``."""
    match = _CODE_IN_PARENS.match(cell)
    if match is None:
        raise ValueError(f"no code in parentheses: {cell!r}")
    return match.group(1), match.group(2)


@dataclass
class Pair:
    old_code: str
    new_code: str
    note_vi: str
    source: str


def _read_csv(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return [[clean(c) for c in row] for row in csv.reader(f)]


def build(source_dir: Path) -> dict[str, list[list[str]]]:
    """Read the sources and return each output file's rows (header first)."""
    nso_rows = _read_csv(source_dir / NSO_TABLE)[2:]
    old_list = _read_csv(source_dir / NSO_OLD_LIST)
    header = old_list[0]
    old_list_rows = [dict(zip(header, r, strict=True)) for r in old_list[1:]]

    district_province: dict[str, str] = {}
    district_name: dict[str, str] = {}
    province_name_old: dict[str, str] = {}
    for r in old_list_rows:
        district_province[r["Mã QH"]] = r["Mã TP"]
        district_name[r["Mã QH"]] = r["Quận Huyện"]
        province_name_old[r["Mã TP"]] = r["Tỉnh Thành Phố"]
    old_list_names = {r["Mã PX"]: r["Phường Xã"] for r in old_list_rows if r["Mã PX"]}

    new_province_name: dict[str, str] = {}
    new_commune: dict[str, tuple[str, str]] = {}
    old_commune: dict[str, tuple[str, str]] = {}          # code → (name, district code)
    island_districts: dict[str, str] = {}                 # old district → new special zone
    pairs: list[Pair] = []
    for row in nso_rows:
        if not row[1]:
            continue                                      # a province title row
        province_name, province_code = split_code(row[0])
        new_province_name[province_code] = province_name
        new_commune[row[2]] = (row[1], province_code)
        d_name, d_code = split_code(row[6])
        district_name.setdefault(d_code, d_name)
        if not row[4]:
            if row[5].startswith("Sắp xếp toàn bộ huyện"):
                island_districts[d_code] = row[2]
            # else: Kim Sơn's coastal alluvial area, which is no commune (see the docs)
            continue
        old_commune.setdefault(row[4], (row[3], d_code))
        pairs.append(Pair(row[4], row[2], row[5], "nso"))

    for fix in CORRECTIONS:
        if fix.add:
            pairs.append(Pair(fix.old_code, fix.new_code, fix.note_vi, fix.source))
            continue
        (pair,) = [p for p in pairs if p.old_code == fix.old_code and p.new_code == fix.new_code]
        pair.old_code = fix.fixed_old_code
        pair.source = fix.source
        if fix.fixed_old_code not in old_commune:
            district = old_commune[fix.old_code][1]
            old_commune[fix.fixed_old_code] = (old_list_names[fix.fixed_old_code], district)
    # The two mis-coded rows left Hồng Quang and Công Đa with their own rows only.
    referenced = {p.old_code for p in pairs}
    old_commune = {c: v for c, v in old_commune.items() if c in referenced}

    # The new codes must be those of letter 1027/CTK-CSCL, Ia Mơ aside (see the docs); its
    # names are preferred over the NSO table's, which differ in tone placement (Hoá/Hóa), a
    # typo ("Xa Ea Kly") and apostrophes (’/') for ten communes.
    official = _read_1027(source_dir / COMMUNE_LIST)
    ia_mo = ("23938", "23737")
    if set(official) - {ia_mo[1]} != set(new_commune) - {ia_mo[0]}:
        raise ValueError("new commune codes differ from 1027/CTK-CSCL beyond Xã Ia Mơ")
    for code, (name, province) in list(new_commune.items()):
        if code in official and not _same_letters(official[code], name):
            raise ValueError(f"new commune {code}: {name!r} vs 1027/CTK-CSCL "
                             f"{official[code]!r}")
        new_commune[code] = (official.get(code, name), province)
    official_provinces = _read_915(source_dir / PROVINCE_LIST)
    if set(official_provinces) != set(new_province_name):
        raise ValueError("new province codes differ from 915/CTK-CSCL")

    # Old province → new province, from each old commune's district.
    old_to_new_province: dict[str, set[str]] = defaultdict(set)
    for p in pairs:
        old_p = district_province[old_commune[p.old_code][1]]
        old_to_new_province[old_p].add(new_commune[p.new_code][1])
    for d, new_code in island_districts.items():
        old_to_new_province[district_province[d]].add(new_commune[new_code][1])
    predecessors = Counter(next(iter(v)) for v in old_to_new_province.values())
    province_rows = [["old_code", "old_name", "new_code", "new_name", "how", "source"]]
    for old_p in sorted(old_to_new_province):
        (new_p,) = old_to_new_province[old_p]
        how = "kept" if predecessors[new_p] == 1 else "merged_whole"
        province_rows.append([old_p, province_name_old[old_p], new_p,
                              new_province_name[new_p], how, "nso;915/CTK-CSCL"])
    new_province_rows = [["code", "name", "source"]] + [
        [c, new_province_name[c], "915/CTK-CSCL"] for c in sorted(new_province_name)]

    district_rows = [["code", "name", "province_code", "became", "source"]]
    used_districts = {d for _n, d in old_commune.values()} | set(island_districts)
    for d in sorted(used_districts):
        district_rows.append([d, district_name[d], district_province[d],
                              island_districts.get(d, ""), "nso;nso-2025-01"])

    old_rows = [["code", "name", "district_code", "province_code", "source"]]
    for c in sorted(old_commune):
        name, d = old_commune[c]
        old_rows.append([c, name, d, district_province[d], "nso"])
    new_rows = [["code", "name", "province_code", "source"]]
    for c in sorted(new_commune):
        name, prov = new_commune[c]
        new_rows.append([c, name, prov, "nso;1027/CTK-CSCL"])

    map_rows = _map_rows(pairs, old_commune, new_commune, island_districts)
    source_rows = [["id", "title", "date", "licence"]] + [list(s) for s in SOURCES]
    return {
        "provinces.csv": province_rows,
        "new_provinces.csv": new_province_rows,
        "old_districts.csv": district_rows,
        "old_communes.csv": old_rows,
        "new_communes.csv": new_rows,
        "commune_map.csv": map_rows,
        "sources.csv": source_rows,
    }


def _map_rows(pairs: Sequence[Pair], old_commune: dict[str, tuple[str, str]],
              new_commune: dict[str, tuple[str, str]],
              island_districts: dict[str, str]) -> list[list[str]]:
    """Classify each old→new pair and attach the population share where the note gives it.

    ``how`` is structural: ``merged_part`` when the old commune goes to two or more new
    ones; otherwise ``merged_whole`` when the new commune has other predecessors, ``kept``
    when it has none and keeps the name, ``renamed`` when it has none and a new name.  The
    population share is known only where a note says the part took "toàn bộ dân số" (all the
    population): that part gets 1 and the other parts of the same old commune 0.
    """
    targets: dict[str, list[Pair]] = defaultdict(list)
    sources: Counter[str] = Counter()
    for p in pairs:
        targets[p.old_code].append(p)
        sources[p.new_code] += 1
    for new_code in island_districts.values():
        sources[new_code] += 1
    rows = [["old_code", "new_code", "how", "population_share", "note_vi", "source"]]
    for old_code in sorted(targets):
        group = sorted(targets[old_code], key=lambda p: p.new_code)
        all_population = [p for p in group if "toàn bộ dân số" in p.note_vi]
        for p in group:
            if len(group) > 1:
                how = "merged_part"
            elif sources[p.new_code] > 1:
                how = "merged_whole"
            elif _same_name(old_commune[old_code][0], new_commune[p.new_code][0]):
                how = "kept"
            else:
                how = "renamed"
            share = ""
            if len(group) == 1:
                share = "1"
            elif len(all_population) == 1:
                share = "1" if p is all_population[0] else "0"
            rows.append([old_code, p.new_code, how, share, p.note_vi, p.source])
    return rows


def _same_name(a: str, b: str) -> bool:
    return a.casefold() == b.casefold()


def _same_letters(a: str, b: str) -> bool:
    """Equal once tone marks, apostrophes and case are set aside (Hoá = Hóa, B’Lao = B'Lao)."""
    return _fold(a) == _fold(b)


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text.replace("’", "'").casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch) or ch == "\u0306"
                   or ch == "\u0302" or ch == "\u031b")


def _read_1027(path: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and re.fullmatch(r"\d{5}", cells[1]):
            found[cells[1]] = clean(cells[2].replace("<br>", " "))
    return found


def _read_915(path: Path) -> dict[str, str]:
    return {r[1]: r[2] for r in _read_csv(path)[1:]}


def write(tables: dict[str, list[list[str]]], out_dir: Path) -> None:
    """Write each table as UTF-8 CSV with LF line endings.

    Cells go through :func:`~questionnaires.spreadsheet.safe_row` like every writer's (OWASP
    CSV injection).  The official unit names and codes never start with ``= + - @``, so the
    committed table is byte for byte what it was (``tests/sampling/test_units_2025.py``
    rebuilds it).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, rows in tables.items():
        with (out_dir / name).open("w", encoding="utf-8", newline="") as f:
            csv.writer(f, lineterminator="\n").writerows(safe_row(r) for r in rows)


def main(argv: Iterable[str] | None = None) -> int:
    """Command-line entry point."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        print(__doc__, file=sys.stderr)
        return 2
    out = Path(args[1]) if len(args) > 1 else Path(__file__).parent / "units_2025"
    write(build(Path(args[0])), out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
