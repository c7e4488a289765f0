"""Chaos (``make chaos``, not part of ``make test``): gunicorn workers are killed with SIGKILL
again and again while respondents complete forms, retrying with the same form on any error.
Every acknowledged submission must be stored, none twice, none half."""

from __future__ import annotations

import http.client
import json
import os
import queue
import random
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from survey import db
from survey.models import Assignment, Response
from survey.services.responding import response_key
from tests.test_serving import CSRF_RE, Browser, answers_for, gunicorn, worker_pids

pytestmark = pytest.mark.chaos
FORMS = int(os.environ.get("CHAOS_FORMS", "60"))
MIN_KILLS = 5
CLIENTS = 8
RESULTS = Path(__file__).resolve().parents[2] / "bench" / "results-chaos.json"


def retry(call: Callable[[], object], attempts: int = 200) -> object:
    for _ in range(attempts):
        try:
            return call()
        except (OSError, http.client.HTTPException):
            time.sleep(0.05)  # the worker died mid-request: the same request again
    raise AssertionError("no answer after many retries")


def complete(port: int, token: str, pages: int) -> bool:
    """Fill and submit one form; True once the server acknowledged the submission.

    Every loop is bounded: a form that cannot be completed fails the test instead of hanging.
    """
    b = Browser(port)
    budget = time.monotonic() + 120
    for _ in range(200):
        opened = retry(lambda: b.go("GET", f"/s/{token}"))
        if opened.status == 302:
            break
        time.sleep(0.05)
    for page in range(1, pages + 1):
        while time.monotonic() < budget:
            html = retry(lambda: b.go("GET", f"/f/p/{page}"))
            if html.status != 200 or not CSRF_RE.search(html.body):
                if "Đã gửi phiếu" in html.body:  # a retried submit already got through
                    return True
                time.sleep(0.05)
                continue
            answers = answers_for(html.body)
            answers.pop("u0-has_suggestion", None)  # optional; "no suggestion" skips page 4
            posted = retry(lambda: b.go("POST", f"/f/p/{page}", answers))
            if posted.status == 302:
                break
    while time.monotonic() < budget:
        review = retry(lambda: b.go("GET", "/f/review"))
        if "Đã gửi phiếu" in review.body:
            return True
        match = CSRF_RE.search(review.body)
        if review.status != 200 or not match:
            time.sleep(0.05)
            continue
        done = retry(lambda: b.go("POST", "/f/submit", {"csrf_token": match.group(1)}))
        if done.status == 302 and done.header("Location").endswith("/f/done"):
            return True
        if "Đã gửi phiếu" in done.body:
            return True
    return False


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_killing_workers_loses_and_duplicates_nothing(app, make_form, tmp_path, database_url):
    # Load goes on until both FORMS forms were tried and MIN_KILLS workers were killed (the
    # flow is fast enough that FORMS forms alone can finish between two kills); the rest of
    # the pool is spare.
    forms = [make_form("dept-division-rates-own-department", email=f"c{i}@example.vn")
             for i in range(FORMS * 8)]
    # the optional pages post fine empty; the show-if page is skipped after "no"
    todo: queue.Queue[tuple[int, str]] = queue.Queue()
    for f in forms:
        todo.put(f)
    acknowledged: list[int] = []
    tried = [0]  # forms taken by the clients
    lock = threading.Lock()
    kills = 0
    stop = threading.Event()
    with gunicorn(database_url, tmp_path, workers=4) as server:
        def killer() -> None:
            nonlocal kills
            while not stop.wait(1.5):  # long enough for a replacement worker to boot
                pids = sorted(worker_pids(server.proc.pid))
                if pids:
                    try:
                        os.kill(random.choice(pids), signal.SIGKILL)
                        kills += 1
                    except ProcessLookupError:
                        pass

        def client() -> None:
            while True:
                with lock:
                    if kills >= MIN_KILLS and tried[0] >= FORMS:
                        return
                    try:
                        form_id, token = todo.get_nowait()
                    except queue.Empty:
                        return
                    tried[0] += 1
                if complete(server.port, token, pages=3):
                    acknowledged.append(form_id)

        k = threading.Thread(target=killer)
        k.start()
        threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        stop.set()
        k.join()
    with app.app_context():
        s = db.session()
        keys = {response_key(a.id): a.form_id for a in s.scalars(select(Assignment))}
        stored = s.scalars(select(Response)).all()
        per_form: dict[int, int] = {}
        half = 0
        for r in stored:
            per_form[keys[r.response_key]] = per_form.get(keys[r.response_key], 0) + 1
            if 0 in r.item_codes or len(r.item_codes) != 6:
                half += 1
    lost = [f for f in acknowledged if per_form.get(f, 0) == 0]
    duplicated = [f for f, n in per_form.items() if n > 1]
    figures = {"kills": kills, "forms": tried[0], "acknowledged": len(acknowledged),
               "stored": len(stored), "lost": len(lost), "duplicated": len(duplicated),
               "half_stored": half}
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    print(figures)
    assert kills >= MIN_KILLS, figures
    assert tried[0] >= FORMS and len(acknowledged) == tried[0], figures
    assert lost == [] and duplicated == [] and half == 0, figures
    assert len(stored) == tried[0]  # every form tried stored once; the spare ones not at all
