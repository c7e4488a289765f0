"""Fixtures for the analysis tests: the R reference data set loaded as the analysts load it."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from par_reference import GOLDEN, load_margins, load_par_sample


@pytest.fixture(scope="session")
def par_data() -> dict[str, np.ndarray[Any, Any]]:
    return load_par_sample(GOLDEN / "par_sample.csv")


@pytest.fixture(scope="session")
def par_margins() -> dict[str, dict[str, float]]:
    return load_margins(GOLDEN / "par_margins.csv")
