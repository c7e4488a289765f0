"""Unit hierarchy and quota expansion, checked against the provincial plans in the seeds."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sampling.config import Campaign, load_campaign
from sampling.quotas import QuotaRule, RateMode, Total, expand_quotas, resolve_census
from sampling.units import Level, Unit, UnitTree

# -- unit tree ---------------------------------------------------------------------------


def test_tree_lookups(campaign: Campaign) -> None:
    tree = campaign.units
    assert [u.code for u in tree.at_level("department")] == ["S1", "S2", "S3"]
    assert tree.parent("X1") == tree.get("H1")
    assert [u.code for u in tree.children("P", "district")] == ["H1", "H2"]
    assert [u.code for u in tree.ancestors("X3")] == ["H2", "P"]
    assert [u.code for u in tree.descendants("P", "commune")] == ["X1", "X2", "X3"]
    assert tree.is_within("X1", "P") and tree.is_within("X1", "X1")
    assert not tree.is_within("X1", "H2")
    assert "S1" in tree and "ZZ" not in tree
    assert tree.at_level("nowhere") == ()


def test_two_tier_tree_has_communes_directly_under_the_province(examples: Path) -> None:
    c = load_campaign(examples / "example-two-tier-2026.yaml")
    tree = c.units
    assert not tree.has_level("district")
    communes = tree.at_level("commune")
    assert communes and all(tree.parent(u.code) == tree.get("99") for u in communes)


def test_tree_rejects_inconsistent_units() -> None:
    levels = [Level("province", "Tỉnh", "Province"),
              Level("commune", "Xã", "Commune", parent="province")]
    with pytest.raises(ValueError):
        UnitTree(levels, [Unit("P", "T", "P", "province"), Unit("X", "X", "X", "commune")])
    with pytest.raises(ValueError):
        UnitTree(levels, [Unit("P", "T", "P", "province"),
                          Unit("X", "X", "X", "commune", "Q")])


# -- the seeds' numbers ------------------------------------------------------------------


def test_travinh_2023_expands_to_the_plans_1278_forms(examples: Path) -> None:
    """Seed 001, KH 43/KH-UBND: 1,278 = 738 provincial (54+324+360) + 540 district (234+36+270)."""
    plan = load_campaign(examples / "travinh-2023.yaml").quota_plan()
    assert plan.total() == Total(forms=1278, cells=plan.total().cells, unknown_cells=0)
    by_level = plan.totals_by("rated_level")
    assert by_level["department"].forms == 738
    assert by_level["district"].forms == 540
    by_rule = {k: t.forms for k, t in plan.totals_by("rule").items()}
    assert by_rule == {
        "tinh-lanh-dao-phong-so": 54, "tinh-lanh-dao-phong-huyen": 324, "tinh-nguoi-dan": 360,
        "huyen-lanh-dao-phong": 234, "huyen-lanh-dao-xa": 36, "huyen-nguoi-dan": 270,
    }


def test_travinh_cross_rating_keeps_the_source_district(examples: Path) -> None:
    """"2 division leaders from each of 9 districts rate each of 18 departments"."""
    plan = load_campaign(examples / "travinh-2023.yaml").quota_plan()
    cells = plan.select(rule="tinh-lanh-dao-phong-huyen")
    assert len(cells) == 9 * 18
    assert {c.target for c in cells} == {2}
    assert len({(c.source_unit, c.rated_unit) for c in cells}) == 9 * 18
    per_department = {}
    for c in cells:
        per_department[c.rated_unit] = per_department.get(c.rated_unit, 0) + (c.target or 0)
    assert set(per_department.values()) == {18}  # 2 × 9 districts for every department
    per_source = plan.totals_by("source_unit")
    assert per_source["H-CANGLONG"].forms == 2 * 18


def test_travinh_district_division_leaders_fill_two_forms(examples: Path) -> None:
    c = load_campaign(examples / "travinh-2023.yaml")
    forms = c.quota_plan().totals_by("questionnaire")
    assert forms["district-division-rates-departments"].forms == 324
    assert forms["district-division-rates-own-district"].forms == 234
    assert set(c.group("district_division_leader").questionnaires) == set(forms) & {
        "district-division-rates-departments", "district-division-rates-own-district"}


def test_binhphuoc_2022_expands_to_180_and_187(examples: Path) -> None:
    """Seed 002, KH 288/KH-UBND: (5 + 4) × 20 agencies = 180; (12 + 5) × 11 units = 187."""
    c = load_campaign(examples / "binhphuoc-2022.yaml")
    assert len(c.units.at_level("department")) == 20
    assert len(c.units.at_level("district")) == 11
    by_level = c.quota_plan().totals_by("rated_level")
    assert by_level["department"].forms == 180
    assert by_level["district"].forms == 187
    by_group = c.quota_plan().totals_by("group")
    assert by_group["civil_servant"].forms == 4 * 20 + 5 * 11


def test_two_tier_census_is_unknown_until_lists_are_loaded(examples: Path) -> None:
    c = load_campaign(examples / "example-two-tier-2026.yaml")
    plan = c.quota_plan()
    census = plan.totals_by("rule")["hdnd-toan-bo"]
    assert census.unknown_cells == len(c.units.at_level("department")) and census.forms == 0
    assert not plan.total().complete
    resolved = resolve_census(plan, {("hdnd_delegate", "99"): 47, ("citizen", "S-YTE"): 999})
    census = resolved.totals_by("rule")["hdnd-toan-bo"]
    assert census.complete and census.forms == 47 * 6
    assert resolved.total().complete
    # Non-census cells are untouched by list counts.
    assert resolved.totals_by("rule")["so-nguoi-dan"] == plan.totals_by("rule")["so-nguoi-dan"]


def test_pooled_cells_have_the_same_total_as_per_source(examples: Path) -> None:
    c = load_campaign(examples / "example-two-tier-2026.yaml")
    pooled = c.quota_plan().select(rule="xa-lanh-dao-danh-gia-so")
    assert len(pooled) == 6 and {x.target for x in pooled} == {2 * 6}
    assert all(x.source_unit is None for x in pooled)
    rule = next(r for r in c.quota_rules if r.id == "xa-lanh-dao-danh-gia-so")
    from dataclasses import replace

    from sampling.quotas import CellMode

    per_source = expand_quotas([replace(rule, cells=CellMode.PER_SOURCE)], c.units)
    assert per_source.total().forms == sum(x.target or 0 for x in pooled)
    assert len(per_source.cells) == 6 * 6


def test_close_when_full_is_carried_to_cells(examples: Path) -> None:
    plan = load_campaign(examples / "example-two-tier-2026.yaml").quota_plan()
    assert all(c.close_when_full for c in plan.select(rule="xa-nguoi-dan"))
    assert not any(c.close_when_full for c in plan.select(rule="so-nguoi-dan"))


# -- rule shapes on the small campaign ---------------------------------------------------


def _plan_with(config_dict: Callable[[], dict[str, Any]],
               make_campaign: Callable[..., Campaign], **rule: Any) -> Any:
    data = config_dict()
    data["quotas"] = [rule]
    return make_campaign(data).quota_plan()


def test_children_from_the_tree_make_one_cell_per_child(
        config_dict: Callable[[], dict[str, Any]], make_campaign: Callable[..., Campaign]) -> None:
    plan = _plan_with(config_dict, make_campaign, group="district_leader",
                      questionnaire="district-division-rates-own-district", count=2,
                      per="district", children={"count": "all", "level": "commune"})
    assert [(c.rated_unit, c.source_unit, c.target) for c in plan.cells] == [
        ("H1", "X1", 2), ("H1", "X2", 2), ("H2", "X3", 2)]


def test_children_count_multiplies_the_target(
        config_dict: Callable[[], dict[str, Any]], make_campaign: Callable[..., Campaign]) -> None:
    plan = _plan_with(config_dict, make_campaign, group="district_leader",
                      questionnaire="district-division-rates-own-district", count=2,
                      per="district", children={"count": 13, "name": {"vi": "phòng", "en": "division"}})
    assert [(c.rated_unit, c.target) for c in plan.cells] == [("H1", 26), ("H2", 26)]


def test_only_and_exclude_restrict_units(
        config_dict: Callable[[], dict[str, Any]], make_campaign: Callable[..., Campaign]) -> None:
    plan = _plan_with(config_dict, make_campaign, group="citizen", questionnaire="citizen-sipas",
                      count=20, per="department", exclude=["S2"])
    assert [c.rated_unit for c in plan.cells] == ["S1", "S3"]


def test_a_rule_listing_two_forms_makes_cells_for_each(
        config_dict: Callable[[], dict[str, Any]], make_campaign: Callable[..., Campaign]) -> None:
    plan = _plan_with(config_dict, make_campaign, group="district_leader",
                      questionnaire=["district-division-rates-own-district"], count=1,
                      per="district")
    assert plan.total().forms == 2


def test_census_own_counts_members_within_each_unit(campaign: Campaign) -> None:
    rule = QuotaRule("census", "leader", ("dept-division-rates-own-department",), None,
                     "department", RateMode.OWN)
    plan = expand_quotas([rule], campaign.units)
    assert plan.total() == Total(0, 3, 3)
    resolved = resolve_census(plan, {("leader", "S1"): 7, ("leader", "S3"): 2,
                                     ("citizen", "S1"): 50})
    assert [(c.rated_unit, c.target) for c in resolved.cells] == [("S1", 7), ("S2", 0), ("S3", 2)]


def test_totals_by_rejects_unknown_keys(campaign: Campaign) -> None:
    with pytest.raises(ValueError):
        campaign.quota_plan().totals_by("colour")  # type: ignore[arg-type]


def _defined_questionnaire_ids() -> set[str]:
    root = Path(__file__).resolve().parents[2] / "questionnaires" / "definitions"
    ids = set()
    for path in root.glob("**/*.yaml"):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith("id:"):
                ids.add(line.split(":", 1)[1].strip().strip("'\""))
                break
    return ids


@pytest.mark.parametrize("name", ["travinh-2023", "binhphuoc-2022", "example-two-tier-2026"])
def test_examples_name_only_questionnaires_that_exist(examples: Path, name: str) -> None:
    # Read as files: the sampling package must not import the questionnaires package.
    known = _defined_questionnaire_ids()
    if not known:
        pytest.skip("no questionnaire definitions in this tree")
    campaign = load_campaign(examples / f"{name}.yaml", known_questionnaires=known)
    assert {q for g in campaign.groups for q in g.questionnaires} <= known
