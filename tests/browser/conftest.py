"""Browser fixtures: the app on a real port, headless Chromium with a phone viewport, axe-core.

The browser tests run once, on SQLite only: they check what a respondent's browser does (taps,
layout, accessibility), not the database backends, which tests/survey covers on both.

They skip, with the reason shown by ``pytest -ra``, when PAR_SURVEY_SKIP_BROWSER=1, when
Debian's Chromium is not at /usr/bin/chromium, or (for the audits) when axe-core is not
installed; ``make browser-deps`` installs both.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from survey import create_app
from survey.cli.db_cmd import upgrade_database
from survey.config import PROJECT_ROOT

CHROMIUM = Path("/usr/bin/chromium")
AXE_JS = PROJECT_ROOT / ".cache" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
# A mid-range Android phone: the narrowest width the survey is designed for.
PHONE = {"viewport": {"width": 360, "height": 740}, "device_scale_factor": 2,
         "is_mobile": True, "has_touch": True}


def _skip_reason() -> str | None:
    if os.environ.get("PAR_SURVEY_SKIP_BROWSER") == "1":
        return "browser tests: PAR_SURVEY_SKIP_BROWSER=1"
    if not CHROMIUM.exists():
        return (f"browser tests: no Chromium at {CHROMIUM} "
                "(make browser-deps, or apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "browser tests: Python Playwright is not installed (pip install -e '.[test]')"
    return None


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for the session (Debian's build, not Playwright's download)."""
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def axe_source() -> str:
    """The axe-core script; its absence skips the audits, visibly."""
    if not AXE_JS.is_file():
        pytest.skip(f"accessibility audits: axe-core not found at {AXE_JS} (make browser-deps)")
    return AXE_JS.read_text(encoding="utf-8")


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    """The app on its own migrated SQLite file.

    This overrides tests/conftest.py's ``app`` (parametrised over SQLite and PostgreSQL) for
    the tests in this folder, so its ``make_campaign`` and ``make_form`` factories seed this
    app's database and the browser tests run once.
    """
    url = f"sqlite:///{tmp_path / 'browser.db'}"
    upgrade_database(url)
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url,
                      "SECRET_KEY": "browser-test-secret-key"})
    yield app
    app.extensions["db_engine"].dispose()


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    """The app served by Werkzeug on a free local port in a background thread; its base URL."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@pytest.fixture
def respondent_link(live_server: str, make_form: Callable[..., tuple[int, str]]) -> str:
    """A fresh form of the built-in department questionnaire rating S01; its personal link."""
    _, token = make_form("dept-division-rates-own-department")
    return f"{live_server}/s/{token}"


@pytest.fixture
def phone(browser: Any) -> Iterator[Any]:
    """A page in a fresh phone-sized context that records dialogs and console errors.

    Each test asserts ``phone.problems == []`` at its end: an unexpected alert/confirm or a
    console error (a CSP refusal, a failed load, a script error) is a failure.
    """
    yield from _phone_page(browser)


@pytest.fixture
def phone_without_scripts(browser: Any) -> Iterator[Any]:
    """The same phone with JavaScript turned off, as some respondents' browsers are."""
    yield from _phone_page(browser, java_script_enabled=False)


def _phone_page(browser: Any, **options: Any) -> Iterator[Any]:
    context = browser.new_context(**PHONE, locale="vi-VN", **options)
    context.set_default_timeout(10_000)
    page = context.new_page()
    problems: list[str] = []

    def on_dialog(dialog: Any) -> None:
        problems.append(f"dialog ({dialog.type}): {dialog.message}")
        dialog.dismiss()

    def on_console(msg: Any) -> None:
        # The one tolerated error: Chromium asks every site for /favicon.ico and logs the 404.
        if msg.type == "error" and not msg.location.get("url", "").endswith("/favicon.ico"):
            problems.append(f"console error on {page.url}: {msg.text} ({msg.location})")

    page.on("dialog", on_dialog)
    page.on("console", on_console)
    page.on("pageerror", lambda exc: problems.append(f"page error on {page.url}: {exc}"))
    page.problems = problems  # type: ignore[attr-defined]
    try:
        yield page
    finally:
        context.close()
