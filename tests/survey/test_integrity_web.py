"""Paradata recording, the integrity scan, reviewers' decisions and annulments (both backends)."""

from __future__ import annotations

from sqlalchemy import inspect, select, text

import survey.manage.integrity  # noqa: F401  (registers the routes until survey.manage imports it)
from analysis.integrity import IntegrityConfig
from survey import db
from survey.cli.integrity_cmd import integrity_group
from survey.models import AuditEvent, Campaign, Form, Response, ResponseStatus, Unit
from survey.models.integrity import (
    FormParadata,
    IntegrityFlag,
    IntegrityVerdict,
    ResponseParadata,
    UnitAnnulment,
)
from survey.services.integrity import annul_unit, decide_response, scan_campaign
from survey.services.paradata import ClientInfo, PageTiming, keyed_hash, network_prefix
from survey.services.quotas import quota_state
from survey.services.respondents import import_respondents
from survey.services.responding import (
    SubmitOutcome,
    load_form,
    response_key,
    save_page,
    submit_form,
)
from survey.services.scores import default_scoring_config, load_campaign_questionnaires, score_campaign
from tests.conftest import csrf_from
from tests.survey.conftest import LIST, login

UA = "Mozilla/5.0 (IntegrityTest; rv:99) Gecko/20100101 ParTestAgent/7.7"
PAGE1 = {"u0-lead_plan": "A", "u0-lead_head": "B", "u0-lead_innovation": "C"}
PAGE2 = {"u0-proc_public": "D", "u0-proc_ontime": "B", "u0-egov_online": "A"}
# Six scored answers; the built-in questionnaire has six scored items, so the tests lower
# the straight-line minimum from the default 8.
HONEST = ("A", "B", "C", "D", "B", "A")
STRAIGHT = ("A",) * 6
CONFIG = IntegrityConfig(straightline_min_items=5)
ITEMS = ("lead_plan", "lead_head", "lead_innovation", "proc_public", "proc_ontime", "egov_online")


def _shift_page_clock(client, seconds: float) -> None:
    with client.session_transaction() as sess:
        shown = list(sess["page_shown"])
        shown[2] -= seconds
        sess["page_shown"] = shown


def _post_page(client, page: int, data: dict, seconds: float):
    html = client.get(f"/f/p/{page}").get_data(as_text=True)
    _shift_page_clock(client, seconds)
    return client.post(f"/f/p/{page}", data={**data, "csrf_token": csrf_from(html),
                                              "action": "next"})


def _all_stored_text(app) -> str:
    """Every row of every table in the database, as text."""
    engine = app.extensions["db_engine"]
    out = []
    with engine.connect() as conn:
        for name in inspect(conn).get_table_names():
            out.extend(repr(tuple(row)) for row in conn.execute(text(f'SELECT * FROM "{name}"')))
    return "\n".join(out)


def test_answering_through_the_web_records_paradata_but_no_address(app, make_form):
    form_id, token = make_form()
    client = app.test_client()
    client.environ_base.update({"REMOTE_ADDR": "127.0.0.1", "HTTP_USER_AGENT": UA})
    assert client.get(f"/s/{token}").status_code == 302
    assert _post_page(client, 1, PAGE1, 40).status_code == 302
    assert _post_page(client, 2, PAGE2, 25).status_code == 302
    assert _post_page(client, 3, {"u0-has_suggestion": "N"}, 5).status_code == 302
    with app.app_context():
        expected_net = keyed_hash("net", network_prefix("127.0.0.1") or "")
        assert network_prefix("127.0.0.1") == "127.0.0.0/24"
        assert network_prefix("2001:db8:abcd:12::1") == "2001:db8:abcd::/48"
        row = db.session().get(FormParadata, form_id)
        assert row is not None and row.first_opened_at is not None
        assert row.page_seconds["0"] >= 40 and row.page_seconds["1"] >= 25
        assert row.page_items == {"0": 3, "1": 3, "2": 1}
        assert row.network_hash == expected_net and row.device_hash == keyed_hash("ua", UA)
        assert row.link_devices == [keyed_hash("ua", UA)]
    review = client.get("/f/review").get_data(as_text=True)
    assert client.post("/f/submit", data={"csrf_token": csrf_from(review)}).status_code == 302
    with app.app_context():
        s = db.session()
        assert s.get(FormParadata, form_id) is None  # the form side is dropped at submit
        response = s.scalar(select(Response))
        para = s.get(ResponseParadata, response.id)
        assert para.mode == 0  # web
        assert para.page_seconds[0] >= 40 and para.page_seconds[1] >= 25
        assert para.page_seconds[3] is None and para.page_items == [3, 3, 1, 0]
        assert 70 <= para.total_seconds < 200
        assert para.network_hash == expected_net and para.device_hash == keyed_hash("ua", UA)
        assert para.link_open_devices == 1
        form = s.get(Form, form_id)
        assert para.submitted_at is not None and para.submitted_at <= form.submitted_at
        assert para.submitted_at.second == 0 and para.submitted_at.minute % 5 == 0
    stored = _all_stored_text(app)
    for raw in ("127.0.0.1", "127.0.0", UA, "ParTestAgent", "IntegrityTest"):
        assert raw not in stored


def _submit(form_id: int, answers: tuple[str, ...], seconds: float, source: int) -> int:
    """Answer every page through the services with controlled timing; the response id."""
    ctx = load_form(form_id)
    key = str(ctx.assignments[0].id)
    values = dict(zip(ITEMS, answers, strict=True)) | {"has_suggestion": "N"}
    timing = PageTiming(seconds, ClientInfo(network_hash=1000 + source, device_hash=5000 + source))
    for i in range(len(ctx.questionnaire.sections)):
        ctx = save_page(ctx, i, {key: values}, timing)
    assert submit_form(load_form(form_id)) is SubmitOutcome.SUBMITTED
    rkey = response_key(ctx.assignments[0].id)
    return db.session().scalar(select(Response.id).where(Response.response_key == rkey))


def _seed(app, make_campaign, make_form) -> dict[str, int]:
    campaign = make_campaign(departments=2)
    kinds = {"honest1": (HONEST, 20.0, "S01"), "honest2": (HONEST, 25.0, "S01"),
             "honest3": (("B", "C", "A", "A", "D", "C"), 30.0, "S02"),
             "speeder": (HONEST, 1.0, "S01"), "straight": (STRAIGHT, 20.0, "S02"),
             "both": (STRAIGHT, 1.0, "S02")}
    forms = {k: make_form(units=(unit,), campaign=campaign, email=f"{k}@example.vn")[0]
             for k, (_a, _s, unit) in kinds.items()}
    with app.app_context():
        return {k: _submit(forms[k], a, sec, i) for i, (k, (a, sec, _u)) in enumerate(kinds.items())}


def _campaign(app) -> Campaign:
    return db.session().scalar(select(Campaign))


def test_scan_flags_speeders_and_straight_liners_and_excludes_on_two_families(
        app, make_campaign, make_form):
    ids = _seed(app, make_campaign, make_form)
    with app.app_context():
        summary = scan_campaign(_campaign(app), CONFIG)
        assert summary.responses == 6 and summary.excluded == 1
        s = db.session()
        verdicts = {v.response_id: v for v in s.scalars(select(IntegrityVerdict))}
        assert set(verdicts) == {ids["speeder"], ids["straight"], ids["both"]}
        assert verdicts[ids["speeder"]].recommendation == "review"
        assert verdicts[ids["straight"]].recommendation == "review"
        assert verdicts[ids["both"]].recommendation == "exclude"
        assert verdicts[ids["both"]].families == 2
        status = dict(s.execute(select(Response.id, Response.status)).tuples().all())
        assert status[ids["both"]] is ResponseStatus.EXCLUDED
        assert status[ids["speeder"]] is ResponseStatus.VALID  # one family: review only
        assert status[ids["straight"]] is ResponseStatus.VALID
        assert status[ids["honest1"]] is ResponseStatus.VALID
        flags = {(f.response_id, f.check_code): f for f in s.scalars(select(IntegrityFlag))}
        speed = flags[(ids["speeder"], "speeder_pages")]
        assert speed.family == "timing" and "3 of 3 pages faster than 2 s per item" in speed.evidence
        line = flags[(ids["straight"], "straight_line")]
        assert line.family == "answers" and line.evidence == "6 of 6 answers are option A"
        assert {c for r, c in flags if r == ids["both"]} == {"speeder_pages", "straight_line"}
        assert not any(r in (ids["honest1"], ids["honest2"], ids["honest3"]) for r, _c in flags)
        events = s.scalars(select(AuditEvent).where(AuditEvent.action == "integrity.scan")).all()
        assert len(events) == 1 and events[0].detail["exclude"] == 1


def _set_integrity(section: dict | None) -> None:
    with db.write_transaction() as s:
        s.scalar(select(Campaign)).integrity = section


def test_the_campaign_files_thresholds_drive_the_scan(app, make_campaign, make_form):
    ids = _seed(app, make_campaign, make_form)
    with app.app_context():
        # defaults: six answers are too few for the straight-line check (8 items)
        scan_campaign(_campaign(app))
        s = db.session()
        flagged = {(f.response_id, f.check_code) for f in s.scalars(select(IntegrityFlag))}
        assert (ids["straight"], "straight_line") not in flagged
        assert (ids["speeder"], "speeder_pages") in flagged
        # the campaign lowers the minimum and switches the timing checks off
        _set_integrity({"straightline_min_items": 5,
                        "disable": ["speeder_pages", "speeder_total"]})
        summary = scan_campaign(_campaign(app))
        s.expire_all()
        flagged = {(f.response_id, f.check_code) for f in s.scalars(select(IntegrityFlag))}
        assert (ids["straight"], "straight_line") in flagged
        assert not any(c.startswith("speeder") for _r, c in flagged)
        assert summary.excluded == 0  # "both" has one family left: review only
        assert s.get(IntegrityVerdict, ids["both"]).recommendation == "review"
        # timing back on: two families agree on "both"
        _set_integrity({"straightline_min_items": 5})
    runner = app.test_cli_runner()
    result = runner.invoke(integrity_group, ["scan", "--campaign", "T-2026", "--lang", "en"])
    assert result.exit_code == 0, result.output
    assert "excluded 1" in result.output
    with app.app_context():
        assert db.session().get(Response, ids["both"]).status is ResponseStatus.EXCLUDED


def test_reviewer_decisions_survive_a_rescan(app, make_campaign, make_form):
    ids = _seed(app, make_campaign, make_form)
    with app.app_context():
        campaign = _campaign(app)
        scan_campaign(campaign, CONFIG)
        s = db.session()
        count = len(s.scalars(select(IntegrityFlag)).all())
        decide_response(campaign, ids["both"], "accept", "Đã gọi điện xác minh")
        decide_response(campaign, ids["speeder"], "exclude", "Trả lời quá nhanh, xác minh sai")
        assert s.get(Response, ids["both"]).status is ResponseStatus.VALID
        scan_campaign(campaign, CONFIG)
        s.expire_all()
        flags = s.scalars(select(IntegrityFlag)).all()
        assert len(flags) == count  # replaced, not added
        both = s.get(IntegrityVerdict, ids["both"])
        assert both.recommendation == "exclude" and both.decision == "accept"
        assert both.reason == "Đã gọi điện xác minh"
        assert s.get(Response, ids["both"]).status is ResponseStatus.VALID
        assert s.get(Response, ids["speeder"]).status is ResponseStatus.EXCLUDED
        actions = [e.action for e in s.scalars(select(AuditEvent).order_by(AuditEvent.id))]
        assert actions == ["integrity.scan", "integrity.accept", "integrity.exclude",
                           "integrity.scan"]
        # the command line does the same scan (default thresholds) and keeps the decisions
    runner = app.test_cli_runner()
    result = runner.invoke(integrity_group, ["scan", "--campaign", "T-2026", "--lang", "en"])
    assert result.exit_code == 0, result.output
    assert "T-2026: 6 responses" in result.output and "decisions kept 2" in result.output
    assert runner.invoke(integrity_group, ["scan", "--campaign", "NOPE"]).exit_code == 1
    with app.app_context():
        s = db.session()
        assert s.get(IntegrityVerdict, ids["both"]).decision == "accept"
        assert s.get(Response, ids["speeder"]).status is ResponseStatus.EXCLUDED


def _answer_world_form(form_id: int) -> int:
    return _submit(form_id, HONEST, 20.0, form_id)


def test_exclusion_and_annulment_leave_quotas_and_scores(world, tmp_path):
    more = tmp_path / "more.csv"
    more.write_text(LIST + "C,Lê Văn Cường,dept_division_leader,S01,cuong@example.vn\n"
                    "D,Phạm Thị Dung,dept_division_leader,S02,dung@example.vn\n"
                    "E,Hoàng Văn Em,dept_division_leader,S01,em@example.vn\n", encoding="utf-8")
    with world.app_context():
        import_respondents("OWN-2026", more)
        s = db.session()
        campaign = s.scalar(select(Campaign).where(Campaign.code == "OWN-2026"))
        forms = s.scalars(select(Form.id).where(Form.campaign_id == campaign.id)
                          .order_by(Form.id)).all()
        assert len(forms) == 5
        for f in forms:
            _answer_world_form(f)
        config = default_scoring_config(load_campaign_questionnaires(campaign.id))
        before = {u.unit: u.responses for u in score_campaign(campaign.id, config).units}
        assert before == {"S01": 3, "S02": 2}
        cells = {c.rated_unit: c for c in quota_state(campaign.id).cells}
        assert cells["S01"].valid == 3 and cells["S01"].completed == 3

        s01 = s.scalar(select(Response.id).join(Unit, Unit.id == Response.rated_unit_id)
                       .where(Unit.code == "S01").order_by(Response.id).limit(1))
        decide_response(campaign, s01, "exclude", "Phiếu trùng lặp đã xác minh")
        cells = {c.rated_unit: c for c in quota_state(campaign.id).cells}
        assert cells["S01"].valid == 2 and cells["S01"].completed == 3
        after = {u.unit: u.responses for u in score_campaign(campaign.id, config).units}
        assert after == {"S01": 2, "S02": 2}

        annul_unit(campaign, "S02", "Đơn vị can thiệp vào khảo sát")
        # the annulled unit keeps its row in the ranked table, as a unit without a survey
        assert {(u.unit, u.has_survey): u.responses for u in score_campaign(campaign.id, config).units} \
            == {("S01", True): 2, ("S02", False): 0}
        assert s.scalar(select(UnitAnnulment.reason)) == "Đơn vị can thiệp vào khảo sát"
        events = {e.action: e for e in s.scalars(select(AuditEvent))}
        assert events["integrity.exclude"].object_id == str(s01)
        assert events["integrity.annul_unit"].object_id == "S02"
        assert events["integrity.annul_unit"].detail["reason"] == "Đơn vị can thiệp vào khảo sát"


def test_review_page_shows_evidence_to_admins_only(world):
    with world.app_context():
        s = db.session()
        campaign = s.scalar(select(Campaign).where(Campaign.code == "OWN-2026"))
        forms = s.scalars(select(Form.id).where(Form.campaign_id == campaign.id)
                          .order_by(Form.id)).all()
        bad = _submit(forms[0], STRAIGHT, 1.0, 1)
        _submit(forms[1], HONEST, 20.0, 2)
        scan_campaign(campaign, CONFIG)
        assert s.get(Response, bad).status is ResponseStatus.EXCLUDED
    for role in ("contractor", "focal_point", "viewer"):
        other = world.test_client()
        login(other, f"{role}@tvh.gov.vn")
        assert other.get("/manage/c/OWN-2026/integrity").status_code == 403
        assert other.get("/manage/c/OWN-2026/integrity.csv").status_code == 403
    client = world.test_client()
    login(client, "admin@tvh.gov.vn")
    page = client.get("/manage/c/OWN-2026/integrity")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    # evidence in the page language (Vietnamese by default)
    assert "6 trên 6 câu trả lời là phương án A" in html
    assert "trang nhanh hơn 2 giây mỗi câu" in html
    assert "Nguyễn Văn An" not in html and "an@example.vn" not in html
    assert "<code>burst_min_forms</code></td><td>5</td>" in html  # the thresholds in use
    assert client.get("/manage/c/OTHER-2026/integrity").status_code == 404
    r = client.post("/manage/c/OWN-2026/integrity/decide",
                    data={"csrf_token": csrf_from(html), "response_id": bad,
                          "decision": "accept", "reason": "x"})
    assert r.status_code == 422  # reason too short
    r = client.post("/manage/c/OWN-2026/integrity/decide",
                    data={"csrf_token": csrf_from(html), "response_id": bad,
                          "decision": "accept", "reason": "Đã xác minh với người trả lời"})
    assert r.status_code == 302
    r = client.post("/manage/c/OWN-2026/integrity/annul",
                    data={"csrf_token": csrf_from(html), "unit": "S02",
                          "reason": "Can thiệp vào khảo sát"})
    assert r.status_code == 200 and 'name="confirm" value="yes"' in r.get_data(as_text=True)
    r = client.post("/manage/c/OWN-2026/integrity/annul",
                    data={"csrf_token": csrf_from(html), "unit": "S02", "confirm": "yes",
                          "reason": "Can thiệp vào khảo sát"})
    assert r.status_code == 302
    r = client.post("/manage/c/OWN-2026/integrity/scan", data={"csrf_token": csrf_from(html)})
    assert r.status_code == 302
    html = client.get("/manage/c/OWN-2026/integrity?state=decided").get_data(as_text=True)
    assert ": Đã xác minh với người trả lời" in html and "Can thiệp vào khảo sát" in html
    report = client.get("/manage/c/OWN-2026/integrity/report")
    assert report.status_code == 200 and "S02" in report.get_data(as_text=True)
    csv = client.get("/manage/c/OWN-2026/integrity.csv")
    assert csv.status_code == 200 and csv.data.startswith(b"\xef\xbb\xbf")
    header, *rows = csv.data.decode("utf-8-sig").splitlines()
    assert header.startswith("unit,group,responses,flagged,excluded,flag_rate")
    assert any(r.startswith("S01,dept_division_leader,1,1,0,1") for r in rows)
    assert client.get("/manage/c/OWN-2026/integrity.xlsx").data[:2] == b"PK"
    with world.app_context():
        s = db.session()
        assert s.get(Response, bad).status is ResponseStatus.VALID  # the accept survived
        actions = {e.action for e in s.scalars(select(AuditEvent))}
        assert {"integrity.scan", "integrity.accept", "integrity.annul_unit",
                "export.integrity"} <= actions
        accept = s.scalar(select(AuditEvent).where(AuditEvent.action == "integrity.accept"))
        assert accept.actor_email == "admin@tvh.gov.vn"


def test_evidence_of_every_check_reads_in_vietnamese_and_as_stored_in_english(app):
    import numpy as np

    from analysis.integrity import Check, scan
    from analysis.synthetic import synthetic_campaign
    from survey.manage.integrity import evidence_text
    from survey.services.integrity import _json_safe

    report = scan(synthetic_campaign(np.random.default_rng(7)).paradata)
    flags = [f for fs in report.flags.values() for f in fs]
    examples = {f.check: (_json_safe(f.params), f.evidence) for f in flags}
    examples |= {u.check: (_json_safe(u.params), u.evidence) for u in report.units}
    assert set(examples) == set(Check)  # the synthetic campaign trips every check
    for lang in ("en", "vi"):
        with app.test_request_context(f"/manage/?lang={lang}"):
            for check, (params, stored) in examples.items():
                text = evidence_text(check.value, params, stored)
                if lang == "en" and check is Check.SPEEDER_TOTAL:
                    # reworded for reviewers: durations a person reads, not seconds
                    assert text.startswith("finished the form in ") and " min" in text
                elif lang == "en":
                    assert text == stored, check
                else:
                    assert text != stored and "%(" not in text, check
    with app.test_request_context("/manage/?lang=vi"):
        assert evidence_text("burst", {"count": 1}, "stored text") == "stored text"
