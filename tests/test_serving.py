"""Production serving: gunicorn with 2 workers, and an outage of the database.

The app runs as production runs it (``gunicorn 'survey:create_app()'``) in a subprocess on a
free loopback port. Every worker must answer the same respondent alike (sessions are signed
cookies, everything else is in the database). For the outage, the app reaches PostgreSQL
through a small TCP proxy run by the test; cutting the proxy stands in for a database restart
(the machine's shared server is never touched): while cut, requests get the generic 503 page
(no traceback) and ``/healthz`` 503; once restored, the same workers recover on their own.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from survey.db import PING_AFTER_IDLE_SECONDS, make_engine

ROOT = Path(__file__).resolve().parent.parent
CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
RADIO_RE = re.compile(r'<input type="radio" id="[^"]*" name="([^"]+)" value="([^"]+)"')
LEAKS = ("Traceback", "OperationalError", "psycopg", "sqlalchemy", "File \"")
UNAVAILABLE = ("Service temporarily unavailable", "tạm thời")  # en / vi wording


# --- a tiny HTTP client with a cookie jar ------------------------------------------------------

@dataclass
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: str

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


class Browser:
    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}

    def go(self, method: str, path: str, form: dict[str, str] | None = None) -> Reply:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
        try:
            headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
            body = None
            if form is not None:
                body = urlencode(form)
                headers["Content-Type"] = "application/x-www-form-urlencoded"
            conn.request(method, path, body=body, headers=headers)
            r = conn.getresponse()
            reply = Reply(r.status, r.getheaders(), r.read().decode("utf-8", "replace"))
        finally:
            conn.close()
        for k, v in reply.headers:
            if k.lower() == "set-cookie":
                name, _, value = v.split(";", 1)[0].partition("=")
                self.cookies[name.strip()] = value.strip()
        return reply


def answers_for(page_html: str) -> dict[str, str]:
    csrf = CSRF_RE.search(page_html)
    assert csrf, "page has no CSRF token"
    out = {"csrf_token": csrf.group(1), "action": "next"}
    for name, value in RADIO_RE.findall(page_html):
        out.setdefault(name, value)
    assert len(out) > 2, "page has no radio buttons"
    return out


# --- gunicorn in a subprocess -----------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def worker_pids(master: int) -> set[int]:
    pids = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == master:
                pids.add(int(entry.name))
    return pids


@dataclass
class Server:
    port: int
    proc: subprocess.Popen[bytes]
    log: Path

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


@contextlib.contextmanager
def gunicorn(database_url: str, tmp_path: Path, workers: int = 2) -> Iterator[Server]:
    port = free_port()
    log = tmp_path / "gunicorn.log"
    env = {**os.environ, "PAR_SURVEY_DATABASE_URL": database_url,
           "PAR_SURVEY_INSTANCE_DIR": str(tmp_path / "instance")}
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--workers", str(workers),
             "--bind", f"127.0.0.1:{port}", "--graceful-timeout", "3", "--timeout", "30",
             "survey:create_app()"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    server = Server(port, proc, log)
    try:
        deadline = time.monotonic() + 60  # a loaded 2-core machine boots workers slowly
        while True:
            assert proc.poll() is None, f"gunicorn exited:\n{server.tail()}"
            assert time.monotonic() < deadline, f"gunicorn did not start:\n{server.tail()}"
            try:
                Browser(port).go("GET", "/healthz")
                break
            except OSError:
                time.sleep(0.1)
        deadline = time.monotonic() + 10  # every worker booted
        while len(worker_pids(proc.pid)) < workers and time.monotonic() < deadline:
            time.sleep(0.1)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover
            proc.kill()
            proc.wait()


# --- a TCP proxy that can be cut --------------------------------------------------------------

class TcpProxy:
    """127.0.0.1:<port> -> upstream. ``cut()`` drops every connection and refuses new ones
    (accepts and closes at once, as a server that is restarting does); ``restore()`` undoes it."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.port = int(self.listener.getsockname()[1])
        self._lock = threading.Lock()
        self._socks: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._cut = threading.Event()
        self._stop = threading.Event()
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True)
        self._acceptor.start()

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self._cut.is_set():
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            client.settimeout(None)
            upstream.settimeout(None)
            with self._lock:
                self._socks.update((client, upstream))
            for src, dst in ((client, upstream), (upstream, client)):
                t = threading.Thread(target=self._pump, args=(src, dst), daemon=True)
                self._threads.append(t)
                t.start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            self._drop(src)
            self._drop(dst)

    def _drop(self, sock: socket.socket) -> None:
        with self._lock:
            if sock not in self._socks:
                return
            self._socks.discard(sock)
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()

    def _drop_all(self) -> None:
        with self._lock:
            socks = list(self._socks)
        for s in socks:
            self._drop(s)
        for t in self._threads:
            t.join(timeout=5)
        self._threads = [t for t in self._threads if t.is_alive()]

    def cut(self) -> None:
        self._cut.set()
        self._drop_all()

    def restore(self) -> None:
        self._cut.clear()

    def close(self) -> None:
        self._stop.set()
        self._acceptor.join(timeout=5)
        self._drop_all()
        self.listener.close()


# --- the tests ----------------------------------------------------------------------------------

def open_form(port: int, token: str) -> tuple[Browser, str]:
    b = Browser(port)
    opened = b.go("GET", f"/s/{token}")
    assert opened.status == 302 and opened.header("Location").endswith("/f/p/1")
    page = b.go("GET", "/f/p/1")
    assert page.status == 200, page.body[:500]
    return b, page.body


def test_gunicorn_two_workers_serve_health_and_a_respondent_alike(
        app, make_form: Callable[..., tuple[int, str]], tmp_path: Path):
    _form_id, token = make_form()
    with gunicorn(app.config["SQLALCHEMY_DATABASE_URI"], tmp_path) as server:
        assert len(worker_pids(server.proc.pid)) == 2
        health = Browser(server.port).go("GET", "/healthz")
        assert health.status == 200 and '"status":"ok"' in health.body.replace(" ", "")
        browser, html = open_form(server.port, token)
        # the same signed session, whichever worker answers
        for _ in range(8):
            again = browser.go("GET", "/f/p/1")
            assert again.status == 200
        posted = browser.go("POST", "/f/p/1", answers_for(html))
        assert posted.status == 302 and posted.header("Location").endswith("/f/p/2"), \
            posted.body[:500]
        assert browser.go("GET", "/f/p/2").status == 200
        assert token not in server.tail()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_database_outage_gives_503_then_recovers_without_restart(
        app, make_form: Callable[..., tuple[int, str]], tmp_path: Path, database_url: str):
    _form_id, token = make_form()
    url = make_url(database_url)
    proxy = TcpProxy((url.host or "127.0.0.1", url.port or 5432))
    via_proxy = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    try:
        with gunicorn(via_proxy, tmp_path) as server:
            pids = worker_pids(server.proc.pid)
            browser, html = open_form(server.port, token)
            for _ in range(6):  # every worker holds pooled connections through the proxy
                assert browser.go("GET", "/f/p/1").status == 200
                assert Browser(server.port).go("GET", "/healthz").status == 200

            proxy.cut()
            for _ in range(6):
                health = Browser(server.port).go("GET", "/healthz")
                assert health.status == 503, health.body
                assert '"unavailable"' in health.body
                page = browser.go("GET", "/f/p/1")
                assert page.status == 503, f"{page.status}\n{page.body[:800]}\n{server.tail()}"
                assert any(w in page.body for w in UNAVAILABLE), page.body[:800]
                assert not [leak for leak in LEAKS if leak in page.body]
                assert str(proxy.port) not in page.body
            posted = browser.go("POST", "/f/p/1", answers_for(html))
            assert posted.status == 503 and not [x for x in LEAKS if x in posted.body]

            # A database restart takes seconds (make chaos measures 2-4 s). A pooled connection
            # is pinged before use once it has idled PING_AFTER_IDLE_SECONDS; one used within
            # that second is not, and if it died meanwhile its request gets the 503 (survey/db.py
            # says so). A worker the outage's requests above all missed would hold exactly such
            # a connection if the outage were shorter than that: it rarely was, and the test
            # then failed on the first request after recovery.
            time.sleep(PING_AFTER_IDLE_SECONDS + 0.2)
            proxy.restore()
            t0 = time.monotonic()
            while Browser(server.port).go("GET", "/healthz").status != 200:
                assert time.monotonic() - t0 < 10, f"no recovery in 10 s\n{server.tail()}"
                time.sleep(0.2)
            for _ in range(6):  # every worker, not just the first to recover
                assert Browser(server.port).go("GET", "/healthz").status == 200
                assert browser.go("GET", "/f/p/1").status == 200
            posted = browser.go("POST", "/f/p/1", answers_for(html))
            assert posted.status == 302 and posted.header("Location").endswith("/f/p/2")
            assert worker_pids(server.proc.pid) == pids, "workers were restarted"
            assert "Traceback" not in server.tail()
    finally:
        proxy.close()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_postgres_connections_have_statement_and_idle_timeouts(database_url: str):
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SHOW statement_timeout")).scalar() == "30s"
            assert conn.execute(
                text("SHOW idle_in_transaction_session_timeout")).scalar() == "1min"
    finally:
        engine.dispose()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_dead_idle_pooled_connection_is_replaced_and_a_busy_one_is_not_pinged(
        database_url: str, monkeypatch):
    from survey import db as dbmod

    engine = make_engine(database_url)
    pings: list[int] = []
    real_ping = engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, "do_ping", lambda c: pings.append(1) or real_ping(c))
    try:
        with engine.connect() as conn:
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
        first = len(pings)  # a new connection may be pinged once
        for _ in range(5):  # handed back and out again at once: no ping
            with engine.connect() as conn:
                assert conn.execute(text("SELECT pg_backend_pid()")).scalar() == pid
        assert len(pings) == first
        # the server ends the pooled connection (a restart, a cut); after it idled, the pool
        # pings it, finds it dead and hands out a new one: the caller sees no error
        killer = make_engine(database_url)
        with killer.connect() as k:
            assert k.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar()
        killer.dispose()
        time.sleep(dbmod.PING_AFTER_IDLE_SECONDS + 0.2)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar() != pid
        assert len(pings) > first
    finally:
        engine.dispose()
