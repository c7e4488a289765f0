"""The benchmark suite runs and reports (tiny sizes; timings are never asserted)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_benchmark_runs_and_reports(tmp_path):
    subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--smoke", "--out",
                    str(tmp_path)], check=True, capture_output=True, timeout=300)
    results = json.loads((tmp_path / "results-smoke.json").read_text())
    assert set(results) == {"bench_analysis", "bench_sampling", "bench_integrity", "bench_forms",
                            "bench_cards", "bench_mail", "bench_quotas", "bench_scores", "bench_api",
                            "bench_dashboard"}
    assert results["bench_scores"]["rows"]["units"] > 0
    assert results["bench_sampling"]["clean_rows"] > 0
    assert results["bench_api"]["webhooks"]["exactly_once"]
    assert results["bench_dashboard"]["sqlite"]["matrix_cells_on_page"] == 40
    assert "| bench_analysis |" in (tmp_path / "results-smoke.md").read_text()


def _bench_run_module():
    spec = importlib.util.spec_from_file_location("bench_run", ROOT / "bench" / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_results_carry_no_machine_path():
    run = _bench_run_module()
    assert run.machine_paths({"python": "/srv/x/.venv/bin/python", "db": "postgresql+psycopg"}) == ["python"]
    for name in ("results.json", "results-chaos.json", "results-pg-restart.json"):
        path = ROOT / "bench" / name
        assert run.machine_paths(json.loads(path.read_text())) == [], name
    table = (ROOT / "bench" / "results.md").read_text()
    assert not [line for line in table.splitlines() if run.MACHINE_PATH.search(line.split("|")[3])]
