"""Benchmark the contractor's progress page (``/manage/c/<code>/``) for a big campaign.

Prints one JSON object. A campaign of ``--groups`` respondent groups × ``--units`` rated
departments, one quota cell per (group, unit): 2,000 cells by default, with ``--respondents``
respondents (100,000), one web form each rating one unit, 40 % submitted (written with bulk
inserts, then assigned to cells and counted as an import does). An admin (who sees everything:
the matrix, the behind-schedule list with contacts, the daily chart) requests the page through
the Flask test client; the best of ``--repeat`` requests is kept, with the page's size.

In-run baseline: the same numbers (quota state read by
:func:`survey.services.quotas.quota_state`, unit and group names) rendered as a bare HTML
table (one row per cell: unit, group, completed, target) by a one-line Jinja template, in the
same process and database. Targets: page under 300 KB, server render under 300 ms.

Usage::

    .venv/bin/python bench/bench_dashboard.py            # 2,000 cells, 100,000 respondents
    .venv/bin/python bench/bench_dashboard.py --smoke    # tiny, a few seconds
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import random
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("PAR_SURVEY_SECRET_KEY", "bench-secret-key-not-for-production")

import yaml  # noqa: E402
from sqlalchemy import insert, select, text  # noqa: E402

PASSWORD = "bench-password-2026"
CHUNK = 10_000
BARE = ("<table>{% for c in cells %}<tr><td>{{ units[c.rated_unit] }}</td><td>"
        "{{ groups[c.group] }}</td><td>{{ c.completed }}</td><td>{{ c.target }}</td></tr>"
        "{% endfor %}</table>")


def campaign_yaml(groups: int, units: int) -> str:
    """A campaign whose ``groups`` groups each rate every one of ``units`` departments."""
    data = {
        "version": 1, "code": "BENCH-DASH", "name": {"vi": "Đo bảng tiến độ", "en": "Bench"},
        "province": "84", "year": 2026, "opens_at": "2026-10-01", "closes_at": "2026-12-31",
        "levels": [{"code": "province", "name": {"vi": "Tỉnh", "en": "Province"}},
                   {"code": "department", "name": {"vi": "Sở", "en": "Department"},
                    "parent": "province"}],
        "units": [{"code": "P", "level": "province", "name": {"vi": "Tỉnh", "en": "Province"}}]
        + [{"code": f"S{i:04d}", "level": "department", "parent": "P",
            "name": {"vi": f"Sở số {i} tỉnh đo", "en": f"Department number {i}"}}
           for i in range(units)],
        "groups": [{"code": f"g{k}", "name": {"vi": f"Nhóm người dân {k}",
                                              "en": f"Citizen group {k}"},
                    "kind": "citizen", "questionnaires": ["citizen-sipas"]}
                   for k in range(groups)],
        "quotas": [{"group": f"g{k}", "questionnaire": "citizen-sipas", "count": 50,
                    "per": "department"} for k in range(groups)],
    }
    return yaml.safe_dump(data, allow_unicode=True)


def build(groups: int, units: int, respondents: int, tmp: Path) -> int:
    from survey import db
    from survey.models import (
        Assignment,
        Form,
        FormStatus,
        Mode,
        Respondent,
        RespondentGroup,
        Response,
        Role,
        Unit,
        utcnow,
    )
    from survey.models.quota import QuotaCell
    from survey.services.campaigns import create_campaign_from_config
    from survey.services.quotas import refresh_quota_counts
    from survey.services.staff import create_staff_user

    path = tmp / "bench-dash.yaml"
    path.write_text(campaign_yaml(groups, units), encoding="utf-8")
    campaign = create_campaign_from_config(path)
    s = db.session()
    unit_ids = sorted(s.scalars(select(Unit.id).where(Unit.campaign_id == campaign.id,
                                                      Unit.level == "department")))
    group_ids = sorted(s.scalars(select(RespondentGroup.id).filter_by(campaign_id=campaign.id)))
    qv = s.scalar(select(QuotaCell.questionnaire_version_id).filter_by(campaign_id=campaign.id)
                  .limit(1))
    rng = random.Random(2026)
    now = utcnow()
    people, forms, assignments, responses = [], [], [], []
    statuses = [FormStatus.PENDING] * 4 + [FormStatus.STARTED] * 2 + [FormStatus.SUBMITTED] * 4
    for i in range(1, respondents + 1):
        group = group_ids[i % len(group_ids)]
        rated = unit_ids[rng.randrange(len(unit_ids))]
        status = statuses[rng.randrange(len(statuses))]
        people.append({"id": i, "campaign_id": campaign.id, "group_id": group,
                       "unit_id": rated, "external_id": f"R{i:06d}", "full_name": f"Người {i}",
                       "email": f"r{i}@example.vn", "created_at": now})
        day = now - dt.timedelta(days=rng.randrange(30))
        forms.append({"id": i, "campaign_id": campaign.id, "respondent_id": i,
                      "group_id": group, "questionnaire_version_id": qv, "mode": Mode.WEB,
                      "status": status, "created_at": now,
                      "submitted_at": day if status is FormStatus.SUBMITTED else None})
        assignments.append({"id": i, "form_id": i, "rated_unit_id": rated})
        if status is FormStatus.SUBMITTED:
            responses.append({"campaign_id": campaign.id, "questionnaire_version_id": qv,
                              "content_hash": "0" * 64, "group_id": group,
                              "rated_unit_id": rated, "mode": Mode.WEB,
                              "submitted_on": day.date(), "response_key": f"{i:064d}",
                              "answers": {}, "item_codes": b""})
    with db.write_transaction() as w:
        for model, rows in ((Respondent, people), (Form, forms), (Assignment, assignments),
                            (Response, responses)):
            for k in range(0, len(rows), CHUNK):
                w.execute(insert(model), rows[k:k + CHUNK])
    refresh_quota_counts(campaign.id)
    create_staff_user("bench-admin@example.vn", "Bench", PASSWORD, Role.ADMIN, ["84"])
    with db.engine().begin() as conn:
        conn.execute(text("ANALYZE"))
    return campaign.id


def bench(url: str, groups: int, units: int, respondents: int, repeat: int) -> dict[str, Any]:
    from flask import render_template_string

    from survey import create_app, db
    from survey.models import RespondentGroup, Unit
    from survey.services.quotas import quota_state

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SERVER_NAME": "survey.test"})
    out: dict[str, Any] = {"groups": groups, "units": units, "cells": groups * units,
                           "respondents": respondents}
    try:
        with tempfile.TemporaryDirectory() as tmp, app.app_context():
            start = time.perf_counter()
            campaign_id = build(groups, units, respondents, Path(tmp))
            out["build_s"] = time.perf_counter() - start
            db.session().close()
        client = app.test_client()
        page = client.get("/manage/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        assert client.post("/manage/login", data={"email": "bench-admin@example.vn",
                                                  "password": PASSWORD,
                                                  "csrf_token": token}).status_code == 302
        best, body = math.inf, b""
        for _ in range(repeat):
            start = time.perf_counter()
            r = client.get("/manage/c/BENCH-DASH/")
            best = min(best, time.perf_counter() - start)
            assert r.status_code == 200
            body = r.data
        out["page_ms"] = best * 1000
        out["page_kb"] = len(body) / 1024
        out["matrix_cells_on_page"] = body.count(b'<td class="h')
        base, bare = math.inf, ""
        with app.test_request_context("/manage/"):
            for _ in range(repeat):
                start = time.perf_counter()
                state = quota_state(campaign_id)
                s = db.session()
                names = dict(s.execute(select(Unit.code, Unit.name_vi)
                                       .where(Unit.campaign_id == campaign_id)).all())
                gnames = dict(s.execute(select(RespondentGroup.code, RespondentGroup.name_vi)
                                        .where(RespondentGroup.campaign_id == campaign_id)).all())
                bare = render_template_string(BARE, cells=state.cells, units=names,
                                              groups=gnames)
                base = min(base, time.perf_counter() - start)
                db.session().close()
        out["baseline_bare_table_ms"] = base * 1000
        out["baseline_bare_table_kb"] = len(bare.encode()) / 1024
        out["page_vs_baseline_time"] = round(best / base, 2)
        out["page_vs_baseline_size"] = round(len(body) / max(1, len(bare.encode())), 2)
        assert out["matrix_cells_on_page"] == groups * units
    finally:
        app.extensions["db_engine"].dispose()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes (CI)")
    parser.add_argument("--groups", type=int, default=4)
    parser.add_argument("--units", type=int, default=500)
    parser.add_argument("--respondents", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--pg-url", default=os.environ.get("PAR_SURVEY_BENCH_DATABASE_URL", ""))
    args = parser.parse_args()
    groups, units, respondents, repeat = ((2, 20, 1_000, 2) if args.smoke else
                                          (args.groups, args.units, args.respondents,
                                           args.repeat))
    from scratch_db import fresh_database

    out: dict[str, Any] = {"python": platform.python_version(), "target_page_ms": 300.0,
                           "target_page_kb": 300.0}
    with tempfile.TemporaryDirectory() as tmp:
        url = args.pg_url if args.backend == "postgresql" else f"sqlite:///{Path(tmp) / 'b.db'}"
        if not url:
            parser.error("--backend postgresql needs --pg-url (a scratch database)")
        fresh_database(url)
        out[args.backend] = bench(url, groups, units, respondents, repeat)
    for section in out.values():
        if isinstance(section, dict):
            for k, v in section.items():
                if isinstance(v, float):
                    section[k] = round(v, 2)
    print(json.dumps(out, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
