"""Hostile YAML (issue 16, item 2): alias bombs and deep nesting, at the CLI and the upload page.

One loader (``questionnaires.safe_yaml``) reads questionnaires, campaign files and uploads; it
must refuse these with a located, coded message in Vietnamese and English, without a traceback,
a 500, a crash or more than 100 MB. Runs that could hang or crash on a broken loader happen in
a child process with a memory cap and a timeout, so a regression fails instead of taking the
test run with it.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from questionnaires.safe_yaml import MAX_YAML_DEPTH, YamlRefused, check_yaml
from tests.conftest import csrf_from
from tests.survey.conftest import config, login

ROOT = Path(__file__).resolve().parents[2]


def alias_bomb(levels: int = 7) -> str:
    """A campaign file whose name is a billion-laughs bomb: ~1.8 KB, 9**levels nodes."""
    lines = ['lol0: &l0 ["' + "lol" * 120 + '", "lol", "lol", "lol", "lol", "lol", "lol", '
             '"lol", "lol"]']
    for i in range(1, levels + 1):
        lines.append(f"lol{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]")
    return config("BOMB-2026", "84").replace(
        "name: {vi: Chiến dịch BOMB-2026, en: Campaign BOMB-2026}",
        "bomb:\n" + textwrap.indent("\n".join(lines), "  ")
        + f"\nname: {{vi: *l{levels}, en: Campaign}}")


def deep(levels: int) -> str:
    return "version: 1\ncode: DEEP\nname: " + "[" * levels + "]" * levels + "\n"


def test_bomb_file_is_small():
    assert 1500 < len(alias_bomb().encode()) < 2200


@pytest.mark.parametrize("text, code", [
    (alias_bomb(), "YAML-ALIASES"), (deep(50_000), "YAML-TOO-DEEP"),
    ("a: " + "x" * (3 * 1024 * 1024), "YAML-TOO-LARGE")])
def test_the_loader_refuses_with_a_located_code(text, code, vi):
    with pytest.raises(YamlRefused) as caught:
        check_yaml(text)
    exc = caught.value
    assert exc.code == code
    assert (exc.line is None) == (code == "YAML-TOO-LARGE")
    assert exc.message(vi) != exc.message() and "YAML" in exc.message(vi)


def test_a_few_aliases_and_moderate_depth_still_load():
    ok = "base: &b {vi: Sở, en: Dept}\nunits: [*b, *b, *b]\n" + "x: " + "[" * 20 + "]" * 20
    check_yaml(ok)
    check_yaml("a: " + "[" * (MAX_YAML_DEPTH - 1) + "]" * (MAX_YAML_DEPTH - 1))  # the mapping is 1


CHILD = """
import atexit, resource, sys
resource.setrlimit(resource.RLIMIT_AS, (1024 * 2**20, 1024 * 2**20))
atexit.register(lambda: print(f"PEAK_KB={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}",
                              file=sys.stderr))
from survey.cli import main
sys.argv = ["par-survey", *sys.argv[1:]]
main()
"""


def _cli(tmp_path: Path, database_url: str, *args: str) -> tuple[subprocess.CompletedProcess, int]:
    """Run par-survey in a child capped at 1 GB and 60 s; its output and peak memory in MB."""
    env = {**os.environ, "PAR_SURVEY_DATABASE_URL": database_url,
           "PAR_SURVEY_SECRET_KEY": "test-secret-key-not-for-production"}
    try:
        done = subprocess.run([sys.executable, "-c", CHILD, *args], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail(f"par-survey {' '.join(args)} ran for over 60 s")
    peak = re.search(r"PEAK_KB=(\d+)", done.stderr)
    return done, int(peak.group(1)) // 1024 if peak else 10**6


@pytest.mark.parametrize("name, text, code", [
    ("bomb.yaml", alias_bomb(), "CFG-YAML-ALIASES"),
    ("deep.yaml", deep(50_000), "CFG-YAML-TOO-DEEP")])
def test_campaign_create_refuses_hostile_yaml(app, database_url, tmp_path, name, text, code):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    done, _peak = _cli(tmp_path, database_url, "campaign", "create", "--config", str(path))
    assert done.returncode == 1, (done.returncode, done.stderr[-2000:])
    assert "Traceback" not in done.stderr and "RecursionError" not in done.stderr
    assert f"[{code}]" in done.stderr and f"{path}:" in done.stderr
    assert "Cách sửa" in done.stderr and "không ghi gì" in done.stderr


def test_questionnaires_check_refuses_deep_nesting_without_crashing(app, database_url, tmp_path):
    folder = tmp_path / "defs"
    folder.mkdir()
    (folder / "deep.v1.yaml").write_text(
        "id: deep\nversion: 1\ntitle: " + "[" * 30_000 + "]" * 30_000 + "\n", encoding="utf-8")
    (folder / "bomb.v1.yaml").write_text(alias_bomb(), encoding="utf-8")
    done, _peak = _cli(tmp_path, database_url, "questionnaires", "check", str(folder))
    assert done.returncode == 1, (done.returncode, done.stderr[-2000:])  # 139 was a segfault
    assert "YAML-TOO-DEEP" in done.stdout and "YAML-ALIASES" in done.stdout
    assert "deep.v1.yaml:3, cột " in done.stdout and "Traceback" not in done.stderr


def test_the_bomb_is_refused_under_100_mb(app, database_url, tmp_path):
    """The command's peak memory with the bomb is within 100 MB of its peak with a one-line
    broken file (the interpreter and the app alone take about 200 MB)."""
    path = tmp_path / "bomb.yaml"
    path.write_text(alias_bomb(), encoding="utf-8")
    done, peak = _cli(tmp_path, database_url, "campaign", "create", "--config", str(path))
    assert done.returncode == 1 and "CFG-YAML-ALIASES" in done.stderr
    path.write_text("code: [\n", encoding="utf-8")
    done, baseline = _cli(tmp_path, database_url, "campaign", "create", "--config", str(path))
    assert done.returncode == 1 and "CFG-YAML-SYNTAX" in done.stderr
    assert peak - baseline < 100, f"{peak} MB against {baseline} MB"


@pytest.fixture
def admin(app):
    from survey.models import Role
    from survey.services.staff import create_staff_user

    with app.app_context():
        create_staff_user("admin@tvh.gov.vn", "Cán bộ", "mot-mat-khau-dai-du", Role.ADMIN, ["84"])
    client = app.test_client()
    assert login(client, "admin@tvh.gov.vn").status_code == 302
    return client


@pytest.mark.parametrize("text, message, line", [
    (alias_bomb(), "Các bí danh YAML (*alias) mở rộng quá 10000 nút.", 8),
    (deep(50_000), "Tệp YAML lồng quá sâu (quá 64 cấp).", 3)])
def test_upload_refuses_hostile_yaml_with_a_located_message(app, admin, text, message, line):
    page = admin.get("/manage/campaigns/new").get_data(as_text=True)
    r = admin.post("/manage/campaigns/new", data={
        "csrf_token": csrf_from(page), "file": (io.BytesIO(text.encode()), "c.yaml")},
        content_type="multipart/form-data")
    body = r.get_data(as_text=True)
    assert r.status_code == 422, body[:500]
    assert message in body and f"<td>{line}</td>" in body and "Traceback" not in body
