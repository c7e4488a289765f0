"""Run every benchmark and record the figures (``make bench``).

Each benchmark prints one JSON document and measures its own baseline in the same run, so the
figure that matters is the ratio. Results go to ``bench/results.json`` and ``bench/results.md``.
``--smoke`` runs tiny sizes (used by the test suite: it checks that each runs and reports,
never how fast).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: a value that names a place on the machine that ran the benchmark (results are committed)
MACHINE_PATH = re.compile(r"(^|[\s'\"=(])(/[\w.-]+){2,}|^[A-Za-z]:\\|^~/")
BENCHES = ["bench_analysis.py", "bench_sampling.py", "bench_integrity.py", "bench_forms.py",
           "bench_cards.py", "bench_mail.py",
           "bench_quotas.py", "bench_scores.py", "bench_api.py", "bench_dashboard.py"]


def run(name: str, smoke: bool) -> dict:
    cmd = [sys.executable, str(HERE / name)] + (["--smoke"] if smoke else [])
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    start = out.index("{")
    return json.loads(out[start:])


def flatten(prefix: str, value: object, rows: list[tuple[str, object]]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            flatten(f"{prefix}.{k}" if prefix else k, v, rows)
    else:
        rows.append((prefix, value))


def machine_paths(value: object, key: str = "") -> list[str]:
    """The keys of ``value`` (nested dicts and lists) whose text looks like a machine path."""
    if isinstance(value, dict):
        return [k for name, v in value.items() for k in machine_paths(v, f"{key}.{name}" if key else name)]
    if isinstance(value, list):
        return [k for i, v in enumerate(value) for k in machine_paths(v, f"{key}[{i}]")]
    return [key] if isinstance(value, str) and MACHINE_PATH.search(value) else []


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--out", type=Path, default=HERE)
    parser.add_argument("--only", action="append", default=[], metavar="NAME",
                        help="run only this benchmark (e.g. bench_scores; repeatable) and keep the other "
                             "figures of the results file as they were")
    args = parser.parse_args()
    unknown = sorted(set(args.only) - {b.removesuffix(".py") for b in BENCHES})
    if unknown:
        parser.error(f"no benchmark named {', '.join(unknown)}")
    stem = "results-smoke" if args.smoke else "results"
    previous = args.out / f"{stem}.json"
    results = json.loads(previous.read_text()) if args.only and previous.exists() else {}
    for name in BENCHES:
        if not args.only or name.removesuffix(".py") in args.only:
            results[name.removesuffix(".py")] = run(name, args.smoke)
    results = {b.removesuffix(".py"): results[b.removesuffix(".py")] for b in BENCHES
               if b.removesuffix(".py") in results}
    if paths := machine_paths(results):
        print(f"refusing to write results that name machine paths: {paths}", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{stem}.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = ["| benchmark | figure | value |", "|---|---|---|"]
    for bench, data in results.items():
        rows: list[tuple[str, object]] = []
        flatten("", data, rows)
        lines += [f"| {bench} | {k} | {v} |" for k, v in rows]
    (args.out / f"{stem}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
