"""Fixtures for the sampling tests: a small campaign built from a dict, and list files."""

from __future__ import annotations

import copy
import csv
import io
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from sampling.config import Campaign, parse_campaign

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "campaigns"


def _names(vi: str, en: str) -> dict[str, str]:
    return {"vi": vi, "en": en}


BASE: dict[str, Any] = {
    "version": 1,
    "code": "TEST-2024",
    "name": _names("Khảo sát thử", "Test survey"),
    "province": "84",
    "year": 2024,
    "opens_at": "2024-10-01",
    "closes_at": "2024-12-31",
    "levels": [
        {"code": "province", "name": _names("Tỉnh", "Province")},
        {"code": "department", "name": _names("Sở", "Department"), "parent": "province"},
        {"code": "district", "name": _names("Huyện", "District"), "parent": "province"},
        {"code": "commune", "name": _names("Xã", "Commune"), "parent": "district"},
    ],
    "units": [
        {"code": "P", "level": "province", "name": _names("Tỉnh Thử", "Test Province")},
        {"code": "S1", "level": "department", "parent": "P", "name": _names("Sở Nội vụ", "Home Affairs")},
        {"code": "S2", "level": "department", "parent": "P", "name": _names("Sở Tài chính", "Finance")},
        {"code": "S3", "level": "department", "parent": "P", "name": _names("Sở Y tế", "Health")},
        {"code": "H1", "level": "district", "parent": "P", "name": _names("Huyện Càng Long", "Càng Long District")},
        {"code": "H2", "level": "district", "parent": "P", "name": _names("Huyện Cầu Kè", "Cầu Kè District")},
        {"code": "X1", "level": "commune", "parent": "H1", "name": _names("Xã An Trường", "An Trường Commune")},
        {"code": "X2", "level": "commune", "parent": "H1", "name": _names("Xã Bình Phú", "Bình Phú Commune")},
        {"code": "X3", "level": "commune", "parent": "H2", "name": _names("Xã Hòa Ân", "Hòa Ân Commune")},
    ],
    "groups": [
        {"code": "delegate", "name": _names("Đại biểu HĐND", "Council delegates"),
         "kind": "council_delegate", "unit_level": "province",
         "questionnaires": ["hdnd-rates-departments"]},
        {"code": "leader", "name": _names("Lãnh đạo phòng thuộc sở", "Division leaders"),
         "kind": "department_division_leader", "unit_level": "department",
         "questionnaires": ["dept-division-rates-own-department"]},
        {"code": "district_leader", "name": _names("Lãnh đạo phòng cấp huyện", "District division leaders"),
         "kind": "district_division_leader", "unit_level": "district",
         "questionnaires": ["district-division-rates-departments",
                            "district-division-rates-own-district"]},
        {"code": "citizen", "name": _names("Người dân", "Citizens"), "kind": "citizen",
         "questionnaires": ["citizen-sipas"]},
    ],
    "quotas": [
        {"id": "own", "group": "leader", "questionnaire": "dept-division-rates-own-department",
         "count": 3, "per": "department", "rate": "own"},
        {"id": "cross", "group": "district_leader",
         "questionnaire": "district-division-rates-departments",
         "count": 2, "per": "district", "rate": "each department"},
        {"id": "citizens", "group": "citizen", "questionnaire": "citizen-sipas", "count": 20,
         "per": "department"},
    ],
}


@pytest.fixture
def config_dict() -> Callable[[], dict[str, Any]]:
    """A fresh deep copy of the base campaign dict, to mutate in a test."""
    return lambda: copy.deepcopy(BASE)


@pytest.fixture
def make_campaign() -> Callable[..., Campaign]:
    """Build a campaign from a dict (default: the base campaign)."""

    def make(data: dict[str, Any] | None = None, **kwargs: Any) -> Campaign:
        text = yaml.safe_dump(data if data is not None else BASE, allow_unicode=True,
                              sort_keys=False)
        return parse_campaign(text, file="test.yaml", **kwargs)

    return make


@pytest.fixture
def campaign(make_campaign: Callable[..., Campaign]) -> Campaign:
    return make_campaign()


@pytest.fixture
def examples() -> Path:
    return EXAMPLES


LIST_HEADER = ("external_id", "full_name", "group", "unit", "position", "sex", "birth_year",
               "email", "phone")


def good_rows() -> list[dict[str, str]]:
    return [
        {"external_id": "1", "full_name": "Nguyễn Thị Hoà", "group": "leader", "unit": "S1",
         "position": "Trưởng phòng", "sex": "Nữ", "birth_year": "1980",
         "email": "hoa.nt@travinh.gov.vn", "phone": "0912 345 678"},
        {"external_id": "2", "full_name": "Trần Văn Bình", "group": "district_leader",
         "unit": "H1", "position": "Phó Trưởng phòng", "sex": "Nam", "birth_year": "1975",
         "email": "binh.tv@travinh.gov.vn", "phone": ""},
        {"external_id": "3", "full_name": "Lê Minh Châu", "group": "citizen", "unit": "S2",
         "position": "", "sex": "", "birth_year": "", "email": "",
         "phone": "+84 987.654.321"},
    ]


@pytest.fixture
def list_rows() -> Callable[[], list[dict[str, str]]]:
    """Three valid list rows (leader, district leader, citizen) as dicts, to mutate."""
    return good_rows


@pytest.fixture
def list_csv() -> Callable[..., bytes]:
    """Render rows as CSV bytes the way Excel writes them (BOM, chosen delimiter)."""

    def render(rows: Sequence[dict[str, str]], header: Sequence[str] = LIST_HEADER, *,
               delimiter: str = ",", bom: bool = True) -> bytes:
        buf = io.StringIO()
        writer = csv.writer(buf, delimiter=delimiter, lineterminator="\r\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow([row.get(h, "") for h in header])
        return (("\ufeff" if bom else "") + buf.getvalue()).encode("utf-8")

    return render
