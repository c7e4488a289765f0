"""A contractor logs in with a real browser and sees a quota cell fill after a respondent
submits; the staff pages pass the same axe-core audit as the respondent pages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import select

from survey import db
from survey.models import Form, Role
from survey.services.campaigns import create_campaign_from_config
from survey.services.respondents import import_respondents
from survey.services.staff import create_staff_user
from survey.services.tokens import issue_token
from tests.browser.browser_steps import GRID, PAGE1, tap_button, tap_option
from tests.browser.test_phone_flow import axe_violations, describe

PASSWORD = "mat-khau-nha-thau-2026"
CONFIG = """\
version: 1
code: DASH-2026
name: {vi: Khảo sát thử bảng theo dõi, en: Dashboard test survey}
province: "84"
year: 2026
opens_at: 2020-01-01
closes_at: 2099-12-31
levels:
  - {code: province, name: {vi: Tỉnh, en: Province}}
  - {code: department, name: {vi: Sở, en: Department}, parent: province}
units:
  - {code: "84", level: province, name: {vi: Tỉnh Trà Vinh, en: Trà Vinh}}
  - {code: S01, level: department, parent: "84", name: {vi: Sở Nội vụ, en: Home Affairs}}
groups:
  - code: dept_division_leader
    name: {vi: Lãnh đạo phòng, en: Division leaders}
    kind: department_division_leader
    unit_level: department
    questionnaires: [dept-division-rates-own-department]
quotas:
  - {group: dept_division_leader, questionnaire: dept-division-rates-own-department,
     count: 2, per: department}
"""
LIST = ("external_id,full_name,group,unit,email\n"
        "A,Nguyễn Văn An,dept_division_leader,S01,an@example.vn\n"
        "B,Trần Thị Bích,dept_division_leader,S01,bich@example.vn\n")


def seed(app: Flask, tmp_path: Path) -> str:
    with app.app_context():
        (tmp_path / "c.yaml").write_text(CONFIG, encoding="utf-8")
        create_campaign_from_config(tmp_path / "c.yaml")
        (tmp_path / "l.csv").write_text(LIST, encoding="utf-8")
        import_respondents("DASH-2026", tmp_path / "l.csv")
        create_staff_user("nhathau@example.vn", "Nhà thầu", PASSWORD, Role.CONTRACTOR, ["84"])
        with db.write_transaction() as s:
            form = s.scalar(select(Form).order_by(Form.id))
            return issue_token(form)


def cell_text(page: Any) -> str:
    """The first cell of the group × unit matrix, without its behind-pace marker."""
    return page.locator("table.heat tbody tr td").first.inner_text().rstrip("▾")


def test_contractor_sees_the_quota_fill_after_a_submission(
        browser: Any, live_server: str, app: Flask, tmp_path: Path, axe_source: str) -> None:
    token = seed(app, tmp_path)
    staff = browser.new_context(viewport={"width": 1100, "height": 900}, locale="vi-VN")
    page = staff.new_page()
    page.goto(f"{live_server}/manage/login")
    page.get_by_label("Email").fill("nhathau@example.vn")
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    page.get_by_role("link", name="Tiến độ").click()
    assert cell_text(page) == "0/2"
    violations = axe_violations(page, axe_source)
    assert violations == [], describe("dashboard", violations)

    # a respondent answers on a phone meanwhile
    phone = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True,
                                has_touch=True, locale="vi-VN")
    respondent = phone.new_page()
    respondent.goto(f"{live_server}/s/{token}")
    assert respondent.url.endswith("/f/p/1")  # a fresh form opens at its first page
    for field, code in PAGE1.items():
        tap_option(respondent, field, code)
    tap_button(respondent, "Tiếp theo")
    for field, code in GRID.items():
        tap_option(respondent, field, code)
    tap_button(respondent, "Tiếp theo")
    tap_button(respondent, "Tiếp theo")  # optional page left blank; the show-if page is skipped
    assert respondent.url.endswith("/f/review")
    tap_button(respondent, "Gửi phiếu")
    assert respondent.get_by_role("heading", name="Cảm ơn ông/bà").is_visible()
    phone.close()

    page.reload()
    assert cell_text(page) == "1/2"
    assert page.locator("#totals [data-k=completed]").inner_text() == "1"
    # and the personal data of who answered is nowhere on the contractor's page
    assert "Nguyễn Văn An" not in page.content()
    staff.close()
