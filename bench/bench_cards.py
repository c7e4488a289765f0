"""Benchmark: QR codes for respondent links, and the printable card PDF.

Measures, in one run:

* ``qr``: QR matrices for N links (batch encoder), each rendered to SVG and to PNG;
* ``qr_baseline``: ``segno.make`` (encoding only, its own mask choice, nothing rendered) on a
  sample of the same links, extrapolated per link to N (segno for all N would take minutes);
* ``cards``: a PDF of M cards (ten a page, vector QR codes, Vietnamese text);
* ``cards_baseline``: an empty PDF with the same number of pages, same library and fonts.

Prints one JSON object (only that) to stdout.  ``--smoke`` uses tiny sizes.
Usage: python bench/bench_cards.py [--smoke] [--links N] [--cards M]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import secrets
import string
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("PAR_SURVEY_SECRET_KEY", "bench-only")

import segno  # noqa: E402

from survey.services.cards import COLS, ROWS, IssuedForm, cards_pdf, new_pdf  # noqa: E402
from survey.services.qr import png_many, qr_matrices, short_code, svg_many  # noqa: E402

BASE = "https://khaosat.sonoivu.tinh.gov.vn"
CHUNK = 10_000


def _links(n: int) -> list[str]:
    return [f"{BASE}/s/{secrets.token_urlsafe(16)}" for _ in range(n)]


def bench_qr(links: list[str]) -> dict[str, float]:
    """Matrices, then every code as SVG and as PNG, in chunks of ``CHUNK`` links."""
    timings = {"encode": 0.0, "svg": 0.0, "png": 0.0}
    sizes = {"svg": 0, "png": 0}
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(0, len(links), CHUNK):
        t = time.perf_counter()
        matrices = qr_matrices(links[i:i + CHUNK])
        timings["encode"] += time.perf_counter() - t
        for kind, render in (("svg", svg_many), ("png", png_many)):
            t = time.perf_counter()
            sizes[kind] += sum(map(len, render(matrices)))
            timings[kind] += time.perf_counter() - t
    return {"seconds": round(time.perf_counter() - t0, 3),
            "cpu_seconds": round(time.process_time() - c0, 3),
            **{f"{k}_seconds": round(v, 3) for k, v in timings.items()},
            "svg_mb": round(sizes["svg"] / 1e6, 1), "png_mb": round(sizes["png"] / 1e6, 1)}


def bench_qr_baseline(links: list[str], sample: int) -> dict[str, float]:
    t0, c0 = time.perf_counter(), time.process_time()
    for link in links[:sample]:
        segno.make(link, error="m")
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"sample": sample, "sample_seconds": round(seconds, 3),
            "seconds_extrapolated": round(seconds / sample * len(links), 1),
            "cpu_seconds_extrapolated": round(cpu / sample * len(links), 1)}


def _cards(n: int) -> list[IssuedForm]:
    rng = random.Random(7)
    family = ["Nguyễn", "Trần", "Lê", "Phạm", "Huỳnh", "Võ", "Đặng", "Bùi"]
    given = ["Văn An", "Thị Bích", "Minh Đức", "Thị Hằng", "Quốc Khánh", "Ngọc Ánh"]
    units = [f"Sở {name} tỉnh Trà Vinh" for name in ("Nội vụ", "Tư pháp", "Y tế", "Giáo dục")]
    out = []
    for i, link in enumerate(_links(n)):
        token = link.rsplit("/", 1)[1]
        out.append(IssuedForm(
            form_id=i, name=f"{rng.choice(family)} {rng.choice(given)} "
            + "".join(rng.choices(string.ascii_uppercase, k=2)),
            group="Lãnh đạo cấp phòng", units=(rng.choice(units),), token=token, link=link,
            code=short_code(token)))
    return out


def bench_cards(n: int) -> dict[str, float]:
    items = _cards(n)
    t0, c0 = time.perf_counter(), time.process_time()
    data = cards_pdf(items, "Chỉ số CCHC 2026 — Trà Vinh")
    return {"seconds": round(time.perf_counter() - t0, 3),
            "cpu_seconds": round(time.process_time() - c0, 3),
            "pages": math.ceil(n / (COLS * ROWS)), "mb": round(len(data) / 1e6, 1)}


def bench_cards_baseline(pages: int) -> dict[str, float]:
    t0, c0 = time.perf_counter(), time.process_time()
    pdf = new_pdf()
    pdf.set_font("sans", "", 8)
    for _ in range(pages):
        pdf.add_page()
    bytes(pdf.output())
    return {"seconds": round(time.perf_counter() - t0, 3),
            "cpu_seconds": round(time.process_time() - c0, 3), "pages": pages}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, a few seconds")
    parser.add_argument("--links", type=int, default=100_000)
    parser.add_argument("--cards", type=int, default=10_000)
    args = parser.parse_args()
    n_links = 2_000 if args.smoke else args.links
    n_cards = 200 if args.smoke else args.cards
    sample = 100 if args.smoke else 1_000
    links = _links(n_links)
    out = {
        "mode": "smoke" if args.smoke else "full",
        "links": n_links,
        "qr": bench_qr(links),
        "qr_baseline_segno": bench_qr_baseline(links, sample),
        "cards": n_cards,
        "cards_pdf": bench_cards(n_cards),
        "cards_baseline_empty_pdf": bench_cards_baseline(math.ceil(n_cards / (COLS * ROWS))),
        "limits_seconds": {"qr": 60, "cards_pdf": 60},
        "cpu_count": os.cpu_count(),
        "load_average": [round(x, 1) for x in os.getloadavg()],
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
