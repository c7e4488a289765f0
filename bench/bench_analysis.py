"""Benchmark: design-based means + SEs by rated unit for many items.

Synthetic PAR survey: ROWS responses x ITEMS items over UNITS rated units,
strata = unit x respondent group with fpc, base weights N/n, 7 % "don't know".
Times, in one run:

* ``means_by_unit``: ``analysis.mean(design, item, by="unit")`` for every item
  (estimate, Taylor SE, CI per unit);
* ``baseline_bincount``: an unweighted ``np.bincount`` mean per unit for every
  item over the same arrays, the floor any grouped mean costs here;
* ``rake`` and ``raked_means_by_unit``: the same after raking to sex and age
  margins (the calibration path of the variance);
* with R available and not ``--smoke``: R ``svyby(svymean)`` and ours on a slice
  (bench/r_svyby.R), with the largest relative difference of estimates and SEs.

Prints one JSON object.  ``--smoke`` uses tiny sizes (for ``make test``).
Usage: python bench/bench_analysis.py [--smoke] [--rows N --items K --units U]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from analysis import Estimate, SurveyDesign, mean, rake

TARGET_SECONDS = 10.0


def make_data(rows: int, items: int, units: int, seed: int = 20241) -> dict[str, np.ndarray[Any, Any]]:
    rng = np.random.default_rng(seed)
    unit = rng.integers(0, units, rows)
    group = (rng.random(rows) < 0.7).astype(np.int64)  # 1 = citizen, 0 = leader
    stratum = unit * 2 + group
    n_h = np.bincount(stratum, minlength=2 * units)
    big_n = np.ceil(n_h * rng.uniform(1.5, 40, n_h.size))
    data: dict[str, np.ndarray[Any, Any]] = {
        "unit": unit,
        "stratum": stratum,
        "N": big_n[stratum],
        "w": (big_n / np.maximum(n_h, 1))[stratum],
        "sex": np.where(rng.random(rows) < 0.5, "F", "M"),
        "age": np.array(["18-34", "35-54", "55+"])[rng.choice(3, rows, p=[0.45, 0.4, 0.15])],
    }
    quality = rng.normal(0, 0.6, units)[unit]
    for k in range(items):
        q = np.clip(np.rint(3.4 + quality + rng.normal(0, 1, rows)), 1, 5)
        data[f"q{k}"] = np.where(rng.random(rows) < 0.07, np.nan, (q - 1) / 4)
    return data


def timed(fn: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def baseline(data: dict[str, np.ndarray[Any, Any]], items: int, units: int) -> list[np.ndarray[Any, Any]]:
    out = []
    for k in range(items):
        y = data[f"q{k}"]
        ok = ~np.isnan(y)
        out.append(
            np.bincount(data["unit"][ok], y[ok], units) / np.bincount(data["unit"][ok], minlength=units)
        )
    return out


def r_comparison(data: dict[str, np.ndarray[Any, Any]], units_in_slice: int) -> dict[str, Any] | None:
    rscript = shutil.which("Rscript")
    if rscript is None:
        return {"skipped": "Rscript not found"}
    keep = data["unit"] < units_in_slice
    sl = {k: v[keep] for k, v in data.items() if k in ("unit", "stratum", "N", "w", "q0")}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "slice.csv"
        with open(path, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(list(sl))
            writer.writerows(
                zip(
                    *(
                        np.where(np.isnan(v), "NA", v.astype(str)) if v.dtype.kind == "f" else v
                        for v in sl.values()
                    ),
                    strict=True,
                )
            )
        out = Path(tmp) / "r.csv"
        done = subprocess.run(
            [rscript, str(Path(__file__).with_name("r_svyby.R")), str(path), str(out)],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if done.returncode != 0:
            return {"skipped": f"R failed: {done.stderr.strip()[-300:]}"}
        r_seconds = float(done.stdout.strip().splitlines()[-1])
        with open(out, newline="") as f:
            r_rows = {row["unit"]: row for row in csv.DictReader(f)}
    design = SurveyDesign(sl, weights="w", strata="stratum", fpc="N")
    ours_seconds, ours = timed(lambda: mean(design, "q0", by="unit"))
    assert isinstance(ours, dict)
    worst = 0.0
    for unit, est in ours.items():
        r = r_rows[str(unit)]
        assert isinstance(est, Estimate)
        worst = max(worst, abs(est.value / float(r["estimate"]) - 1), abs(est.se / float(r["se"]) - 1))
    return {
        "rows": int(keep.sum()),
        "units": units_in_slice,
        "items": 1,
        "r_svyby_seconds": round(r_seconds, 3),
        "ours_seconds": round(ours_seconds, 4),
        "speedup": round(r_seconds / ours_seconds, 1),
        "max_relative_difference": worst,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, a few seconds")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--items", type=int, default=40)
    parser.add_argument("--units", type=int, default=2_000)
    parser.add_argument("--r-units", type=int, default=100, help="units in the R slice")
    args = parser.parse_args()
    if args.smoke:
        args.rows, args.items, args.units = 5_000, 4, 50
    data = make_data(args.rows, args.items, args.units)
    items = [f"q{k}" for k in range(args.items)]

    t_design, design = timed(lambda: SurveyDesign(data, weights="w", strata="stratum", fpc="N"))
    t_means, results = timed(lambda: [mean(design, q, by="unit") for q in items])
    t_base, base = timed(lambda: baseline(data, args.items, args.units))
    # The weighted estimate is not the unweighted one, but the unit list must agree.
    assert all(isinstance(r, dict) and len(r) == args.units for r in results) and len(base) == args.items
    pop = float(design.weights.sum())
    margins = {
        "sex": {"F": 0.52 * pop, "M": 0.48 * pop},
        "age": {"18-34": 0.38 * pop, "35-54": 0.42 * pop, "55+": 0.20 * pop},
    }
    t_rake, raked = timed(lambda: rake(design, margins))
    report = raked.rake_report
    t_raked, _ = timed(lambda: [mean(raked, q, by="unit") for q in items])

    out: dict[str, Any] = {
        "benchmark": "analysis.mean by unit, all items",
        "mode": "smoke" if args.smoke else "full",
        "rows": args.rows,
        "items": args.items,
        "units": args.units,
        "strata": int(np.unique(data["stratum"]).size),
        "seconds": {
            "design": round(t_design, 3),
            "means_by_unit": round(t_means, 3),
            "baseline_bincount": round(t_base, 3),
            "rake": round(t_rake, 3),
            "raked_means_by_unit": round(t_raked, 3),
        },
        "ratio_means_to_baseline": round(t_means / t_base, 1),
        "target_seconds": TARGET_SECONDS,
        "within_target": bool(t_design + t_means <= TARGET_SECONDS),
        "rake_iterations": report.iterations if report else None,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "numpy": np.__version__},
    }
    if not args.smoke:
        out["r_comparison"] = r_comparison(data, args.r_units)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
