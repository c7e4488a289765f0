"""Campaign configuration: the loader accepts good files and locates every problem."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest
import yaml

from sampling.config import DEFAULT_TIMEZONE, Campaign, GroupKind, load_campaign, parse_campaign
from questionnaires import Problem
from questionnaires.problems import Text, Translator
from sampling.errors import ERROR_CODES, CampaignInvalid

Mutate = Callable[[dict[str, Any]], None]


def _errors(text: str, **kwargs: Any) -> tuple[Problem, ...]:
    with pytest.raises(CampaignInvalid) as info:
        parse_campaign(text, file="test.yaml", **kwargs)
    return info.value.errors


def _dump(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def _add_rule(**rule: Any) -> Mutate:
    return lambda d: d["quotas"].append(rule)


# (code, mutation of the base dict, expected path, extra loader kwargs)
CASES: list[tuple[str, Mutate, str, dict[str, Any]]] = [
    ("CFG-VERSION", lambda d: d.update(version=2), "version", {}),
    ("CFG-KEY-MISSING", lambda d: d.pop("year"), "", {}),
    ("CFG-KEY-UNKNOWN", lambda d: d["groups"][0].update(questionaires=["x"]),
     "groups[0].questionaires", {}),
    ("CFG-TYPE", lambda d: d.update(groups="delegate"), "groups", {}),
    ("CFG-TEXT-EMPTY", lambda d: d["name"].update(vi="   "), "name.vi", {}),
    ("CFG-CODE-FORMAT", lambda d: d.update(code="Trà Vinh 2024"), "code", {}),
    ("CFG-ENUM-VALUE", lambda d: d["groups"][0].update(kind="delegate"), "groups[0].kind", {}),
    ("CFG-PROVINCE-CODE", lambda d: d.update(province="8A"), "province", {}),
    ("CFG-YEAR-RANGE", lambda d: d.update(year=1999), "year", {}),
    ("CFG-DATE-FORMAT", lambda d: d.update(opens_at="01/10/2024"), "opens_at", {}),
    ("CFG-DATE-ORDER", lambda d: d.update(closes_at="2024-09-30"), "closes_at", {}),
    ("CFG-TIMEZONE-UNKNOWN", lambda d: d.update(timezone="Asia/Hanoi"), "timezone", {}),
    ("CFG-LEVEL-DUPLICATE",
     lambda d: d["levels"].append({"code": "district", "name": {"vi": "Quận", "en": "Urban"},
                                   "parent": "province"}),
     "levels[4].code", {}),
    ("CFG-LEVEL-UNKNOWN", lambda d: d["units"][1].update(level="dept"), "units[1].level", {}),
    ("CFG-LEVEL-CYCLE", lambda d: d["levels"][0].update(parent="commune"),
     "levels[0].parent", {}),
    ("CFG-UNITS-FILE-PATH", lambda d: d.update(units="units.csv"), "units", {}),
    ("CFG-UNIT-DUPLICATE", lambda d: d["units"][2].update(code="S1"), "units[2].code", {}),
    ("CFG-UNIT-UNKNOWN", lambda d: d["units"][1].update(parent="ZZ"), "units[1].parent", {}),
    ("CFG-UNIT-PARENT-MISSING", lambda d: d["units"][1].pop("parent"), "units[1].parent", {}),
    ("CFG-UNIT-PARENT-LEVEL", lambda d: d["units"][6].update(parent="S1"),
     "units[6].parent", {}),
    ("CFG-GROUP-DUPLICATE",
     lambda d: d["groups"].append({"code": "leader", "name": {"vi": "Lãnh đạo", "en": "Leaders"},
                                   "questionnaires": ["citizen-sipas"]}),
     "groups[4].code", {}),
    ("CFG-GROUP-UNKNOWN", lambda d: d["quotas"][0].update(group="leaders"),
     "quotas[0].group", {}),
    ("CFG-QUESTIONNAIRE-UNKNOWN", lambda d: None, "groups[0].questionnaires[0]",
     {"known_questionnaires": {"citizen-sipas", "dept-division-rates-own-department",
                               "district-division-rates-departments",
                               "district-division-rates-own-district"}}),
    ("CFG-QUOTA-QUESTIONNAIRE", lambda d: d["quotas"][0].update(questionnaire="citizen-sipas"),
     "quotas[0].questionnaire", {}),
    ("CFG-QUOTA-COUNT", lambda d: d["quotas"][0].update(count=0), "quotas[0].count", {}),
    ("CFG-QUOTA-RATE", lambda d: d["quotas"][1].update(rate="every department"),
     "quotas[1].rate", {}),
    ("CFG-QUOTA-CHILDREN", lambda d: d["quotas"][0].update(children={"count": 13}),
     "quotas[0].children", {}),
    ("CFG-QUOTA-CHILDREN-SHORT",
     _add_rule(group="district_leader", questionnaire="district-division-rates-own-district",
               count=1, per="district", children={"count": 3, "level": "commune"},
               only=["H1"]),
     "quotas[3].children", {}),
    ("CFG-QUOTA-SCOPE", lambda d: d["quotas"][0].update(only=["H1"]), "quotas[0].only[0]", {}),
    ("CFG-QUOTA-NO-UNITS", lambda d: d["quotas"][0].update(exclude=["S1", "S2", "S3"]),
     "quotas[0].per", {}),
    ("CFG-QUOTA-ID-DUPLICATE",
     _add_rule(id="own", group="citizen", questionnaire="citizen-sipas", count=30,
               per="district"),
     "quotas[3].id", {}),
    ("CFG-QUOTA-DUPLICATE-CELL",
     _add_rule(id="again", group="leader", questionnaire="dept-division-rates-own-department",
               count=5, per="department", only=["S2"]),
     "quotas[3]", {}),
    ("CFG-PRIORITY-DUPLICATE",
     lambda d: d.update(duplicate_priority=["delegate", "leader", "leader", "district_leader",
                                            "citizen"]),
     "duplicate_priority[2]", {}),
    ("CFG-PRIORITY-INCOMPLETE", lambda d: d.update(duplicate_priority=["delegate"]),
     "duplicate_priority", {}),
    ("CFG-INTEGRITY", lambda d: d.update(integrity={"burst_min_forms": 0}),
     "integrity.burst_min_forms", {"integrity_validator": lambda raw: [
         (k, Text("The value '{value}' is not valid: expected {expected}.",
                  {"value": v, "expected": Text("a whole number of at least 1")}))
         for k, v in raw.items() if v <= 0]}),
    ("CFG-CROSSWALK-PATH", lambda d: d.update(crosswalk="crosswalk.csv"), "crosswalk", {}),
    ("CFG-PREDECESSOR-DUPLICATE", lambda d: d.update(predecessors=["TVH-2024", "TVH-2024"]),
     "predecessors[1]", {}),
    ("CFG-DESIGN", lambda d: d.update(design={"lonely_psu": "drop"}), "design.lonely_psu", {}),
    ("CFG-SCORING", lambda d: d.update(scoring={"ci": {"method": "wilson"}}),
     "scoring.ci.method", {"scoring_validator": lambda raw, groups: [
         ("ci.method", Text("must be normal, t or logit"))]}),
]

# Codes whose cases need raw text or files rather than a dict mutation; tested below.
SEPARATELY_TESTED = {"CFG-FILE-READ", "CFG-YAML-SYNTAX", "CFG-KEY-DUPLICATE",
                     "CFG-UNITS-FILE-READ", "CFG-UNITS-FILE-HEADER",
                     "CFG-YAML-TOO-LARGE", "CFG-YAML-TOO-DEEP", "CFG-YAML-ALIASES",
                     "CFG-DUPLICATES-IN-GROUP",  # test_sampling_lists.py
                     "CFG-PREDECESSOR-UNKNOWN"}  # needs the database: tests/survey/test_yoy.py


@pytest.mark.parametrize(("text", "code", "line"), [
    ("a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]\n" for p, c in zip("abcdef", "bcdefg", strict=True)),
     "CFG-YAML-ALIASES", 5),
    ("version: 1\nname: " + "[" * 50_000 + "]" * 50_000, "CFG-YAML-TOO-DEEP", 2),
    ("name: " + "x" * (3 * 2**20), "CFG-YAML-TOO-LARGE", None)])
def test_hostile_yaml_is_refused_located_in_both_languages(text: str, code: str,
                                                           line: int | None, vi) -> None:
    with pytest.raises(CampaignInvalid) as caught:
        parse_campaign(text, file="c.yaml")
    (error,) = caught.value.errors
    assert (error.code, error.line) == (code, line)
    assert "YAML" in error.message(vi) and error.message(vi) != error.message()


def test_every_config_code_has_a_test() -> None:
    tested = {code for code, *_ in CASES} | SEPARATELY_TESTED
    assert tested == {c for c in ERROR_CODES if c.startswith("CFG-")}


@pytest.mark.parametrize(("code", "mutate", "path", "kwargs"), CASES,
                         ids=[c[0] for c in CASES])
def test_error_is_reported_once_with_location_and_both_languages(
    config_dict: Callable[[], dict[str, Any]], code: str, mutate: Mutate, path: str,
    kwargs: dict[str, Any], vi: Translator,
) -> None:
    data = config_dict()
    mutate(data)
    errors = _errors(_dump(data), **kwargs)
    assert [(e.code, e.path) for e in errors] == [(code, path)]
    error = errors[0]
    assert error.file == "test.yaml"
    assert error.line is not None and error.line >= 1
    assert error.message(vi) and error.message() and error.message(vi) != error.message()
    assert error.fix(vi) and error.fix()
    assert f"test.yaml:{error.line}" in str(error) and code in str(error)
    assert "Cách sửa" in error.render(vi)


def test_all_errors_are_collected_not_just_the_first(
        config_dict: Callable[[], dict[str, Any]]) -> None:
    data = config_dict()
    data.update(year=1999, province="8A")
    data["quotas"][0]["count"] = -1
    codes = {e.code for e in _errors(_dump(data))}
    assert codes == {"CFG-YEAR-RANGE", "CFG-PROVINCE-CODE", "CFG-QUOTA-COUNT"}


def test_line_number_points_at_the_offending_key(
        config_dict: Callable[[], dict[str, Any]]) -> None:
    data = config_dict()
    data["quotas"][1]["rate"] = "each dept"
    text = _dump(data)
    (error,) = _errors(text)
    assert error.path == "quotas[1].rate"
    assert text.splitlines()[error.line - 1].strip() == "rate: each dept"


def test_yaml_syntax_error_gives_its_line() -> None:
    (error,) = _errors("version: 1\ncode: X\nname: {vi: a, en: b\nyear: 2024\n")
    assert error.code == "CFG-YAML-SYNTAX" and error.line is not None and error.line >= 3


def test_duplicate_yaml_key_is_an_error_not_silently_overwritten(
        config_dict: Callable[[], dict[str, Any]]) -> None:
    text = _dump(config_dict()) + "year: 2025\n"
    errors = _errors(text)
    assert [(e.code, e.path) for e in errors] == [("CFG-KEY-DUPLICATE", "year")]
    assert errors[0].line == len(text.splitlines())


def test_missing_or_undecodable_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(CampaignInvalid) as info:
        load_campaign(tmp_path / "nope.yaml")
    assert info.value.errors[0].code == "CFG-FILE-READ"
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"code: \xff\xfe\n")
    with pytest.raises(CampaignInvalid) as info:
        load_campaign(bad)
    assert info.value.errors[0].code == "CFG-FILE-READ"


# -- defaults and semantics -------------------------------------------------------------


def test_defaults_timezone_and_end_of_day_deadline(campaign: Campaign) -> None:
    tz = ZoneInfo(DEFAULT_TIMEZONE)
    assert campaign.timezone == "Asia/Ho_Chi_Minh"
    assert campaign.opens_at == dt.datetime(2024, 10, 1, tzinfo=tz)
    # "closes_at: 2024-12-31" accepts answers through 31 December, local time.
    assert campaign.is_open(dt.datetime(2024, 12, 31, 23, 59, tzinfo=tz))
    assert not campaign.is_open(dt.datetime(2025, 1, 1, 0, 0, tzinfo=tz))
    assert not campaign.is_open(dt.datetime(2024, 9, 30, 23, 59, tzinfo=tz))
    # 16:59 UTC on 31 Dec is 23:59 in Vietnam: still open.
    assert campaign.is_open(dt.datetime(2024, 12, 31, 16, 59, tzinfo=dt.UTC))


def test_datetimes_are_local_to_the_campaign_timezone(
        config_dict: Callable[[], dict[str, Any]], make_campaign: Callable[..., Campaign]) -> None:
    data = config_dict()
    data.update(opens_at="2024-10-01T08:00", closes_at="2024-10-02T08:00:00+00:00",
                timezone="Asia/Bangkok")
    c = make_campaign(data)
    assert c.opens_at.utcoffset() == dt.timedelta(hours=7)
    assert c.opens_at.hour == 8
    assert c.closes_at == dt.datetime(2024, 10, 2, 8, tzinfo=dt.UTC)


def test_default_priority_puts_council_delegates_first(
        config_dict: Callable[[], dict[str, Any]], make_campaign: Callable[..., Campaign]) -> None:
    data = config_dict()
    data["groups"].append(data["groups"].pop(0))  # delegates declared last
    c = make_campaign(data)
    assert c.duplicate_priority[0] == "delegate"
    assert c.group("delegate").kind is GroupKind.COUNCIL_DELEGATE
    assert set(c.duplicate_priority) == {g.code for g in c.groups}


def test_explicit_priority_is_kept(config_dict: Callable[[], dict[str, Any]],
                                   make_campaign: Callable[..., Campaign]) -> None:
    data = config_dict()
    order = ["leader", "delegate", "district_leader", "citizen"]
    data["duplicate_priority"] = order
    assert make_campaign(data).duplicate_priority == tuple(order)


def test_group_may_fill_two_questionnaires(campaign: Campaign) -> None:
    assert campaign.group("district_leader").questionnaires == (
        "district-division-rates-departments", "district-division-rates-own-district")


def test_scoring_section_is_kept_raw(config_dict: Callable[[], dict[str, Any]],
                                     make_campaign: Callable[..., Campaign]) -> None:
    data = config_dict()
    data["scoring"] = {"options": {"A": 1.0, "B": 0.6}, "anything": [1, 2]}
    c = make_campaign(data)
    assert c.scoring is not None and c.scoring["options"] == {"A": 1.0, "B": 0.6}


def test_integrity_section_is_kept_and_checked_by_the_validator_given(
        config_dict: Callable[[], dict[str, Any]], make_campaign: Callable[..., Campaign]) -> None:
    data = config_dict()
    data["integrity"] = {"burst_min_forms": 3, "disable": ["pattern"]}
    seen: list[Any] = []
    c = parse_campaign(_dump(data), file="test.yaml",
                       integrity_validator=lambda raw: seen.append(raw) or [])
    assert c.integrity == {"burst_min_forms": 3, "disable": ["pattern"]} and seen == [c.integrity]
    data["integrity"] = [1, 2]
    (error,) = _errors(_dump(data))
    assert (error.code, error.path) == ("CFG-TYPE", "integrity")


def test_unquoted_numeric_codes_are_read_as_text(
        config_dict: Callable[[], dict[str, Any]], make_campaign: Callable[..., Campaign]) -> None:
    data = config_dict()
    text = _dump(data).replace("province: '84'", "province: 84")
    assert "province: 84\n" in text
    assert parse_campaign(text).province == "84"


def test_nfd_names_are_stored_as_nfc(config_dict: Callable[[], dict[str, Any]],
                                     make_campaign: Callable[..., Campaign]) -> None:
    import unicodedata

    data = config_dict()
    data["units"][1]["name"]["vi"] = unicodedata.normalize("NFD", "Sở Nội vụ")
    c = make_campaign(data)
    assert c.units.get("S1").name_vi == unicodedata.normalize("NFC", "Sở Nội vụ")


# -- units files ------------------------------------------------------------------------

UNITS_CSV = (
    "code,name_vi,name_en,level,parent_code\n"
    "P,Tỉnh Thử,Test Province,province,\n"
    "S1,Sở Nội vụ,Home Affairs,department,P\n"
    "H1,Huyện Càng Long,Càng Long District,district,P\n"
)


def _with_units_file(tmp_path: Path, config_dict: Callable[[], dict[str, Any]], name: str,
                     ) -> Path:
    data = config_dict()
    data["units"] = name
    data["quotas"] = [data["quotas"][0]]
    path = tmp_path / "campaign.yaml"
    path.write_text(_dump(data), encoding="utf-8")
    return path


@pytest.mark.parametrize(("delimiter", "bom"), [(",", False), (";", True)])
def test_units_csv_is_read_with_bom_and_excel_delimiters(
        tmp_path: Path, config_dict: Callable[[], dict[str, Any]], delimiter: str,
        bom: bool) -> None:
    text = UNITS_CSV.replace(",", delimiter)
    (tmp_path / "units.csv").write_bytes((("\ufeff" if bom else "") + text).encode())
    c = load_campaign(_with_units_file(tmp_path, config_dict, "units.csv"))
    assert [u.code for u in c.units] == ["P", "S1", "H1"]
    assert c.units.get("S1").name_vi == "Sở Nội vụ"


def test_units_xlsx_is_read(tmp_path: Path, config_dict: Callable[[], dict[str, Any]]) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    for line in UNITS_CSV.strip().splitlines():
        ws.append(line.split(","))
    wb.save(tmp_path / "units.xlsx")
    c = load_campaign(_with_units_file(tmp_path, config_dict, "units.xlsx"))
    assert c.units.children("P", "department")[0].code == "S1"


def test_units_file_row_errors_name_file_row_and_column(
        tmp_path: Path, config_dict: Callable[[], dict[str, Any]]) -> None:
    (tmp_path / "units.csv").write_text(UNITS_CSV + "X9,Xã Lạ,Odd Commune,commune,S1\n",
                                        encoding="utf-8")
    with pytest.raises(CampaignInvalid) as info:
        load_campaign(_with_units_file(tmp_path, config_dict, "units.csv"))
    (error,) = info.value.errors
    assert error.code == "CFG-UNIT-PARENT-LEVEL"
    assert error.file.endswith("units.csv") and error.path == "row 5, parent_code"


def test_units_file_missing_column(tmp_path: Path,
                                   config_dict: Callable[[], dict[str, Any]]) -> None:
    (tmp_path / "units.csv").write_text("code,name_vi,name_en,level\nP,T,T,province\n",
                                        encoding="utf-8")
    with pytest.raises(CampaignInvalid) as info:
        load_campaign(_with_units_file(tmp_path, config_dict, "units.csv"))
    assert [(e.code, e.path) for e in info.value.errors] == [("CFG-UNITS-FILE-HEADER", "row 1")]
    assert "parent_code" in info.value.errors[0].message()


def test_units_file_unreadable(tmp_path: Path, config_dict: Callable[[], dict[str, Any]]) -> None:
    (tmp_path / "units.xls").write_bytes(b"\xd0\xcf\x11\xe0" + b"\x00" * 64)
    with pytest.raises(CampaignInvalid) as info:
        load_campaign(_with_units_file(tmp_path, config_dict, "units.xls"))
    assert [e.code for e in info.value.errors] == ["CFG-UNITS-FILE-READ"]


def test_units_file_may_not_escape_the_config_folder(
        tmp_path: Path, config_dict: Callable[[], dict[str, Any]]) -> None:
    (tmp_path / "units.csv").write_text(UNITS_CSV, encoding="utf-8")
    inner = tmp_path / "inner"
    inner.mkdir()
    path = _with_units_file(inner, config_dict, "../units.csv")
    with pytest.raises(CampaignInvalid) as info:
        load_campaign(path)
    assert [e.code for e in info.value.errors] == ["CFG-UNITS-FILE-PATH"]
