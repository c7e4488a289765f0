"""Quota state as rows and JSON: one shape for the CLI, the JSON endpoint and downloads."""

from __future__ import annotations

import dataclasses
from typing import Any

from survey.services.quotas import CellState, QuotaState

# The sampled counts first; public QR forms (a self-selected sample) in their own columns.
PUBLIC_COLUMNS = ("public_started", "public_completed", "public_valid")
QUOTA_COLUMNS = ("group", "questionnaire", "rated_unit", "source_unit", "rule", "target",
                 "invited", "started", "completed", "valid", "over_quota") + PUBLIC_COLUMNS
# Columns holding counts (the others are codes and labels), e.g. typed cells in a download.
COUNT_COLUMNS = ("target", "invited", "started", "completed", "valid", "over_quota",
                 *PUBLIC_COLUMNS)


def quota_rows(cells: tuple[CellState, ...] | list[CellState]) -> list[list[Any]]:
    return [[getattr(c, name) for name in QUOTA_COLUMNS] for c in cells]


def quota_state_dict(state: QuotaState, cells: list[CellState] | None = None) -> dict[str, Any]:
    """JSON-ready quota state; ``cells`` narrows the cell list (e.g. a focal point's own)."""
    shown = state.cells if cells is None else cells
    return {
        "cells": [{name: getattr(c, name) for name in QUOTA_COLUMNS} for c in shown],
        "by_group": {k: dataclasses.asdict(v) for k, v in state.by_group.items()},
        "by_unit": {k: dataclasses.asdict(v) for k, v in state.by_unit.items()},
        "total": dataclasses.asdict(state.total),
    }
