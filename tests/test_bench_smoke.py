"""The benchmark suite runs and reports (tiny sizes; timings are never asserted)."""

from __future__ import annotations

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
                            "bench_cards", "bench_mail", "bench_quotas", "bench_dashboard"}
    assert results["bench_sampling"]["clean_rows"] > 0
    assert results["bench_dashboard"]["sqlite"]["matrix_cells_on_page"] == 40
    assert "| bench_analysis |" in (tmp_path / "results-smoke.md").read_text()
