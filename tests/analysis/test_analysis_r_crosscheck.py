"""Cross-check against a live R survey on freshly generated data (skipped without R).

Golden files pin one data set; these tests regenerate PAR-like samples with other
seeds (golden/gen_data.py), run golden/reference.R and r/extra_checks.R, and
require the same relative 1e-9 agreement, so the code matches R's definitions
rather than one set of numbers.  Install R with ``apt-get install r-cran-survey``.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from par_reference import (
    GOLDEN,
    REFERENCE_FILES,
    assert_matches_extra,
    assert_matches_reference,
    load_margins,
    load_par_sample,
    read_csv,
    reproduce_extra,
    reproduce_reference,
)

EXTRA_R = Path(__file__).parent / "r" / "extra_checks.R"
SEEDS = [7, 2024, 31337]


@functools.cache
def _r_unavailable() -> str | None:
    rscript = shutil.which("Rscript")
    if rscript is None:
        return "Rscript not found (apt-get install r-cran-survey to run the R cross-check)"
    probe = subprocess.run(
        [rscript, "-e", "suppressMessages(library(survey)); cat(as.character(packageVersion('survey')))"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if probe.returncode != 0:
        return f"R survey package does not load: {probe.stderr.strip()[-300:]}"
    return None


@pytest.fixture
def rscript() -> str:
    reason = _r_unavailable()
    if reason:
        pytest.skip(reason)
    path = shutil.which("Rscript")
    assert path is not None
    return path


def _run(args: list[str]) -> None:
    done = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{args[:2]} failed:\n{done.stdout}\n{done.stderr}"


@pytest.mark.parametrize("seed", SEEDS)
def test_reference_script_on_new_seed(seed: int, rscript: str, tmp_path: Path) -> None:
    sample, margins = tmp_path / "sample.csv", tmp_path / "margins.csv"
    _run([sys.executable, str(GOLDEN / "gen_data.py"), str(seed), str(sample), str(margins)])
    _run([rscript, str(GOLDEN / "reference.R"), str(sample), str(margins), str(tmp_path)])
    ours = reproduce_reference(load_par_sample(sample), load_margins(margins))
    for name in REFERENCE_FILES:
        assert_matches_reference(ours[name], read_csv(tmp_path / name))


@pytest.mark.parametrize("seed", [None, *SEEDS[:2]])
def test_extra_checks(seed: int | None, rscript: str, tmp_path: Path) -> None:
    if seed is None:
        sample, margins = GOLDEN / "par_sample.csv", GOLDEN / "par_margins.csv"
    else:
        sample, margins = tmp_path / "sample.csv", tmp_path / "margins.csv"
        _run([sys.executable, str(GOLDEN / "gen_data.py"), str(seed), str(sample), str(margins)])
    out = tmp_path / "extra.csv"
    _run([rscript, str(EXTRA_R), str(sample), str(margins), str(out)])
    assert_matches_extra(reproduce_extra(load_par_sample(sample), load_margins(margins)), read_csv(out))
