"""Campaign units across the 2025 merger: GSO matching, the mapping and crosswalk validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from sampling import load_campaign
from sampling.crosswalk import (
    CrosswalkInvalid,
    Matched,
    crosswalk_template,
    map_units,
    needs_crosswalk,
    read_crosswalk,
    template_csv,
)
from sampling.errors import ERROR_CODES
from sampling.units import Level, Unit, UnitTree
from sampling.units_2025 import load_unit_table

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "campaigns"
OLD = {"TVH-2024": {"S-A": "Sở A", "S-B": "Sở B", "S-C": "Sở C"}}
NEW = {"N-AB", "N-C", "N-D"}
HEADER = "old_campaign,old_code,old_name,new_code,new_name,share,note\n"


def _read(body: str, **kw: object):
    return read_crosswalk((HEADER + body).encode(), filename="cw.csv", old_units=OLD,
                          required={"TVH-2024": list(OLD["TVH-2024"])}, new_units=NEW, **kw)


def _refused(body: str) -> list:
    with pytest.raises(CrosswalkInvalid) as info:
        _read(body)
    return list(info.value.errors)


GOOD = ("TVH-2024,S-A,Sở A,N-AB,,,\n"
        "TVH-2024,S-B,Sở B,N-AB,,0.6,\n"
        "TVH-2024,S-B,Sở B,N-D,,\"0,4\",\n"
        "TVH-2024,S-C,Sở C,N-C,,1,\n")


def test_a_valid_crosswalk_reads():
    cw = _read(GOOD)
    assert [(k.old_code, k.new_code, k.share) for k in cw.targets("TVH-2024", "S-B")] == [
        ("S-B", "N-AB", 0.6), ("S-B", "N-D", 0.4)]
    assert cw.targets("TVH-2024", "S-A")[0].share == 1.0


def test_missing_old_unit_is_refused_naming_it(vi):
    errors = _refused(GOOD.replace("TVH-2024,S-C,Sở C,N-C,,1,\n", ""))
    assert [e.code for e in errors] == ["XW-OLD-MISSING"]
    assert "S-C" in errors[0].message() and "Sở C" in errors[0].message(vi)
    assert errors[0].column == "old_code"


def test_shares_summing_to_0_9_are_refused_with_the_row(vi):
    errors = _refused(GOOD.replace('"0,4"', "0.3"))
    assert [(e.code, e.row, e.column) for e in errors] == [("XW-SHARE-SUM", 3, "share")]
    assert "0.9" in errors[0].message() and "3, 4" in errors[0].message()
    assert "0.9" in errors[0].message(vi)
    assert "row 3, column share" in errors[0].render()
    assert "dòng 3, cột share" in errors[0].render(vi)


def test_unknown_codes_are_refused_with_the_row():
    errors = _refused(GOOD.replace("S-C,Sở C,N-C", "S-Z,Sở Z,N-C")
                      .replace("S-A,Sở A,N-AB", "S-A,Sở A,N-ZZ"))
    got = {(e.code, e.row, e.column) for e in errors}
    assert ("XW-NEW-UNKNOWN", 2, "new_code") in got
    assert ("XW-OLD-UNKNOWN", 5, "old_code") in got
    assert ("XW-OLD-MISSING", None, "old_code") in got    # S-C now has no row


def test_other_refusals_are_located():
    errors = _refused(GOOD + "TVH-2023,S-A,,N-C,,,\nTVH-2024,S-C,,N-C,,,\n"
                      "TVH-2024,S-A,,N-D,,abc,\nTVH-2024,,,N-D,,,\n")
    got = {(e.code, e.row) for e in errors}
    assert {("XW-CAMPAIGN-UNKNOWN", 6), ("XW-DUPLICATE", 7), ("XW-SHARE-FORMAT", 8),
            ("XW-EMPTY", 9)} <= got
    with pytest.raises(CrosswalkInvalid) as info:
        read_crosswalk(b"old_code,share\nS-A,1\n", filename="cw.csv", old_units=OLD)
    assert [(e.code, e.row, e.column) for e in info.value.errors] == [
        ("XW-HEADER-MISSING", 1, "new_code")]
    with pytest.raises(CrosswalkInvalid) as info:
        read_crosswalk(b"PK\x03\x04garbage", filename="cw.xlsx", old_units=OLD)  # a broken workbook
    assert info.value.errors[0].code == "XW-FILE-READ"


def test_every_crosswalk_code_is_exercised():
    codes = {"XW-OLD-MISSING", "XW-SHARE-SUM", "XW-NEW-UNKNOWN", "XW-OLD-UNKNOWN",
             "XW-CAMPAIGN-UNKNOWN", "XW-DUPLICATE", "XW-SHARE-FORMAT", "XW-EMPTY",
             "XW-HEADER-MISSING", "XW-FILE-READ"}
    assert codes == {c for c in ERROR_CODES if c.startswith("XW-")}


def test_no_successor_and_split_without_shares():
    cw = _read(GOOD.replace("S-C,Sở C,N-C,,1", "S-C,Sở C,-,,"))
    assert cw.targets("TVH-2024", "S-C")[0].new_code == ""
    errors = _refused(GOOD.replace(",0.6,", ",,").replace('"0,4"', ""))
    assert [(e.code, e.row) for e in errors] == [("XW-SHARE-SUM", 3)]


def test_tra_vinh_2023_maps_districts_as_abolished_and_departments_need_a_crosswalk():
    campaign = load_campaign(EXAMPLES / "travinh-2023.yaml")
    table = load_unit_table()
    rows = {m.old_code: m for m in map_units(campaign.units, campaign.province, table,
                                             campaign=campaign.code)}
    assert rows["84"].new[0].code == "86" and rows["84"].how == "merged_whole"
    cau_ke = rows["H-CAUKE"]
    assert cau_ke.matched is Matched.NAME and cau_ke.gso_code == "845"
    assert cau_ke.how == "abolished" and not cau_ke.decide
    gone_to = {r.code for r in cau_ke.new}
    assert gone_to == {t.code for c in table.communes_of_district("845")
                       for t in table.targets[c]}
    # Thị xã and Huyện Duyên Hải are two districts: the type word tells them apart.
    assert rows["TX-DUYENHAI"].gso_code != rows["H-DUYENHAI"].gso_code
    assert rows["S-NOIVU"].decide and rows["S-NOIVU"].how == "unmapped"
    assert len(needs_crosswalk(campaign.units, campaign.province, table)) == 18
    template = crosswalk_template(campaign.units, campaign.province, table, campaign.code)
    assert template[0][:2] == ["old_campaign", "old_code"] and len(template) == 19
    assert template_csv(template).startswith("old_campaign,old_code")


def test_communes_are_matched_by_code_or_name_and_splits_flagged():
    table = load_unit_table()
    levels = [Level("province", "Tỉnh", "Province"),
              Level("district", "Huyện", "District", "province"),
              Level("commune", "Xã", "Commune", "district")]
    units = UnitTree(levels, [
        Unit("01", "Thành phố Hà Nội", "", "province"),
        Unit("GL", "Huyện Gia Lâm", "", "district", "01"),
        Unit("X-COBI", "xa co bi", "", "commune", "GL"),         # by name, no diacritics
        Unit("00556", "Xã Đặng Xá", "", "commune", "GL"),        # by code
        Unit("X-NOWHERE", "Xã Không Có", "", "commune", "GL"),
    ])
    rows = {m.old_code: m for m in map_units(units, "01", table)}
    assert rows["X-COBI"].gso_code == "00553" and rows["X-COBI"].how == "split"
    assert rows["X-COBI"].decide
    assert rows["00556"].matched is Matched.CODE
    assert {r.code: r.share for r in rows["00556"].new} == {"00541": 0.0, "00562": 1.0}
    assert rows["X-NOWHERE"].how == "unmapped" and rows["X-NOWHERE"].decide
