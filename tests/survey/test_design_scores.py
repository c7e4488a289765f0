"""Scores under the campaign's design, end to end: the loop from submitted answers through the
published scores and the microdata back to the same numbers; disclosure control that no
linear algebra undoes; the design and scoring sections checked when the campaign is loaded."""

from __future__ import annotations

import csv
import json
import math
import shutil
import subprocess
import textwrap
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select, update

from analysis import SurveyDesign
from analysis.estimators import linearised_mean, summarise
from sampling import CampaignInvalid
from survey import db
from survey.cli.responses_cmd import responses_group
from survey.cli.scores_cmd import scores as scores_cli
from survey.models import Form, Mode, Response, Role
from survey.services.api_tokens import create_api_token
from survey.services.campaigns import create_campaign_from_config
from survey.services.respondents import import_respondents
from survey.services.responding import SubmitOutcome, load_form, save_page, submit_form
from survey.services.scores import ResponseFilter, score_campaign
from survey.services.microdata import iter_microdata_rows
from survey.services.scoring_config import scoring_for_campaign
from survey.services.staff import create_staff_user
from tests.survey.test_scores_page import _answers

UNITS = ("S01", "S02", "S03", "S04", "S05")
# Division leaders listed per department (a census) and who answers; citizens listed (a sample)
# and who answers. S05 has nobody answering: it must still appear, as "no survey".
LEADERS = {"S01": (4, 4), "S02": (4, 2), "S03": (3, 1), "S04": (2, 2), "S05": (1, 0)}
CITIZENS = {"S01": (6, 5), "S02": (5, 4), "S03": (3, 2), "S04": (2, 1), "S05": (0, 0)}
POPULATION = {"S01": 400, "S02": 250, "S03": 120, "S04": 90}  # citizens' transactions per department

CONFIG = textwrap.dedent("""\
    version: 1
    code: DS-2026
    name: {vi: Thử thiết kế, en: Design test}
    province: "84"
    year: 2026
    opens_at: 2020-01-01
    closes_at: 2099-12-31
    levels:
      - {code: province, name: {vi: Tỉnh, en: Province}}
      - {code: department, name: {vi: Sở, en: Department}, parent: province}
    units:
      - {code: "84", level: province, name: {vi: Tỉnh, en: Province}}
    %(units)s
    groups:
      - code: dept_division_leader
        name: {vi: Lãnh đạo phòng, en: Division leaders}
        kind: department_division_leader
        unit_level: department
        questionnaires: [dept-division-rates-own-department]
      - code: citizen
        name: {vi: Người dân, en: Citizens}
        kind: citizen
        unit_level: department
        questionnaires: [citizen-sipas]
    quotas:
      - {group: dept_division_leader, questionnaire: dept-division-rates-own-department,
         count: 4, per: department}
      - {group: citizen, questionnaire: citizen-sipas, count: 6, per: department}
    scoring:
      max_points: 100
      survey_points: 20
      ci: {method: %(ci)s, level: 0.9}
      subcriteria:
        - {code: "1.1", max_points: 4}
        - {code: "3.1", max_points: 6}
        - {code: SIPAS, max_points: 10, from: [S1.1, S1.2, S1.3, S1.4, S2.1, S2.2]}
    design:
      strata: [group, rated_unit]
      population: population.csv
      lonely_psu: %(lonely)s
      weighting:
        citizen:
          rake: {margins: citizen-margins.csv, max_iter: 50}
          trim: {lower: 0.3, upper: 3.0}
    """)


def _write_config(tmp_path: Path, ci: str = "logit", lonely: str = "certainty") -> Path:
    units = "\n".join(f'  - {{code: {u}, level: department, parent: "84", name: {{vi: Sở {u}, en: Dept {u}}}}}'
                      for u in UNITS)
    text = CONFIG % {"units": units, "ci": ci, "lonely": lonely}
    (tmp_path / "population.csv").write_text(
        "group,rated_unit,N\n" + "".join(f"citizen,{u},{n}\n" for u, n in POPULATION.items()), encoding="utf-8")
    (tmp_path / "citizen-margins.csv").write_text(
        "variable,level,N\nsex,male,480\nsex,female,520\n", encoding="utf-8")
    path = tmp_path / "ds.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _seed(app, tmp_path: Path, **kwargs: str) -> int:
    """Load the campaign, list people, and submit answers through the services (fixed seed)."""
    rng = np.random.default_rng(20261207)
    rows = ["external_id,full_name,group,unit,email"]
    answering: set[str] = set()
    for group, plan in (("dept_division_leader", LEADERS), ("citizen", CITIZENS)):
        for u, (listed, answer) in plan.items():
            for i in range(listed):
                pid = f"{group[:1]}-{u}-{i}"
                rows.append(f"{pid},Người {pid},{group},{u},{pid.lower()}@example.vn")
                if i < answer:
                    answering.add(pid)
    listing = tmp_path / "list.csv"
    listing.write_text("\n".join(rows) + "\n", encoding="utf-8")
    with app.app_context():
        campaign = create_campaign_from_config(_write_config(tmp_path, **kwargs))
        import_respondents("DS-2026", listing)
        forms = {f.respondent.external_id: f.id for f in db.session().scalars(select(Form))}
        for pid in sorted(answering):
            ctx = load_form(forms[pid])
            q = ctx.questionnaire
            wanted: dict[str, str] = {}
            for question in q.scored_questions:
                codes = [o.code for o in question.options]
                # mostly real answers, now and then don't know (the last option)
                wanted[question.id] = str(rng.choice(codes if rng.random() < 0.15 else codes[:-1]))
            if pid in ("d-S01-0", "d-S01-1"):
                # two of S01's four leaders do not know: its sub-criterion 1.1 rests on 2 answers,
                # below k = 3, while 3.1 and the unit total rest on more (a complement is needed)
                wanted["lead_plan"] = "E"
            for question in q.questions():
                if question.id == "sex":
                    wanted["sex"] = "male" if rng.random() < 0.5 else "female"
            key = str(ctx.assignments[0].id)
            answers = _answers(q, wanted)
            for i in range(len(q.sections)):
                ctx = save_page(ctx, i, {key: answers})
            assert submit_form(load_form(forms[pid])) is SubmitOutcome.SUBMITTED, pid
        return campaign.id


@pytest.fixture
def designed(app, tmp_path) -> int:
    app.config["SMALL_CELL_K"] = 1
    return _seed(app, tmp_path)


def _export(app, args: list[str]) -> None:
    result = app.test_cli_runner().invoke(args[0], args[1:])
    assert result.exit_code == 0, result.output


def test_loop_closes_published_scores_equal_an_independent_computation_from_the_microdata(
        app, designed, tmp_path):
    scores_json = tmp_path / "scores.json"
    micro = tmp_path / "micro.csv"
    _export(app, [scores_cli, "--campaign", "DS-2026", "--format", "json", "--out", str(scores_json)])
    _export(app, [responses_group, "export", "--campaign", "DS-2026", "--format", "csv",
                  "--values", "scores", "--out", str(micro)])
    published = json.loads(scores_json.read_text(encoding="utf-8"))
    with micro.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == sum(a for _, a in LEADERS.values()) + sum(a for _, a in CITIZENS.values())
    assert not {"full_name", "email", "phone", "external_id", "submitted_on"} & set(rows[0])
    # The analyst's computation: svydesign(ids=~psu, strata=~stratum, weights=~weight, fpc=~fpc)
    # then svyby(~item, ~unit, svymean, na.rm=TRUE), with the lonely-PSU rule in the methods.
    methods = {(m["section"], m["key"]): m["value"] for m in published["methods"]}
    lonely = methods["design", "lonely_psu"].split(" ", 1)[0]
    assert lonely == "certainty"
    data = {"stratum": np.array([r["stratum"] for r in rows], dtype=object),
            "psu": np.array([r["psu"] for r in rows], dtype=object),
            "weight": np.array([float(r["weight"]) for r in rows]),
            "fpc": np.array([float(r["fpc"]) for r in rows]),
            "unit": np.array([r["unit"] for r in rows], dtype=object)}
    design = SurveyDesign(data, ids="psu", strata="stratum", weights="weight", fpc="fpc", lonely_psu=lonely)
    ci, level = methods["settings", "ci"].split(" ")
    checked = 0
    item_column = {}
    for r in published["items"]:
        name = r["item"].split("/", 1)[1]
        item_column[r["item"]] = name
        y = np.array([float(x[name]) if x[name] not in ("", None) else np.nan for x in rows])
        # rows of other questionnaires have no such item: empty, so they leave the domain
        est = summarise(design, linearised_mean(design, y, by="unit"), ci, float(level), bounds=(0.0, 1.0))
        mine = est[r["unit"]]
        assert r["estimate"] == pytest.approx(mine.value, abs=1e-9)
        assert r["se"] == pytest.approx(mine.se, abs=1e-9)
        assert (r["ci_low"], r["ci_high"]) == pytest.approx((mine.ci_low, mine.ci_high), abs=1e-9)
        assert r["n"] == mine.n and r["df"] == design.degf
        assert 0 <= r["ci_low"] <= r["estimate"] <= r["ci_high"] <= 1
        checked += 1
    assert checked > 25
    # the design is the campaign's: citizens weighted to their population, leaders N = listed
    strata = {r["key"]: r["value"] for r in published["methods"] if r["section"] == "stratum"}
    assert strata["citizen|S01"].startswith("n=5; N=400; population")
    assert strata["dept_division_leader|S02"].startswith("n=2; N=4; listed")
    assert "converged" in methods["weighting", "citizen"] and "rake" in methods["weighting", "citizen"]
    units = {u["unit"]: u for u in published["units"]}
    assert units["S05"]["survey"] == "no survey" and units["S05"]["survey_points"] is None
    assert sorted(u["rank"] for u in published["units"] if u["rank"] is not None) == [1, 2, 3, 4]
    for r in published["scores"]:
        assert 0 <= r["score_ci_low"] <= r["score"] <= r["score_ci_high"] <= 1
    r_check = _r_crosscheck(micro, published, tmp_path)
    if r_check is not None:
        print(f"R survey svyby on the microdata: largest |difference| from the published items {r_check:.3g}")
        assert r_check < 1e-9


def _r_crosscheck(micro: Path, published: dict, tmp_path: Path) -> float | None:
    """Largest difference between R survey's svyby on the microdata and the published item
    estimates and SEs; None when Rscript with the survey package is not installed."""
    if shutil.which("Rscript") is None:
        return None
    items = sorted({r["item"].split("/", 1)[1] for r in published["items"]})
    script = tmp_path / "check.R"
    script.write_text(textwrap.dedent(f"""\
        suppressMessages(library(survey))
        options(survey.lonely.psu = "certainty")
        d <- read.csv("{micro}", fileEncoding = "UTF-8-BOM", stringsAsFactors = FALSE)
        des <- svydesign(ids = ~psu, strata = ~stratum, weights = ~weight, fpc = ~fpc, data = d)
        for (v in c({", ".join(repr(i) for i in items)})) {{
          r <- svyby(as.formula(paste0("~", v)), ~unit, des, svymean, na.rm = TRUE)
          for (k in seq_len(nrow(r))) cat(v, r$unit[k], sprintf("%.15g", r[k, 2]), sprintf("%.15g", SE(r)[k]), "\\n")
        }}
        """), encoding="utf-8")
    run = subprocess.run(["Rscript", str(script)], capture_output=True, text=True, timeout=300)
    if run.returncode != 0:
        if "there is no package called" in run.stderr or "error while loading shared" in run.stderr:
            return None
        raise AssertionError(run.stderr)
    by = {(r["item"].split("/", 1)[1], r["unit"]): r for r in published["items"]}
    worst, compared = 0.0, 0
    for line in run.stdout.splitlines():
        v, unit, est, se = line.split()
        if (v, unit) in by:
            compared += 1
            worst = max(worst, abs(float(est) - by[v, unit]["estimate"]), abs(float(se) - by[v, unit]["se"]))
    assert compared == len(by)  # every published item estimate was recomputed in R
    return worst


# -- disclosure control -------------------------------------------------------------------------


def _published_cells(doc: dict) -> tuple[dict, list[dict]]:
    """Every estimate cell of the export and every exact linear relation an attacker can write
    down from the export alone (the codebook and methods say how the numbers add up)."""
    values: dict = {}
    for u in doc["units"]:
        if u["survey"] == "surveyed":
            values[("unit", u["unit"])] = u["survey_points"]
    max_points = {}
    for r in doc["scores"]:
        max_points[r["sub_criterion"]] = r["max_points"]
        if r["n"] > 0:
            values[("sub", r["unit"], r["sub_criterion"])] = r["score"]
    for r in doc["items"]:
        if r["n"] > 0:
            values[("item", r["unit"], r["item"])] = r["estimate"]
    for r in doc.get("sipas", []):
        values[("sipas", r["unit"], r["kind"], r["code"])] = r["satisfied"]
    relations: list[dict] = []
    for key in [k for k in values if k[0] == "unit"]:
        rel = {key: 1.0}
        rel.update({k: -max_points[k[2]] for k in values if k[0] == "sub" and k[1] == key[1]})
        relations.append(rel)
    for key in [k for k in values if k[0] == "sub"]:
        items = [k for k in values if k[0] == "item" and k[1] == key[1]
                 and any(r["item"] == k[2] and r["sub_criterion"] == key[2] for r in doc["items"])]
        if items:
            relations.append({key: 1.0, **{k: -1.0 / len(items) for k in items}})
    for key in [k for k in values if k[0] == "sipas" and k[2] != "item"]:
        if key[2] == "element":
            parts = [k for k in values if k[0] == "sipas" and k[1] == key[1] and k[2] == "item"
                     and k[3].split(".")[0] == key[3]]
        else:
            parts = [k for k in values if k[0] == "sipas" and k[1] == key[1] and k[2] == "element"]
        relations.append({key: 1.0, **{k: -1.0 / len(parts) for k in parts}})
    return values, relations


def _recover(values: dict, relations: list[dict]) -> dict:
    """Least squares on the relations with the published values moved to the right-hand side:
    every hidden cell the system determines, with its value."""
    hidden = [k for k, v in values.items() if v is None]
    if not hidden:
        return {}
    col = {k: i for i, k in enumerate(hidden)}
    a, b = [], []
    for rel in relations:
        row = np.zeros(len(hidden))
        rhs = 0.0
        for k, c in rel.items():
            if k in col:
                row[col[k]] += c
            else:
                rhs -= c * values[k]
        if np.abs(row).max() > 0:
            a.append(row)
            b.append(rhs)
    if not a:
        return {}
    a_m, b_v = np.array(a), np.array(b)
    x, *_ = np.linalg.lstsq(a_m, b_v, rcond=None)
    _, s, vt = np.linalg.svd(a_m)
    rank = int((s > 1e-10 * s.max()).sum())
    null = vt[rank:]
    return {k: x[i] for k, i in col.items() if null.size == 0 or np.abs(null[:, i]).max() < 1e-7}


def test_no_suppressed_cell_can_be_recovered_from_everything_exported(app, designed, tmp_path):
    from survey.services.scores import score_tables

    with app.app_context():
        result = score_campaign(designed, scoring_for_campaign(designed).config)
        full = _json(score_tables(result, k=1))
        published = _json(score_tables(result, k=3))
        # the same tables with primary suppression only, to show the attack works
        from survey.services import scores as svc

        real = svc.suppress
        svc.suppress = lambda cells, relations, k: {key for key, c in cells.items() if 0 < c.n < k}
        try:
            naive = _json(score_tables(result, k=3))
        finally:
            svc.suppress = real
    truth, _ = _published_cells(full)
    values, relations = _published_cells(published)
    hidden = [k for k, v in values.items() if v is None]
    assert len(hidden) > 5  # the campaign has small cells
    secondary = [r for t in ("scores", "items", "units", "sipas") for r in published.get(t, [])
                 if r.get("suppressed") == "secondary"]
    assert secondary  # complementary suppression was needed
    for key, value in _recover(values, relations).items():
        assert abs(value - truth[key]) > 1e-6, f"suppressed cell {key} recovered as {value}"
    naive_values, naive_rel = _published_cells(naive)
    recovered = {k: v for k, v in _recover(naive_values, naive_rel).items() if abs(v - truth[k]) < 1e-6}
    assert recovered, "with primary suppression alone some cell should be recoverable"


def _json(report) -> dict:
    from analysis.exports import json_bytes

    return json.loads(json_bytes(report))


# -- microdata ----------------------------------------------------------------------------------


def test_microdata_codes_as_printed_with_labels_and_dont_know_missing(app, designed, tmp_path):
    pyreadstat = pytest.importorskip("pyreadstat")
    sav, dta, xlsx = tmp_path / "m.sav", tmp_path / "m.dta", tmp_path / "m.xlsx"
    for path, fmt in ((sav, "sav"), (dta, "dta"), (xlsx, "xlsx")):
        _export(app, [responses_group, "export", "--campaign", "DS-2026", "--format", fmt,
                      "--values", "codes", "--out", str(path)])
    with app.app_context():
        rows = list(iter_microdata_rows(designed, values="codes"))
    item = "lead_plan"
    leader = next(r for r in rows if r[item] == "E")
    df, meta = pyreadstat.read_sav(str(sav), user_missing=True)
    assert set(df["lead_plan"].dropna()) - {""} <= {"A", "B", "C", "D", "E"}  # codes as printed ("" = no answer)
    assert meta.variable_value_labels["lead_plan"]["E"] == "Không biết / Don't know"
    assert meta.missing_user_values.get("lead_plan") == ["E"] or "lead_plan" in meta.missing_ranges
    assert meta.column_names_to_labels["lead_plan"].startswith("dept-division-rates-own-department@v1 lead_plan: ")
    plain, _ = pyreadstat.read_sav(str(sav))  # user-missing read as missing: a naive mean skips don't know
    assert plain.loc[df["response"] == leader["response"], item].isna().all()
    sipas_col = "s1_location"  # SIPAS S1.1, codes 1..5 and 9 (don't know)
    assert set(df[sipas_col].dropna()) <= {1.0, 2.0, 3.0, 4.0, 5.0, 9.0}
    assert 9.0 in meta.variable_value_labels[sipas_col]
    dta_df, dta_meta = pyreadstat.read_dta(str(dta))
    assert dta_df.loc[dta_df["response"] == leader["response"], item].isna().all()  # .a
    assert dta_meta.variable_value_labels["lead_plan"][1.0].startswith("A. ")
    assert {"stratum", "psu", "weight", "fpc", "group", "unit"} <= set(df.columns)
    assert not {"full_name", "email", "phone", "external_id"} & set(df.columns)
    from openpyxl import load_workbook

    wb = load_workbook(xlsx)
    assert wb.sheetnames == ["responses", "codebook"]


def test_microdata_rows_filter_by_unit_group_and_date(app, designed):
    with app.app_context():
        every = list(iter_microdata_rows(designed))
        s01 = list(iter_microdata_rows(designed, ResponseFilter(units=("S01",))))
        cit = list(iter_microdata_rows(designed, ResponseFilter(groups=("citizen",))))
        import datetime as dt

        later = list(iter_microdata_rows(designed, ResponseFilter(submitted_since=dt.date(2999, 1, 1))))
    assert len(s01) == LEADERS["S01"][1] + CITIZENS["S01"][1] and {r["unit"] for r in s01} == {"S01"}
    assert len(cit) == sum(a for _, a in CITIZENS.values())
    assert later == []
    # a filtered row keeps the weight of the full design
    weight = {r["response"]: r["weight"] for r in every}
    assert all(r["weight"] == weight[r["response"]] for r in s01)


# -- lonely PSU and CIs under the design ---------------------------------------------------------


def test_single_response_strata_follow_the_lonely_psu_rule(app, tmp_path):
    app.config["SMALL_CELL_K"] = 1
    campaign_id = _seed(app, tmp_path, ci="t", lonely="fail")
    with app.app_context():
        config = scoring_for_campaign(campaign_id).config
        with pytest.raises(ValueError, match="citizen\\|S04|dept_division_leader\\|S03"):
            score_campaign(campaign_id, config)
    cli = app.test_cli_runner().invoke(scores_cli, ["--campaign", "DS-2026", "--format", "json",
                                                    "--out", str(tmp_path / "x.json"), "--lang", "en"])
    assert cli.exit_code == 1 and "The design cannot be built" in cli.output and "lonely_psu" in cli.output
    assert "[SCORING-DESIGN]" in cli.output
    assert "citizen|S04" in cli.output or "dept_division_leader|S03" in cli.output
    assert not (tmp_path / "x.json").exists()
    with app.app_context():
        from dataclasses import replace

        from survey.services.scores import design_spec_for

        spec = design_spec_for(campaign_id)
        for rule in ("remove", "certainty", "adjust", "average"):
            result = score_campaign(campaign_id, config, spec=replace(spec, lonely_psu=rule))
            assert result.design.lonely_psu == rule and result.design.lonely_strata >= 2
            for u in result.units:
                if u.has_survey and math.isfinite(u.points.se):
                    assert 0 <= u.points.ci_low <= u.points.value <= u.points.ci_high <= 20
            for r in result.sub_criteria:
                if math.isfinite(r.score.se):
                    assert 0 <= r.score.ci_low <= r.score.value <= r.score.ci_high <= 1


# -- the sections are checked when the campaign is loaded ---------------------------------------


def test_scoring_and_design_sections_are_checked_at_load(app, tmp_path, vi):
    path = _write_config(tmp_path)
    text = path.read_text(encoding="utf-8")
    text = text.replace("method: logit", "method: wilson").replace('code: "3.1"', 'code: "9.9"')
    text = text.replace("lonely_psu: certainty", "lonely_psu: sometimes")
    path.write_text(text, encoding="utf-8")
    with app.app_context(), pytest.raises(CampaignInvalid) as info:
        create_campaign_from_config(path)
    found = {(e.code, e.path) for e in info.value.errors}
    assert ("CFG-SCORING", "scoring.ci.method") in found
    assert ("CFG-SCORING", "scoring.subcriteria[1].code") in found
    assert ("CFG-DESIGN", "design.lonely_psu") in found
    for e in info.value.errors:
        assert e.line is not None and e.message(vi) != e.message()
    with app.app_context():
        from survey.models import Campaign

        assert db.session().scalar(select(Campaign)) is None  # nothing half-written


# -- the API's rows carry the export's design -------------------------------------------------


def test_api_rows_carry_the_design_of_the_export_and_leave_public_qr_out(app, designed, tmp_path):
    """GET /responses (and ``responses stream``) give each response the stratum, psu, weight and
    fpc that ``responses export --format csv`` writes for the same id; a public-QR response is
    in neither."""
    with app.app_context():
        # a self-selected public-QR response: never a design row of the scores
        public_id = db.session().scalar(select(Response.id).order_by(Response.id.desc()).limit(1))
        db.session().execute(update(Response).where(Response.id == public_id).values(mode=Mode.PUBLIC))
        db.session().commit()
        create_staff_user("admin@tvh.gov.vn", "Cán bộ", "mot-mat-khau-dai-du", Role.ADMIN, ["84"])
        raw = create_api_token("admin@tvh.gov.vn", "tests")[1]
    micro = tmp_path / "micro.csv"
    _export(app, [responses_group, "export", "--campaign", "DS-2026", "--format", "csv", "--out", str(micro)])
    with micro.open(encoding="utf-8-sig", newline="") as f:
        exported = {int(r["response"]): r for r in csv.DictReader(f)}
    assert public_id not in exported

    def same_design(row: dict, weight: float, fpc: float, psu: int) -> None:
        e = exported[int(row["response_id"])]
        assert (row["stratum"], psu) == (e["stratum"], int(e["psu"]))
        assert weight == pytest.approx(float(e["weight"]), rel=1e-13)
        assert fpc == pytest.approx(float(e["fpc"]), rel=1e-13)

    client = app.test_client()
    h = {"Authorization": f"Bearer {raw}"}
    r = client.get("/api/v1/campaigns/DS-2026/responses", headers=h)
    assert r.status_code == 200
    rows = [json.loads(x) for x in r.get_data(as_text=True).splitlines()]
    assert [x["response_id"] for x in rows] == sorted(exported)
    for x in rows:
        same_design(x, x["weight"], x["fpc"], x["psu"])
    assert len({round(x["weight"], 9) for x in rows}) > 3  # raked citizens, listed leaders
    # a filtered page in CSV: the weights are still the whole campaign's design
    page = client.get("/api/v1/campaigns/DS-2026/responses?unit=S02&format=csv&limit=3", headers=h)
    got = list(csv.DictReader(page.get_data(as_text=True).splitlines()))
    assert len(got) == 3 and {x["unit"] for x in got} == {"S02"}
    for x in got:
        same_design(x, float(x["weight"]), float(x["fpc"]), int(x["psu"]))
    # the CLI streams the same rows
    out = app.test_cli_runner().invoke(args=["responses", "stream", "--campaign", "DS-2026"])
    assert out.exit_code == 0, out.output
    assert [json.loads(x) for x in out.output.splitlines()] == rows


# -- reading the responses: binary COPY on PostgreSQL, the driver elsewhere ----------------------


def test_responses_read_by_copy_equal_those_read_through_the_driver(app, designed, monkeypatch):
    """On PostgreSQL the scores read the responses with one binary COPY per questionnaire
    version; everything they read (ids, units, groups, item codes, dates, weighting answers)
    is what the driver's rows give."""
    from survey.models import Campaign
    from survey.services import copy_rows, scores

    with app.app_context():
        s = db.session()
        campaign_id = s.scalar(select(Campaign.id).where(Campaign.code == "DS-2026"))
        copied = copy_rows.available(s)
        read = [scores.load_score_inputs(campaign_id, ["sex"], with_dates=True, profile_groups=["citizen"]),
                scores.load_score_inputs(campaign_id, ["sex"], ResponseFilter(units=("S01",)))]
        monkeypatch.setattr(copy_rows, "available", lambda _s: False)
        fetched = [scores.load_score_inputs(campaign_id, ["sex"], with_dates=True, profile_groups=["citizen"]),
                   scores.load_score_inputs(campaign_id, ["sex"], ResponseFilter(units=("S01",)))]
    assert copied == (db_backend(app) == "postgresql")
    for a, b in zip(read, fetched, strict=True):
        assert a.n_rows == b.n_rows > 0
        for name in ("response_id", "unit", "level", "group", "version_id"):
            assert getattr(a, name).tolist() == getattr(b, name).tolist(), name
        assert a.answers.keys() == b.answers.keys()
        assert all((a.answers[k] == b.answers[k]).all() for k in a.answers)
        assert a.profile["sex"].tolist() == b.profile["sex"].tolist()
        assert (a.submitted_on is None) == (b.submitted_on is None)
        if a.submitted_on is not None:
            assert a.submitted_on.tolist() == b.submitted_on.tolist()
    # the weighting answer is read for the weighted group only, and as given
    sexes = dict(zip(read[0].group.tolist(), read[0].profile["sex"].tolist(), strict=True))
    assert sexes["dept_division_leader"] is None and sexes["citizen"] in ("male", "female")


def db_backend(app) -> str:
    with app.app_context():
        return db.session().get_bind().dialect.name


def test_a_copy_stream_of_another_layout_is_refused():
    """The packed batches are read only when every batch holds its count of whole rows and
    every byte string has its field's width; anything else is refused, never misread."""
    from survey.services import copy_rows

    fields = [copy_rows.Field("id", "int4"), copy_rows.Field("codes", "bytes", 3)]
    header = b"PGCOPY\n\xff\r\n\x00" + bytes(8)

    def row(key: int, codes: bytes) -> bytes:
        return key.to_bytes(4, "big") + len(codes).to_bytes(4, "big") + codes

    def batch(count: int, rows: bytes) -> bytes:
        return b"\x00\x02" + (4).to_bytes(4, "big") + count.to_bytes(4, "big") + len(rows).to_bytes(4, "big") + rows

    good = header + batch(2, row(7, b"\x01\x02\x03") + row(9, b"\x00\x04\x01")) + batch(1, row(8200, b"\x02\x02\x02")) \
        + b"\xff\xff"
    got = copy_rows.parse(good, fields)
    assert got["id"].tolist() == [7, 9, 8200] and got["codes"].tolist() == [[1, 2, 3], [0, 4, 1], [2, 2, 2]]
    # same total size, other field lengths
    short = header + batch(2, row(7, b"\x01\x02") + row(9, b"\x00\x04\x01\x05")) + b"\xff\xff"
    # a row lost from a batch (a NULL column drops it from string_agg): the count says so
    lost = header + batch(3, row(7, b"\x01\x02\x03") + row(9, b"\x00\x04\x01")) + b"\xff\xff"
    for bad in (short, lost, header + batch(1, row(7, b"\x01\x02")) + b"\xff\xff", good[:-2], good[:-9] + b"\xff\xff"):
        with pytest.raises(copy_rows.CopyMismatch):
            copy_rows.parse(bad, fields)


def test_weighting_cells_are_labelled_from_every_margin_variable():
    from survey.services.scores import _cell_labels

    sex = np.array(["male", "female", None, "female", "male"], dtype=object)
    age = np.array(["18-39", "40+", "40+", None, "18-39"], dtype=object)
    value, missing = _cell_labels([sex, age], 5)
    assert value.tolist() == ["male|18-39", "female|40+", "(missing)", "(missing)", "male|18-39"]
    assert missing.tolist() == [False, False, True, True, False]
    value, missing = _cell_labels([sex], 5)
    assert value.tolist() == ["male", "female", "(missing)", "female", "male"]


def test_the_versions_and_units_of_the_responses_are_found_without_reading_every_response(app, designed):
    """The loose index scan over (group, version) finds every version the responses use, and
    the rated units are those with a quota cell or a response: what a full read gives."""
    from survey.models import Campaign, QuotaCell, Unit
    from survey.services import scores
    from survey.services.questionnaires import response_versions

    with app.app_context():
        s = db.session()
        campaign_id = s.scalar(select(Campaign.id).where(Campaign.code == "DS-2026"))
        every = sorted(set(s.scalars(select(Response.questionnaire_version_id)
                                     .where(Response.campaign_id == campaign_id))))
        assert len(every) >= 2 and response_versions(campaign_id) == every
        rated = set(s.scalars(select(Unit.code).where(Unit.id.in_(
            select(QuotaCell.rated_unit_id).where(QuotaCell.campaign_id == campaign_id).union(
                select(Response.rated_unit_id).where(Response.campaign_id == campaign_id))))))
        assert set(scores.rated_units(campaign_id)) == rated


def test_scoring_leaves_the_garbage_collector_as_it_found_it(app, designed, monkeypatch):
    """The result objects are built without cyclic collection (it walked them again and
    again), and the collector is back as it was afterwards."""
    import gc

    from survey.models import Campaign
    from survey.services import scores
    from survey.services.scoring_config import scoring_for_campaign

    seen = []
    real = scores.score_responses

    def spy(*args, **kwargs):
        seen.append(gc.isenabled())
        return real(*args, **kwargs)

    monkeypatch.setattr(scores, "score_responses", spy)
    with app.app_context():
        campaign_id = db.session().scalar(select(Campaign.id).where(Campaign.code == "DS-2026"))
        assert gc.isenabled()
        scores.score_campaign(campaign_id, scoring_for_campaign(campaign_id).config)
    assert seen == [False] and gc.isenabled()
    gc.disable()
    try:
        with scores.without_cycle_collection():
            pass
        assert not gc.isenabled()  # it was off before: left off
    finally:
        gc.enable()
