"""One problem type: every registered code reads in Vietnamese from the compiled catalog, the
extraction finds every message, and pages, the CLI and the API render a problem in the reader's
language (issue 23, item 2)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.support import Translations

import questionnaires.xlsform  # noqa: F401  (registers the XLSForm codes)
import sampling  # noqa: F401  (registers the sampling codes)
import survey.problems  # noqa: F401  (registers the web layer's codes)
from questionnaires.problems import CODES, ENGLISH, Location, Problem, ProblemError, Text
from sampling import CampaignInvalid
from survey.services.campaigns import load_campaign_config
from survey.i18n import translator
from tests.survey.conftest import csrf_from, login

ROOT = Path(__file__).resolve().parents[2]


def test_every_registered_code_reads_in_vietnamese_from_the_compiled_catalog():
    compiled = Translations.load(str(ROOT / "survey" / "translations"), ["vi"], "messages")
    catalog = compiled._catalog  # msgid -> msgstr of the compiled messages.mo
    assert len(CODES) > 200
    untranslated = {}
    for code, spec in CODES.items():
        for text in (spec.message, spec.fix):
            if text and not catalog.get(text):
                untranslated[code] = text
    assert untranslated == {}


def test_the_extraction_finds_every_registered_message():
    keywords = {**DEFAULT_KEYWORDS, "N_": None}
    method_map = [("questionnaires/**.py", "python"), ("analysis/**.py", "python"), ("sampling/**.py", "python"),
                  ("survey/**.py", "python")]
    found = {m if isinstance(m, str) else m[0]
             for _f, _l, m, _c, _x in extract_from_dir(str(ROOT), method_map, keywords=keywords)}
    texts = {t for spec in CODES.values() for t in (spec.message, spec.fix) if t}
    assert texts - found == set()


def test_a_problem_renders_location_rule_and_fix_in_each_language(vi):
    p = Problem("LIST-AGE-INVALID", Location(file="list.csv", row=7, column="age"),
                {"value": "200", "what": Text("age"), "low": 18, "high": 80})
    assert str(p) == ("list.csv, row 7, column age: [LIST-AGE-INVALID] '200' is not a valid age "
                      "(allowed 18–80). Fix: Write a 4-digit birth year or a whole-number age, "
                      "or leave it empty.")
    text = p.render(vi)
    assert text.startswith("list.csv, dòng 7, cột age: [LIST-AGE-INVALID] '200' không phải tuổi")
    assert "Cách sửa: Ghi năm sinh 4 chữ số" in text
    assert p.message(ENGLISH) == p.message() and p.fix(vi) != p.fix()


def test_codes_are_registered_and_exceptions_carry_them():
    with pytest.raises(ValueError, match="unregistered problem code"):
        Problem("NO-SUCH-CODE")
    exc = ProblemError("REVIEW-UNIT-UNKNOWN", unit="S99")
    assert exc.code == "REVIEW-UNIT-UNKNOWN" and str(exc) == "No unit with code 'S99'."
    assert exc.message(translator("vi")) == "Không có đơn vị mã 'S99'."


def _move_deadline_before_opening(client):
    console = client.get("/manage/c/OWN-2026/console").get_data(as_text=True)
    return client.post("/manage/c/OWN-2026/deadline", data={
        "csrf_token": csrf_from(console), "closes_at": "2001-01-01T08:00"})


def test_a_staff_page_shows_a_service_error_in_the_readers_language(world):
    client = world.test_client()
    assert login(client, "admin@tvh.gov.vn").status_code == 302
    refused = _move_deadline_before_opening(client)
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert "Hạn mới phải sau ngày mở." in page  # Vietnamese by default
    assert "The new deadline must be after opening." not in page
    client.get("/manage/?lang=en")  # the reader chooses English (kept in the session)
    page = _move_deadline_before_opening(client).get_data(as_text=True)
    assert "The new deadline must be after opening." in page
    assert "Hạn mới phải sau ngày mở." not in page


def test_the_cli_prints_problems_in_the_chosen_language(app, tmp_path):
    bad = tmp_path / "c.yaml"
    bad.write_text("version: 1\ncode: X\n", encoding="utf-8")
    runner = app.test_cli_runner()
    vi = runner.invoke(args=["campaign", "create", "--config", str(bad)])
    en = runner.invoke(args=["campaign", "create", "--config", str(bad), "--lang", "en"])
    assert vi.exit_code == en.exit_code == 1
    assert "[CFG-KEY-MISSING] Thiếu khóa bắt buộc 'name'." in vi.stderr
    assert "Cách sửa:" in vi.stderr and "Fix:" not in vi.stderr
    assert "[CFG-KEY-MISSING] Required key 'name' is missing." in en.stderr
    assert "Fix: Add the key 'name' to this section." in en.stderr


def _words(text: str) -> set[str]:
    """The words of a rule, leaving out quoted values and one-letter names (N)."""
    return {w for w in re.findall(r"\w{2,}", re.sub(r"'[^']*'", "", text.lower())) if not w.isdigit()}


def test_configuration_section_rules_render_wholly_in_each_language(tmp_path, vi):
    examples = ROOT / "examples" / "campaigns"
    for name in ("travinh-2023-units.csv", "travinh-2023-citizen-margins.csv"):
        (tmp_path / name).write_bytes((examples / name).read_bytes())
    population = (examples / "travinh-2023-population.csv").read_text(encoding="utf-8").splitlines()
    group, unit, _n = population[1].split(",")
    (tmp_path / "travinh-2023-population.csv").write_text(
        "\n".join([population[0], f"{group},{unit},0", *population[2:]]) + "\n", encoding="utf-8")
    config = tmp_path / "c.yaml"
    config.write_text((examples / "travinh-2023.yaml").read_text(encoding="utf-8")
                      .replace('{code: "1.1", max_points: 1}', '{code: "1.1", max_points: -1}')
                      .replace("burst_min_forms: 5", "burst_min_forms: 0"), encoding="utf-8")
    with pytest.raises(CampaignInvalid) as info:
        load_campaign_config(config)
    found = {p.code: p for p in info.value.errors}
    assert set(found) == {"CFG-SCORING", "CFG-DESIGN", "CFG-INTEGRITY"}, [str(p) for p in info.value.errors]
    assert found["CFG-SCORING"].path == "scoring.subcriteria[0].max_points"
    assert found["CFG-INTEGRITY"].path == "integrity.burst_min_forms"
    design = found["CFG-DESIGN"]
    assert (Path(design.file).name, design.row, design.column) == ("travinh-2023-population.csv", 2, "N")
    assert {p.message(): p.message(vi) for p in found.values()} == {
        "max points must be a number > 0": "điểm tối đa phải là số > 0",
        "N must be a whole number >= 1": "N phải là số nguyên >= 1",
        "The value '0' is not valid: expected a whole number of at least 1.":
            "Giá trị '0' không hợp lệ: cần một số nguyên từ 1 trở lên.",
    }
    for p in found.values():
        english, vietnamese = p.message(), p.message(vi)
        assert not _words(english) & _words(vietnamese), (english, vietnamese)
        assert not set("ăâđêôơưàáảãạèéẻẽẹìíỉĩịòóỏõọùúủũụỳýỷỹỵ") & set(english.lower()), english
        assert f"[{p.code}] {vietnamese} Cách sửa: Xem " in p.render(vi) and "Fix:" not in p.render(vi)
        assert f"[{p.code}] {english} Fix: See " in p.render()
    assert design.render(vi).startswith(f"{design.file}, dòng 2, cột N: [CFG-DESIGN]")
    assert design.render().startswith(f"{design.file}, row 2, column N: [CFG-DESIGN]")
