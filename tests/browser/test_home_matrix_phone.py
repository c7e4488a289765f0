"""A respondent with several forms on a 360 px phone, by keyboard only: the home, a matrix form
of three units (two finished, the third after coming back from a new browser), axe-core on
every page they see (issue 18)."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import select

from survey import db
from survey.models import Response, Unit
from tests.browser.conftest import PHONE
from tests.browser.test_phone_flow import (
    STRUCTURE_RULES,
    assert_no_horizontal_scroll,
    axe_violations,
    describe,
)

HDND = "hdnd-rates-departments"  # a matrix questionnaire: each question once per unit
DEPT = "dept-division-rates-own-department"


def _audit(page: Any, axe_source: str, where: str, found: list[str]) -> None:
    violations = axe_violations(page, axe_source) + axe_violations(page, axe_source,
                                                                   STRUCTURE_RULES)
    if violations:
        found.append(describe(where, violations))
    assert_no_horizontal_scroll(page, where)


def _tab_to(page: Any, js_test: str, limit: int = 400) -> None:
    """Press Tab until the focused element passes ``js_test`` (``el => bool``)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"() => ({js_test})(document.activeElement)"):
            return
    raise AssertionError(f"Tab never reached {js_test}")


def _enter(page: Any) -> None:
    """Press Enter on the focused link or button and wait for what it leads to (a new page,
    or an htmx swap)."""
    boosted = page.evaluate(
        "() => !!(window.htmx && document.activeElement.closest('form[hx-boost]'))")
    if boosted:
        page.evaluate("""() => { window.__settled = new Promise(done =>
            document.addEventListener('htmx:afterSettle', () => done(true), {once: true})); }""")
        page.keyboard.press("Enter")
        assert page.evaluate("() => window.__settled")
    else:
        with page.expect_navigation():
            page.keyboard.press("Enter")


def _answer_page(page: Any, units: set[int]) -> None:
    """By keyboard: into each unit's radio group in ``units`` (Tab), choose its first option
    (Space) ... or, for the other units, Tab past them; then to Next and Enter."""
    groups = page.locator("fieldset.mrow").all()  # none on the last page: a comment box
    page.evaluate("() => document.querySelector('form').querySelector('input[type=hidden]')"
                  ".focus()")
    for group in groups:
        unit = int(group.get_attribute("id")[1:].split("-")[0])
        _tab_to(page, "el => el.type === 'radio'")
        name = page.evaluate("() => document.activeElement.name")
        assert name == group.get_attribute("id"), (name, group.get_attribute("id"))
        if unit in units:
            page.keyboard.press("Space")
            assert page.evaluate("() => document.activeElement.checked")
    _tab_to(page, "el => el.tagName === 'BUTTON' && el.value === 'next'")
    _enter(page)


def test_home_and_a_matrix_form_by_keyboard_on_a_phone(browser: Any, app: Flask,
                                                       live_server: str, make_home: Any,
                                                       axe_source: str) -> None:
    person = make_home(((HDND, ("S01", "S02", "S03")), (DEPT, ("S02",))))
    found: list[str] = []
    first = browser.new_context(**PHONE, locale="vi-VN")
    page = first.new_page()
    page.goto(f"{live_server}/s/{person.token}")
    assert page.url.endswith("/h/")
    assert "Đã xong 0/2 phiếu" in page.inner_text("main")
    assert page.locator(".home-form .tag.todo").count() == 2
    _audit(page, axe_source, "home, nothing done", found)

    _tab_to(page, "el => el.classList.contains('primary')")  # the one Continue
    _enter(page)
    assert page.url.endswith("/f/p/1")
    _audit(page, axe_source, "matrix page 1", found)
    pages = int(page.locator("progress#progress").get_attribute("max"))
    for number in range(1, pages + 1):
        assert page.url.endswith(f"/f/p/{number}"), page.url
        _answer_page(page, {0, 1})  # two of three units; the third left for later
        if number == 3:
            _audit(page, axe_source, "matrix page 4", found)
    assert page.url.endswith("/f/review")
    first.close()  # leave

    again = browser.new_context(**PHONE, locale="vi-VN")  # a new browser
    page = again.new_page()
    page.goto(f"{live_server}/s/{person.token}")
    text = page.inner_text("main")
    assert "Đang làm: trang 1/" in text and "đã trả lời đủ 2/3 đơn vị" in text
    _audit(page, axe_source, "home, in progress", found)
    _tab_to(page, "el => el.classList.contains('primary')")
    _enter(page)
    for _ in range(pages):
        checked = page.locator("fieldset.mrow input:checked")  # what was given is kept
        assert checked.count() == 2 * page.locator("section.matrix.rows").count()
        _answer_page(page, {2})
    assert page.url.endswith("/f/review")
    _audit(page, axe_source, "review", found)
    _tab_to(page, "el => el.tagName === 'BUTTON' && el.type === 'submit'")
    _enter(page)
    assert "/f/done" in page.url
    _tab_to(page, "el => el.getAttribute('href') === '/h/'")  # back to the home
    _enter(page)
    assert "Đã xong 1/2 phiếu" in page.inner_text("main")
    assert page.locator(".home-form .tag.done").count() == 1
    assert page.locator(".home-form .tag.todo").count() == 1
    _audit(page, axe_source, "home, one done", found)
    again.close()
    with app.app_context():
        units = db.session().scalars(select(Unit.code).join(
            Response, Response.rated_unit_id == Unit.id).order_by(Unit.code)).all()
    assert units == ["S01", "S02", "S03"]  # one response per rated unit of the matrix form
    assert not found, "\n".join(found)
