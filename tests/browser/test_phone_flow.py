"""A respondent on a 360 px phone: taps through the form, and axe-core audits what they see.

Answers are given the way a person gives them: by tapping the visible option label (never by
setting values from script); the database is then checked for exactly what was tapped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import func, select

from survey import db
from survey.models import Draft, Form, FormStatus, Response
from tests.browser.browser_steps import GRID, PAGE1, h1, tap_button, tap_option

GRID_SCREENSHOT = Path("/tmp/grid-360.png")
WCAG_TAGS = {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}
# axe "best-practice" rules on page structure, outside the WCAG tags, that the pages pass and
# should keep passing: screen-reader users move through a form by headings and landmarks.
STRUCTURE_RULES = {"type": "rule", "values": ["heading-order", "page-has-heading-one",
                                              "landmark-one-main", "region"]}
MIN_TARGET = 44  # px, WCAG 2.5.5 (AAA) / platform guidance for touch targets
SUGGESTION = "Rút ngắn thời gian giải quyết hồ sơ."


# --- helpers -------------------------------------------------------------------------------

def assert_no_horizontal_scroll(page: Any, where: str) -> None:
    width = page.evaluate("document.scrollingElement.scrollWidth")
    assert width <= 360, f"{where}: the page scrolls sideways at 360 px (scrollWidth {width})"


def axe_violations(page: Any, axe_source: str, run_only: dict[str, Any] = WCAG_TAGS
                   ) -> list[dict[str, Any]]:
    """Run axe-core on the page (by default for WCAG 2.0/2.1 A and AA); its violations.

    The app's CSP (``script-src 'self'``) refuses ``page.add_script_tag`` (Playwright inserts
    an inline <script>; Chromium logs the refusal). ``page.evaluate`` goes through the DevTools
    protocol, which CSP does not govern, so axe is injected that way and the page keeps its
    real CSP during the audit (no ``bypass_csp`` context).
    """
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(axe_source)
    return page.evaluate(
        """runOnly => axe.run(document, {runOnly, resultTypes: ['violations']}).then(
               r => r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
               url: v.helpUrl, nodes: v.nodes.map(n => ({target: n.target, html: n.html,
               summary: n.failureSummary}))})))""",
        run_only)


def describe(where: str, violations: list[dict[str, Any]]) -> str:
    lines = [f"{where}: {len(violations)} axe violation(s)"]
    for v in violations:
        lines.append(f"  [{v['impact']}] {v['id']}: {v['help']} ({v['url']})")
        for n in v["nodes"]:
            lines.append(f"      at {' '.join(map(str, n['target']))}: {n['html'][:160]}")
            if n["summary"]:
                lines.append("        " + n["summary"].replace("\n", "\n        "))
    return "\n".join(lines)


def option_targets_too_small(page: Any) -> list[str]:
    """The tappable option boxes (radio with its label) smaller than 44 x 44 CSS px."""
    small = []
    for label in page.locator(".opt label").all():
        box = label.bounding_box()
        if box and (box["height"] < MIN_TARGET or box["width"] < MIN_TARGET):
            small.append(f"{label.inner_text()!r}: {box['width']:.0f}x{box['height']:.0f}")
    return small


def labels_cut_off(page: Any) -> list[str]:
    """Option labels whose text overflows their box (clipped or running outside it)."""
    return page.evaluate("""() => [...document.querySelectorAll('.opt label')]
        .filter(l => l.scrollWidth > l.clientWidth + 1 || l.scrollHeight > l.clientHeight + 1)
        .map(l => l.textContent.trim())""")


# --- the respondent's journey --------------------------------------------------------------

def test_phone_respondent_taps_through_the_form_and_submits(
        phone: Any, respondent_link: str, app: Flask) -> None:
    page = phone

    # The link: token exchanged for a session, straight to page 1, which welcomes in
    # Vietnamese (what is rated, confidentiality) above its three questions.
    page.goto(respondent_link)
    assert page.url.endswith("/f/p/1") and "/s/" not in page.url
    assert page.locator("html").get_attribute("lang") == "vi"
    assert h1(page).startswith("Phiếu khảo sát lãnh đạo cấp phòng")
    assert page.get_by_role("heading", name="Bảo mật thông tin").is_visible()
    assert page.get_by_text("Sở thử 1").is_visible()
    assert page.get_by_role("heading", level=2, name="Công tác chỉ đạo, điều hành cải cách "
                            "hành chính").is_visible()
    assert_no_horizontal_scroll(page, "welcome page 1")
    assert page.locator(".progress label").inner_text() == "Trang 1/4"
    for field, code in PAGE1.items():
        tap_option(page, field, code)
    tap_button(page, "Tiếp theo")

    # Page 2: the Likert grid. It must fit 360 px, with thumb-sized, uncut options.
    assert page.url.endswith("/f/p/2")
    assert page.locator("form.grid .q.likert").count() == 3
    assert_no_horizontal_scroll(page, "grid page")
    assert option_targets_too_small(page) == []
    assert labels_cut_off(page) == []
    for field, code in GRID.items():
        tap_option(page, field, code)
    page.screenshot(path=str(GRID_SCREENSHOT), full_page=True)

    # "Back" keeps what was tapped on both pages; page 1 with answers has no welcome.
    tap_button(page, "Quay lại")
    assert page.url.endswith("/f/p/1")
    assert h1(page) == "Công tác chỉ đạo, điều hành cải cách hành chính"
    assert page.get_by_role("heading", name="Bảo mật thông tin").count() == 0
    for field, code in PAGE1.items():
        assert page.locator(f'input[name="{field}"][value="{code}"]').is_checked()
    tap_button(page, "Tiếp theo")
    assert page.url.endswith("/f/p/2")
    for field, code in GRID.items():
        assert page.locator(f'input[name="{field}"][value="{code}"]').is_checked()
    tap_button(page, "Tiếp theo")

    # Page 3: the optional yes/no; "Có" opens page 4.
    assert page.url.endswith("/f/p/3")
    tap_option(page, "u0-has_suggestion", "Y")
    tap_button(page, "Tiếp theo")

    # Page 4: shown only after "Có"; typed on the phone keyboard.
    assert page.url.endswith("/f/p/4")
    box = page.locator("textarea#u0-suggestion_text")
    box.tap()
    page.keyboard.type(SUGGESTION)
    tap_button(page, "Xem lại câu trả lời")

    # Review: the answers as labels, then submit.
    assert page.url.endswith("/f/review")
    assert h1(page) == "Xem lại câu trả lời"
    review = page.locator("main").inner_text()
    for expected in ("Hoàn toàn đồng ý", "Đồng ý một phần", "Không đồng ý", "Không biết", "Có",
                     SUGGESTION):
        assert expected in review
    assert "Chưa trả lời" not in review
    assert_no_horizontal_scroll(page, "review page")
    tap_button(page, "Gửi phiếu")

    assert page.url.endswith("/f/done")
    assert h1(page) == "Cảm ơn ông/bà"
    assert page.problems == []  # type: ignore[attr-defined]

    with app.app_context():
        s = db.session()
        assert s.scalar(select(func.count()).select_from(Response)) == 1
        response = s.scalars(select(Response)).one()
        assert response.answers == {
            "lead_plan": "A", "lead_head": "B", "lead_innovation": "E",
            "proc_public": "C", "proc_ontime": "D", "egov_online": "A",
            "has_suggestion": "Y", "suggestion_text": SUGGESTION,
        }
        # scored items lead_plan, lead_head, lead_innovation, proc_public, proc_ontime,
        # egov_online as 1-based option positions
        assert response.item_codes == bytes([1, 2, 5, 3, 4, 1])
        form = s.scalars(select(Form)).one()
        assert form.status is FormStatus.SUBMITTED
        assert s.get(Draft, form.id) is None


# --- accessibility -------------------------------------------------------------------------

def test_axe_finds_no_wcag_violations_on_a_phone(
        phone: Any, respondent_link: str, axe_source: str) -> None:
    """Page 1 with its welcome, the landing page, a page with errors, the Likert grid, review
    and thanks, in Vietnamese."""
    page = phone
    found: list[str] = []

    def audit(where: str) -> None:
        violations = axe_violations(page, axe_source)
        if violations:
            found.append(describe(where, violations))
        structure = axe_violations(page, axe_source, STRUCTURE_RULES)
        if structure:
            found.append(describe(f"{where} (page structure)", structure))

    page.goto(respondent_link)
    assert page.url.endswith("/f/p/1")
    audit("welcome page 1 (vi)")
    tap_button(page, "Quay lại")  # page 1's Back: the landing page
    assert page.url.endswith("/f/")
    audit("landing (vi)")
    tap_button(page, "Tiếp tục từ chỗ đã dừng")  # Back saved page 1 (empty): begun
    assert page.url.endswith("/f/p/1")
    tap_button(page, "Tiếp theo")  # nothing answered: the page comes back with its errors
    assert page.locator(".error-summary").is_visible()
    assert page.locator(".q.has-error").count() == 3
    # Chromium logs the deliberate 422 of a page with errors as a failed load: expected here.
    refused = [p for p in page.problems if "status of 422" in p and "/f/p/1" in p]
    assert len(refused) == 1, page.problems
    page.problems.remove(refused[0])
    audit("page 1 with errors")
    for field, code in PAGE1.items():
        tap_option(page, field, code)
    tap_button(page, "Tiếp theo")
    assert page.url.endswith("/f/p/2")
    audit("Likert grid page")
    for field, code in GRID.items():
        tap_option(page, field, code)
    tap_button(page, "Tiếp theo")
    tap_option(page, "u0-has_suggestion", "N")  # "Không": page 4 is skipped
    tap_button(page, "Tiếp theo")
    assert page.url.endswith("/f/review")
    # the suggestion page, emptied by "Không", is neither shown nor listed for review
    assert page.locator(".review-section").count() == 3
    audit("review page")
    tap_button(page, "Gửi phiếu")
    audit("thank-you page")

    assert not found, "\n\n".join(found)
    assert page.problems == []  # type: ignore[attr-defined]


def test_axe_finds_no_wcag_violations_on_the_english_welcome_and_landing_pages(
        phone: Any, respondent_link: str, axe_source: str) -> None:
    page = phone
    page.goto(respondent_link)
    violations: list[str] = []
    for path in ("/f/p/1", "/f/"):
        page.goto(page.url.split("/f/")[0] + path + "?lang=en")
        assert page.locator("html").get_attribute("lang") == "en"
        assert page.get_by_role("heading", name="Confidentiality").is_visible()
        assert page.get_by_text("Deadline", exact=True).is_visible()
        assert_no_horizontal_scroll(page, f"{path} (en)")
        found = axe_violations(page, axe_source) + axe_violations(
            page, axe_source, STRUCTURE_RULES)
        if found:
            violations.append(describe(f"{path} (en)", found))
    assert not violations, "\n\n".join(violations)
    assert page.problems == []  # type: ignore[attr-defined]


def test_public_qr_form_on_a_phone_passes_axe_and_its_honeypot_stays_out_of_reach(
        phone: Any, app: Flask, live_server: str, make_form: Any, axe_source: str) -> None:
    """A citizen scans a counter's poster: the landing, Start and the first page (which carries
    the welcome and the hidden honeypot field) pass the audits; the field is neither seen nor
    tabbed to."""
    from sampling import RateMode
    from survey.models import QuotaCell, RespondentGroup, Unit
    from survey.respond.views import HONEYPOT
    from survey.services.campaigns import find_campaign
    from survey.services.public import create_public_links, public_code

    form_id, _token = make_form()  # campaign T-2026 with its group and questionnaire
    with app.app_context():
        s = db.session()
        with db.write_transaction() as w:
            form = w.get(Form, form_id)
            w.add(QuotaCell(campaign_id=form.campaign_id, group_id=form.group_id,
                            questionnaire_version_id=form.questionnaire_version_id,
                            rated_unit_id=w.scalar(select(Unit.id).filter_by(code="S01")),
                            target=20, rate=RateMode.OWN, rule="t"))
        group = s.scalar(select(RespondentGroup.code))
        (link,) = create_public_links(find_campaign("T-2026"), group, ["S01"])
        code = public_code(link)
    page = phone
    found: list[str] = []
    page.goto(f"{live_server}/q/{code}")
    found += [describe("public landing", v) for v in [axe_violations(page, axe_source)] if v]
    tap_button(page, "Bắt đầu")  # the poster's Start: a fresh public form, at its page 1
    assert page.url.endswith("/f/p/1")
    assert page.get_by_text("quét lại mã này bằng cùng điện thoại", exact=False).is_visible()
    found += [describe("public page 1", v) for v in [
        axe_violations(page, axe_source) + axe_violations(page, axe_source, STRUCTURE_RULES)]
        if v]
    bait = page.locator(f'input[name="{HONEYPOT}"]')
    assert bait.count() == 1
    box = bait.bounding_box()
    assert box is None or box["x"] + box["width"] <= 0  # off the screen, left of it
    for _ in range(40):  # Tab through the whole page: the field never takes the focus
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.name") != HONEYPOT
    assert not found, "\n\n".join(found)
    assert page.problems == []  # type: ignore[attr-defined]
