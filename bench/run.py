"""Run every benchmark and record the figures (``make bench``).

Each benchmark prints one JSON document and measures its own baseline in the same run, so the
figure that matters is the ratio. Results go to ``bench/results.json`` and ``bench/results.md``.
``--smoke`` runs tiny sizes (used by the test suite: it checks that each runs and reports,
never how fast).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = ["bench_analysis.py", "bench_sampling.py", "bench_integrity.py", "bench_forms.py",
           "bench_cards.py", "bench_mail.py",
           "bench_quotas.py", "bench_dashboard.py"]


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args()
    results = {name.removesuffix(".py"): run(name, args.smoke) for name in BENCHES}
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "results-smoke" if args.smoke else "results"
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
