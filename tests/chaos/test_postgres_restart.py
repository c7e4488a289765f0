"""Chaos (``make chaos``): the PostgreSQL server itself is restarted while respondents
complete forms. Requests during the outage get the generic 503 page, the app recovers by itself
within seconds, and no acknowledged answer is lost or stored twice.

It restarts this machine's PostgreSQL (``pg_ctlcluster``), so it is not part of ``make test``.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from survey import db
from survey.models import Assignment, Response
from survey.services.responding import response_key
from tests.chaos.test_kill_workers import complete
from tests.test_serving import Browser, gunicorn

pytestmark = pytest.mark.chaos
RESULTS = Path(__file__).resolve().parents[2] / "bench" / "results-pg-restart.json"


def restart_postgres() -> float:
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    started = time.monotonic()
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"],
                   check=True, timeout=120, capture_output=True)
    return time.monotonic() - started


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_restarting_postgres_mid_load_loses_nothing(app, make_form, tmp_path, database_url):
    if not shutil.which("pg_ctlcluster") or os.geteuid() != 0 or not Path("/etc/postgresql").is_dir():
        pytest.skip("PostgreSQL restart: needs root and Debian's pg_ctlcluster on this machine")
    forms = [make_form("dept-division-rates-own-department", email=f"r{i}@example.vn")
             for i in range(30)]
    todo: queue.Queue[tuple[int, str]] = queue.Queue()
    for f in forms:
        todo.put(f)
    acknowledged: list[int] = []
    statuses: list[int] = []
    with gunicorn(database_url, tmp_path, workers=4) as server:
        def client() -> None:
            while True:
                try:
                    form_id, token = todo.get_nowait()
                except queue.Empty:
                    return
                if complete(server.port, token, pages=3):
                    acknowledged.append(form_id)

        def prober(stop: threading.Event) -> None:
            while not stop.wait(0.2):
                try:
                    statuses.append(Browser(server.port).go("GET", "/healthz").status)
                except OSError:
                    statuses.append(0)

        stop = threading.Event()
        probe = threading.Thread(target=prober, args=(stop,))
        probe.start()
        threads = [threading.Thread(target=client) for _ in range(6)]
        for t in threads:
            t.start()
        time.sleep(2)
        outage = restart_postgres()
        restarted_at = time.monotonic()
        recovered_after = None
        while time.monotonic() - restarted_at < 30:
            if Browser(server.port).go("GET", "/healthz").status == 200:
                recovered_after = time.monotonic() - restarted_at
                break
            time.sleep(0.2)
        for t in threads:
            t.join()
        stop.set()
        probe.join()
    with app.app_context():
        s = db.session()
        keys = {response_key(a.id): a.form_id for a in s.scalars(select(Assignment))}
        per_form: dict[int, int] = {}
        for r in s.scalars(select(Response)):
            per_form[keys[r.response_key]] = per_form.get(keys[r.response_key], 0) + 1
    figures = {"forms": len(forms), "acknowledged": len(acknowledged),
               "stored": sum(per_form.values()),
               "lost": sum(1 for f in acknowledged if per_form.get(f, 0) == 0),
               "duplicated": sum(1 for n in per_form.values() if n > 1),
               "restart_seconds": round(outage, 2),
               "recovered_seconds_after_restart": recovered_after,
               "health_503_seen": statuses.count(503)}
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    print(figures)
    assert recovered_after is not None and recovered_after < 10, figures
    assert figures["acknowledged"] == len(forms), figures
    assert figures["lost"] == 0 and figures["duplicated"] == 0, figures
