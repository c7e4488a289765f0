"""Integrity checks: recall on injected fraud, honest exclusions, and each rule on small cases."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from analysis.integrity import (
    Check,
    Correction,
    Family,
    IntegrityConfig,
    Mode,
    Paradata,
    Recommendation,
    decide,
    scan,
)
from analysis.synthetic import (
    KINDS,
    TARGETS,
    CampaignSpec,
    FraudKind,
    confusion,
    format_confusion,
    synthetic_campaign,
)

SEEDS = (1, 2, 3)


def paradata(n: int, **columns: Any) -> Paradata:
    """``n`` unremarkable web forms for unit 1 (varied answers, 300 s, own network each)."""
    rng = np.random.default_rng(0)
    base: dict[str, Any] = {
        "response_id": np.arange(n) + 100,
        "unit": np.ones(n, dtype=np.int64),
        "group": np.zeros(n, dtype=np.int64),
        "questionnaire": np.zeros(n, dtype=np.int64),
        "mode": np.full(n, Mode.WEB, dtype=np.int8),
        "submitted_at": np.arange(n) * 86_400.0,
        "total_seconds": np.full(n, 300.0),
        "page_seconds": np.full((n, 2), 150.0),
        "items_per_page": np.full((n, 2), 10),
        "network_hash": np.arange(n) + 1,
        "device_hash": np.arange(n) + 1,
        "link_open_devices": np.ones(n, dtype=np.int64),
        "honeypot_filled": np.zeros(n, dtype=bool),
        "codes": rng.integers(1, 5, (n, 20)).astype(np.uint8),
    }
    base.update(columns)
    return Paradata(**base)


@pytest.fixture(scope="module", params=SEEDS)
def campaign_and_report(request: pytest.FixtureRequest) -> tuple[Any, Any]:
    campaign = synthetic_campaign(np.random.default_rng(request.param))
    return campaign, scan(campaign.paradata)


def test_each_check_catches_its_fraud_and_spares_the_honest(campaign_and_report: tuple[Any, Any]) -> None:
    campaign, report = campaign_and_report
    rows = confusion(campaign, report)
    print("\n" + format_confusion(rows))
    table = {r.kind: r for r in rows}
    assert 2_000 <= campaign.paradata.n <= 5_000
    for kind in KINDS[1:]:
        assert table[kind].injected > 0, kind
        assert table[kind].recall >= 0.95, (kind, table[kind])
    honest = table[FraudKind.HONEST]
    assert honest.excluded / honest.injected <= 0.005
    # A single flag is only a review: the honest review rate stays small too.
    assert honest.flagged / honest.injected <= 0.05
    # Every exclusion rests on two families.
    assert (report.families[report.recommendation == 2] >= 2).all()


@pytest.mark.parametrize("kind", [k for k in KINDS if k is not FraudKind.HONEST])
def test_switching_a_check_off_loses_its_fraud(kind: FraudKind) -> None:
    campaign = synthetic_campaign(np.random.default_rng(SEEDS[0]))
    report = scan(campaign.paradata, IntegrityConfig().without(*TARGETS[kind]))
    row = {r.kind: r for r in confusion(campaign, report)}[kind]
    assert row.recall < 0.5, row


def test_campaign_is_reproducible_from_its_seed() -> None:
    a = synthetic_campaign(np.random.default_rng(7), CampaignSpec(units=12, citizens=(10, 20)))
    b = synthetic_campaign(np.random.default_rng(7), CampaignSpec(units=12, citizens=(10, 20)))
    c = synthetic_campaign(np.random.default_rng(8), CampaignSpec(units=12, citizens=(10, 20)))
    assert np.array_equal(a.paradata.codes, b.paradata.codes) and np.array_equal(a.kind, b.kind)
    assert np.array_equal(a.paradata.submitted_at, b.paradata.submitted_at)
    assert not np.array_equal(a.paradata.submitted_at, c.paradata.submitted_at)


def test_speeding_is_relative_to_the_median_only_with_enough_completes() -> None:
    total = np.full(40, 380.0)
    total[0] = 41.0
    report = scan(paradata(40, total_seconds=total))
    flag = report.flags[0][0]
    assert flag.check is Check.SPEEDER_TOTAL and flag.family is Family.TIMING
    assert flag.evidence.startswith("total 41 s vs median 380 s (limit 127 s over 40 timed forms")
    assert report.recommendation_of(0) is Recommendation.REVIEW
    assert report.counts() == {"ok": 39, "review": 1, "exclude": 0}

    few = scan(paradata(29, total_seconds=total[:29]))
    assert not few.hit(Check.SPEEDER_TOTAL).any()
    # Paper forms carry no timing and are never speeders.
    paper = scan(paradata(40, total_seconds=total, mode=np.full(40, Mode.PAPER, dtype=np.int8)))
    assert not paper.hits.any()


def test_most_pages_under_two_seconds_per_item_is_speeding() -> None:
    pages = np.full((5, 2), 150.0)
    pages[0] = [15.0, 19.0]  # both pages under 2 s x 10 items
    pages[1] = [15.0, 150.0]  # only half the pages: not "most"
    report = scan(paradata(5, page_seconds=pages))
    assert report.hit(Check.SPEEDER_PAGES).tolist() == [True, False, False, False, False]
    assert report.flags[0][0].evidence == "2 of 2 pages faster than 2 s per item"


def test_straight_lines_and_cycles_are_answer_patterns() -> None:
    codes = np.random.default_rng(1).integers(1, 5, (4, 20)).astype(np.uint8)
    codes[0] = 1
    codes[1, :18] = 2  # 18 of 20 identical: 90 %
    codes[2] = np.tile([1, 3], 10)
    codes[3, 10:] = 0  # 10 answered, varied
    report = scan(paradata(4, codes=codes))
    assert report.hit(Check.STRAIGHT_LINE).tolist() == [True, True, False, False]
    assert report.hit(Check.PATTERN).tolist() == [False, False, True, False]
    assert report.flags[0][0].evidence == "20 of 20 answers are option A"
    assert "repeat every 2 items at 100% of positions" in report.flags[2][0].evidence


def test_near_duplicates_are_found_within_a_unit_only() -> None:
    rng = np.random.default_rng(3)
    codes = rng.integers(1, 5, (6, 20)).astype(np.uint8)
    codes[1] = codes[0]
    codes[1, [3, 11]] = 1 + codes[0, [3, 11]] % 4  # Hamming distance 2
    codes[2] = codes[0]
    codes[2, [1, 7, 15]] = 1 + codes[0, [1, 7, 15]] % 4  # distance 3
    codes[3] = codes[0]  # identical, but rates another unit
    unit = np.array([1, 1, 1, 2, 1, 1])
    report = scan(paradata(6, codes=codes, unit=unit))
    assert report.hit(Check.NEAR_DUPLICATE).tolist() == [True, True, False, False, False, False]
    assert report.flags[1][0].params["other"] == 100
    assert "in 2 of 20 items" in report.flags[1][0].evidence


def test_bursts_count_forms_per_rated_unit() -> None:
    at = 9 * 3600.0 + np.arange(6) * 300.0  # six forms in 25 minutes
    same_net = np.full(6, 42)
    one_unit = scan(paradata(6, submitted_at=at, network_hash=same_net))
    assert one_unit.hit(Check.BURST).all()
    assert one_unit.flags[0][0].evidence == "6 forms for this unit from one network within 30 min"
    # One leader rating six units in a row from the office is not a burst.
    many_units = scan(paradata(6, submitted_at=at, network_hash=same_net, unit=np.arange(6)))
    assert not many_units.hit(Check.BURST).any()
    # Nor are colleagues on the office network over several days.
    spread = scan(paradata(6, network_hash=same_net))
    assert not spread.hit(Check.BURST).any()


def test_exclusion_needs_two_independent_families() -> None:
    n = 40
    total = np.full(n, 300.0)
    total[[0, 1]] = 20.0
    pages = np.full((n, 2), 150.0)
    pages[[0, 1]] = 10.0
    codes = np.random.default_rng(5).integers(1, 5, (n, 20)).astype(np.uint8)
    codes[[1, 2]] = 1
    devices = np.ones(n, dtype=np.int64)
    devices[3] = 9
    honeypot = np.zeros(n, dtype=bool)
    honeypot[[2, 3]] = True
    report = scan(paradata(n, total_seconds=total, page_seconds=pages, codes=codes,
                           link_open_devices=devices, honeypot_filled=honeypot))
    # row 0: two timing flags; row 1: two timing + answers; row 2: answers + provenance;
    # row 3: two provenance flags (shared link + honeypot).
    assert [len(report.flags[i]) for i in range(4)] == [2, 3, 2, 2]
    assert [report.recommendation_of(i) for i in range(4)] == [
        Recommendation.REVIEW, Recommendation.EXCLUDE, Recommendation.EXCLUDE, Recommendation.REVIEW,
    ]
    strict = scan(paradata(n, total_seconds=total, page_seconds=pages, codes=codes),
                  IntegrityConfig(exclude_min_families=3))
    assert strict.recommendation_of(1) is Recommendation.REVIEW
    # A reviewer overrides either way.
    decided = decide(report, {101: Recommendation.OK, 100: Recommendation.EXCLUDE})
    assert decided.recommendation_of(1) is Recommendation.OK
    assert decided.recommendation_of(0) is Recommendation.EXCLUDE
    assert decided.decided[:2].all() and not decided.decided[2:].any()
    assert report.recommendation_of(1) is Recommendation.EXCLUDE  # the original is unchanged
    with pytest.raises(KeyError, match="999"):
        decide(report, {999: Recommendation.OK})


def test_unit_flags_carry_adjusted_p_values(campaign_and_report: tuple[Any, Any]) -> None:
    campaign, report = campaign_and_report
    anomalies = [f for f in report.units if f.check is Check.UNIT_ANOMALY]
    tampered = [f for f in anomalies if (f.unit, f.questionnaire, f.mode) in campaign.tampered]
    assert tampered and all(f.p_adjusted < 1e-6 and f.p_adjusted >= f.p_value for f in tampered)
    assert "holm-adjusted p" in tampered[0].evidence
    windows = [f for f in report.units if f.check is Check.UNIT_WINDOW]
    assert {(f.unit, f.questionnaire, f.mode) for f in windows} == set(campaign.tampered)
    assert len(anomalies) <= len(campaign.tampered) + 1


def test_paradata_rejects_inconsistent_columns() -> None:
    with pytest.raises(ValueError, match="'unit' has 3 rows, expected 4"):
        paradata(4, unit=np.ones(3))
    with pytest.raises(ValueError, match="unknown values"):
        paradata(2, mode=np.array([0, 7]))
    with pytest.raises(ValueError, match="'codes' must have shape"):
        paradata(2, codes=np.ones(2, dtype=np.uint8))


def test_config_from_a_campaign_section_and_its_located_problems(vi) -> None:
    from analysis.integrity import IntegrityConfigError, config_problems

    cfg = IntegrityConfig.from_mapping({"disable": ["pattern", "honeypot"], "burst_min_forms": 3,
                                        "unit_correction": "bh", "pattern_periods": [2],
                                        "seconds_per_item": 3})
    assert Check.PATTERN not in cfg.enabled and Check.HONEYPOT not in cfg.enabled
    assert Check.BURST in cfg.enabled and cfg.burst_min_forms == 3
    assert cfg.unit_correction is Correction.BH and cfg.pattern_periods == (2,)
    assert isinstance(cfg.seconds_per_item, float) and cfg.seconds_per_item == 3.0
    assert IntegrityConfig.from_mapping(None) == IntegrityConfig()
    assert IntegrityConfig.from_mapping({"checks": ["burst"]}).enabled == {Check.BURST}
    assert IntegrityConfig().thresholds()["unit_correction"] == "holm"
    bad = {"checks": ["burst", "speeding"], "disable": [], "speeder_fraction": 1.5,
           "burst_min_forms": True, "unit_alpha": 1, "duplicate_max_distance": -1,
           "exclude_min_families": 5, "pattern_periods": [0], "unit_correction": "fdr",
           "burst_minutes": 3}
    problems = config_problems(bad)
    assert [p.path for p in problems] == [
        "disable", "checks[1]", "speeder_fraction", "burst_min_forms", "unit_alpha",
        "duplicate_max_distance", "exclude_min_families", "pattern_periods", "unit_correction",
        "burst_minutes"]
    assert all(p.message(vi) and p.message() and p.message(vi) != p.message() for p in problems)
    with pytest.raises(IntegrityConfigError) as info:
        IntegrityConfig.from_mapping(bad)
    assert len(info.value.problems) == 10
    assert config_problems([1]) and config_problems(None) == []
