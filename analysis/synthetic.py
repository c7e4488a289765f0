"""Synthetic PAR survey campaigns with injected fraud and ground truth, for testing integrity checks.

A campaign has rated units (departments) and two questionnaires:

* **leaders** (web, personal links): division leaders of several district offices each
  rate every unit, in a few sittings from their office network (sometimes from home),
  one form after another; a few leaders of each department rate their own department.
  So honest leaders share office networks and submit runs of forms -- but for
  *different* units, never a burst for one unit.
* **citizens** (public QR link or paper): people who completed a procedure at the unit,
  on their own phones over the fieldwork weeks, some on the unit's public wifi; paper
  forms are keyed in by the contractor in one batch per unit.

Answers follow a latent model ``unit quality + respondent leniency + item effect +
noise`` cut into options A-D, with "don't know" (E) and missing answers, so items are
correlated within a respondent and units differ genuinely.  Page times are
``items x seconds-per-item x respondent speed x page noise`` with log-normal speed.

Injected fraud (each kind on its own rows): speeders, straight-liners (including
zig-zag patterns), office bursts (an agency fills its own public form from its office
network), duplicated answer vectors, forwarded personal links, honeypot bots and
tampered units (a unit's public forms replaced by glowing answers in one sitting).
Everything comes from the ``np.random.Generator`` passed in, so a seed reproduces it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .design import BoolArray, FloatArray, IntArray
from .integrity import RESPONSE_CHECKS, Check, IntegrityReport, Mode, Paradata

__all__ = [
    "CampaignSpec",
    "ConfusionRow",
    "FraudKind",
    "KINDS",
    "Q_CITIZEN",
    "Q_LEADER",
    "SyntheticCampaign",
    "TARGETS",
    "confusion",
    "format_confusion",
    "synthetic_campaign",
]


class FraudKind(StrEnum):
    HONEST = "honest"
    SPEEDER = "speeder"
    STRAIGHT_LINER = "straight_liner"
    OFFICE_BURST = "office_burst"
    DUPLICATE = "duplicate"
    SHARED_LINK = "shared_link"
    BOT = "bot"
    TAMPERED_UNIT = "tampered_unit"


#: Position = the code stored in :attr:`SyntheticCampaign.kind`.
KINDS: tuple[FraudKind, ...] = tuple(FraudKind)

#: The checks meant to catch each kind (recall is measured on these).
TARGETS: Mapping[FraudKind, tuple[Check, ...]] = MappingProxyType(
    {
        FraudKind.SPEEDER: (Check.SPEEDER_TOTAL, Check.SPEEDER_PAGES),
        FraudKind.STRAIGHT_LINER: (Check.STRAIGHT_LINE, Check.PATTERN),
        FraudKind.OFFICE_BURST: (Check.BURST,),
        FraudKind.DUPLICATE: (Check.NEAR_DUPLICATE,),
        FraudKind.SHARED_LINK: (Check.SHARED_LINK,),
        FraudKind.BOT: (Check.HONEYPOT,),
        FraudKind.TAMPERED_UNIT: (Check.UNIT_ANOMALY, Check.UNIT_WINDOW),
    }
)

Q_LEADER, Q_CITIZEN = 0, 1
# Questions per page (a profile page, then two Likert grid pages of scored items).
_PAGES: Mapping[int, tuple[int, ...]] = MappingProxyType({Q_LEADER: (5, 10, 10), Q_CITIZEN: (7, 9, 9)})
_SCORED: Mapping[int, int] = MappingProxyType({Q_LEADER: 20, Q_CITIZEN: 18})
_K = max(_SCORED.values())
_P = max(len(p) for p in _PAGES.values())
_DAY = 86_400.0


@dataclass(frozen=True)
class CampaignSpec:
    """Size of a synthetic campaign and how much of each fraud kind to inject."""

    units: int = 40
    offices: int = 10  # district offices whose leaders rate every unit
    raters_per_office: int = 2
    own_leaders: int = 3  # leaders rating their own department
    citizens: tuple[int, int] = (30, 60)  # per unit, inclusive range
    paper_share: float = 0.3
    days: int = 30
    speeders: int = 40
    straight_liners: int = 40
    burst_units: int = 3
    duplicate_units: int = 5
    shared_links: int = 10
    bots: int = 10
    tampered_units: int = 1

    def __post_init__(self) -> None:
        special = self.burst_units + self.duplicate_units + self.tampered_units
        if special > self.units:
            raise ValueError(f"{special} units with injected unit fraud but only {self.units} units")


@dataclass(frozen=True, eq=False)
class SyntheticCampaign:
    """Paradata plus ground truth: ``kind[i]`` indexes :data:`KINDS`."""

    paradata: Paradata
    kind: NDArray[np.int8]
    tampered: tuple[tuple[int, int, Mode], ...]  # (unit, questionnaire, mode) cells
    spec: CampaignSpec

    def of_kind(self, kind: FraudKind) -> BoolArray:
        return np.asarray(self.kind == KINDS.index(kind))


class _Rows:
    """Column blocks collected while generating, concatenated once at the end."""

    def __init__(self) -> None:
        self.blocks: list[dict[str, NDArray[Any]]] = []

    def add(self, **cols: NDArray[Any]) -> None:
        self.blocks.append(cols)

    def build(self) -> dict[str, NDArray[Any]]:
        return {k: np.concatenate([b[k] for b in self.blocks]) for k in self.blocks[0]}


class _Generator:
    def __init__(self, rng: np.random.Generator, spec: CampaignSpec) -> None:
        self.rng = rng
        self.spec = spec
        u = spec.units
        self.quality = rng.normal(0.0, 0.5, u)
        self.item_effect = {q: rng.normal(0.0, 0.3, k) for q, k in _SCORED.items()}
        self.office_net = self.hashes(u)  # each department's own office network
        self.public_net = self.hashes(u)  # the wifi of its one-stop shop
        self.carrier_pool = self.hashes(max(5_000, 40 * u))  # mobile / home prefixes
        self.rows = _Rows()

    def hashes(self, n: int) -> IntArray:
        return self.rng.integers(1, 2**62, n, dtype=np.int64)

    def answers(self, q: int, unit: IntArray, bias: float = 0.0, dont_know: float = 0.06) -> NDArray[np.uint8]:
        n, k = unit.size, _SCORED[q]
        rng = self.rng
        latent = ((0.3 + bias + self.quality[unit] + rng.normal(0.0, 0.6, n))[:, None] + self.item_effect[q]
                  + rng.normal(0.0, 0.8, (n, k)))
        code = np.select([latent > 1.0, latent > 0.0, latent > -1.0], [1, 2, 3], 4)
        code = np.where(rng.random((n, k)) < dont_know, 5, code)
        code = np.where(rng.random((n, k)) < 0.01, 0, code)
        out = np.zeros((n, _K), dtype=np.uint8)
        out[:, :k] = code
        return out

    def timing(self, q: int, n: int, per_item: float,
               speed: FloatArray | None = None) -> tuple[FloatArray, FloatArray, IntArray]:
        rng = self.rng
        items = np.zeros((n, _P), dtype=np.int64)
        items[:, : len(_PAGES[q])] = _PAGES[q]
        if speed is None:
            speed = rng.lognormal(0.0, 0.4, n)
        pages = items * per_item * speed[:, None] * rng.lognormal(0.0, 0.3, (n, _P)) + 2.0
        pages = np.where(items > 0, pages, np.nan)
        total = np.nansum(pages, axis=1) + rng.lognormal(np.log(10.0), 0.5, n)
        return total, pages, items

    def working_time(self, n: int, first_hour: float = 8.0, last_hour: float = 17.0) -> FloatArray:
        rng = self.rng
        day = rng.integers(0, self.spec.days, n)
        return day * _DAY + rng.uniform(first_hour, last_hour, n) * 3600.0

    def emit(self, q: int, unit: IntArray, mode: int, at: FloatArray, codes: NDArray[np.uint8],
             total: FloatArray, pages: FloatArray, items: IntArray, net: IntArray, dev: IntArray,
             link: IntArray, kind: FraudKind, group: int, honeypot: BoolArray | None = None) -> None:
        n = unit.size
        if mode == Mode.PAPER:
            total = np.full(n, np.nan)
            pages = np.full((n, _P), np.nan)
            items = np.zeros((n, _P), dtype=np.int64)
            net = dev = link = np.zeros(n, dtype=np.int64)
        self.rows.add(
            unit=unit.astype(np.int64), group=np.full(n, group), questionnaire=np.full(n, q),
            mode=np.full(n, mode, dtype=np.int8), submitted_at=at, total_seconds=total, page_seconds=pages,
            items_per_page=items, network_hash=net, device_hash=dev, link_open_devices=link,
            honeypot_filled=np.zeros(n, dtype=bool) if honeypot is None else honeypot, codes=codes,
            kind=np.full(n, KINDS.index(kind), dtype=np.int8),
        )

    def link_devices(self, n: int) -> IntArray:
        return self.rng.choice([1, 2, 3], n, p=[0.7, 0.25, 0.05]).astype(np.int64)

    # ------------------------------------------------------------------ honest forms

    def leaders(self) -> None:
        rng, spec = self.rng, self.spec
        for _office in range(spec.offices):
            office_net = self.hashes(1)[0]
            for _ in range(spec.raters_per_office):
                units = rng.permutation(spec.units)
                home = rng.choice(self.carrier_pool)
                device = self.hashes(int(rng.integers(1, 3)))
                sittings = np.array_split(units, rng.integers(1, 5))
                for chunk in sittings:
                    n = chunk.size
                    if n == 0:
                        continue
                    total, pages, items = self.timing(Q_LEADER, n, 8.0, np.full(n, rng.lognormal(0.0, 0.4)))
                    total *= rng.lognormal(0.0, 0.15, n)  # the same person, form to form
                    start = self.working_time(1)[0]
                    at = start + np.cumsum(total + rng.uniform(20.0, 120.0, n))
                    net = np.full(n, office_net if rng.random() < 0.8 else home)
                    self.emit(Q_LEADER, chunk, Mode.WEB, at, self.answers(Q_LEADER, chunk), total, pages, items,
                              net, rng.choice(device, n), self.link_devices(n), FraudKind.HONEST, group=1)
        # Leaders of each department rating their own department, from its office.
        unit = np.repeat(np.arange(spec.units), spec.own_leaders)
        n = unit.size
        total, pages, items = self.timing(Q_LEADER, n, 8.0)
        self.emit(Q_LEADER, unit, Mode.WEB, self.working_time(n), self.answers(Q_LEADER, unit), total, pages,
                  items, self.office_net[unit], self.hashes(n), self.link_devices(n), FraudKind.HONEST, group=0)

    def citizens(self) -> None:
        rng, spec = self.rng, self.spec
        per_unit = rng.integers(spec.citizens[0], spec.citizens[1] + 1, spec.units)
        unit = np.repeat(np.arange(spec.units), per_unit)
        paper = rng.random(unit.size) < spec.paper_share
        for mode, rows in ((Mode.QR, unit[~paper]), (Mode.PAPER, unit[paper])):
            n = rows.size
            total, pages, items = self.timing(Q_CITIZEN, n, 7.0)
            if mode == Mode.PAPER:
                # Keyed in by the contractor: one batch per unit, minutes apart.
                batch = self.working_time(spec.units) + spec.days * _DAY
                at = batch[rows] + rng.uniform(0, 4 * 3600.0, n)
            else:
                at = self.working_time(n, 6.0, 22.0)
            on_wifi = rng.random(n) < 0.2
            net = np.where(on_wifi, self.public_net[rows], rng.choice(self.carrier_pool, n))
            self.emit(Q_CITIZEN, rows, mode, at, self.answers(Q_CITIZEN, rows, dont_know=0.08), total, pages,
                      items, net, self.hashes(n), np.zeros(n, dtype=np.int64), FraudKind.HONEST, group=2)

    # ------------------------------------------------------------------ added fraudulent forms

    def bursts(self, units: IntArray) -> None:
        rng = self.rng
        for u in units.tolist():
            n = int(rng.integers(8, 15))
            unit = np.full(n, u)
            total, pages, items = self.timing(Q_CITIZEN, n, 7.0)
            at = self.working_time(1)[0] + np.sort(rng.uniform(0, rng.uniform(600.0, 1680.0), n))
            phones = self.hashes(max(2, n // 2))
            self.emit(Q_CITIZEN, unit, Mode.QR, at, self.answers(Q_CITIZEN, unit, bias=1.2), total, pages, items,
                      np.full(n, self.office_net[u]), rng.choice(phones, n), np.zeros(n, dtype=np.int64),
                      FraudKind.OFFICE_BURST, group=2)

    def bots(self, count: int) -> None:
        rng = self.rng
        unit = rng.integers(0, self.spec.units, count)
        codes = np.zeros((count, _K), dtype=np.uint8)
        codes[:, : _SCORED[Q_CITIZEN]] = rng.integers(1, 6, (count, _SCORED[Q_CITIZEN]))
        total, pages, items = self.timing(Q_CITIZEN, count, 0.2)
        self.emit(Q_CITIZEN, unit, Mode.QR, self.working_time(count, 0.0, 24.0), codes, total, pages, items,
                  rng.choice(self.carrier_pool, count), self.hashes(count), np.zeros(count, dtype=np.int64),
                  FraudKind.BOT, group=2, honeypot=np.ones(count, dtype=bool))


def _straight(rng: np.random.Generator, q: IntArray) -> NDArray[np.uint8]:
    """Straight lines (mostly option A) and, for a fifth, repeating zig-zag cycles."""
    n = q.size
    out = np.zeros((n, _K), dtype=np.uint8)
    col = np.arange(_K)
    width = np.where(q == Q_LEADER, _SCORED[Q_LEADER], _SCORED[Q_CITIZEN])
    inside = col[None, :] < width[:, None]
    constant = rng.choice([1, 2, 3, 5], n, p=[0.6, 0.2, 0.1, 0.1])
    period = rng.choice([2, 3], n)
    cycle = 1 + (col[None, :] % period[:, None])
    zigzag = rng.random(n) < 0.2
    out[:] = np.where(zigzag[:, None], cycle, constant[:, None]) * inside
    return out


def synthetic_campaign(rng: np.random.Generator, spec: CampaignSpec | None = None) -> SyntheticCampaign:
    """Generate a campaign with ground-truth fraud labels (reproducible from ``rng``'s seed)."""
    spec = spec or CampaignSpec()
    g = _Generator(rng, spec)
    special = rng.permutation(spec.units)
    burst_units = special[: spec.burst_units]
    dup_units = special[spec.burst_units: spec.burst_units + spec.duplicate_units]
    tampered = special[spec.burst_units + spec.duplicate_units:][: spec.tampered_units]
    g.leaders()
    g.citizens()
    g.bursts(burst_units)
    g.bots(spec.bots)
    cols = g.rows.build()
    kind = cols.pop("kind")
    unit, q, mode = cols["unit"], cols["questionnaire"], cols["mode"]
    honest = kind == KINDS.index(FraudKind.HONEST)
    regular = honest & ~np.isin(unit, special[: spec.burst_units + spec.duplicate_units + spec.tampered_units])

    # Tampered units: every public form of the unit rewritten to glowing answers in one sitting.
    for u in tampered.tolist():
        rows = np.flatnonzero(honest & (unit == u) & (q == Q_CITIZEN) & (mode == Mode.QR))
        k = _SCORED[Q_CITIZEN]
        cols["codes"][rows, :k] = rng.choice([1, 2], (rows.size, k), p=[0.8, 0.2])
        cols["submitted_at"][rows] = g.working_time(1)[0] + np.sort(rng.uniform(0, 3000.0, rows.size))
        kind[rows] = KINDS.index(FraudKind.TAMPERED_UNIT)

    # Speeders, straight-liners and forwarded links: real respondents behaving badly.
    online = regular & (mode != Mode.PAPER)
    speed_rows = rng.choice(np.flatnonzero(online), spec.speeders, replace=False)
    rest = regular.copy()
    rest[speed_rows] = False
    line_rows = rng.choice(np.flatnonzero(rest), spec.straight_liners, replace=False)
    rest[line_rows] = False
    link_rows = rng.choice(np.flatnonzero(rest & (mode == Mode.WEB)), spec.shared_links, replace=False)

    n = speed_rows.size
    per_item = rng.uniform(0.5, 1.6, n)
    items = cols["items_per_page"][speed_rows]
    pages = np.where(items > 0, items * per_item[:, None] * rng.lognormal(0.0, 0.15, items.shape) + 0.5, np.nan)
    cols["page_seconds"][speed_rows] = pages
    cols["total_seconds"][speed_rows] = np.nansum(pages, axis=1) + 2.0
    # Many speeders also satisfice on answers: a straight line or random clicks.
    how = rng.random(n)
    lines = speed_rows[how < 0.4]
    cols["codes"][lines] = _straight(rng, q[lines])
    clicks = speed_rows[(how >= 0.4) & (how < 0.7)]
    cols["codes"][clicks] = (cols["codes"][clicks] > 0) * rng.integers(1, 5, (clicks.size, _K)).astype(np.uint8)
    kind[speed_rows] = KINDS.index(FraudKind.SPEEDER)

    cols["codes"][line_rows] = _straight(rng, q[line_rows])
    kind[line_rows] = KINDS.index(FraudKind.STRAIGHT_LINER)

    cols["link_open_devices"][link_rows] = rng.integers(5, 21, link_rows.size)
    kind[link_rows] = KINDS.index(FraudKind.SHARED_LINK)

    # Duplicated vectors: one varied citizen form copied 3-5 times with 0-2 answers changed,
    # submitted on different days from different networks.
    codes = cols["codes"]
    modal = np.stack([(codes == v).sum(axis=1) for v in range(1, 6)], axis=1).max(axis=1)
    varied = (codes > 0).sum(axis=1) - modal
    copies: list[dict[str, NDArray[Any]]] = []
    for u in dup_units.tolist():
        pool = np.flatnonzero(honest & (unit == u) & (q == Q_CITIZEN) & (varied >= 6))
        src = int(rng.choice(pool))
        c = int(rng.integers(3, 6))
        dup = np.repeat(codes[src: src + 1], c, axis=0)
        for r in range(c):
            for item in rng.choice(_SCORED[Q_CITIZEN], int(rng.integers(0, 3)), replace=False):
                dup[r, item] = 1 + (int(dup[r, item]) % 4)
        block = {k: np.repeat(v[src: src + 1], c, axis=0) for k, v in cols.items()}
        block["codes"] = dup
        block["submitted_at"] = g.working_time(c, 6.0, 22.0)
        block["network_hash"] = np.where(block["mode"] == Mode.PAPER, 0, rng.choice(g.carrier_pool, c))
        block["device_hash"] = np.where(block["mode"] == Mode.PAPER, 0, g.hashes(c))
        copies.append(block)
        kind[src] = KINDS.index(FraudKind.DUPLICATE)
    if copies:
        cols = {k: np.concatenate([v] + [b[k] for b in copies]) for k, v in cols.items()}
        kind = np.concatenate([kind] + [np.full(b["unit"].size, KINDS.index(FraudKind.DUPLICATE), dtype=np.int8)
                                        for b in copies])

    order = rng.permutation(kind.size)
    cols = {k: v[order] for k, v in cols.items()}
    paradata = Paradata(response_id=np.arange(1, kind.size + 1) * 7 + 1000, **cols)
    return SyntheticCampaign(
        paradata=paradata,
        kind=kind[order],
        tampered=tuple((int(u), Q_CITIZEN, Mode.QR) for u in tampered.tolist()),
        spec=spec,
    )


@dataclass(frozen=True)
class ConfusionRow:
    """One line of the confusion table.

    For a fraud kind, ``flagged`` counts rows caught by the kind's own checks
    (:data:`TARGETS`) and ``recall = flagged / injected``; for honest rows, ``flagged``
    counts rows sent to review by any check.  ``excluded`` counts rows recommended for
    exclusion.  For tampered units, ``units`` / ``units_flagged`` count cells.
    """

    kind: FraudKind
    injected: int
    flagged: int
    excluded: int
    units: int = 0
    units_flagged: int = 0

    @property
    def recall(self) -> float:
        if self.kind is FraudKind.TAMPERED_UNIT:
            return self.units_flagged / self.units if self.units else float("nan")
        return self.flagged / self.injected if self.injected else float("nan")


def confusion(campaign: SyntheticCampaign, report: IntegrityReport) -> tuple[ConfusionRow, ...]:
    """Per fraud kind: injected, caught by its own checks, excluded; honest: reviewed, excluded."""
    out = []
    excluded = report.recommendation == 2
    for kind in KINDS:
        rows = campaign.of_kind(kind)
        if kind is FraudKind.HONEST:
            caught = report.recommendation >= 1
        else:
            caught = np.zeros(rows.size, dtype=bool)
            for check in TARGETS[kind]:
                if check in RESPONSE_CHECKS:
                    caught |= report.hit(check)
        units = units_flagged = 0
        if kind is FraudKind.TAMPERED_UNIT:
            units = len(campaign.tampered)
            hit = {(f.unit, f.questionnaire, f.mode) for f in report.units if f.check in TARGETS[kind]}
            units_flagged = sum(cell in hit for cell in campaign.tampered)
        out.append(ConfusionRow(kind, int(rows.sum()), int((caught & rows).sum()), int((excluded & rows).sum()),
                                units, units_flagged))
    return tuple(out)


def format_confusion(rows: tuple[ConfusionRow, ...]) -> str:
    """The confusion table as fixed-width text."""
    lines = [f"{'kind':<15}{'injected':>9}{'flagged':>9}{'excluded':>9}{'recall':>8}  units flagged"]
    for r in rows:
        recall = "" if r.kind is FraudKind.HONEST else f"{r.recall:.2f}"
        unit = f"  {r.units_flagged}/{r.units}" if r.kind is FraudKind.TAMPERED_UNIT else ""
        lines.append(f"{r.kind.value:<15}{r.injected:>9}{r.flagged:>9}{r.excluded:>9}{recall:>8}{unit}")
    return "\n".join(lines)
