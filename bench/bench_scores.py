"""Benchmark ``par-survey scores --format json`` end to end on PostgreSQL, against COPY.

Prints one JSON object. A scratch PostgreSQL database (``--pg-url``; its ``public`` schema is
dropped and rebuilt) gets a campaign of ``--units`` departments, two respondent groups
(division leaders and citizens, each with a 40-item questionnaire; the citizens are raked to a
sex margin and trimmed), a design section with a population per (group, unit) stratum, and
``--responses`` valid responses written with COPY, then vacuumed. Then, in the same run:

- ``baseline_copy_s``: ``COPY (SELECT <the columns the scores read> FROM responses JOIN units
  JOIN respondent_groups WHERE <the scores' filter>) TO STDOUT``, every byte read by the client:
  the floor for reading the same rows;
- ``scores_s``: the median of ``--runs`` runs (5) of
  ``par-survey scores --campaign BENCH --format json --out F`` as a subprocess
  (interpreter and app start, the read, the design with raking, every sub-criterion, item,
  unit total and SE, suppression, the JSON written), with its peak resident memory; the
  packages are compiled to bytecode first, as installing them leaves them.

The baseline is measured before the first run and after each; ``ratio_to_copy`` is the median
of each run over the smaller baseline beside it (every run's figures are in ``runs``).

Targets (issue 17): scores_s <= 10 s on 2 cores, <= 3 x baseline_copy_s, peak memory < 2 GB.

Usage::

    .venv/bin/python bench/bench_scores.py            # 1,000,000 responses, 2,000 units
    .venv/bin/python bench/bench_scores.py --smoke    # tiny (the test suite runs this)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("PAR_SURVEY_SECRET_KEY", "bench-secret-key-not-for-production")

import numpy as np  # noqa: E402

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test_i17_bench"
ITEMS = 40


def questionnaire_yaml(qid: str, group: str) -> str:
    """A 40-item questionnaire (options A-D scored, E don't know), one sub-criterion per item."""
    lines = [f"id: {qid}", "version: 1", f"group: {group}", "illustrative: true", "languages: [vi, en]",
             "title: {vi: Phiếu thử, en: Bench form}", "rates: {unit_level: department, layout: per_unit}",
             "option_sets:", "  agree5:",
             "    - {code: A, score: 1.0, label: {vi: Hoàn toàn đồng ý, en: Fully agree}}",
             "    - {code: B, score: 0.6, label: {vi: Đồng ý, en: Agree}}",
             "    - {code: C, score: 0.2, label: {vi: Đồng ý một phần, en: Partly agree}}",
             "    - {code: D, score: 0.0, label: {vi: Không đồng ý, en: Disagree}}",
             "    - {code: E, dont_know: true, label: {vi: Không biết, en: Don't know}}",
             "sections:", "  - id: main", "    title: {vi: Câu hỏi, en: Questions}", "    questions:"]
    if group == "citizen":
        lines += ["      - id: sex", "        type: single", "        required: true",
                  "        text: {vi: Giới tính, en: Sex}",
                  "        options: [{code: male, label: {vi: Nam, en: Male}}, "
                  "{code: female, label: {vi: Nữ, en: Female}}]"]
    for k in range(ITEMS):
        lines += [f"      - id: q{k + 1:02d}", "        type: likert", "        required: true",
                  f'        subcriterion: "{k // 5 + 1}.{k % 5 + 1}"',
                  f"        text: {{vi: Câu {k + 1}, en: Item {k + 1}}}", "        options: agree5"]
    return "\n".join(lines) + "\n"


def campaign_yaml(units: int) -> str:
    unit_rows = "\n".join(f'  - {{code: S{u:04d}, level: department, parent: "84", '
                          f'name: {{vi: Sở {u}, en: Dept {u}}}}}' for u in range(1, units + 1))
    return f"""version: 1
code: BENCH
name: {{vi: Thử tốc độ, en: Bench}}
province: "84"
year: 2026
opens_at: 2020-01-01
closes_at: 2099-12-31
levels:
  - {{code: province, name: {{vi: Tỉnh, en: Province}}}}
  - {{code: department, name: {{vi: Sở, en: Department}}, parent: province}}
units:
  - {{code: "84", level: province, name: {{vi: Tỉnh, en: Province}}}}
{unit_rows}
groups:
  - {{code: leader, name: {{vi: Lãnh đạo, en: Leaders}}, kind: department_division_leader,
     unit_level: department, questionnaires: [dept-division-rates-own-department]}}
  - {{code: citizen, name: {{vi: Người dân, en: Citizens}}, kind: citizen,
     unit_level: department, questionnaires: [citizen-sipas]}}
quotas:
  - {{group: leader, questionnaire: dept-division-rates-own-department, count: 1, per: department}}
  - {{group: citizen, questionnaire: citizen-sipas, count: 1, per: department}}
design:
  strata: [group, rated_unit]
  population: population.csv
  lonely_psu: adjust
  weighting:
    citizen:
      rake: {{margins: margins.csv, max_iter: 50}}
      trim: {{lower: 0.3, upper: 3.0}}
"""


def build(url: str, responses: int, units: int, tmp: Path) -> tuple[int, float]:
    """The campaign and its responses (written with COPY); its id and the seconds it took."""
    from sqlalchemy import delete, select

    from questionnaires import parse_questionnaire
    from scratch_db import fresh_database
    from survey import create_app, db
    from survey.models import Campaign, RespondentGroup, Unit
    from survey.models.quota import QuotaCell
    from survey.services.campaigns import create_campaign_from_config
    from survey.services.questionnaires import publish_questionnaire

    start = time.perf_counter()
    fresh_database(url)
    per_stratum = responses // (2 * units)
    (tmp / "population.csv").write_text(
        "group,rated_unit,N\n" + "".join(f"{g},S{u:04d},{per_stratum * m}\n"
                                        for u in range(1, units + 1) for g, m in (("leader", 2), ("citizen", 40))),
        encoding="utf-8")
    (tmp / "margins.csv").write_text("variable,level,N\nsex,male,49\nsex,female,51\n", encoding="utf-8")
    (tmp / "bench.yaml").write_text(campaign_yaml(units), encoding="utf-8")
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SERVER_NAME": "survey.test"})
    with app.app_context():
        campaign = create_campaign_from_config(tmp / "bench.yaml")
        s = db.session()
        versions = {}
        for qid, group in (("bench-leader", "leader"), ("bench-citizen", "citizen")):
            v = publish_questionnaire(parse_questionnaire(questionnaire_yaml(qid, group)))
            versions[group] = (v.id, v.content_hash)
        # The quota cells name the built-in forms the groups are listed with; the bench answers
        # its own 40-item forms, so the built-ins' items must not enter the default scoring.
        s.execute(delete(QuotaCell).where(QuotaCell.campaign_id == campaign.id))
        s.commit()
        groups = dict(s.execute(select(RespondentGroup.code, RespondentGroup.id)
                                .where(RespondentGroup.campaign_id == campaign.id)).all())
        unit_ids = [uid for (uid,) in s.execute(select(Unit.id).where(Unit.campaign_id == campaign.id,
                                                                        Unit.level == "department")
                                                 .order_by(Unit.code))]
        campaign_id = s.scalar(select(Campaign.id).where(Campaign.code == "BENCH"))
    rng = np.random.default_rng(17)
    # option positions 1..5: mostly A-D, some E (don't know)
    codes = rng.choice(np.arange(1, 6, dtype=np.uint8), size=(responses, ITEMS), p=[0.3, 0.3, 0.2, 0.12, 0.08])
    import psycopg
    from sqlalchemy.engine import make_url

    raw = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(raw) as conn, conn.cursor() as cur:
        cols = ("campaign_id, questionnaire_version_id, content_hash, group_id, rated_unit_id, mode, status, "
                "submitted_on, response_key, answers, item_codes")
        with cur.copy(f"COPY responses ({cols}) FROM STDIN") as copy:
            for i in range(responses):
                g = "leader" if i % 2 == 0 else "citizen"
                unit = unit_ids[(i // 2) % units]
                vid, chash = versions[g]
                answers = '{"sex": "%s"}' % ("male" if i % 5 < 2 else "female") if g == "citizen" else "{}"
                copy.write_row((campaign_id, vid, chash, groups[g], unit, "web", "valid", "2026-11-01",
                                f"{i:064d}", answers, codes[i].tobytes()))
    # The table as scoring finds it after fieldwork: vacuumed and written out. Right after a
    # million-row load, the first scans write every page's visibility hints, autovacuum starts
    # on the table and the checkpointer writes the load, all on the same two cores as the
    # measurement (a run then took 40 % longer, the client too).
    with psycopg.connect(raw, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) responses")
        try:
            conn.execute("CHECKPOINT")
        except psycopg.errors.InsufficientPrivilege:  # a role without pg_checkpoint: the writer catches up alone
            pass
    return campaign_id, time.perf_counter() - start


def existing(url: str, responses: int) -> int | None:
    """The BENCH campaign's id when the database already holds it with ``responses`` rows."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            row = conn.execute(text("SELECT c.id, count(r.id) FROM campaigns c JOIN responses r "
                                    "ON r.campaign_id = c.id WHERE c.code = 'BENCH' GROUP BY c.id")).first()
    except Exception:  # no schema yet
        return None
    finally:
        engine.dispose()
    return int(row[0]) if row is not None and int(row[1]) == responses else None


def baseline_copy(url: str, campaign_id: int) -> tuple[float, int]:
    """COPY the rows the scores read to the client; seconds and bytes."""
    import psycopg
    from sqlalchemy.engine import make_url

    raw = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    query = (f"COPY (SELECT r.id, u.code, u.level, g.code, r.questionnaire_version_id, r.item_codes, "
             f"r.submitted_on, r.answers ->> 'sex' FROM responses r JOIN units u ON u.id = r.rated_unit_id "
             f"JOIN respondent_groups g ON g.id = r.group_id WHERE r.campaign_id = {campaign_id} "
             f"AND r.status = 'valid' AND r.mode <> 'public' ORDER BY r.id) TO STDOUT")
    with psycopg.connect(raw) as conn, conn.cursor() as cur:
        start = time.perf_counter()
        size = 0
        with cur.copy(query) as copy:
            for block in copy:
                size += len(block)
        return time.perf_counter() - start, size


def compile_packages() -> None:
    """The project's modules compiled to bytecode, as installing the package leaves them (pip
    compiles what it installs): the run then measures the command, not a checkout's Python
    compiling some 130 modules from source at every start (where ``PYTHONDONTWRITEBYTECODE``
    is set, as on this machine, nothing else would keep them)."""
    import compileall

    for package in ("survey", "analysis", "questionnaires", "sampling"):
        compileall.compile_dir(str(ROOT / package), quiet=1)


def run_scores(url: str, out: Path) -> tuple[float, float, float]:
    """``par-survey scores`` as a subprocess: wall seconds, CPU seconds and peak RSS (MiB)."""
    compile_packages()
    env = dict(os.environ, PAR_SURVEY_DATABASE_URL=url)
    exe = Path(sys.executable).with_name("par-survey")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "survey.cli"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    run = subprocess.run([*cmd, "scores", "--campaign", "BENCH", "--format", "json", "--out", str(out)],
                         env=env, capture_output=True, text=True)
    if run.returncode != 0:
        raise SystemExit(f"par-survey scores failed:\n{run.stderr[-4000:]}")
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return elapsed, cpu, after.ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes (CI)")
    parser.add_argument("--responses", type=int, default=1_000_000)
    parser.add_argument("--units", type=int, default=2_000)
    parser.add_argument("--runs", type=int, default=None,
                        help="runs of the command, each beside a baseline (default 5; 1 with --smoke)")
    parser.add_argument("--reuse", action="store_true",
                        help="keep the database of the previous run of the same size (no build)")
    parser.add_argument("--pg-url", help="scratch database (default PAR_SURVEY_BENCH_SCORES_DATABASE_URL or "
                                         f"{PG_URL}; with --smoke, that name + _smoke, so the test suite's smoke "
                                         "run never wipes the million rows a --reuse run keeps)")
    args = parser.parse_args()
    if args.pg_url is None:
        args.pg_url = os.environ.get("PAR_SURVEY_BENCH_SCORES_DATABASE_URL", PG_URL) + ("_smoke" if args.smoke else "")
    responses, units = (4_000, 20) if args.smoke else (args.responses, args.units)
    if args.runs is None:
        args.runs = 1 if args.smoke else 5
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        campaign_id = existing(args.pg_url, responses) if args.reuse else None
        build_s = 0.0
        if campaign_id is None:
            campaign_id, build_s = build(args.pg_url, responses, units, tmp)
        # Runs alternate with the baseline (before the first, then after each): this VM's speed
        # drifts by a third within minutes, so each run is set against the baselines beside it,
        # and the medians are reported with every run.
        copies = [baseline_copy(args.pg_url, campaign_id)]
        out = tmp / "scores.json"
        runs: list[tuple[float, float, float]] = []
        for _ in range(args.runs):
            runs.append(run_scores(args.pg_url, out))
            copies.append(baseline_copy(args.pg_url, campaign_id))
        copy_bytes = copies[0][1]
        doc = json.loads(out.read_text(encoding="utf-8"))
        ratios = [run[0] / min(copies[k][0], copies[k + 1][0]) for k, run in enumerate(runs)]
        scores_s, scores_cpu_s = statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)
        peak_mib = max(r[2] for r in runs)
        result: dict[str, Any] = {
            "benchmark": "par-survey scores --format json, PostgreSQL",
            "mode": "smoke" if args.smoke else "full",
            "responses": responses, "items": ITEMS, "units": units, "strata": 2 * units,
            "build_s": round(build_s, 2),
            "baseline_copy_s": round(statistics.median(c[0] for c in copies), 3), "baseline_copy_bytes": copy_bytes,
            "scores_s": round(scores_s, 3),
            "scores_cpu_s": round(scores_cpu_s, 3),
            "load_average_1min": round(os.getloadavg()[0], 2),
            "ratio_to_copy": round(statistics.median(ratios), 2),
            "runs": {"scores_s": [round(r[0], 3) for r in runs], "baseline_copy_s": [round(c[0], 3) for c in copies],
                     "ratio_to_copy": [round(x, 2) for x in ratios]},
            "peak_rss_mib": round(peak_mib, 1),
            "json_bytes": out.stat().st_size,
            "rows": {k: len(v) for k, v in doc.items()},
            "raking": next((m["value"] for m in doc["methods"] if m["section"] == "weighting"), None),
            "targets": {"scores_s": 10.0, "ratio_to_copy": 3.0, "peak_rss_mib": 2048},
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        }
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
