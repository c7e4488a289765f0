"""Benchmark the JSON API's microdata export and the webhook outbox, each against a baseline
measured in the same run.

``export``: N anonymous responses (default 100,000) streamed as NDJSON by
``GET /api/v1/campaigns/<code>/responses`` from one gunicorn sync worker to an HTTP client on
this machine, as one page and as pages of 10,000 following the cursor; the baseline is
``COPY (SELECT <the same rows, same joins>) TO STDOUT`` read by psycopg (PostgreSQL; with
SQLite, the same SELECT fetched and written as CSV). The worker's peak resident memory
(``VmHWM``) is read after a 1,000-row export and after the full one: streamed, the two are
about equal.

``webhooks``: E events (default 1,000) queued and delivered by ``deliver_webhooks`` to a local
receiver process that counts each event id; the baseline is raw ``http.client`` posts of the
same bodies over one kept-alive connection to the same receiver. Exactly once: every id
arrives, none twice.

Prints one JSON object. ``--smoke``: tiny sizes on SQLite (a few seconds).
Usage: python bench/bench_api.py [--smoke] [--n N] [--events E] [--database-url URL]
  The default URL is the PostgreSQL database in PAR_SURVEY_BENCH_DATABASE_URL; its public schema
  is DROPPED and rebuilt, so never point it at a database in use.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("PAR_SURVEY_SECRET_KEY", "bench-secret-key-not-for-production")

TARGET_EXPORT_SECONDS = 10.0
TARGET_WEBHOOK_SECONDS = 10.0


# ---------------------------------------------------------------------------- receiver process

def serve(port: int, count_file: str) -> None:
    """Count posts per event id; write {id: count} on SIGTERM."""
    counts: dict[str, int] = {}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers["Content-Length"]))
            event = self.headers.get("X-PAR-Event-Id", "")
            counts[event] = counts.get(event, 0) + 1
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)

    def stop(*_: object) -> None:
        Path(count_file).write_text(json.dumps(counts))
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    print("ready", flush=True)
    server.serve_forever()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------------------- data

def _populate(n: int) -> str:
    """A campaign of 20 units with ``n`` valid responses; return an admin's API token."""
    from sqlalchemy import insert

    from questionnaires import load_builtin_by_id
    from survey import db
    from survey.models import (
        Campaign,
        CampaignStatus,
        Mode,
        RespondentGroup,
        Response,
        ResponseStatus,
        Role,
        Unit,
        utcnow,
    )
    from survey.services.api_tokens import create_api_token
    from survey.services.questionnaires import publish_questionnaire, questionnaire_for
    from survey.services.staff import create_staff_user

    now = utcnow()
    version = publish_questionnaire(load_builtin_by_id("dept-division-rates-own-department"))
    q = questionnaire_for(version)
    widths = [len(x.options) for x in q.scored_questions]
    rng = random.Random(20)
    with db.write_transaction() as s:
        c = Campaign(code="BENCH", name_vi="Khảo sát 2026", name_en="Survey 2026",
                     province_code="BEN", year=2026, opens_at=now - dt.timedelta(days=1),
                     closes_at=now + dt.timedelta(days=30), status=CampaignStatus.OPEN)
        s.add(c)
        s.flush()
        units = [Unit(campaign_id=c.id, code=f"S{i:02d}", name_vi=f"Sở {i}", level="department")
                 for i in range(1, 21)]
        s.add_all(units)
        group = RespondentGroup(campaign_id=c.id, code="g", name_vi="Nhóm")
        s.add(group)
        s.flush()
        for start in range(0, n, 10_000):
            s.execute(insert(Response), [{
                "campaign_id": c.id, "questionnaire_version_id": version.id,
                "content_hash": version.content_hash, "group_id": group.id,
                "rated_unit_id": units[i % 20].id, "mode": Mode.WEB,
                "status": ResponseStatus.VALID, "submitted_on": now.date(),
                "response_key": f"k{i}", "answers": {},
                "item_codes": bytes(rng.randint(0, w) for w in widths)}
                for i in range(start, min(n, start + 10_000))])
    create_staff_user("bench@example.vn", "Bench", "mot-mat-khau-dai-du", Role.ADMIN, ["BEN"])
    return create_api_token("bench@example.vn", "bench")[1]


BASELINE_SQL = (
    "SELECT r.id, u.code, u.level, g.code, r.questionnaire_version_id, r.mode, r.submitted_on, "
    "r.item_codes FROM responses r JOIN units u ON u.id = r.rated_unit_id "
    "JOIN respondent_groups g ON g.id = r.group_id "
    "WHERE r.campaign_id = {cid} AND r.status = 'valid' "
    "AND r.rated_unit_id NOT IN (SELECT unit_id FROM unit_annulments) ORDER BY r.id")


def baseline_copy(url: str, campaign_id: int) -> tuple[float, int, int]:
    """Seconds, rows and bytes of the same rows read straight from the database."""
    sql = BASELINE_SQL.format(cid=int(campaign_id))
    t0 = time.perf_counter()
    if url.startswith("postgresql"):
        import psycopg

        size, rows = 0, 0
        with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
            with conn.cursor() as cur, cur.copy(f"COPY ({sql}) TO STDOUT") as copy:
                for block in copy:
                    size += len(block)
                    rows += bytes(block).count(b"\n")
        return time.perf_counter() - t0, rows, size
    import csv
    import io
    import sqlite3

    conn = sqlite3.connect(url.removeprefix("sqlite:///"))
    buf = io.StringIO()
    writer = csv.writer(buf)
    rows = 0
    for row in conn.execute(sql):
        writer.writerow(row)
        rows += 1
    conn.close()
    return time.perf_counter() - t0, rows, len(buf.getvalue())


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        out += [int(x) for x in text]
    return out


def _hwm_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def fetch(port: int, path: str, token: str) -> tuple[int, int, str | None]:
    """Rows and bytes of one streamed answer, and its next-page link."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
    reply = conn.getresponse()
    if reply.status != 200:
        raise RuntimeError(f"{path}: HTTP {reply.status} {reply.read()[:300]!r}")
    rows, size = 0, 0
    while True:
        block = reply.read(1 << 16)
        if not block:
            break
        size += len(block)
        rows += block.count(b"\n")
    link = reply.getheader("Link")
    conn.close()
    return rows, size, link[1:link.index(">")] if link else None


def bench_export(url: str, n: int, logdir: Path) -> dict[str, object]:
    from survey import create_app
    from survey.cli.db_cmd import upgrade_database

    if url.startswith("postgresql"):
        from scratch_db import fresh_database

        fresh_database(url)
    else:
        upgrade_database(url)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        token = _populate(n)
        from survey.services.campaigns import find_campaign

        campaign_id = find_campaign("BENCH").id
    app.extensions["db_engine"].dispose()
    base_s, base_rows, base_bytes = baseline_copy(url, campaign_id)

    port = _free_port()
    log = logdir / "gunicorn.log"
    env = {**os.environ, "PAR_SURVEY_DATABASE_URL": url, "PAR_SURVEY_API_RATE_PER_MINUTE": "0"}
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--workers", "1", "--worker-class", "sync",
             "--bind", f"127.0.0.1:{port}", "--timeout", "300", "--log-level", "warning",
             "survey:create_app()"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                fetch(port, "/api/v1/campaigns", token)
                break
            except (OSError, RuntimeError):
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError(log.read_text()[-2000:]) from None
                time.sleep(0.2)
        (worker,) = _children(proc.pid)
        fetch(port, "/api/v1/campaigns/BENCH/responses?limit=1000", token)
        small_hwm = _hwm_kb(worker)
        t0 = time.perf_counter()
        rows, size, _ = fetch(port, f"/api/v1/campaigns/BENCH/responses?limit={n}", token)
        one_page_s = time.perf_counter() - t0
        big_hwm = _hwm_kb(worker)
        page = max(1, min(10_000, n // 10))
        t0 = time.perf_counter()
        paged_rows, pages = 0, 0
        path: str | None = f"/api/v1/campaigns/BENCH/responses?limit={page}"
        while path:
            got, _, path = fetch(port, path, token)
            paged_rows += got
            pages += 1
        paged_s = time.perf_counter() - t0
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert rows == n == base_rows == paged_rows, (rows, n, base_rows, paged_rows)
    return {
        "rows": n,
        "api_one_page_s": round(one_page_s, 2),
        "api_rows_per_s": round(n / one_page_s),
        "api_bytes": size,
        "api_paged_s": round(paged_s, 2),
        "pages": pages,
        "baseline_copy_s": round(base_s, 3),
        "baseline_bytes": base_bytes,
        "ratio_api_to_copy": round(one_page_s / base_s, 1) if base_s else None,
        "worker_peak_rss_mb_after_1000_rows": round(small_hwm / 1024, 1),
        "worker_peak_rss_mb_after_all_rows": round(big_hwm / 1024, 1),
        "target_s": TARGET_EXPORT_SECONDS,
        "within_target": one_page_s <= TARGET_EXPORT_SECONDS,
        "backend": url.split(":", 1)[0].split("+")[0],
    }


def bench_webhooks(events: int, logdir: Path) -> dict[str, object]:
    from survey import create_app, db
    from survey.cli.db_cmd import upgrade_database
    from survey.services.campaigns import find_campaign
    from survey.services.webhooks import deliver_webhooks, queue_event, register_webhook

    url = f"sqlite:///{logdir / 'webhooks.db'}"
    upgrade_database(url)
    port, count_file = _free_port(), str(logdir / "counts.json")
    receiver = subprocess.Popen([sys.executable, __file__, "--serve", str(port), count_file],
                                stdout=subprocess.PIPE, text=True)
    try:
        assert receiver.stdout is not None and receiver.stdout.readline().strip() == "ready"
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "WEBHOOK_ALLOW_HTTP_LOCAL": True})
        with app.app_context():
            _populate(0)
            campaign = find_campaign("BENCH")
            register_webhook(campaign, f"http://127.0.0.1:{port}/hook", ["scores.recomputed"])
            with db.write_transaction() as s:
                for i in range(events):
                    queue_event(s, campaign, "scores.recomputed", {"units": i})
            bodies = [b.encode() for b in db.session().scalars(
                __import__("sqlalchemy").text("SELECT body FROM webhook_deliveries"))]
            t0 = time.perf_counter()
            report = deliver_webhooks(batch_size=100)
            outbox_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for i, body in enumerate(bodies):
            conn.request("POST", "/hook", body=body, headers={
                "Content-Type": "application/json", "X-PAR-Event-Id": f"baseline-{i}"})
            conn.getresponse().read()
        conn.close()
        baseline_s = time.perf_counter() - t0
    finally:
        receiver.send_signal(signal.SIGTERM)
        receiver.wait(timeout=30)
    counts = json.loads(Path(count_file).read_text())
    ours = {k: v for k, v in counts.items() if k.startswith("evt_")}
    return {
        "events": events,
        "delivered": report.delivered,
        "distinct_received": len(ours),
        "received_more_than_once": sum(1 for v in ours.values() if v > 1),
        "outbox_s": round(outbox_s, 2),
        "events_per_s": round(events / outbox_s) if outbox_s else None,
        "baseline_raw_posts_s": round(baseline_s, 2),
        "ratio_outbox_to_raw": round(outbox_s / baseline_s, 1) if baseline_s else None,
        "target_s": TARGET_WEBHOOK_SECONDS,
        "exactly_once": len(ours) == events and all(v == 1 for v in ours.values()),
        "within_target": outbox_s <= TARGET_WEBHOOK_SECONDS,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes on SQLite")
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000)
    parser.add_argument("--database-url", default=os.environ.get("PAR_SURVEY_BENCH_DATABASE_URL"))
    parser.add_argument("--serve", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(int(args.serve[0]), args.serve[1])
        return
    tmp = Path(tempfile.mkdtemp(prefix="bench-api-"))
    try:
        url = (f"sqlite:///{tmp / 'export.db'}" if args.smoke or not args.database_url
               else args.database_url)
        n, events = (300, 30) if args.smoke else (args.n, args.events)
        result = {"export": bench_export(url, n, tmp), "webhooks": bench_webhooks(events, tmp)}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
