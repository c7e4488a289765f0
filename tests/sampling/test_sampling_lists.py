"""Respondent lists: all-or-nothing validation, normalisation, de-duplication, template."""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import given, settings
from hypothesis import strategies as st

from sampling.config import Campaign
from sampling.contacts import name_key, normalize_email, normalize_phone
from sampling.errors import ERROR_CODES
from sampling.lists import (
    COLUMNS,
    CleanList,
    ListPolicy,
    MatchKind,
    RejectedList,
    Respondent,
    Sex,
    clean_respondent_list,
    merge_cross_group_duplicates,
    write_list_template,
)

Rows = list[dict[str, str]]
HEADER = ("external_id", "full_name", "group", "unit", "position", "sex", "birth_year",
          "email", "phone")


def _set(row: int, **values: str) -> Callable[[Rows], None]:
    return lambda rows: rows[row].update(values)


# (code, mutation of the three good rows, extra columns, expected (row, column))
ROW_CASES: list[tuple[str, Callable[[Rows], None], tuple[str, ...], tuple[int, str | None]]] = [
    ("LIST-REQUIRED", _set(0, full_name=""), (), (2, "full_name")),
    ("LIST-VALUE-TOO-LONG", _set(1, position="x" * 201), (), (3, "position")),
    ("LIST-FORMULA", _set(0, full_name='=HYPERLINK("http://x","Hoà")'), (), (2, "full_name")),
    ("LIST-EMAIL-INVALID", _set(0, email="hoa.nt@@travinh.gov.vn"), (), (2, "email")),
    ("LIST-PHONE-INVALID", _set(2, phone="0123 456 789"), (), (4, "phone")),
    ("LIST-CONTACT-MISSING", _set(2, phone=""), (), (4, None)),
    ("LIST-GROUP-UNKNOWN", _set(2, group="nguoi_dan"), (), (4, "group")),
    ("LIST-UNIT-UNKNOWN", _set(0, unit="S9"), (), (2, "unit")),
    ("LIST-UNIT-LEVEL", _set(0, unit="H1"), (), (2, "unit")),
    ("LIST-RATED-UNIT-UNKNOWN", _set(1, rated_units="S1; S9"), ("rated_units",),
     (3, "rated_units")),
    ("LIST-SEX-INVALID", _set(0, sex="F/M"), (), (2, "sex")),
    ("LIST-AGE-INVALID", _set(1, birth_year="75"), (), (3, "birth_year")),
    ("LIST-AGE-CONFLICT", _set(1, age="30"), ("age",), (3, "age")),
    ("LIST-DUPLICATE-ID", _set(2, external_id="1"), (), (4, "external_id")),
    ("LIST-DUPLICATE-EMAIL",
     lambda rows: rows.append({**rows[0], "external_id": "9", "full_name": "Người Khác",
                               "email": "HOA.NT@travinh.gov.vn", "phone": ""}),
     (), (5, "email")),
]

FILE_CASES = {"LIST-DUPLICATE-PERSON",  # tested below (within-group duplicates)
              "LIST-FILE-EXPANDS",  # tests/survey/test_import_messages.py
              "LIST-FILE-FORMAT", "LIST-FILE-READ", "LIST-FILE-TOO-LARGE", "LIST-TOO-MANY-ROWS",
              "LIST-ENCODING", "LIST-EMPTY", "LIST-HEADER-MISSING", "LIST-HEADER-UNKNOWN",
              "LIST-HEADER-DUPLICATE", "LIST-CELL-NO-HEADER"}


def test_every_list_code_has_a_test() -> None:
    tested = {c for c, *_ in ROW_CASES} | FILE_CASES
    assert tested == {c for c in ERROR_CODES if c.startswith("LIST-")}


def test_good_list_is_accepted_and_normalised(
        campaign: Campaign, list_rows: Callable[[], Rows], list_csv: Callable[..., bytes]) -> None:
    out = clean_respondent_list(list_csv(list_rows()), campaign, filename="ds.csv")
    assert isinstance(out, CleanList)
    first, second, third = out.respondents
    assert (first.phone, first.sex, first.birth_year, first.age) == (
        "+84912345678", Sex.FEMALE, 1980, 2024 - 1980)
    assert first.row == 2 and third.row == 4
    assert second.phone is None and second.email == "binh.tv@travinh.gov.vn"
    assert third.phone == "+84987654321" and third.sex is None
    assert out.counts_by_group_unit() == {("leader", "S1"): 1, ("district_leader", "H1"): 1,
                                          ("citizen", "S2"): 1}


@pytest.mark.parametrize(("code", "mutate", "extra", "where"), ROW_CASES,
                         ids=[c[0] for c in ROW_CASES])
def test_row_error_rejects_whole_list_with_row_and_column(
        campaign: Campaign, list_rows: Callable[[], Rows], list_csv: Callable[..., bytes],
        code: str, mutate: Callable[[Rows], None], extra: tuple[str, ...],
        where: tuple[int, str | None], vi) -> None:
    rows = list_rows()
    mutate(rows)
    out = clean_respondent_list(list_csv(rows, HEADER + extra), campaign, filename="ds.csv")
    assert isinstance(out, RejectedList)  # all or nothing: no partial rows
    assert [(e.code, e.row, e.column) for e in out.errors] == [(code, *where)]
    error = out.errors[0]
    assert error.file == "ds.csv"
    assert error.message(vi) and error.message() and error.fix(vi) and error.fix()
    assert f"row {where[0]}" in str(error) and f"dòng {where[0]}" in error.render(vi)


def test_file_level_problems(campaign: Campaign, list_rows: Callable[[], Rows],
                             list_csv: Callable[..., bytes]) -> None:
    def codes(data: bytes, name: str = "ds.csv", **policy: Any) -> list[tuple[str, Any, Any]]:
        out = clean_respondent_list(data, campaign, filename=name, policy=ListPolicy(**policy))
        assert isinstance(out, RejectedList)
        return [(e.code, e.row, e.column) for e in out.errors]

    good = list_csv(list_rows())
    assert codes(b"\xd0\xcf\x11\xe0" + b"\x00" * 100, "ds.xls") == [
        ("LIST-FILE-FORMAT", None, None)]
    assert codes(b"PK\x03\x04 not really a zip", "ds.xlsx") == [("LIST-FILE-READ", None, None)]
    assert codes(good, max_bytes=100) == [("LIST-FILE-TOO-LARGE", None, None)]
    assert codes(good, max_rows=2) == [("LIST-TOO-MANY-ROWS", None, None)]
    # Excel's legacy "CSV" on a Western-locale PC: Windows-1252, not UTF-8.
    assert codes("external_id,full_name\n1,Hé\n".encode("cp1252")) == [
        ("LIST-ENCODING", None, None)]
    assert codes(list_csv([])) == [("LIST-EMPTY", None, None)]
    assert codes(list_csv(list_rows(), [h for h in HEADER if h != "unit"])) == [
        ("LIST-HEADER-MISSING", 1, "unit")]
    assert codes(list_csv(list_rows(), ("STT", *HEADER))) == [("LIST-HEADER-UNKNOWN", 1, "STT")]
    assert codes(list_csv(list_rows(), (*HEADER, "email"))) == [
        ("LIST-HEADER-DUPLICATE", 1, "email")]
    extra = list_csv(list_rows()).replace(b"0912 345 678", b"0912 345 678,stray")
    assert codes(extra) == [("LIST-CELL-NO-HEADER", 2, None)]


def test_error_list_is_capped_but_counted(campaign: Campaign, list_rows: Callable[[], Rows],
                                          list_csv: Callable[..., bytes]) -> None:
    rows = [dict(list_rows()[0], external_id=str(i), email=f"bad{i}@", phone="")
            for i in range(50)]
    out = clean_respondent_list(list_csv(rows), campaign, policy=ListPolicy(max_errors=10))
    assert isinstance(out, RejectedList)
    assert len(out.errors) == 10 and out.error_count == 50


@pytest.mark.parametrize(("delimiter", "bom"), [(",", True), (",", False), (";", True),
                                                 ("\t", False)])
def test_excel_csv_variants_are_read(campaign: Campaign, list_rows: Callable[[], Rows],
                                     list_csv: Callable[..., bytes], delimiter: str,
                                     bom: bool) -> None:
    out = clean_respondent_list(list_csv(list_rows(), delimiter=delimiter, bom=bom), campaign)
    assert isinstance(out, CleanList) and len(out.respondents) == 3


def test_nfd_names_become_nfc(campaign: Campaign, list_rows: Callable[[], Rows],
                              list_csv: Callable[..., bytes]) -> None:
    data = unicodedata.normalize("NFD", list_csv(list_rows()).decode("utf-8")).encode("utf-8")
    out = clean_respondent_list(data, campaign)
    assert isinstance(out, CleanList)
    assert out.respondents[0].full_name == unicodedata.normalize("NFC", "Nguyễn Thị Hoà")
    assert out.respondents[0].sex is Sex.FEMALE  # "Nữ" in NFD still maps


def test_xlsx_formula_is_text_never_evaluated(campaign: Campaign,
                                              list_rows: Callable[[], Rows]) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(list(HEADER))
    for row in list_rows():
        ws.append([row[h] for h in HEADER])
    ws["G2"] = "=2024-44"  # birth_year as a formula
    ws["I3"] = 987000111  # a phone typed as a number loses its leading 0
    buf = io.BytesIO()
    wb.save(buf)
    out = clean_respondent_list(buf.getvalue(), campaign, filename="ds.xlsx")
    assert isinstance(out, RejectedList)
    assert [(e.code, e.row, e.column) for e in out.errors] == [("LIST-FORMULA", 2, "birth_year")]
    assert "=2024-44" in out.errors[0].message()

    ws["G2"] = 1980
    buf = io.BytesIO()
    wb.save(buf)
    out = clean_respondent_list(buf.getvalue(), campaign, filename="ds.xlsx")
    assert isinstance(out, CleanList)
    assert out.respondents[1].phone == "+84987000111"


# -- phones, emails, names -------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "expected"), [
    ("0912345678", "+84912345678"),
    ("0912.345.678", "+84912345678"),
    ("0912-345-678", "+84912345678"),
    ("84912345678", "+84912345678"),
    ("+84 912 345 678", "+84912345678"),
    ("+84 (0) 912 345 678", "+84912345678"),
    ("0084 912 345 678", "+84912345678"),
    ("912345678", "+84912345678"),          # Excel dropped the 0
    ("０９１２３４５６７８", "+84912345678"),  # full-width digits from an IME
    ("0294 3855 123", "+842943855123"),      # Trà Vinh landline
    ("+84 294 3855 123", "+842943855123"),
    ("0123456789", None),                    # old 11-digit prefix / not a mobile range
    ("091234567", None),                     # too short
    ("09123456789", None),                   # too long
    ("+1 212 555 0100", None),               # not Vietnamese
    ("0912 345 67x", None),
    ("", None),
])
def test_phone_normalisation(raw: str, expected: str | None) -> None:
    assert normalize_phone(raw) == expected


@given(st.sampled_from("35789"), st.text("0123456789", min_size=8, max_size=8),
       st.sampled_from(["0{}", "84{}", "+84{}", "+84 (0) {}", "0084{}"]))
@settings(max_examples=200, deadline=None)
def test_phone_forms_agree_and_are_idempotent(first: str, rest: str, form: str) -> None:
    national = first + rest
    out = normalize_phone(form.format(national))
    assert out == "+84" + national
    assert normalize_phone(out) == out


_EMAIL_CHARS = st.sampled_from(list("abcXYZ09._-+!#'@") + ["..", "@@", "ộ", " ", "ß"])


@given(st.lists(_EMAIL_CHARS, min_size=1, max_size=30).map("".join),
       st.sampled_from(["travinh.gov.vn", "GMAIL.COM", "x", "bộ.vn", "a-.vn", "localhost"]))
@settings(max_examples=400, deadline=None)
def test_email_fast_path_agrees_with_email_validator(local: str, domain: str) -> None:
    address = f"{local}@{domain}"
    try:
        # Cells carry stray spaces; the contract is email-validator on the stripped text.
        expected: str | None = validate_email(address.strip(),
                                              check_deliverability=False).normalized
    except EmailNotValidError:
        expected = None
    try:
        got: str | None = normalize_email(address)
    except ValueError:
        got = None
    assert got == expected


def test_name_key_matches_case_and_tone_placement_but_not_different_names() -> None:
    assert name_key("NGUYỄN THỊ HÒA") == name_key("nguyễn thị hoà")
    assert name_key("Trần Thủy") == name_key("Trần  Thuỷ")
    assert name_key("Khỏe") == name_key("Khoẻ")
    assert name_key("Hoàng") == name_key(unicodedata.normalize("NFD", "Hoàng"))
    assert name_key("Lê Văn A") != name_key("Lệ Văn A")
    assert name_key("Hòa") != name_key("Hoa")


# -- cross-group duplicates -----------------------------------------------------------------


def _person(row: int, group: str, unit: str, name: str = "Nguyễn Văn An",
            email: str | None = None, phone: str | None = None) -> Respondent:
    return Respondent(row, f"id{row}", name, group, unit, email=email, phone=phone)


def test_delegate_wins_by_default_priority(campaign: Campaign, list_rows: Callable[[], Rows],
                                           list_csv: Callable[..., bytes]) -> None:
    rows = list_rows()
    rows.append({"external_id": "4", "full_name": "NGUYỄN THỊ HÒA", "group": "delegate",
                 "unit": "P", "email": "Hoa.NT@travinh.gov.vn", "phone": ""})
    out = clean_respondent_list(list_csv(rows), campaign)
    assert isinstance(out, CleanList)
    assert [r.external_id for r in out.respondents] == ["2", "3", "4"]
    (merge,) = out.merges
    assert [r.group for r in merge.kept] == ["delegate"]
    assert [r.external_id for r in merge.dropped] == ["1"]
    assert merge.matched_on == (MatchKind.EMAIL,)


def test_matches_chain_and_follow_the_priority_list() -> None:
    people = [
        _person(2, "citizen", "S1", email="an@x.vn"),
        _person(3, "leader", "S1", name="Nguyễn Văn Ân", email="an@x.vn", phone="+84912345678"),
        _person(4, "delegate", "P", name="N. V. An", phone="+84912345678"),
        _person(5, "leader", "S2", name="Lê Thị Bé"),
    ]
    kept, merges = merge_cross_group_duplicates(people, ["delegate", "leader", "citizen"])
    assert [r.row for r in kept] == [4, 5]
    (merge,) = merges
    assert [r.row for r in merge.dropped] == [2, 3]
    assert set(merge.matched_on) == {MatchKind.EMAIL, MatchKind.PHONE}

    kept, _ = merge_cross_group_duplicates(people, ["citizen", "leader", "delegate"])
    assert [r.row for r in kept] == [2, 5]


def test_same_name_in_same_unit_across_groups_is_one_person_but_not_across_units() -> None:
    people = [_person(2, "leader", "S1", name="Trần Thủy"),
              _person(3, "citizen", "S1", name="TRẦN THUỶ"),
              _person(4, "citizen", "S2", name="Trần Thủy")]
    kept, merges = merge_cross_group_duplicates(people, ["leader", "citizen"])
    assert [r.row for r in kept] == [2, 4]
    assert merges[0].matched_on == (MatchKind.NAME_UNIT,)


def test_same_group_repeats_are_not_merged() -> None:
    people = [_person(2, "citizen", "S1", phone="+84912345678"),
              _person(3, "citizen", "S1", name="Khác", phone="+84912345678")]
    kept, merges = merge_cross_group_duplicates(people, ["citizen"])
    assert len(kept) == 2 and merges == ()


# -- within-group duplicates (issue 16, item 5) -------------------------------------------

def _same_person_three_ways(rows: Rows) -> None:
    """Rows 5-7: one citizen of S2 as NFC, NFD and old-tone names; +84, 0084 and 0 phones."""
    base = {"group": "citizen", "unit": "S2", "position": "", "sex": "", "birth_year": "",
            "email": ""}
    rows.append({**base, "external_id": "5", "full_name": "Phạm Thị Hoà",
                 "phone": "+84 903 111 222"})
    rows.append({**base, "external_id": "6",
                 "full_name": unicodedata.normalize("NFD", "Phạm Thị Hoà"),
                 "phone": "0084903111222"})
    rows.append({**base, "external_id": "7", "full_name": "PHẠM THỊ HÒA", "phone": "0903.111.222"})


def test_same_person_twice_in_a_group_is_refused_naming_both_rows(
        campaign: Campaign, list_rows: Callable[[], Rows], list_csv: Callable[..., bytes], vi) -> None:
    rows = list_rows()
    _same_person_three_ways(rows)
    out = clean_respondent_list(list_csv(rows), campaign, filename="ds.csv")
    assert isinstance(out, RejectedList)
    assert [(e.code, e.row, e.column) for e in out.errors] == [
        ("LIST-DUPLICATE-PERSON", 6, "phone"), ("LIST-DUPLICATE-PERSON", 7, "phone")]
    assert "row 5" in out.errors[0].message() and "dòng 5" in out.errors[0].message(vi)
    assert "'citizen'" in out.errors[1].message()


def test_same_name_in_one_unit_of_a_group_without_phones_is_one_person(
        campaign: Campaign, list_rows: Callable[[], Rows], list_csv: Callable[..., bytes]) -> None:
    rows = list_rows()
    rows.append({**rows[2], "external_id": "8", "full_name": "LÊ  MINH CHÂU", "phone": "",
                 "email": "chau@x.vn"})
    rows.append({**rows[2], "external_id": "9", "full_name": "Lê Minh Châu",
                 "phone": "0911 000 999"})  # a namesake: another phone
    out = clean_respondent_list(list_csv(rows), campaign, filename="ds.csv")
    assert isinstance(out, RejectedList)
    assert [(e.code, e.row, e.column) for e in out.errors] == [
        ("LIST-DUPLICATE-PERSON", 5, "full_name")]
    assert "row 4" in out.errors[0].message()


def test_the_campaign_may_merge_within_group_duplicates(
        make_campaign: Callable[..., Campaign], config_dict: Callable[[], dict[str, Any]],
        list_rows: Callable[[], Rows], list_csv: Callable[..., bytes]) -> None:
    data = config_dict()
    data["duplicates_in_group"] = "merge"
    campaign = make_campaign(data)
    rows = list_rows()
    _same_person_three_ways(rows)
    rows.append({**rows[0], "external_id": "8", "phone": ""})  # same email, same group
    out = clean_respondent_list(list_csv(rows), campaign, filename="ds.csv")
    assert isinstance(out, CleanList)
    assert [r.external_id for r in out.respondents] == ["1", "2", "3", "5"]
    by_kept = {m.kept[0].row: m for m in out.merges}
    assert [r.row for r in by_kept[5].dropped] == [6, 7]
    assert by_kept[5].matched_on == (MatchKind.PHONE,)
    assert [r.row for r in by_kept[2].dropped] == [8]


def test_duplicates_in_group_setting_is_validated(
        make_campaign: Callable[..., Campaign], config_dict: Callable[[], dict[str, Any]]) -> None:
    from sampling.errors import CampaignInvalid

    data = config_dict()
    data["duplicates_in_group"] = "keep"
    with pytest.raises(CampaignInvalid) as caught:
        make_campaign(data)
    assert [e.code for e in caught.value.errors] == ["CFG-DUPLICATES-IN-GROUP"]


# -- template ----------------------------------------------------------------------------


def test_template_has_columns_notes_and_drop_downs(campaign: Campaign, tmp_path: Path) -> None:
    path = tmp_path / "mau.xlsx"
    write_list_template(path, campaign)
    wb = openpyxl.load_workbook(path)
    data, notes, codes = wb.worksheets
    assert [c.value for c in data[1]] == list(COLUMNS)
    noted = {row[0] for row in notes.iter_rows(min_row=2, values_only=True) if row[0]}
    assert noted == set(COLUMNS)
    assert any("Campaign" in str(v) for row in notes.iter_rows(values_only=True) for v in row)
    lists = {str(dv.sqref): dv.formula1 for dv in data.data_validations.dataValidation}
    group_ref = next(f for ref, f in lists.items() if ref.startswith("C2"))
    unit_ref = next(f for ref, f in lists.items() if ref.startswith("D2"))
    assert group_ref.endswith(f"$A$2:$A${len(campaign.groups) + 1}")
    assert unit_ref.endswith(f"$E$2:$E${len(campaign.units) + 1}")
    assert [codes.cell(row=i + 2, column=1).value for i in range(len(campaign.groups))] == [
        g.code for g in campaign.groups]
    phone_column = openpyxl.utils.get_column_letter(COLUMNS.index("phone") + 1)
    assert data[f"{phone_column}2"].number_format == "@"  # keeps leading zeros
    wb.close()


def test_filled_template_round_trips(campaign: Campaign, tmp_path: Path,
                                     list_rows: Callable[[], Rows]) -> None:
    path = tmp_path / "mau.xlsx"
    write_list_template(path, campaign)
    wb = openpyxl.load_workbook(path)
    ws = wb.worksheets[0]
    for i, row in enumerate(list_rows(), start=2):
        for j, column in enumerate(COLUMNS, start=1):
            ws.cell(row=i, column=j, value=row.get(column) or None)
    wb.save(path)
    wb.close()
    out = clean_respondent_list(path, campaign)
    assert isinstance(out, CleanList)
    assert [r.external_id for r in out.respondents] == ["1", "2", "3"]
