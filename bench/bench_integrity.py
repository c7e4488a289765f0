"""Benchmark: the full integrity scan (:func:`analysis.integrity.scan`) over a large campaign.

Synthetic campaign from :mod:`analysis.synthetic` (honest forms plus injected fraud),
about ROWS responses.  Times, in one run:

* ``scan``: every response and unit check, flags with evidence, recommendations;
* ``baseline_unit_mean``: a plain numpy pass over the same answer matrix (mean option
  position per rated unit via ``np.bincount``), the floor of any per-unit pass.

Prints one JSON object (only that) to stdout.  ``--smoke`` uses tiny sizes.
Usage: python bench/bench_integrity.py [--smoke] [--units U]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from analysis.integrity import Paradata, scan
from analysis.synthetic import CampaignSpec, confusion, synthetic_campaign

TARGET_SECONDS = 30.0


def baseline(d: Paradata) -> np.ndarray[Any, Any]:
    answered = (d.codes > 0).sum(axis=1)
    y = d.codes.sum(axis=1, dtype=np.float64) / np.maximum(answered, 1)
    return np.bincount(d.unit, y, minlength=int(d.unit.max()) + 1) / np.maximum(np.bincount(d.unit), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, a few seconds")
    parser.add_argument("--units", type=int, default=1_450, help="rated units (~69 forms each: ~100,000 rows)")
    parser.add_argument("--seed", type=int, default=20251)
    args = parser.parse_args()
    units = 20 if args.smoke else args.units
    scale = max(1, units // 40)
    spec = CampaignSpec(units=units, speeders=40 * scale, straight_liners=40 * scale, burst_units=3 * scale,
                        duplicate_units=5 * scale, shared_links=10 * scale, bots=10 * scale,
                        tampered_units=scale)
    t0 = time.perf_counter()
    campaign = synthetic_campaign(np.random.default_rng(args.seed), spec)
    t_gen = time.perf_counter() - t0
    d = campaign.paradata
    t0 = time.perf_counter()
    report = scan(d)
    t_scan = time.perf_counter() - t0
    t0 = time.perf_counter()
    baseline(d)
    t_base = time.perf_counter() - t0
    rows = confusion(campaign, report)
    out = {
        "benchmark": "analysis.integrity.scan, all checks",
        "mode": "smoke" if args.smoke else "full",
        "rows": d.n,
        "units": units,
        "items": int(d.codes.shape[1]),
        "seconds": {
            "scan": round(t_scan, 3),
            "baseline_unit_mean": round(t_base, 4),
            "generate": round(t_gen, 3),
        },
        "ratio_scan_to_baseline": round(t_scan / t_base, 1),
        "target_seconds": TARGET_SECONDS,
        "within_target": bool(t_scan <= TARGET_SECONDS),
        "recommendations": report.counts(),
        "unit_flags": len(report.units),
        "min_recall": round(min(r.recall for r in rows[1:]), 3),
        "honest_excluded_share": round(rows[0].excluded / rows[0].injected, 5),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "numpy": np.__version__},
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
