"""The staff pages in Chromium, on the demo in the field, at 360 px and at desktop width:
a contractor filters the matrix, opens the behind-schedule list and reminds one unit (the mail
goes over a real SMTP server to exactly that unit's unfinished respondents); a reviewer
excludes a flagged response with a keyboard shortcut and the unit's score moves; an admin
annuls a unit after the confirmation and the unit drops from the ranks. Every page passes
axe-core."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from flask import Flask
from sqlalchemy import select

from survey import db
from survey.models import (
    Assignment,
    Form,
    FormStatus,
    Mode,
    Respondent,
    Response,
    ResponseStatus,
    Role,
    Unit,
)
from survey.models.integrity import IntegrityVerdict
from survey.services.campaigns import find_campaign
from survey.services.demo import DEMO_ADMIN, load_demo_campaign
from survey.services.demo_data import fill_demo_campaign
from survey.services.outbox import work
from survey.services.scores import score_campaign
from survey.services.scoring_config import scoring_for_campaign
from survey.services.staff import create_staff_user, set_staff_password
from tests.browser.test_phone_flow import axe_violations, describe
from tests.survey.test_outbox import Recorder, _free_port

PASSWORD = "mat-khau-kiem-thu-2026"
CODE = "TVH-2023"
DESKTOP = {"viewport": {"width": 1366, "height": 900}, "locale": "vi-VN"}
PHONE = {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True,
         "locale": "vi-VN"}


@pytest.fixture
def smtp(app: Flask) -> Iterator[Recorder]:
    handler = Recorder()
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    app.config.update(SMTP_URL=f"smtp://127.0.0.1:{port}",
                      MAIL_FROM="Sở Nội vụ <khaosat@example.gov.vn>",
                      MAIL_RATE_PER_MINUTE=0, MAIL_RETRY_BASE_SECONDS=0,
                      PUBLIC_URL="http://survey.test")
    yield handler
    controller.stop()


def _scores(app: Flask) -> dict[str, tuple[str, int, float]]:
    with app.app_context():
        campaign = find_campaign(CODE)
        result = score_campaign(campaign.id, scoring_for_campaign(campaign.id).config)
        # the units with a survey score (an annulled unit stays in the table without one)
        return {u.unit: (u.level, u.rank, u.points.value) for u in result.units if u.has_survey}


def _login(browser: Any, base: str, email: str, options: dict[str, Any]) -> Any:
    context = browser.new_context(**options)
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto(f"{base}/manage/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_url(re.compile(r"/manage/$"))
    return page


def _audit(page: Any, axe_source: str, where: str) -> None:
    violations = axe_violations(page, axe_source)
    assert violations == [], describe(where, violations)


def _no_sideways_scroll(page: Any) -> None:
    """The page itself never scrolls sideways (wide tables scroll inside their box)."""
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_contractor_reviewer_and_admin_on_the_demo(
        browser: Any, live_server: str, app: Flask, smtp: Recorder, axe_source: str) -> None:
    with app.app_context():
        load_demo_campaign()
        fill_demo_campaign(CODE, seed=5)
        set_staff_password(DEMO_ADMIN, PASSWORD)
        create_staff_user("nhathau@example.vn", "Nhà thầu", PASSWORD, Role.CONTRACTOR, ["84"])

    # -- the contractor, on a phone: filter the matrix, the behind list, remind one unit
    page = _login(browser, live_server, "nhathau@example.vn", PHONE)
    page.goto(f"{live_server}/manage/c/{CODE}/")
    _audit(page, axe_source, "progress (360 px)")
    _no_sideways_scroll(page)
    nav = page.locator("nav.staff-nav")
    assert nav.evaluate("n => n.scrollHeight <= n.clientHeight + 2")  # one line, no wrap
    page.select_option("#f-group", "citizen")
    page.get_by_role("button", name="Áp dụng").click()
    page.wait_for_url(re.compile(r"group=citizen"))
    assert page.locator("table.heat thead th").count() == 3  # unit, citizens, total
    page.select_option("#f-show", "behind")
    page.get_by_role("button", name="Áp dụng").click()
    page.wait_for_url(re.compile(r"show=behind"))
    assert "group=citizen" in page.url  # the filters stay in the URL
    first = page.locator("table.behind-list tbody tr").first
    unit = first.get_attribute("data-unit")
    name = first.locator("th").inner_text().splitlines()[0].strip()
    with app.app_context():
        s = db.session()
        expected = Counter(set(s.scalars(  # one message per person (issue 18)
            select(Respondent.email).join(Form, Form.respondent_id == Respondent.id)
            .join(Assignment, Assignment.form_id == Form.id)
            .join(Unit, Unit.id == Assignment.rated_unit_id)
            .where(Unit.code == unit, Form.mode == Mode.WEB,
                   Form.status != FormStatus.SUBMITTED))))
        unit_name = s.scalar(select(Unit.name_vi).where(Unit.code == unit))
    assert name == unit_name and expected
    first.get_by_role("button", name=re.compile(r"^Nhắc \d+ người chưa xong")).click()
    page.wait_for_url(re.compile(r"show=behind"))
    assert unit_name in page.locator(".flash").inner_text()
    with app.app_context():
        assert work().sent == sum(expected.values())
    received = Counter(rcpt for rcpt, _ in smtp.messages)
    assert received == expected  # exactly the unit's unfinished respondents, once each
    assert all(v == 1 for v in received.values())
    page.context.close()

    # -- a reviewer at a desk: exclude a flagged response with the keyboard
    admin = _login(browser, live_server, DEMO_ADMIN, DESKTOP)
    before = _scores(app)
    with app.app_context():
        s = db.session()
        rid, unit_id = s.execute(
            select(Response.id, Response.rated_unit_id)
            .join(IntegrityVerdict, IntegrityVerdict.response_id == Response.id)
            .where(Response.status == ResponseStatus.VALID,
                   IntegrityVerdict.decision.is_(None)).order_by(Response.id)).first()
        flagged = s.get(Unit, unit_id)
        flagged_code, flagged_name = flagged.code, flagged.name_vi
    admin.goto(f"{live_server}/manage/c/{CODE}/integrity")
    _audit(admin, axe_source, "integrity review (desktop)")
    admin.select_option("#q-unit", flagged_code)
    admin.get_by_role("button", name="Áp dụng").click()
    admin.wait_for_url(re.compile(rf"unit={flagged_code}"))
    row = admin.locator(f'.qrow[data-row="{rid}"]')
    assert flagged_name in row.inner_text()
    row.focus()
    with admin.expect_navigation():
        admin.keyboard.press("x")  # exclude, with the standard reason naming the flags
    assert f"unit={flagged_code}" in admin.url  # back to the same filtered queue
    assert admin.locator(".flash").is_visible()
    with app.app_context():
        assert db.session().get(Response, rid).status is ResponseStatus.EXCLUDED
        verdict = db.session().get(IntegrityVerdict, rid)
        assert verdict.decision == "exclude" and verdict.reason.startswith("Xác nhận cờ:")
    after = _scores(app)
    assert after[flagged_code][2] != before[flagged_code][2]

    # -- an admin annuls the top district after seeing what it cancels
    target = min((u for u in after if after[u][0] == "district"), key=lambda u: after[u][1])
    with app.app_context():
        target_name = db.session().scalar(select(Unit.name_vi).where(Unit.code == target))
    admin.goto(f"{live_server}/manage/c/{CODE}/integrity")
    admin.select_option("#unit", target)
    admin.fill("#annul_reason", "Phát hiện can thiệp vào việc trả lời")
    admin.get_by_role("button", name="Xem những gì sẽ bị hủy").click()
    assert target_name in admin.get_by_role("heading", level=1).inner_text()
    cancels = admin.locator("#cancels").inner_text()
    assert "hạng 1 trên 9" in cancels and "phiếu đã gửi" in cancels
    _audit(admin, axe_source, "annulment confirmation (desktop)")
    assert _scores(app) == after  # nothing cancelled before the second confirmation
    admin.get_by_role("button", name=f"Đồng ý hủy kết quả của {target_name}").click()
    admin.goto(f"{live_server}/manage/c/{CODE}/scores")
    assert admin.locator(f'tr[data-unit="{target}"]').count() == 0
    assert target not in _scores(app)
    _audit(admin, axe_source, "scores (desktop)")
    admin.get_by_role("link", name=flagged_name).first.click()
    assert admin.get_by_role("heading", level=1).inner_text() == flagged_name
    _audit(admin, axe_source, "unit scores (desktop)")
    admin.goto(f"{live_server}/manage/c/{CODE}/")
    _audit(admin, axe_source, "progress (desktop)")
    admin.context.close()

    # -- every staff page passes at 360 px and at desktop width, the page never scrolling
    # sideways at 360 px (wide tables scroll in their own focusable box)
    c = f"/manage/c/{CODE}"
    paths = ("/manage/", "/manage/audit", "/manage/users", "/manage/campaigns/new", f"{c}/",
             f"{c}/?group=citizen", f"{c}/console?q=Nguy", f"{c}/paper", f"{c}/paper/print",
             f"{c}/public", f"{c}/respondents", f"{c}/integrity", f"{c}/integrity/report",
             f"{c}/scores", f"{c}/scores/u/{flagged_code}")
    for options, label in ((PHONE, "360 px"), (DESKTOP, "desktop")):
        page = _login(browser, live_server, DEMO_ADMIN, options)
        for path in paths:
            page.goto(f"{live_server}{path}")
            _audit(page, axe_source, f"{path} ({label})")
            if options is PHONE:
                _no_sideways_scroll(page)
        page.context.close()
