"""The form pages with and without their scripts, in Chromium on a phone.

With scripts (htmx, hx-boost on the pages' forms) a tap on *Next* is one request whose answer
is the next page; the address bar, the title, Back, Forward and reload behave as with page
loads, no page is copied into the browser's storage, and a tap that cannot reach the server
says so and keeps the answers. Without scripts the same form works through redirects.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Flask
from sqlalchemy import select

from survey import db
from survey.models import Draft, Form, FormStatus, Response
from tests.browser.browser_steps import GRID, PAGE1, h1, tap_button, tap_option

PAGE1_TITLE = "Công tác chỉ đạo, điều hành cải cách hành chính"


def record_requests(page: Any) -> list[tuple[str, str, str]]:
    """(method, path, resource type) of every request the page makes from now on."""
    seen: list[tuple[str, str, str]] = []
    page.on("request", lambda r: seen.append((r.method, urlsplit(r.url).path, r.resource_type)))
    return seen


def posts_referers(page: Any) -> list[str]:
    """The Referer of every POST from now on. Behind TLS, Flask-WTF refuses a POST without
    this site's Referer; ``Referrer-Policy: same-origin`` is what lets Chromium send it."""
    referers: list[str] = []
    page.on("request", lambda r: r.method == "POST" and referers.append(
        r.headers.get("referer", "")))
    return referers


def thanked_after_four_posts(page: Any, referers: list[str], live_server: str) -> None:
    """The thank-you page, after the posts of pages 1-3 and the submit, each carrying this
    site's Referer; nothing went wrong in the browser."""
    assert h1(page) == "Cảm ơn ông/bà"
    assert len(referers) == 4 and all(r.startswith(live_server + "/f/") for r in referers), \
        referers
    assert page.problems == []  # type: ignore[attr-defined]


def answer(page: Any, answers: dict[str, str]) -> None:
    for field, code in answers.items():
        tap_option(page, field, code)


def test_with_scripts_a_page_is_one_request_and_history_behaves_like_page_loads(
        phone: Any, respondent_link: str, app: Flask, live_server: str) -> None:
    page = phone
    referers = posts_referers(page)
    page.goto(respondent_link)
    assert page.evaluate("typeof window.htmx") == "object"
    answer(page, PAGE1)
    seen = record_requests(page)
    tap_button(page, "Tiếp theo")

    # one request, htmx's, answered by page 2 itself: no redirect, no second GET
    assert [(m, p) for m, p, _ in seen] == [("POST", "/f/p/1")], seen
    assert seen[0][2] in ("xhr", "fetch")
    assert page.url.endswith("/f/p/2")
    assert page.title().startswith(h1(page))  # the title follows the page
    assert page.locator(".progress label").inner_text() == "Trang 2/4"
    # the focus moves to the new page's heading, as a screen reader user expects
    assert page.evaluate("document.activeElement.tagName") == "H1"
    answer(page, GRID)

    # Back: page 1 again, from the server (nothing cached in the browser), with its answers
    page.go_back()
    page.wait_for_function("location.pathname === '/f/p/1'")
    page.wait_for_load_state()
    assert h1(page) == PAGE1_TITLE
    for field, code in PAGE1.items():
        assert page.locator(f'input[name="{field}"][value="{code}"]').is_checked()
    assert page.evaluate("sessionStorage.getItem('htmx-history-cache')") is None
    assert page.evaluate("localStorage.length") == 0

    # Forward, then reload: page 2 each time (the grid's taps were not sent, so not kept)
    page.go_forward()
    page.wait_for_function("location.pathname === '/f/p/2'")
    page.wait_for_load_state()
    assert page.locator("form.grid .q.likert").count() == 3
    page.reload()
    assert page.url.endswith("/f/p/2")
    answer(page, GRID)
    del seen[:]
    tap_button(page, "Tiếp theo")
    assert [(m, p) for m, p, _ in seen] == [("POST", "/f/p/2")], seen
    tap_option(page, "u0-has_suggestion", "N")  # page 4 skipped
    tap_button(page, "Tiếp theo")
    assert page.url.endswith("/f/review")
    del seen[:]
    tap_button(page, "Gửi phiếu")
    assert [(m, p) for m, p, _ in seen] == [("POST", "/f/submit")], seen
    assert page.url.endswith("/f/done")
    assert h1(page) == "Cảm ơn ông/bà"

    # a reload of the thank-you page still thanks; nothing is sent twice
    page.reload()
    thanked_after_four_posts(page, referers, live_server)
    with app.app_context():
        s = db.session()
        response = s.scalars(select(Response)).one()
        assert response.answers == {**{k[3:]: v for k, v in PAGE1.items()},
                                    **{k[3:]: v for k, v in GRID.items()},
                                    "has_suggestion": "N"}


def test_with_scripts_a_page_with_errors_stays_at_its_address(
        phone: Any, respondent_link: str) -> None:
    page = phone
    page.goto(respondent_link)
    tap_button(page, "Tiếp theo")  # nothing answered
    assert page.url.endswith("/f/p/1")
    assert page.locator(".error-summary").is_visible()
    assert page.locator(".q.has-error").count() == 3
    # the focus is on the summary, which a screen reader then reads (once: its alert role,
    # for page loads, is dropped when a script moves the focus there)
    assert page.evaluate("document.activeElement.className") == "error-summary"
    assert page.locator(".error-summary").get_attribute("role") is None
    assert page.evaluate("history.length") == 2  # about:blank, then the link: no entry added
    # Chromium logs the deliberate 422 of a page with errors as a failed load: expected here.
    refused = [p for p in page.problems if "status of 422" in p]
    assert len(refused) == 1, page.problems
    page.problems.remove(refused[0])
    answer(page, PAGE1)
    tap_button(page, "Tiếp theo")
    assert page.url.endswith("/f/p/2")
    assert page.problems == []  # type: ignore[attr-defined]


def test_with_no_signal_the_answers_stay_and_the_respondent_is_told(
        phone: Any, respondent_link: str, app: Flask) -> None:
    page = phone
    page.goto(respondent_link)
    answer(page, PAGE1)
    watch_notice(page)
    page.context.set_offline(True)
    page.get_by_role("button", name="Tiếp theo", exact=True).tap()
    told(page)
    assert page.url.endswith("/f/p/1")
    for field, code in PAGE1.items():
        assert page.locator(f'input[name="{field}"][value="{code}"]').is_checked()
    page.context.set_offline(False)
    tap_button(page, "Tiếp theo")  # the same tap again, now with signal
    assert page.url.endswith("/f/p/2")
    assert not page.locator("#net-error").is_visible()
    # Chromium and htmx log the request that found no network: expected here, nothing else
    offline = ("ERR_INTERNET_DISCONNECTED", "htmx:sendError", "htmx:afterRequest")
    assert any("htmx:sendError" in p for p in page.problems), page.problems
    assert [p for p in page.problems if not any(o in p for o in offline)] == []
    with app.app_context():
        draft = db.session().scalars(select(Draft)).one()
        (answers,) = draft.answers.values()
        assert answers == {k[3:]: v for k, v in PAGE1.items()}


def test_with_scripts_a_server_or_proxy_error_keeps_the_page_and_its_answers(
        phone: Any, respondent_link: str) -> None:
    """A 502 from the proxy (a worker killed, say) or the app's 503 replaces nothing: the page
    and what was tapped on it stay at their address, nothing enters the history, the form
    was marked busy while it was being sent, and a second failure is said again."""
    page = phone
    page.goto(respondent_link)
    answer(page, PAGE1)
    history = page.evaluate("history.length")
    busy: list[str | None] = []
    bodies = iter([(502, "<html><body><h1>502 Bad Gateway</h1>nginx</body></html>"),
                   (503, "<html><body><h1>503</h1></body></html>")])

    def fail(route: Any) -> None:
        busy.append(page.evaluate("document.querySelector('main form').getAttribute('aria-busy')"))
        status, body = next(bodies)
        route.fulfill(status=status, content_type="text/html", body=body)

    page.route("**/f/p/1", lambda route: fail(route) if route.request.method == "POST"
               else route.continue_())
    watch_notice(page)
    for attempt in (1, 2):
        page.get_by_role("button", name="Tiếp theo", exact=True).tap()
        told(page, attempt)
    assert busy == ["true", "true"]
    assert page.evaluate("document.querySelector('main form').getAttribute('aria-busy')") is None
    assert page.url.endswith("/f/p/1") and page.evaluate("history.length") == history
    assert page.get_by_text("Bad Gateway").count() == 0
    for field, code in PAGE1.items():
        assert page.locator(f'input[name="{field}"][value="{code}"]').is_checked()
    page.unroute("**/f/p/1")
    tap_button(page, "Tiếp theo")
    assert page.url.endswith("/f/p/2") and not page.locator("#net-error").is_visible()
    # "Save and continue later" is answered in place, at the same address
    tap_button(page, "Lưu và tiếp tục sau")
    assert h1(page) == "Câu trả lời đã được lưu"
    assert page.url.endswith("/f/p/2") and page.evaluate("history.length") == history + 1
    # Chromium and htmx log the refused posts: expected here, nothing else
    refused = ("status of 502", "status of 503", "Response Status Error Code 50",
               "htmx:responseError", "htmx:afterRequest")
    assert [p for p in page.problems if not any(r in p for r in refused)] == []


def watch_notice(page: Any) -> None:
    """Count from now on each time the "could not be sent" notice's text is written."""
    page.evaluate("""() => { const el = document.getElementById('net-error');
        window.__noticeWrites = 0;
        new MutationObserver(() => { if (el.textContent) window.__noticeWrites++; })
            .observe(el, {childList: true}); }""")


def told(page: Any, times: int = 1) -> None:
    """Wait until the notice is shown, its text written ``times`` times since watch_notice:
    each failure writes it afresh, so a screen reader announces each one."""
    page.wait_for_function(
        """n => { const el = document.getElementById('net-error');
                  return !el.hidden && el.textContent.includes('Chưa gửi được trang này')
                         && window.__noticeWrites >= n; }""", arg=times)


def test_without_scripts_the_form_works_through_redirects(
        phone_without_scripts: Any, respondent_link: str, app: Flask, live_server: str) -> None:
    page = phone_without_scripts
    seen = record_requests(page)
    referers = posts_referers(page)
    page.goto(respondent_link)
    assert page.url.endswith("/f/p/1")
    answer(page, PAGE1)

    def press(name: str) -> None:
        with page.expect_navigation():
            page.get_by_role("button", name=name, exact=True).tap()

    del seen[:]
    press("Tiếp theo")
    # the post, answered by a redirect, then the next page's GET (scripts are not fetched)
    assert [(m, p) for m, p, t in seen if t == "document"] == [("POST", "/f/p/1"),
                                                               ("GET", "/f/p/2")], seen
    assert page.url.endswith("/f/p/2")
    answer(page, GRID)
    press("Tiếp theo")
    tap_option(page, "u0-has_suggestion", "N")
    press("Tiếp theo")
    assert page.url.endswith("/f/review")
    press("Gửi phiếu")
    assert page.url.endswith("/f/done")
    thanked_after_four_posts(page, referers, live_server)
    with app.app_context():
        s = db.session()
        assert s.scalars(select(Form)).one().status is FormStatus.SUBMITTED
        assert s.scalars(select(Response)).one().answers["has_suggestion"] == "N"
