"""The par-survey command line: questionnaires check/list and the demo."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml
from sqlalchemy import func, select

from survey import db
from survey.models import AccessToken, Campaign, Form, Respondent, Unit
from tests.conftest import csrf_from

ROOT = Path(__file__).resolve().parents[2]

LINK_RE = re.compile(r"^LINK (\S+) (\S+) http://127\.0\.0\.1:5000/s/([A-Za-z0-9_-]{22,})$")
PUBLIC_RE = re.compile(r"^PUBLIC citizen S-NOIVU http://127\.0\.0\.1:5000/q/([a-z2-7]{20})$")


def test_questionnaires_check_builtin_ok(app):
    result = app.test_cli_runner().invoke(args=["questionnaires", "check", "--lang", "en"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("ok: ")


def _broken_definition(tmp_path: Path) -> Path:
    """A citizen questionnaire whose likert question names an option set that does not exist."""
    folder = tmp_path / "citizen"
    folder.mkdir()
    bad = folder / "broken.v1.yaml"
    bad.write_text(yaml.safe_dump({
        "id": "broken", "version": 1, "group": "citizen", "languages": ["vi"],
        "title": "Phiếu lỗi", "rates": {"unit_level": "department"},
        "sections": [{"id": "s", "title": "Trang", "questions": [
            {"id": "q", "type": "likert", "text": "Câu hỏi", "options": "missing_set"}]}],
    }, allow_unicode=True), encoding="utf-8")
    return bad


def test_questionnaires_check_reports_file_path_and_message(app, tmp_path):
    bad = _broken_definition(tmp_path)
    result = app.test_cli_runner().invoke(args=["questionnaires", "check", str(bad)])
    assert result.exit_code == 1
    line = next(x for x in result.output.splitlines() if "QN-OPTION-SET" in x)
    assert line.startswith(f"{bad}: sections[0].questions[0].options: [QN-OPTION-SET] ")


def test_questionnaires_list_shows_every_builtin(app):
    result = app.test_cli_runner().invoke(args=["questionnaires", "list"])
    assert result.exit_code == 0
    assert "citizen-sipas@v1" in result.output
    assert "hdnd-rates-departments@v1" in result.output


ENTRY = """
import atexit, sys
atexit.register(lambda: print("AT-EXIT", file=sys.stderr))
from survey.cli import main
sys.argv = ["par-survey", *sys.argv[1:]]
main()
"""


def test_the_command_line_ends_with_the_commands_status_and_all_its_output(app, tmp_path):
    """``par-survey`` ends without tearing its modules down: the exit status is the command's,
    everything it printed arrives through a pipe, and ``atexit`` handlers still run."""
    env = {**os.environ, "PAR_SURVEY_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
           "PAR_SURVEY_SECRET_KEY": "test-secret-key-not-for-production"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", ENTRY, *args], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=120)

    listed = run("questionnaires", "list")
    in_process = app.test_cli_runner().invoke(args=["questionnaires", "list"])
    assert listed.returncode == 0, listed.stderr[-2000:]
    assert listed.stdout == in_process.output  # every line, the last included
    assert listed.stderr.strip().endswith("AT-EXIT")
    refused = run("questionnaires", "check", str(_broken_definition(tmp_path)))
    assert refused.returncode == 1
    assert "[QN-OPTION-SET]" in refused.stdout + refused.stderr and "AT-EXIT" in refused.stderr
    assert run("questionnaires", "--no-such-option").returncode == 2  # click's usage error


def _demo_links(output: str) -> dict[str, list[re.Match[str]]]:
    """The LINK lines under each CAMPAIGN line."""
    out: dict[str, list[re.Match[str]]] = {}
    campaign = None
    for line in output.splitlines():
        if line.startswith("CAMPAIGN "):
            campaign = line.split()[1]
            out[campaign] = []
        elif line.startswith("LINK "):
            match = LINK_RE.match(line)
            assert match and campaign, line
            out[campaign].append(match)
    return out


def test_demo_prints_one_home_link_per_respondent_of_every_group_and_is_idempotent(app, client):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo", "--no-serve", "--empty"])
    assert first.exit_code == 0, first.output
    lines = first.output.splitlines()
    assert lines[0] == "CAMPAIGN TVH-2023"
    links = _demo_links(first.output)
    assert list(links) == ["TVH-2023", "VIDU-2026"]
    poster = PUBLIC_RE.match(lines[-2])  # a service counter's public QR link
    assert poster, lines
    # one link per demo respondent: every group of the product (council delegates, leaders,
    # civil servants, citizens)
    assert [m.group(1) for m in links["TVH-2023"]] == (
        ["dept_division_leader"] * 3 + ["district_division_leader"] * 3
        + ["commune_leader"] * 3 + ["citizen"] * 3)
    assert [m.group(1) for m in links["VIDU-2026"]] == ["hdnd_delegate"] * 2 + ["civil_servant"] * 2
    staff = lines[-1].split()
    assert staff[:3] == ["STAFF", "http://127.0.0.1:5000/manage/login", "demo-admin@example.vn"]
    units_csv = (ROOT / "examples" / "campaigns" / "travinh-2023-units.csv").read_text("utf-8")
    with app.app_context():
        s = db.session()
        tvh = s.scalar(select(Campaign).filter_by(code="TVH-2023"))
        assert s.scalar(select(func.count()).select_from(Unit).filter_by(
            campaign_id=tvh.id)) == len(units_csv.strip().splitlines()) - 1
        assert s.scalar(select(func.count()).select_from(Respondent).filter_by(
            campaign_id=tvh.id)) == 12  # three people in each of four groups
        counts = [s.scalar(select(func.count()).select_from(t)) for t in (Unit, Respondent, Form)]
    second = runner.invoke(args=["demo", "--no-serve", "--empty"])
    assert second.exit_code == 0
    with app.app_context():
        s = db.session()
        assert [s.scalar(select(func.count()).select_from(t))
                for t in (Unit, Respondent, Form)] == counts
        assert s.scalar(select(func.count()).select_from(AccessToken)) == 2 * 16
    assert second.output.splitlines()[-2] == lines[-2]  # the poster's code is stable
    landing = client.get(f"/q/{poster.group(1)}")
    assert landing.status_code == 200 and "Sở Nội vụ" in landing.get_data(as_text=True)
    # every printed link opens its respondent's home (or their only form); the district
    # division leaders and the council delegates rate several units through one matrix form
    again = _demo_links(second.output)
    for m in links["TVH-2023"] + links["VIDU-2026"] + again["TVH-2023"] + again["VIDU-2026"]:
        browser = app.test_client()
        opened = browser.get(f"/s/{m.group(3)}")
        assert opened.status_code == 302, m.group(0)
        if m.group(1) == "district_division_leader":  # two forms: the home lists them
            assert opened.headers["Location"].endswith("/h/")
            home = browser.get("/h/").get_data(as_text=True)
            assert "Sở Tư pháp" in home and "18 đơn vị trong một phiếu" in home
        else:  # one form (a delegate's covers six departments): straight to it
            assert opened.headers["Location"].endswith("/f/p/1")
            page = browser.get("/f/p/1").get_data(as_text=True)
            assert m.group(1) != "hdnd_delegate" or page.count("Sở Tư pháp") >= 5
    with app.app_context():
        s = db.session()
        matrix = [len(f.assignments) for f in s.scalars(select(Form).join(Respondent).where(
            Respondent.external_id.like("DEMO-%")))]
        assert 18 in matrix and 6 in matrix  # Trà Vinh's departments; the example's six
    # the printed staff login works, and only the latest password does
    staff = app.test_client()
    page = staff.get("/manage/login").get_data(as_text=True)
    old = staff.post("/manage/login", data={"email": staff_email(first), "password":
                                            first.output.splitlines()[-1].split()[-1],
                                            "csrf_token": csrf_from(page)})
    assert old.status_code == 401
    page = staff.get("/manage/login").get_data(as_text=True)
    new = staff.post("/manage/login", data={"email": staff_email(second), "password":
                                            second.output.splitlines()[-1].split()[-1],
                                            "csrf_token": csrf_from(page)})
    assert new.status_code == 302
    console = staff.get("/manage/").get_data(as_text=True)
    assert "TVH-2023" in console and "VIDU-2026" in console


def staff_email(result) -> str:
    return result.output.splitlines()[-1].split()[2]


UNKNOWN_CAMPAIGN_COMMANDS = [
    ["integrity", "scan", "--campaign", "NOPE"],
    ["scores", "--campaign", "NOPE", "--format", "csv", "--out", "{tmp}/x.csv"],
    ["privacy", "purge", "--campaign", "NOPE", "--after-days", "0"],
    ["public", "list", "--campaign", "NOPE"],
    ["invite", "problems", "--campaign", "NOPE"],
    ["qr", "--campaign", "NOPE", "--out", "{tmp}/x.pdf"],
    ["respondents", "template", "--campaign", "NOPE", "--out", "{tmp}/x.xlsx"],
    ["quotas", "--campaign", "NOPE"],
]


def test_every_command_refuses_an_unknown_campaign_the_same_way(app, tmp_path):
    for args in UNKNOWN_CAMPAIGN_COMMANDS:
        args = [a.replace("{tmp}", str(tmp_path)) for a in args]
        result = app.test_cli_runner().invoke(args=args)
        english = app.test_cli_runner().invoke(args=[*args, "--lang", "en"])
        assert result.exit_code == english.exit_code == 1, (args, result.output)
        assert result.output.strip() == "Không có đợt khảo sát mã 'NOPE'.", args
        assert english.output.strip() == "No campaign with code 'NOPE'.", args
    assert not list(tmp_path.iterdir())


#: a command (``{bad}``: a broken definition, ``{lang}``: the language asked for), and the
#: status line it prints in Vietnamese (the default) and with ``--lang en``
STATUS_LINES = [
    (["questionnaires", "check"],
     r"OK: \d+ bảng hỏi hợp lệ", r"ok: \d+ questionnaire\(s\)"),
    (["questionnaires", "check", "{bad}"],
     r"\d+ lỗi trong 1 tệp", r"\d+ problem\(s\) in 1 file\(s\)"),
    (["db", "upgrade"],
     "cơ sở dữ liệu đã ở phiên bản mới nhất", "database at head"),
    (["users", "create", "--email", "{lang}@tvh.gov.vn", "--name", "Lê Văn An", "--role",
      "viewer", "--province", "84", "--province", "86", "--password", "mot-mat-khau-dai"],
     r"đã tạo vi@tvh\.gov\.vn \(viewer\) cho tỉnh 84, 86",
     r"created en@tvh\.gov\.vn \(viewer\) for 84, 86"),
    (["respondents", "work-imports"],
     "đã chạy 0 lượt nhập danh sách", r"ran 0 job\(s\)"),
    (["webhooks", "work"],
     "đã gửi 0, thử lại 0, thất bại hẳn 0", "delivered 0, retried 0, dead 0"),
]


def test_status_lines_are_in_the_commands_language(app, tmp_path):
    """A line a person reads is wholly Vietnamese by default and wholly English with
    ``--lang en``; never one line in both."""
    bad = str(_broken_definition(tmp_path))
    for args, vi, en in STATUS_LINES:
        printed = {}
        for lang in ("vi", "en"):
            run = [a.format(bad=bad, lang=lang) for a in args]
            printed[lang] = app.test_cli_runner().invoke(
                args=run if lang == "vi" else [*run, "--lang", "en"]).output
        assert re.search(f"^{vi}$", printed["vi"], re.M), (args, printed["vi"])
        assert re.search(f"^{en}$", printed["en"], re.M), (args, printed["en"])
        assert not re.search(f"^{en}$", printed["vi"], re.M), (args, printed["vi"])
