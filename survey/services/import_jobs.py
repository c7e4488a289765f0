"""Respondent-list imports as jobs: posted through the API, run by a worker, polled by anyone.

Where a job runs: by default in a background thread of the web worker that accepted it, started
once the job's row is committed (:func:`survey.db.after_commit`; a list of a few thousand rows
imports in seconds, so no queue service is worth deploying for it). Everything a poll shows
(stage, progress, the row report) is in the ``import_jobs`` row, so any web worker answers the
poll. A job whose thread died with its process (claim older than ``IMPORT_JOB_LEASE_SECONDS``) is taken again by
``par-survey respondents work-imports`` or the next job's thread: running an import twice is
safe, because an import is all or nothing and a list imported again leaves its rows unchanged.
A runner commits each step in :func:`survey.db.own_transaction` (a named exception to the one
unit of work per request or command): the claim, the stages a poll shows, the import, the result.
Set ``API_IMPORT_THREADS = False`` to leave every job to the worker command.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import secrets
import tempfile
import threading
from pathlib import Path
from typing import Any

from flask import Flask, current_app
from sqlalchemy import or_, select, update

from questionnaires.problems import Problem, ProblemError
from survey.i18n import translator
from survey import db
from survey.models import Campaign, ImportJob, JobStatus, utcnow
from survey.services.audit import record_audit
from survey.services.respondents import ListRejected, import_respondents

log = logging.getLogger(__name__)
SUFFIXES = (".csv", ".xlsx")


class JobRefused(ProblemError, ValueError):
    """A file the import cannot take (wrong kind, empty)."""


def submit_import_job(campaign: Campaign, filename: str, data: bytes,
                      user_id: int | None) -> ImportJob:
    """Store the posted list as a queued job, in the caller's unit of work; the caller starts
    a runner once it is committed (:func:`survey.db.after_commit`)."""
    name = Path(filename or "").name or "list.csv"
    if Path(name).suffix.lower() not in SUFFIXES:
        raise JobRefused("LIST-FILE-TYPE", name=name)
    if not data:
        raise JobRefused("LIST-FILE-EMPTY", name=name)
    with db.write_transaction() as s:
        job = ImportJob(public_id=secrets.token_hex(12), campaign_id=campaign.id,
                        user_id=user_id, filename=name, data=data, status=JobStatus.QUEUED,
                        stage="queued", progress=0)
        s.add(job)
        s.flush()
        record_audit("api.import_job.submit", actor_id=user_id,
                     province_code=campaign.province_code, object_type="import_job",
                     object_id=job.public_id, detail={"file": name, "bytes": len(data)})
    return job


def find_import_job(campaign: Campaign, public_id: str) -> ImportJob | None:
    return db.session().scalar(select(ImportJob).where(
        ImportJob.campaign_id == campaign.id, ImportJob.public_id == public_id))


def job_dict(job: ImportJob) -> dict[str, Any]:
    """What a poll shows (never the file)."""
    return {"id": job.public_id, "file": job.filename, "status": job.status.value,
            "stage": job.stage, "progress": job.progress, "report": job.report,
            "created_at": job.created_at.isoformat(),
            "finished_at": job.finished_at.isoformat() if job.finished_at else None}


def _stage(job_id: int, stage: str, progress: int) -> None:
    with db.own_transaction() as s:  # a poll sees the stage at once
        s.execute(update(ImportJob).where(ImportJob.id == job_id)
                  .values(stage=stage, progress=progress))


def _claim(public_id: str | None) -> ImportJob | None:
    """Take one queued job (or one whose runner's lease ran out): a conditional update, so of
    two runners only one gets it."""
    now = utcnow()
    stale = now - dt.timedelta(seconds=float(
        current_app.config.get("IMPORT_JOB_LEASE_SECONDS", 600)))
    takeable = or_(ImportJob.status == JobStatus.QUEUED,
                   (ImportJob.status == JobStatus.RUNNING) & (ImportJob.claimed_at < stale))
    s = db.session()
    stmt = select(ImportJob.id).where(takeable).order_by(ImportJob.id).limit(1)
    if public_id is not None:
        stmt = stmt.where(ImportJob.public_id == public_id)
    job_id = s.scalar(stmt)
    if job_id is None:
        return None
    with db.own_transaction() as w:  # the claim is seen by every other runner at once
        taken = w.execute(update(ImportJob).where(ImportJob.id == job_id, takeable).values(
            status=JobStatus.RUNNING, claimed_at=now, stage="reading",
            progress=10)).rowcount  # type: ignore[attr-defined]
    if not taken:
        return None
    return s.get(ImportJob, job_id, populate_existing=True)


def run_import_job(public_id: str | None = None) -> ImportJob | None:
    """Run one job (``public_id``, or the oldest takeable); return it finished, or None."""
    job = _claim(public_id)
    if job is None:
        return None
    campaign = db.session().get(Campaign, job.campaign_id)
    assert campaign is not None and job.data is not None
    report: dict[str, Any]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / job.filename
        path.write_bytes(job.data)
        _stage(job.id, "importing", 50)
        try:
            with db.own_transaction():  # all rows or none, committed before the job is done
                result = import_respondents(campaign.code, path)
        except ListRejected as exc:
            status = JobStatus.FAILED
            vi, en = translator("vi"), translator("en")  # the stored report reads in both
            report = {"error_count": exc.error_count, "imported": False, "errors": [
                {"code": e.code, "row": e.row, "column": e.column or None,
                 "message": {"vi": e.render(vi), "en": e.render(en)}}
                for e in exc.errors]}
        except Exception:  # never retried by itself: a person reads the log
            log.exception("import job %s failed", job.public_id)
            status = JobStatus.FAILED
            failed = Problem("LIST-IMPORT-FAILED")
            report = {"imported": False, "error_count": 0, "errors": [
                {"code": failed.code, "row": None, "column": None, "message": {
                    "vi": failed.message(translator("vi")), "en": failed.message()}}]}
        else:
            status = JobStatus.DONE
            report = {"imported": True, **{k: v for k, v in dataclasses.asdict(result).items()
                                           if k not in ("file", "merges")},
                      "merges": len(result.merges)}
    with db.own_transaction() as s:
        s.execute(update(ImportJob).where(ImportJob.id == job.id).values(
            status=status, stage=status.value, progress=100, report=report, data=None,
            finished_at=utcnow()))
        record_audit("respondents.import", actor_id=job.user_id,
                     province_code=campaign.province_code, object_type="import_job",
                     object_id=job.public_id, detail={"status": status.value,
                                                      "file": job.filename})
    return db.session().get(ImportJob, job.id, populate_existing=True)


def work_import_jobs() -> int:
    """Run every takeable job; return how many ran (the worker command)."""
    n = 0
    while run_import_job() is not None:
        n += 1
    return n


def start_import_thread(app: Flask, public_id: str) -> threading.Thread | None:
    """Run the job in a thread of this process, in its own app context (and session)."""
    if not app.config.get("API_IMPORT_THREADS", True):
        return None

    def run() -> None:
        with app.app_context():
            run_import_job(public_id)

    thread = threading.Thread(target=run, name=f"import-{public_id}", daemon=True)
    thread.start()
    return thread
