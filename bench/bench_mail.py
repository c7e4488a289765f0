"""Benchmark: queue and deliver N email invitations (default 30,000 respondents with on
average ``--forms-per-respondent`` forms each, 5: one message per respondent, listing the
units of all their forms) through the outbox to a local aiosmtpd server (run in its own
process), on SQLite.

Times, in one run against the same server:

* ``outbox``: ``queue_invitations`` + ``work`` (claim with tokens, render vi templates, build
  multipart messages, SMTP, one commit per message) in this process (or by ``--workers K``
  parallel worker processes) until the queue is empty;
* ``baseline_smtplib``: raw ``smtplib`` sending N prebuilt messages of the same size over one
  connection (the floor: SMTP round trips alone).

Prints one JSON object (only that) to stdout.  ``--smoke`` uses tiny sizes (a few seconds).
Usage: python bench/bench_mail.py [--smoke] [--n N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("PAR_SURVEY_SECRET_KEY", "bench-secret-key-not-for-production")

TARGET_SECONDS = 120.0


def serve(port: int, count_file: str) -> None:
    """The SMTP server process: count accepted messages, write the count on SIGTERM."""
    import threading

    from aiosmtpd.controller import Controller

    class Counter:
        n = 0

        async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
            Counter.n += 1
            return "250 OK"

    controller = Controller(Counter(), hostname="127.0.0.1", port=port)
    controller.start()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    print("ready", flush=True)
    done.wait()
    controller.stop()
    Path(count_file).write_text(str(Counter.n))


def _app(url: str, port: int):  # noqa: ANN202
    from survey import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": url, "SMTP_URL": f"smtp://127.0.0.1:{port}",
                       "MAIL_FROM": "Sở Nội vụ <khaosat@example.gov.vn>",
                       "MAIL_RATE_PER_MINUTE": 0, "PUBLIC_URL": "https://khaosat.example.vn"})


def run_worker(url: str, port: int) -> None:
    """One worker process: deliver until nothing is due; print its counts."""
    from survey.services.outbox import work

    with _app(url, port).app_context():
        report = work(batch_size=200)
    print(json.dumps({"sent": report.sent, "other": report.processed - report.sent}), flush=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _forms_of(i: int, per: int) -> int:
    """Respondent ``i``'s number of forms: 1 .. 2 * per - 1 in turn (mean ``per``)."""
    return 1 + (i % (2 * per - 1))


def _populate(n: int, per: int = 1) -> int:
    """``n`` respondents with ``_forms_of`` forms each (one rated unit a form); the forms."""
    from sqlalchemy import insert

    from questionnaires import load_builtin_by_id
    from survey import db
    from survey.models import (
        Assignment,
        Campaign,
        CampaignStatus,
        Form,
        Respondent,
        RespondentGroup,
        Unit,
        utcnow,
    )
    from survey.services.questionnaires import publish_questionnaire

    now = utcnow()
    version = publish_questionnaire(load_builtin_by_id("dept-division-rates-own-department"))
    with db.write_transaction() as s:
        c = Campaign(code="BENCH", name_vi="Khảo sát Chỉ số CCHC 2026", name_en="PAR Index 2026",
                     province_code="BEN", year=2026, opens_at=now - dt.timedelta(days=1),
                     closes_at=now + dt.timedelta(days=30), status=CampaignStatus.OPEN)
        s.add(c)
        s.flush()
        units = [Unit(campaign_id=c.id, code=f"S{i:02d}", name_vi=f"Sở thử nghiệm {i}",
                      level="department") for i in range(1, 21)]
        s.add_all(units)
        group = RespondentGroup(campaign_id=c.id, code="g", name_vi="Nhóm")
        s.add(group)
        s.flush()
        s.execute(insert(Respondent), [
            {"id": i, "campaign_id": c.id, "group_id": group.id, "full_name": f"Nguyễn Văn {i}",
             "email": f"nguoi{i}@example.vn", "created_at": now} for i in range(1, n + 1)])
        forms = [(i, k) for i in range(1, n + 1) for k in range(_forms_of(i, per))]
        s.execute(insert(Form), [
            {"id": f, "campaign_id": c.id, "respondent_id": i, "group_id": group.id,
             "questionnaire_version_id": version.id, "created_at": now}
            for f, (i, _k) in enumerate(forms, start=1)])
        s.execute(insert(Assignment), [
            {"form_id": f, "rated_unit_id": units[(i + k) % len(units)].id}
            for f, (i, k) in enumerate(forms, start=1)])
    return len(forms)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, a few seconds")
    parser.add_argument("--n", type=int, default=30_000, help="respondents (= messages)")
    parser.add_argument("--forms-per-respondent", type=int, default=5,
                        help="mean forms per respondent (each rates one unit)")
    parser.add_argument("--workers", type=int, default=1,
                        help="worker processes; 1 = in this process (default)")
    parser.add_argument("--serve", nargs=2, metavar=("PORT", "COUNT_FILE"), help=argparse.SUPPRESS)
    parser.add_argument("--work", nargs=2, metavar=("DB_URL", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(int(args.serve[0]), args.serve[1])
        return
    if args.work:
        run_worker(args.work[0], int(args.work[1]))
        return
    n = 200 if args.smoke else args.n

    from sqlalchemy import func, select

    from survey import db
    from survey.cli.db_cmd import upgrade_database
    from survey.models import Campaign, OutboxMessage, OutboxStatus
    from survey.services.mail import (
        build_message,
        default_template,
        render,
        smtp_settings,
    )
    from survey.services.outbox import queue_invitations, work

    tmp = Path(tempfile.mkdtemp(prefix="bench_mail_"))
    url = f"sqlite:///{tmp / 'bench.db'}"
    port = _free_port()
    count_file = tmp / "count"
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(port), str(count_file)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        upgrade_database(url)
        app = _app(url, port)
        with app.app_context():
            t0 = time.perf_counter()
            forms = _populate(n, args.forms_per_respondent)
            t_populate = time.perf_counter() - t0

            t0 = time.perf_counter()
            campaign = db.session().scalar(select(Campaign))
            queued = queue_invitations(campaign).queued
            t_queue = time.perf_counter() - t0
            db.session().close()
            t0 = time.perf_counter()
            if args.workers == 1:
                report = work(batch_size=200)
                reports = [{"sent": report.sent}]
            else:
                workers = [subprocess.Popen([sys.executable, __file__, "--work", url, str(port)],
                                            stdout=subprocess.PIPE, text=True)
                           for _ in range(args.workers)]
                reports = [json.loads(w.communicate(timeout=1800)[0]) for w in workers]
            t_work = time.perf_counter() - t0
            worker_sent = sum(r["sent"] for r in reports)
            print(f"populate {t_populate:.2f} queue {t_queue:.2f} work {t_work:.2f}",
                  file=sys.stderr)
            sent = db.session().scalar(select(func.count()).select_from(OutboxMessage).where(
                OutboxMessage.status == OutboxStatus.SENT))

            # baseline: the same number of messages of the same shape, prebuilt, raw smtplib
            settings = smtp_settings()
            source = default_template(campaign_kind(), "vi")
            msgs = []
            for i in range(n):
                ctx = {"name": f"Nguyễn Văn {i}", "campaign": "Khảo sát Chỉ số CCHC 2026",
                       "units": [f"Sở thử nghiệm {(i + k) % 20 + 1}"
                                 for k in range(_forms_of(i, args.forms_per_respondent))],
                       "deadline": "31/12/2026",
                       "link": "https://khaosat.example.vn/s/" + "x" * 22}
                msgs.append(build_message(
                    settings, to_name=ctx["name"], to_address=f"nguoi{i}@example.vn",
                    language="vi", rendered=render(source, ctx),
                    message_id=f"<b{i}@example.gov.vn>"))
        t0 = time.perf_counter()
        with smtplib.SMTP("127.0.0.1", port) as conn:
            for i, raw in enumerate(msgs):
                conn.sendmail("khaosat@example.gov.vn", [f"nguoi{i}@example.vn"], raw)
        t_base = time.perf_counter() - t0
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    received = int(count_file.read_text()) if count_file.exists() else -1
    shutil.rmtree(tmp, ignore_errors=True)
    total = t_queue + t_work
    out = {
        "benchmark": "outbox: queue + deliver email invitations to a local aiosmtpd (SQLite)",
        "mode": "smoke" if args.smoke else "full",
        "messages": n,
        "respondents": n,
        "forms": forms,
        "queued": queued,
        "sent": sent,
        "server_received": received - n,  # minus the baseline's messages
        "workers": args.workers,
        "sent_per_worker": [r["sent"] for r in reports],
        "exactly_once": bool(sent == n and received - n == n and worker_sent == n),
        "seconds": {
            "outbox_total": round(total, 2),
            "queue": round(t_queue, 2),
            "deliver": round(t_work, 2),
            "baseline_smtplib": round(t_base, 2),
            "populate": round(t_populate, 2),
        },
        "messages_per_second": round(n / t_work, 1),
        "ratio_outbox_to_baseline": round(total / t_base, 2),
        "target_seconds": TARGET_SECONDS,
        "within_target": bool(total <= TARGET_SECONDS),
        "python": platform.python_version(),
    }
    print(json.dumps(out, indent=2))


def campaign_kind():  # noqa: ANN201 - tiny helper for the baseline
    from survey.models import MailKind

    return MailKind.INVITATION


if __name__ == "__main__":
    main()
