"""Golden numbers from R survey 4.1 (tests/analysis/golden, made by reference.R).

Estimates, SEs, CIs and raked weights must agree to a relative 1e-9.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from par_reference import GOLDEN, REFERENCE_FILES, assert_matches_reference, read_csv, reproduce_reference


@pytest.fixture(scope="module")
def reproduced(
    par_data: dict[str, np.ndarray[Any, Any]], par_margins: dict[str, dict[str, float]]
) -> dict[str, Any]:
    return reproduce_reference(par_data, par_margins)


@pytest.mark.parametrize("name", REFERENCE_FILES)
def test_reference_file(name: str, reproduced: dict[str, Any]) -> None:
    assert_matches_reference(reproduced[name], read_csv(GOLDEN / name))


def test_every_golden_file_is_checked() -> None:
    assert sorted(p.name for p in GOLDEN.glob("*.csv")) == sorted(
        [*REFERENCE_FILES, "par_sample.csv", "par_margins.csv"]
    )
