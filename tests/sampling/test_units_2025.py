"""The old → new unit table of the 2025 merger: counts, coverage, codes, names, provenance."""

from __future__ import annotations

import filecmp
import unicodedata
from pathlib import Path

import pytest

from sampling.data import build_units_2025
from sampling.units_2025 import How, fold_name, load_unit_table, strip_type

SHARED = Path("/work/shared/data/units-2025")
DATA = Path(build_units_2025.__file__).parent / "units_2025"


@pytest.fixture(scope="module")
def table():
    return load_unit_table()


def test_counts_match_the_shared_readme(table):
    # README: 63 → 34 provinces; 11 unchanged, 17 merge 2 and 6 merge 3.
    assert len(table.old_provinces) == 63
    assert len(table.new_provinces) == 34
    sizes: dict[str, int] = {}
    for p in table.old_provinces.values():
        sizes[p.new_code] = sizes.get(p.new_code, 0) + 1
    assert sorted(sizes.values()).count(1) == 11
    assert sorted(sizes.values()).count(2) == 17
    assert sorted(sizes.values()).count(3) == 6
    # README: NSO's 10,033 old commune codes plus the two it mis-codes (01651, 02482) =
    # vietnamadminunits' 10,035; 696 districts; 3,321 new communes, 5 of them special zones
    # made from island districts.
    assert len(table.old_communes) == 10_035
    assert {"01651", "02482"} <= set(table.old_communes)
    assert len(table.old_districts) == 696
    assert len(table.new_communes) == 3_321
    assert sum(1 for d in table.old_districts.values() if d.became) == 5
    # 10,565 NSO pairs + Hòa Thắng's missing row; 441 split old communes after the fixes.
    assert sum(len(t) for t in table.targets.values()) == 10_566
    assert sum(1 for t in table.targets.values() if len(t) > 1) == 441


def test_every_old_unit_maps_to_a_new_unit(table):
    assert set(table.targets) == set(table.old_communes)
    for code, targets in table.targets.items():
        assert targets, code
        assert all(t.code in table.new_communes for t in targets)
        new_provinces = {table.new_communes[t.code].province_code for t in targets}
        old_province = table.old_communes[code].province_code
        assert new_provinces == {table.old_provinces[old_province].new_code}, code
    for p in table.old_provinces.values():
        assert p.new_code in table.new_provinces
    reached = {t.code for ts in table.targets.values() for t in ts}
    reached |= {d.became for d in table.old_districts.values() if d.became}
    assert reached == set(table.new_communes)
    for d in table.old_districts.values():
        assert table.district_fate(d.code)


def test_how_and_shares_are_consistent(table):
    for code, targets in table.targets.items():
        if len(targets) > 1:
            assert {t.how for t in targets} == {How.MERGED_PART}, code
            shares = [t.share for t in targets]
            assert shares.count(None) in (0, len(shares)), code
            if None not in shares:
                assert sum(s for s in shares if s is not None) == pytest.approx(1.0)
        else:
            assert targets[0].how is not How.MERGED_PART
            assert targets[0].share == 1.0


def test_codes_unique_strings_and_names_nfc(table):
    for mapping, width in ((table.old_communes, 5), (table.new_communes, 5),
                           (table.old_districts, 3), (table.old_provinces, 2)):
        for code, unit in mapping.items():
            assert len(code) == width and code.isdigit()
            assert unicodedata.is_normalized("NFC", unit.name), unit.name
            assert unit.name == " ".join(unit.name.split())
    for name in table.new_provinces.values():
        assert unicodedata.is_normalized("NFC", name)
    for name in ("old_communes.csv", "new_communes.csv", "old_districts.csv",
                 "provinces.csv", "new_provinces.csv"):
        codes = [line.split(",", 1)[0] for line in (DATA / name).read_text().splitlines()[1:]]
        assert len(codes) == len(set(codes)), name


def test_every_row_names_its_source(table):
    ids = {s.id for s in table.sources}
    assert {"nso", "1027/CTK-CSCL", "915/CTK-CSCL", "NQ1654-1687"} <= ids
    assert all(s.date for s in table.sources)
    for targets in table.targets.values():
        for t in targets:
            assert t.source.split(";")[0] in ids


def test_the_reviewed_disagreements(table):
    """The five cases where the resolutions support dvhcvn over the NSO table, and Ia Mơ."""
    def codes(old: str) -> set[str]:
        return {t.code for t in table.targets[old]}
    assert codes("01651") == {"01648"} and codes("01615") == {"01636"}
    assert codes("02482") == {"02494"} and codes("02485") == {"02458"}
    assert codes("00553") == {"00136", "00541", "00565"}
    assert codes("00556") == {"00541", "00562"}
    assert codes("23053") == {"23041", "23053"}
    assert codes("23938") == {"23938"} and "23737" not in table.new_communes
    # NSO-supported cases stay as NSO has them, e.g. Xã Phú Tân (Hậu Giang) → Phú Hữu only.
    assert codes("31379") == {"31378"}


def test_tra_vinh_went_into_vinh_long(table):
    assert table.old_provinces["84"].new_code == "86"
    assert table.old_provinces["84"].how is How.MERGED_WHOLE
    assert {p.code for p in table.old_provinces.values() if p.new_code == "86"} == {
        "83", "84", "86"}
    assert len(table.new_communes_of_province("86")) == 124
    assert len(table.old_communes_of_province("84")) == 104


def test_name_folding():
    assert fold_name("Thị xã  Duyên Hải") == "thi xa duyen hai"
    assert fold_name("Phường B’Lao") == fold_name("phuong b'lao")
    assert fold_name(unicodedata.normalize("NFD", "Đồng Hới")) == "dong hoi"
    assert strip_type(fold_name("Huyện Cầu Kè")) == "cau ke"


@pytest.mark.skipif(not SHARED.is_dir(), reason="shared source data not present")
def test_committed_table_is_what_the_build_script_makes(tmp_path):
    build_units_2025.write(build_units_2025.build(SHARED), tmp_path)
    names = sorted(p.name for p in DATA.glob("*.csv"))
    assert names == sorted(p.name for p in tmp_path.glob("*.csv"))
    match, mismatch, errors = filecmp.cmpfiles(DATA, tmp_path, names, shallow=False)
    assert mismatch == [] and errors == []
