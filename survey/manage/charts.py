"""Server-side SVG geometry for the staff pages' charts (no script, no CDN).

The views compute coordinates here; the templates draw them, so every text in a chart passes
through Jinja's escaping.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

CHART_W = 720
CHART_H = 170
LEFT = 36  # room for the y-axis labels
BOTTOM = 22  # room for the date labels
TOP = 12


@dataclass(frozen=True)
class DayBar:
    day: dt.date
    count: int
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class DailyChart:
    bars: tuple[DayBar, ...]
    y_ticks: tuple[tuple[float, int], ...]  # (y, value)
    x_labels: tuple[tuple[float, str], ...]  # (x centre, dd/mm)
    pace_y: float | None  # y of the forms-a-day needed from now on, None when done
    pace: float | None
    width: int = CHART_W
    height: int = CHART_H
    left: int = LEFT
    base: float = CHART_H - BOTTOM


def _nice_top(value: float) -> int:
    if value <= 5:
        return 5
    step = 10 ** math.floor(math.log10(value))
    for m in (1, 2, 2.5, 5, 10):
        if value <= m * step:
            return int(math.ceil(m * step))
    return int(value)


def daily_chart(daily: Sequence[tuple[dt.date, int]], progress: Any, state: Any
                ) -> DailyChart | None:
    """Bars of completed forms per day, with the daily pace needed to reach the target."""
    if not daily:
        return None
    remaining = max(0, state.total.target - state.total.completed)
    pace = remaining / max(progress.days_left, 1.0) if remaining else None
    top = _nice_top(max([n for _, n in daily] + [pace or 0]))
    plot_w = CHART_W - LEFT - 8
    plot_h = CHART_H - BOTTOM - TOP
    slot = plot_w / len(daily)
    width = max(1.0, round(slot * 0.8, 1))
    base = CHART_H - BOTTOM
    bars = []
    for k, (day, n) in enumerate(daily):
        h = round(n / top * plot_h, 1)
        bars.append(DayBar(day, n, round(LEFT + k * slot + (slot - width) / 2, 1),
                           round(base - h, 1), width, h))
    ticks = tuple((round(base - v / top * plot_h, 1), v) for v in (0, top // 2, top))
    every = max(1, math.ceil(len(daily) / 8))
    labels = tuple((round(LEFT + k * slot + slot / 2, 1), day.strftime("%d/%m"))
                   for k, (day, _) in enumerate(daily) if k % every == 0)
    pace_y = None if pace is None else round(base - min(pace, top) / top * plot_h, 1)
    return DailyChart(tuple(bars), ticks, labels, pace_y, pace)
