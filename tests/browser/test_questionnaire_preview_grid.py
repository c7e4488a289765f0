"""An admin uploads an XLSForm workbook with a table-list group and sees, in a real browser, the
Likert grid a respondent will see, at phone and computer width; the page passes axe-core."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask

from questionnaires import SectionLayout, load_builtin_by_id
from questionnaires.xlsform import questionnaire_to_xlsx
from survey.models import Role
from survey.services.staff import create_staff_user
from tests.browser.test_phone_flow import WCAG_TAGS, describe

PASSWORD = "mat-khau-quan-tri-2026"


def axe(page_or_frame: Any, axe_source: str) -> list[dict[str, Any]]:
    """axe-core's WCAG A/AA violations of one document (its frames are audited on their own)."""
    if not page_or_frame.evaluate("typeof window.axe === 'object'"):
        page_or_frame.evaluate(axe_source)
    return page_or_frame.evaluate(
        """runOnly => axe.run(document, {runOnly, iframes: false, resultTypes: ['violations']})
               .then(r => r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
               url: v.helpUrl, nodes: v.nodes.map(n => ({target: n.target, html: n.html,
               summary: n.failureSummary}))})))""", WCAG_TAGS)


def test_preview_shows_a_likert_grid_from_a_table_list_group(
        browser: Any, live_server: str, app: Flask, tmp_path: Path, axe_source: str) -> None:
    with app.app_context():
        create_staff_user("quantri@example.vn", "Quản trị", PASSWORD, Role.ADMIN, ["84"])
    short = load_builtin_by_id("citizen-sipas-short")
    assert short.sections[0].layout is SectionLayout.GRID
    book = tmp_path / "sipas-short.xlsx"
    book.write_bytes(questionnaire_to_xlsx(short))
    shots = os.environ.get("PAR_SURVEY_SCREENSHOTS")  # a folder to keep screenshots in
    for width, height in ((360, 740), (1280, 900)):
        context = browser.new_context(viewport={"width": width, "height": height},
                                      locale="vi-VN")
        page = context.new_page()
        errors: list[str] = []

        def on_console(m: Any, errors: list[str] = errors) -> None:
            if m.type == "error" and "favicon" not in m.location.get("url", ""):
                errors.append(m.text)

        page.on("console", on_console)
        page.goto(f"{live_server}/manage/login")
        page.get_by_label("Email").fill("quantri@example.vn")
        page.get_by_label("Mật khẩu").fill(PASSWORD)
        page.get_by_role("button", name="Đăng nhập").click()
        page.get_by_role("link", name="Bảng hỏi").click()
        page.get_by_label("Tệp bảng hỏi").set_input_files(str(book))
        page.get_by_role("button", name="Tải lên và xem trước").click()
        assert page.get_by_role("button", name="Ban hành citizen-sipas-short@v1").is_visible()
        for name in ("điện thoại", "máy tính"):
            frame = page.frame_locator(f"iframe[title*='{name}']")
            grid = frame.locator("form.grid")
            assert grid.count() == 1  # the table-list group is a Likert grid
            assert grid.locator("fieldset.likert").count() == len(short.sections[0].questions)
            assert grid.locator("input[type=radio]").count() == 6 * len(short.sections[0].questions)
        violations = axe(page, axe_source)
        assert violations == [], describe(f"preview at {width}px", violations)
        # The frames are sandboxed without scripts, so axe cannot run inside them: their page
        # is audited on its own, written into a page of the same origin (its styles load).
        srcdoc = page.locator("iframe").first.get_attribute("srcdoc")
        respondent = context.new_page()
        respondent.goto(f"{live_server}/manage/questionnaires/preview")
        respondent.set_content(srcdoc or "")
        inner = axe(respondent, axe_source)
        assert inner == [], describe(f"respondent page in the preview at {width}px", inner)
        assert errors == []  # no CSP refusal or failed load, in the page or its frames
        if shots:
            page.screenshot(path=str(Path(shots) / f"preview-{width}.png"), full_page=True)
            respondent.screenshot(path=str(Path(shots) / f"preview-{width}-frame-page.png"),
                                  full_page=True)
            for kind in ("phone", "desktop"):
                page.locator(f"figure.{kind}").screenshot(
                    path=str(Path(shots) / f"preview-{width}-{kind}.png"))
        context.close()
