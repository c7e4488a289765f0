"""Simulated respondents for ``bench_forms.py``: a small asyncio HTTP/1.1 client, no dependencies.

Kept deliberately thin (raw ``asyncio`` streams, one connection per request as gunicorn's sync
workers close it anyway, a regex over each page) so that on a 2-core machine the load generator
takes as little CPU as possible from the server it measures.

A respondent does what a browser does: opens the token link, follows its redirect with a GET,
reads each page's CSRF token and radio buttons, answers every question and presses *Next*,
then submits on the review page. A browser running scripts (``scripts=True``, the default)
sends its form posts as htmx does for the pages' ``hx-boost`` forms and gets the next page in
the same response; one without (``scripts=False``) follows each post's redirect with a GET.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from dataclasses import dataclass, field
from urllib.parse import quote_plus

CSRF_RE = re.compile(rb'name="csrf_token" type="hidden" value="([^"]+)"')
RADIO_RE = re.compile(rb'<input type="radio" id="[^"]*" name="([^"]+)" value="([^"]+)"')


class FlowError(RuntimeError):
    """The server answered something a respondent's browser would not expect."""


@dataclass
class Reply:
    status: int
    headers: dict[str, list[str]]
    body: bytes

    def header(self, name: str) -> str | None:
        values = self.headers.get(name.lower())
        return values[0] if values else None


@dataclass
class Recorder:
    """Latencies (seconds) by request kind, and counts of what completed."""

    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    forms_completed: int = 0
    page_posts: int = 0

    def add(self, kind: str, seconds: float) -> None:
        self.latencies.setdefault(kind, []).append(seconds)

    def error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1

    def merge(self, other: Recorder) -> None:
        """Add ``other``'s latencies, errors and counts to these."""
        for kind, values in other.latencies.items():
            self.latencies.setdefault(kind, []).extend(values)
        for what, n in other.errors.items():
            self.errors[what] = self.errors.get(what, 0) + n
        self.forms_completed += other.forms_completed
        self.page_posts += other.page_posts


class Browser:
    """One respondent: a cookie jar and a way to send requests to ``host:port``."""

    def __init__(self, host: str, port: int, recorder: Recorder, rng: random.Random,
                 scripts: bool = True) -> None:
        self.host = host
        self.port = port
        self.scripts = scripts
        self.cookies: dict[str, str] = {}
        self.recorder = recorder
        self.rng = rng

    async def request(self, kind: str, method: str, path: str,
                      form: list[tuple[str, str]] | None = None, boosted: bool = False) -> Reply:
        body = b""
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}",
                 "Connection: close", "User-Agent: par-bench"]
        if boosted:  # what htmx sends for a form with hx-boost
            lines += ["HX-Request: true", "HX-Boosted: true",
                      f"HX-Current-URL: http://{self.host}:{self.port}{path}"]
        if self.cookies:
            lines.append("Cookie: " + "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
        if form is not None:
            body = "&".join(f"{quote_plus(k)}={quote_plus(v)}" for k, v in form).encode()
            lines.append("Content-Type: application/x-www-form-urlencoded")
            lines.append(f"Content-Length: {len(body)}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        t0 = time.perf_counter()
        reader, writer = await asyncio.open_connection(self.host, self.port)
        try:
            writer.write(head + body)
            status_line = await reader.readline()
            parts = status_line.split(b" ", 2)
            if len(parts) < 2:
                raise FlowError(f"{kind}: no HTTP status line")
            status = int(parts[1])
            headers: dict[str, list[str]] = {}
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b"\n", b""):
                    break
                name, _, value = line.decode("latin-1").partition(":")
                headers.setdefault(name.strip().lower(), []).append(value.strip())
            length = headers.get("content-length")
            data = await (reader.readexactly(int(length[0])) if length else reader.read())
        finally:
            writer.close()
            try:
                await writer.wait_closed()
            except OSError:
                pass
        self.recorder.add(kind, time.perf_counter() - t0)
        for cookie in headers.get("set-cookie", []):
            pair = cookie.split(";", 1)[0]
            k, _, v = pair.partition("=")
            if v == "" and "expires=thu, 01 jan 1970" in cookie.lower():
                self.cookies.pop(k.strip(), None)
            else:
                self.cookies[k.strip()] = v.strip()
        return Reply(status, headers, data)

    async def expect(self, kind: str, method: str, path: str, status: int,
                     form: list[tuple[str, str]] | None = None, boosted: bool = False) -> Reply:
        reply = await self.request(kind, method, path, form, boosted)
        if reply.status != status:
            raise FlowError(f"{kind} {method} {path}: HTTP {reply.status}, expected {status}")
        return reply

    async def follow(self, kind: str, reply: Reply) -> Reply:
        location = reply.header("location")
        if not location:
            raise FlowError(f"{kind}: redirect without Location")
        path = re.sub(r"^https?://[^/]+", "", location)
        return await self.expect(kind, "GET", path, 200)

    def answers(self, page_html: bytes) -> list[tuple[str, str]]:
        """One option per radio group on the page, at random, plus the CSRF token."""
        match = CSRF_RE.search(page_html)
        if not match:
            raise FlowError("page without CSRF token")
        groups: dict[bytes, list[bytes]] = {}
        for name, value in RADIO_RE.findall(page_html):
            groups.setdefault(name, []).append(value)
        if not groups:
            raise FlowError("page without questions")
        out = [("csrf_token", match.group(1).decode())]
        out += [(n.decode(), self.rng.choice(v).decode()) for n, v in groups.items()]
        return out


async def open_link(browser: Browser, token: str) -> Reply:
    """Open a fresh form's link: it redirects to page 1 (which carries the welcome); page 1."""
    opened = await browser.expect("open_link", "GET", f"/s/{token}", 302)
    location = opened.header("location") or ""
    if not location.endswith("/f/p/1"):
        raise FlowError(f"open_link: redirected to {location!r}, expected /f/p/1")
    return await browser.follow("page_get", opened)


async def post_form(browser: Browser, kind: str, path: str, form: list[tuple[str, str]],
                    then: str, leads_to: str) -> Reply:
    """Post a form; the page it leads to (``leads_to``, the end of its path). With scripts it
    comes in the same response, and ``HX-Push-Url`` names it; without, through the redirect,
    a second request recorded as ``then``."""
    if browser.scripts:
        reply = await browser.expect(kind, "POST", path, 200, form, boosted=True)
        pushed = reply.header("hx-push-url") or ""
        if not pushed.endswith(leads_to):
            raise FlowError(f"{kind} {path}: HX-Push-Url {pushed!r}, expected {leads_to}")
        return reply
    posted = await browser.expect(kind, "POST", path, 302, form)
    location = posted.header("location") or ""
    if not location.endswith(leads_to):
        raise FlowError(f"{kind} {path}: redirected to {location!r}, expected {leads_to}")
    return await browser.follow(then, posted)


async def complete_form(browser: Browser, token: str, pages: int) -> None:
    """Open the link and fill in every page, review, submit; raise FlowError on a surprise."""
    page = await open_link(browser, token)
    for n in range(1, pages + 1):
        page = await post_form(browser, "page_post", f"/f/p/{n}",
                               browser.answers(page.body) + [("action", "next")],
                               "page_get" if n < pages else "review",
                               f"/f/p/{n + 1}" if n < pages else "/f/review")
        browser.recorder.page_posts += 1
    csrf = CSRF_RE.search(page.body)
    if not csrf:
        raise FlowError("review page without CSRF token")
    thanks = await post_form(browser, "submit", "/f/submit",
                             [("csrf_token", csrf.group(1).decode())], "done", "/f/done")
    if b"/f/p/" in thanks.body and b"csrf_token" in thanks.body:
        raise FlowError("submit did not end on the thank-you page")
    browser.recorder.forms_completed += 1


async def respondents(host: str, port: int, tokens: list[str], clients: int, seconds: float,
                      pages: int, seed: int = 1, scripts: bool = True) -> tuple[Recorder, float]:
    """``clients`` respondents in parallel, each taking fresh tokens (popped from ``tokens``)
    until ``seconds`` pass; browsers running scripts or not."""
    recorder = Recorder()
    deadline = time.perf_counter() + seconds

    async def one(i: int) -> None:
        rng = random.Random(seed * 1000 + i)
        while time.perf_counter() < deadline:
            token = tokens.pop() if tokens else None
            if token is None:
                recorder.error("out of tokens")
                return
            try:
                await complete_form(Browser(host, port, recorder, rng, scripts), token, pages)
            except (FlowError, OSError, asyncio.IncompleteReadError) as exc:
                recorder.error(str(exc)[:120])

    t0 = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(clients)))
    return recorder, time.perf_counter() - t0


async def open_for_posting(host: str, port: int, token: str, page: int, recorder: Recorder,
                           rng: random.Random) -> tuple[Browser, bytes]:
    """A respondent on ``page`` of an opened form, ready to post it again and again."""
    browser = Browser(host, port, recorder, rng)
    reply = await open_link(browser, token)
    if page != 1:
        reply = await browser.expect("page_get", "GET", f"/f/p/{page}", 200)
    return browser, reply.body


async def page_posts(host: str, port: int, browsers: list[tuple[Browser, bytes]], page: int,
                     seconds: float, expect_status: int = 302) -> tuple[Recorder, float]:
    """Each browser posts ``page`` (all questions answered, *Next*) in a loop for ``seconds``."""
    recorder = Recorder()
    deadline = time.perf_counter() + seconds

    async def one(browser: Browser, html: bytes) -> None:
        browser.recorder = recorder
        while time.perf_counter() < deadline:
            try:
                await browser.expect("page_post", "POST", f"/f/p/{page}", expect_status,
                                     browser.answers(html) + [("action", "next")])
                recorder.page_posts += 1
            except (FlowError, OSError, asyncio.IncompleteReadError) as exc:
                recorder.error(str(exc)[:120])

    t0 = time.perf_counter()
    await asyncio.gather(*(one(b, html) for b, html in browsers))
    return recorder, time.perf_counter() - t0


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]
