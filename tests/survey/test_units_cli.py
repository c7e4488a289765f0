"""``par-survey units``: map, crosswalk-template and crosswalk-check on the shipped examples."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from survey.cli.units_cmd import units_group

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "campaigns"
TRAVINH = str(EXAMPLES / "travinh-2023.yaml")
VINHLONG = str(EXAMPLES / "vinhlong-2025.yaml")
CROSSWALK = EXAMPLES / "vinhlong-2025-crosswalk.csv"


def _run(app, *args: str):
    return app.test_cli_runner().invoke(units_group, list(args))


def test_map_json_lists_every_unit_with_its_new_units(app, tmp_path):
    out = tmp_path / "map.json"
    done = _run(app, "map", "--config", TRAVINH, "--crosswalk", str(CROSSWALK),
                "--format", "json", "--out", str(out), "--lang", "en")
    assert done.exit_code == 0, done.output
    records = {r["old_code"]: r for r in json.loads(out.read_text("utf-8"))}
    assert len(records) == 28
    assert set(records["84"]) >= {"old_code", "old_name", "level", "new", "how"}
    assert records["84"]["new"] == [{"code": "86", "name": "Tỉnh Vĩnh Long", "share": 1.0}]
    labour = records["S-LDTBXH"]
    assert labour["how"] == "split"
    assert [(n["code"], n["share"]) for n in labour["new"]] == [
        ("S-NOIVU", 0.6), ("S-YTE", 0.3), ("S-GDDT", 0.1)]
    assert records["S-KHDT"]["how"] == "merged_whole"
    assert records["S-TUPHAP"]["how"] == "kept"
    cau_ke = records["H-CAUKE"]
    assert cau_ke["how"] == "abolished" and cau_ke["gso_code"] == "845"
    assert cau_ke["new"] and all(n["share"] is None for n in cau_ke["new"])
    assert "district level ended" in cau_ke["reason"]


def test_map_without_a_crosswalk_flags_the_departments(app):
    done = _run(app, "map", "--config", TRAVINH, "--format", "csv")
    assert done.exit_code == 0, done.output
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    flagged = [r["old_code"] for r in rows if r["decide"] == "x"]
    assert len(flagged) == 18 and all(r["how"] == "unmapped" for r in rows
                                      if r["old_code"] in flagged)
    assert "cần quyết định" in done.stderr


def test_template_then_check(app, tmp_path):
    template = tmp_path / "cw.csv"
    done = _run(app, "crosswalk-template", "--config", TRAVINH, "--out", str(template))
    assert done.exit_code == 0, done.output
    rows = list(csv.DictReader(io.StringIO(template.read_text("utf-8"))))
    assert len(rows) == 18 and {r["old_campaign"] for r in rows} == {"TVH-2023"}
    # The blank template is refused: every row lacks its new unit.
    done = _run(app, "crosswalk-check", str(template), "--old", TRAVINH, "--new", VINHLONG)
    english = _run(app, "crosswalk-check", str(template), "--old", TRAVINH, "--new", VINHLONG,
                   "--lang", "en")
    assert done.exit_code == english.exit_code == 1
    assert "row 2, column new_code" in english.stderr and "dòng 2, cột new_code" in done.stderr
    done = _run(app, "crosswalk-check", str(CROSSWALK), "--old", TRAVINH, "--new", VINHLONG)
    assert done.exit_code == 0 and "21" in done.output
    bad = tmp_path / "bad.csv"
    text = CROSSWALK.read_text("utf-8")
    bad.write_text(text.replace(",S-YTE,Sở Y tế,0.3,", ",S-YTE,Sở Y tế,0.2,"), encoding="utf-8")
    done = _run(app, "crosswalk-check", str(bad), "--old", TRAVINH, "--new", VINHLONG)
    assert done.exit_code == 1 and "[XW-SHARE-SUM]" in done.stderr and "dòng 13" in done.stderr
