"""Benchmark the pure sampling layer: list cleaning and quota expansion.

Prints one JSON object.  Measures, on a synthetic respondent list for the Trà Vinh example
campaign (unique emails and phones, NFD names, ~1 % people listed in two groups):

- ``baseline_csv_reader_s``: decoding the same file and ``csv.reader`` over it, the floor
  any CSV import pays;
- ``clean_list_s``: :func:`sampling.lists.clean_respondent_list` (read, validate, normalise,
  de-duplicate) on the same file;
- ``quota_expand_s``: expanding a rule set into ``--cells`` quota cells.

The full web import (this plus database writes) targets 10 s for 100,000 rows.

Usage::

    .venv/bin/python bench/bench_sampling.py            # 100,000 rows, 2,000 cells
    .venv/bin/python bench/bench_sampling.py --smoke    # tiny, < 5 s
    .venv/bin/python bench/bench_sampling.py --xlsx     # also time the same list as XLSX
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import platform
import random
import sys
import tempfile
import time
import unicodedata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from sampling.config import Campaign, load_campaign, parse_campaign  # noqa: E402
from sampling.lists import COLUMNS, CleanList, clean_respondent_list  # noqa: E402

FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Huỳnh", "Hoàng", "Võ", "Đặng", "Bùi", "Thạch",
          "Kim", "Sơn", "Dương", "Lý"]
MIDDLE = ["Văn", "Thị", "Minh", "Ngọc", "Thanh", "Hữu", "Quốc", "Thu"]
GIVEN = ["An", "Bình", "Châu", "Dũng", "Hoà", "Thuỷ", "Khánh", "Lộc", "Phúc", "Sang",
         "Tâm", "Út", "Vy", "Xuân", "Yến"]


def make_list(campaign: Campaign, rows: int, seed: int = 2023) -> bytes:
    """A synthetic list as Excel would save it: UTF-8 with BOM, NFD names, mixed phones."""
    rng = random.Random(seed)
    departments = [u.code for u in campaign.units.at_level("department")]
    districts = [u.code for u in campaign.units.at_level("district")]
    domains = [f"{u.lower()}.travinh.gov.vn" for u in departments + districts]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    previous: list[str] = []
    for i in range(rows):
        group = rng.choices(["dept_division_leader", "district_division_leader",
                             "commune_leader", "citizen"], [2, 3, 1, 14])[0]
        unit = rng.choice(departments if group == "dept_division_leader" else
                          districts if group != "citizen" else departments + districts)
        name = f"{rng.choice(FAMILY)} {rng.choice(MIDDLE)} {rng.choice(GIVEN)}"
        email = f"nv{i:06d}@{rng.choice(domains)}" if group != "citizen" or i % 3 else ""
        phone = f"09{i:08d}"[:10]
        phone = rng.choice([phone, f"{phone[:4]}.{phone[4:7]}.{phone[7:]}",
                            f"+84 {phone[1:]}"])
        if previous and i % 97 == 0:  # the same person again, in another group
            _, prev_name, prev_group, prev_unit, prev_email, prev_phone = previous
            if prev_group != "citizen" and prev_email:
                group, unit, name, email, phone = "citizen", prev_unit, prev_name, \
                    prev_email.upper(), prev_phone
        row = [f"TV{i:06d}", unicodedata.normalize("NFD", name), group, unit,
               "Chuyên viên" if group != "citizen" else "", rng.choice(["Nam", "Nữ", ""]),
               str(rng.randint(1960, 2004)), "", email, phone, ""]
        writer.writerow(row)
        previous = [row[0], name, group, unit, email, phone]
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def baseline(data: bytes) -> float:
    start = time.perf_counter()
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    elapsed = time.perf_counter() - start
    assert rows
    return elapsed


def quota_campaign(cells: int) -> str:
    """YAML for a campaign whose one cross-rating rule makes ``cells`` cells."""
    # The largest divisor of `cells` up to its square root: departments × districts = cells.
    departments = max(d for d in range(1, math.isqrt(cells) + 1) if cells % d == 0)
    districts = cells // departments
    units: list[dict[str, Any]] = [{"code": "P", "level": "province",
                                    "name": {"vi": "Tỉnh", "en": "Province"}}]
    units += [{"code": f"S{i}", "level": "department", "parent": "P",
               "name": {"vi": f"Sở {i}", "en": f"Department {i}"}} for i in range(departments)]
    units += [{"code": f"H{i}", "level": "district", "parent": "P",
               "name": {"vi": f"Huyện {i}", "en": f"District {i}"}} for i in range(districts)]
    data = {
        "version": 1, "code": "BENCH", "name": {"vi": "Đo", "en": "Bench"}, "province": "84",
        "year": 2024, "opens_at": "2024-10-01", "closes_at": "2024-12-31",
        "levels": [{"code": "province", "name": {"vi": "Tỉnh", "en": "Province"}},
                   {"code": "department", "name": {"vi": "Sở", "en": "Department"},
                    "parent": "province"},
                   {"code": "district", "name": {"vi": "Huyện", "en": "District"},
                    "parent": "province"}],
        "units": units,
        "groups": [{"code": "dl", "name": {"vi": "Lãnh đạo phòng", "en": "Division leaders"},
                    "questionnaires": ["district-division-rates-departments"]}],
        "quotas": [{"group": "dl", "questionnaire": "district-division-rates-departments",
                    "count": 2, "per": "district", "rate": "each department"}],
    }
    return yaml.safe_dump(data, allow_unicode=True)


def timed(fn: Any, repeat: int) -> tuple[float, Any]:
    best, result = math.inf, None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes (CI)")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--cells", type=int, default=2_000)
    parser.add_argument("--xlsx", action="store_true", help="also time the list as XLSX")
    args = parser.parse_args()
    rows, cells = (1_000, 200) if args.smoke else (args.rows, args.cells)

    campaign = load_campaign(ROOT / "examples" / "campaigns" / "travinh-2023.yaml")
    data = make_list(campaign, rows)
    out: dict[str, Any] = {"rows": rows, "csv_bytes": len(data),
                           "python": platform.python_version()}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "list.csv"
        path.write_bytes(data)
        out["baseline_csv_reader_s"], _ = timed(lambda: baseline(path.read_bytes()), 3)
        out["clean_list_s"], result = timed(lambda: clean_respondent_list(path, campaign), 1)
        if not isinstance(result, CleanList):
            print(json.dumps({"error": [str(e) for e in result.errors[:5]]}, ensure_ascii=False))
            return 1
        out["clean_rows"] = len(result.respondents)
        out["merges"] = len(result.merges)
        out["clean_vs_baseline"] = round(out["clean_list_s"] / out["baseline_csv_reader_s"], 1)
        out["clean_us_per_row"] = round(out["clean_list_s"] / rows * 1e6, 2)
        if args.xlsx:
            import openpyxl

            wb = openpyxl.Workbook(write_only=True)
            ws = wb.create_sheet()
            for record in csv.reader(io.StringIO(data.decode("utf-8-sig"))):
                ws.append(record)
            xlsx = Path(tmp) / "list.xlsx"
            wb.save(xlsx)
            out["xlsx_bytes"] = xlsx.stat().st_size
            out["clean_list_xlsx_s"], xres = timed(lambda: clean_respondent_list(xlsx, campaign),
                                                   1)
            assert isinstance(xres, CleanList)

    text = quota_campaign(cells)
    out["config_load_s"], qc = timed(lambda: parse_campaign(text), 3)
    out["quota_expand_s"], plan = timed(qc.quota_plan, 5)
    out["quota_cells"] = len(plan.cells)
    out["quota_forms"] = plan.total().forms
    out["target_full_import_s"] = 10.0
    for key, value in out.items():
        if isinstance(value, float):
            out[key] = round(value, 4)
    print(json.dumps(out, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
