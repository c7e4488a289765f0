"""What a respondent does on a phone, for the browser tests: tap an option, tap a button."""

from __future__ import annotations

from typing import Any

# Answers to the built-in department questionnaire's page 1 and its Likert grid (page 2).
PAGE1 = {"u0-lead_plan": "A", "u0-lead_head": "B", "u0-lead_innovation": "E"}
GRID = {"u0-proc_public": "C", "u0-proc_ontime": "D", "u0-egov_online": "A"}


def tap_option(page: Any, field: str, code: str) -> None:
    """Tap the label of option ``code`` of question ``field``; the radio must become checked."""
    radio = page.locator(f'input[name="{field}"][value="{code}"]')
    label = page.locator(f'label[for="{radio.get_attribute("id")}"]')
    label.scroll_into_view_if_needed()
    label.tap()
    assert radio.is_checked(), f"tapping the label of {field}={code} did not check it"


def tap_button(page: Any, name: str) -> None:
    """Tap a button or link by its accessible name and wait for the page it leads to: a new
    document, or, for a button of a form that htmx enhances (hx-boost), the answer swapped in
    (``htmx:afterSettle``)."""
    target = page.get_by_role("button", name=name, exact=True).or_(
        page.get_by_role("link", name=name, exact=True))
    if target.evaluate("el => !!(window.htmx && el.closest('form[hx-boost]'))"):
        page.evaluate("""() => { window.__settled = new Promise(done =>
            document.addEventListener('htmx:afterSettle', () => done(true), {once: true})); }""")
        target.tap()
        assert page.evaluate("() => window.__settled")
        return
    with page.expect_navigation():
        target.tap()


def h1(page: Any) -> str:
    return page.locator("h1").inner_text().strip()
