"""The par-survey command line: questionnaires check/list and the demo."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from sqlalchemy import func, select

from survey import db
from survey.cli import cli
from survey.models import AccessToken, Form, Respondent, Unit
from tests.conftest import csrf_from

ROOT = Path(__file__).resolve().parents[2]

LINK_RE = re.compile(r"^LINK (\S+) (\S+) http://127\.0\.0\.1:5000/s/([A-Za-z0-9_-]{22,})$")
PUBLIC_RE = re.compile(r"^PUBLIC citizen S-NOIVU http://127\.0\.0\.1:5000/q/([a-z2-7]{20})$")


def test_questionnaires_check_builtin_ok(app):
    result = app.test_cli_runner().invoke(args=["questionnaires", "check"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("ok: ")


def test_questionnaires_check_reports_file_path_and_message(app, tmp_path):
    folder = tmp_path / "citizen"
    folder.mkdir()
    bad = folder / "broken.v1.yaml"
    bad.write_text(yaml.safe_dump({
        "id": "broken", "version": 1, "group": "citizen", "languages": ["vi"],
        "title": "Phiếu lỗi", "rates": {"unit_level": "department"},
        "sections": [{"id": "s", "title": "Trang", "questions": [
            {"id": "q", "type": "likert", "text": "Câu hỏi", "options": "missing_set"}]}],
    }, allow_unicode=True), encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["questionnaires", "check", str(bad)])
    assert result.exit_code == 1
    line = next(x for x in result.output.splitlines() if "QN-OPTION-SET" in x)
    assert line.startswith(f"{bad} · sections[0].questions[0].options: QN-OPTION-SET ")


def test_questionnaires_list_shows_every_builtin(app):
    result = app.test_cli_runner().invoke(args=["questionnaires", "list"])
    assert result.exit_code == 0
    assert "citizen-sipas@v1" in result.output
    assert "hdnd-rates-departments@v1" in result.output


def test_demo_prints_campaign_and_one_link_per_group_and_is_idempotent(app, client):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo", "--no-serve", "--empty"])
    assert first.exit_code == 0, first.output
    lines = first.output.splitlines()
    assert lines[0] == "CAMPAIGN TVH-2023"
    links = [LINK_RE.match(x) for x in lines[1:-2]]
    assert all(links), lines
    poster = PUBLIC_RE.match(lines[-2])  # a service counter's public QR link
    assert poster, lines
    assert [m.group(1) for m in links] == ["dept_division_leader", "district_division_leader",
                                            "commune_leader", "citizen"]
    staff = lines[-1].split()
    assert staff[:3] == ["STAFF", "http://127.0.0.1:5000/manage/login", "demo-admin@example.vn"]
    units_csv = (ROOT / "examples" / "campaigns" / "travinh-2023-units.csv").read_text("utf-8")
    with app.app_context():
        s = db.session()
        counts = [s.scalar(select(func.count()).select_from(t)) for t in (Unit, Respondent, Form)]
        assert counts[0] == len(units_csv.strip().splitlines()) - 1
        assert counts[1] == 12  # three people in each of four groups
    second = runner.invoke(args=["demo", "--no-serve", "--empty"])
    assert second.exit_code == 0
    with app.app_context():
        s = db.session()
        assert [s.scalar(select(func.count()).select_from(t))
                for t in (Unit, Respondent, Form)] == counts
        assert s.scalar(select(func.count()).select_from(AccessToken)) == 8
    # every printed link opens its form, and the printed unit is the one rated
    assert second.output.splitlines()[-2] == lines[-2]  # the poster's code is stable
    landing = client.get(f"/q/{poster.group(1)}")
    assert landing.status_code == 200 and "Sở Nội vụ" in landing.get_data(as_text=True)
    for m in links + [LINK_RE.match(x) for x in second.output.splitlines()[1:-2]]:
        opened = client.get(f"/s/{m.group(3)}")
        assert opened.status_code == 302 and opened.headers["Location"].endswith("/f/p/1")
        with app.app_context():
            unit = db.session().scalar(select(Unit).filter_by(code=m.group(2)))
        assert unit.name_vi in client.get("/f/p/1").get_data(as_text=True)
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
    assert "TVH-2023" in staff.get("/manage/").get_data(as_text=True)


def staff_email(result) -> str:
    return result.output.splitlines()[-1].split()[2]
