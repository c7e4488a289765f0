"""The campaign's ``design:`` section: parsed and checked at load, every problem located (CFG-DESIGN)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from sampling import CampaignInvalid, DesignSpec, load_campaign


def _write(tmp_path: Path, data: dict[str, Any], files: dict[str, str]) -> Path:
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def test_design_defaults_without_a_section(config_dict: Callable[[], dict[str, Any]], tmp_path: Path) -> None:
    campaign = load_campaign(_write(tmp_path, config_dict(), {}))
    assert campaign.design == DesignSpec()
    assert campaign.design.strata == ("group", "rated_unit")
    assert campaign.design.lonely_psu == "adjust"


def test_design_section_reads_population_and_margins(config_dict: Callable[[], dict[str, Any]],
                                                     tmp_path: Path) -> None:
    data = config_dict()
    data["design"] = {"strata": ["group", "rated_unit"], "population": "pop.csv", "lonely_psu": "certainty",
                      "weighting": {"citizen": {"rake": {"margins": "m.csv", "max_iter": 30},
                                                "trim": {"lower": 0.3, "upper": 3}}}}
    path = _write(tmp_path, data, {
        "pop.csv": "group,rated_unit,N\ncitizen,S1,1200\ncitizen,S2,800\n",
        "m.csv": "variable,level,N\nsex,1,1000\nsex,2,1000\nage,1,500\nage,2,1500\n"})
    spec = load_campaign(path).design
    assert spec.population == {("citizen", "S1"): 1200.0, ("citizen", "S2"): 800.0}
    assert spec.lonely_psu == "certainty"
    w = spec.weighting["citizen"]
    assert (w.method, w.max_iter, w.trim) == ("rake", 30, (0.3, 3.0))
    assert {m.variables for m in w.margins} == {("sex",), ("age",)}
    assert DesignSpec.from_json(spec.to_json()) == spec


def test_every_design_problem_is_located_in_both_languages(config_dict: Callable[[], dict[str, Any]],
                                                          tmp_path: Path, vi) -> None:
    data = config_dict()
    data["design"] = {"strata": ["group", "sex", "rated_unit", "source_unit"], "population": "pop.csv",
                      "lonely_psu": "drop",
                      "weighting": {"nobody": {"trim": {"lower": 0.5, "upper": 2}},
                                    "citizen": {"rake": {"margins": "m.csv"}, "poststratify": {}}}}
    path = _write(tmp_path, data, {"pop.csv": "group,rated_unit,N\ncitizen,S9,10\ncitizen,S1,0\n",
                                   "m.csv": "variable,level,N\n"})
    with pytest.raises(CampaignInvalid) as info:
        load_campaign(path)
    errors = info.value.errors
    assert {e.code for e in errors} == {"CFG-DESIGN"}
    where = {(Path(e.file).name, e.path) for e in errors}
    cells = {(Path(e.file).name, e.row, e.column) for e in errors}
    assert ("c.yaml", "design.strata[1]") in where
    assert ("c.yaml", "design.strata[3]") in where  # source_unit: responses do not keep it
    assert ("c.yaml", "design.lonely_psu") in where
    assert ("c.yaml", "design.weighting.nobody") in where
    assert ("c.yaml", "design.weighting.citizen") in where
    assert ("pop.csv", 2, "rated_unit") in cells
    assert ("pop.csv", 3, "N") in cells
    for e in errors:
        assert e.message(vi) and e.message() and e.message(vi) != e.message()
        if e.file.endswith("c.yaml"):
            assert e.line is not None


def test_design_file_outside_the_folder_is_refused(config_dict: Callable[[], dict[str, Any]],
                                                   tmp_path: Path) -> None:
    data = config_dict()
    data["design"] = {"population": "../secret.csv"}
    with pytest.raises(CampaignInvalid) as info:
        load_campaign(_write(tmp_path, data, {}))
    assert [(e.code, e.path) for e in info.value.errors] == [("CFG-DESIGN", "design.population")]
