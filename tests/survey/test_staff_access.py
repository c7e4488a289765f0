"""Staff accounts: the route x role x province matrix, login hardening, audit, the dashboard."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select, text, update

from survey import db
from survey.manage.access import PERMISSIONS, ROUTES
from survey.models import AuditEvent, Form, Role, StaffSession, utcnow
from survey.services.campaigns import create_campaign_from_config
from survey.services.respondents import import_respondents
from survey.services.responding import SubmitOutcome, load_form, save_page, submit_form
from survey.services.staff import create_staff_user
from tests.conftest import csrf_from
from tests.survey.conftest import ANSWERS, LIST, PASSWORD, config, login, url_for_rule

ROOT = Path(__file__).resolve().parents[2]


def test_every_staff_route_has_a_rule(app):
    endpoints = {r.endpoint for r in app.url_map.iter_rules()
                 if r.endpoint.startswith(("manage.", "api."))}
    assert endpoints == set(ROUTES), "a staff or API route was added without a permission rule"
    assert all(r.permission is None or r.permission in PERMISSIONS for r in ROUTES.values())


def test_route_role_province_matrix(world):
    rules = {r.endpoint: r for r in world.url_map.iter_rules()
             if r.endpoint in ROUTES and not ROUTES[r.endpoint].api}  # API: the test below
    checked = 0
    for role in Role:
        client = world.test_client()
        world.config["WTF_CSRF_ENABLED"] = True
        assert login(client, f"{role.value}@tvh.gov.vn").status_code == 302
        world.config["WTF_CSRF_ENABLED"] = False  # CSRF has its own tests; here: access only
        for endpoint, rule in rules.items():
            meta = ROUTES[endpoint]
            method = "GET" if "GET" in rule.methods else "POST"
            if endpoint == "manage.logout":
                continue  # ends the session; tested below
            for province, code in (("own", "OWN-2026"), ("other", "OTHER-2026")):
                if not meta.campaign_scoped and province == "other":
                    continue
                r = client.open(url_for_rule(rule.rule, code), method=method, data={})
                permitted = meta.permission is None or role in PERMISSIONS[meta.permission]
                if not permitted:
                    expected = {403}
                elif meta.campaign_scoped and province == "other":
                    expected = {404}
                else:
                    expected = {200, 302, 422}
                assert r.status_code in expected, (role, endpoint, province, r.status_code)
                checked += 1
    assert checked > 4 * len(rules)


def test_anonymous_is_sent_to_login(world):
    client = world.test_client()
    world.config["WTF_CSRF_ENABLED"] = False
    for endpoint, meta in ROUTES.items():
        if meta.permission is None:
            continue
        rule = next(r for r in world.url_map.iter_rules() if r.endpoint == endpoint)
        method = "GET" if "GET" in rule.methods else "POST"
        r = client.open(url_for_rule(rule.rule, "OWN-2026"), method=method)
        if meta.api:  # a token, never the login page
            assert r.status_code == 401 and r.mimetype == "application/problem+json", endpoint
            continue
        assert r.status_code == 302 and "/manage/login" in r.headers["Location"], endpoint


def test_api_route_role_province_matrix(world):
    """Every API route, for a token of every role: the page rule (403 for a role without the
    permission, 404 for another province's campaign); revoked and expired tokens are 401."""
    from survey.services.api_tokens import create_api_token, revoke_api_token

    world.config["API_IMPORT_THREADS"] = False  # posted lists wait; this is about access
    with world.app_context():
        tokens = {role: create_api_token(f"{role.value}@tvh.gov.vn", "matrix")[1]
                  for role in Role}
    rules = [r for r in world.url_map.iter_rules() if r.endpoint.startswith("api.")]
    checked = 0
    for role in Role:
        client = world.test_client()
        headers = {"Authorization": f"Bearer {tokens[role]}"}
        for rule in rules:
            meta = ROUTES[rule.endpoint]
            method = "GET" if "GET" in rule.methods else "POST"
            for province, code in (("own", "OWN-2026"), ("other", "OTHER-2026")):
                if not meta.campaign_scoped and province == "other":
                    continue
                path = url_for_rule(rule.rule, code).replace("<job_id>", "none")
                r = client.open(path, method=method, headers=headers, data={})
                permitted = meta.permission is None or role in PERMISSIONS[meta.permission]
                if not permitted:
                    expected = {403}
                elif meta.campaign_scoped and province == "other":
                    expected = {404}
                elif "<job_id>" in rule.rule:
                    expected = {404}  # no such job (in scope: the job is looked up)
                else:
                    expected = {200, 400}  # 400: the import POSTed without a file
                assert r.status_code in expected, (role, rule.endpoint, province, r.status_code)
                r.close()
                checked += 1
    assert checked > 4 * len(rules)
    with world.app_context():
        revoke_api_token("admin@tvh.gov.vn", name="matrix")
        _, expired = create_api_token("viewer@tvh.gov.vn", "old", expires_days=1)
        from survey.models import ApiToken

        with db.write_transaction() as s:
            s.execute(update(ApiToken).where(ApiToken.name == "old")
                      .values(expires_at=utcnow() - dt.timedelta(minutes=1)))
    for raw in (tokens[Role.ADMIN], expired):
        r = world.test_client().get("/api/v1/campaigns/OWN-2026",
                                    headers={"Authorization": f"Bearer {raw}"})
        assert r.status_code == 401 and r.get_json()["code"] == "API-TOKEN-INVALID"


def test_focal_point_sees_only_its_own_agency_counts(world):
    client = world.test_client()
    login(client, "focal_point@tvh.gov.vn")
    page = client.get("/manage/c/OWN-2026/").get_data(as_text=True)
    assert "S01" in page and ">S02<" not in page
    data = client.get("/manage/c/OWN-2026/quotas.json").get_json()
    assert {c["rated_unit"] for c in data["cells"]} == {"S01"}
    assert "by_group" not in data  # no campaign-wide figures either
    assert "Nguyễn Văn An" not in page and "an@example.vn" not in page


def test_dashboard_numbers_follow_a_submission(world):
    with world.app_context():
        form_id = db.session().scalar(select(Form.id).order_by(Form.id))
        ctx = load_form(form_id)
        key = str(ctx.assignments[0].id)
        for i in range(len(ctx.questionnaire.sections)):
            ctx = save_page(ctx, i, {key: ANSWERS})
        assert submit_form(ctx) is SubmitOutcome.SUBMITTED
    client = world.test_client()
    login(client, "contractor@tvh.gov.vn")
    data = client.get("/manage/c/OWN-2026/quotas.json").get_json()
    assert data["total"]["target"] == 4 and data["total"]["completed"] == 1
    assert data["total"]["invited"] == 2
    page = client.get("/manage/c/OWN-2026/?sort=name").get_data(as_text=True)
    assert ">1/2" in page and ">0/2" in page  # the group × unit matrix
    assert ">0/2" in client.get("/manage/c/OWN-2026/?level=department").get_data(as_text=True)
    assert ">1/2" not in client.get("/manage/c/OWN-2026/?unit=S02").get_data(as_text=True)
    assert "1 / 2" in client.get(  # the selection's quota cells in detail
        "/manage/c/OWN-2026/?group=dept_division_leader").get_data(as_text=True)
    assert 'class="heat"' not in client.get(  # no commune cells in this campaign
        "/manage/c/OWN-2026/?level=commune").get_data(as_text=True)
    csv = client.get("/manage/c/OWN-2026/quotas.csv")
    assert csv.status_code == 200 and csv.data.startswith(b"\xef\xbb\xbf")
    assert b"dept_division_leader" in csv.data


def test_login_rotates_the_session_and_logout_really_ends_it(world):
    client = world.test_client()
    client.get("/manage/login")
    with client.session_transaction() as s:
        s["planted"] = "from before login"
    assert login(client, "admin@tvh.gov.vn").status_code == 302
    with client.session_transaction() as s:
        assert "planted" not in s
        stolen = dict(s)
    assert client.get("/manage/").status_code == 200
    page = client.get("/manage/").get_data(as_text=True)
    assert client.post("/manage/logout", data={"csrf_token": csrf_from(page)}).status_code == 302
    thief = world.test_client()
    with thief.session_transaction() as s:
        s.update(stolen)  # the signed cookie copied before logout
    r = thief.get("/manage/")
    assert r.status_code == 302 and "/manage/login" in r.headers["Location"]


def test_idle_sessions_expire(world):
    client = world.test_client()
    login(client, "admin@tvh.gov.vn")
    assert client.get("/manage/").status_code == 200
    with world.app_context(), db.write_transaction() as s:
        s.execute(update(StaffSession).values(last_seen_at=utcnow() - dt.timedelta(minutes=31)))
    assert client.get("/manage/").status_code == 302


def test_session_cookie_flags(world):
    client = world.test_client()
    r = login(client, "admin@tvh.gov.vn")
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    world.config["SESSION_COOKIE_SECURE"] = True
    r = login(world.test_client(), "admin@tvh.gov.vn")
    assert "Secure" in r.headers["Set-Cookie"]


def test_wrong_password_is_refused_without_saying_which_part(world):
    client = world.test_client()
    wrong = login(client, "admin@tvh.gov.vn", "not-the-password")
    unknown = login(client, "nobody@tvh.gov.vn", "not-the-password")
    assert wrong.status_code == unknown.status_code == 401
    assert "không đúng" in wrong.get_data(as_text=True)


CHILD = """
import os, sys, re
os.environ["PAR_SURVEY_SECRET_KEY"] = "test-secret-key-not-for-production"
from survey import create_app
app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": sys.argv[1],
                  "SERVER_NAME": "survey.test",
                  "RATE_LIMIT_STORAGE": os.environ.get("PAR_SURVEY_RATE_LIMIT_STORAGE", "database")})
for _ in range(int(sys.argv[2])):
    c = app.test_client()
    page = c.get("/manage/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    r = c.post("/manage/login", data={"email": "admin@tvh.gov.vn", "password": "wrong-password",
                                      "csrf_token": token}, environ_base={"REMOTE_ADDR": sys.argv[3]})
    assert r.status_code == 401, r.status_code
"""


REDIS_URL = "redis://127.0.0.1:6379/15"


@pytest.fixture(params=["database", "redis"])
def storage(request, world):
    """Where failed logins are counted: the database, or a real Redis on this machine."""
    if request.param == "redis":
        import redis

        try:
            redis.Redis.from_url(REDIS_URL).flushdb()
        except redis.exceptions.ConnectionError as exc:
            pytest.skip(f"Redis storage: no Redis at {REDIS_URL} ({exc})")
        world.config["RATE_LIMIT_STORAGE"] = REDIS_URL
        yield REDIS_URL
        redis.Redis.from_url(REDIS_URL).flushdb()
    else:
        yield "database"


def test_login_rate_limit_holds_across_processes(world, database_url, storage):
    # another worker process makes three failed attempts from one address
    subprocess.run([sys.executable, "-c", CHILD, database_url, "3", "10.0.0.7"], check=True,
                   cwd=ROOT, timeout=120,
                   env={**os.environ, "PAR_SURVEY_RATE_LIMIT_STORAGE": storage})
    client = world.test_client()
    assert login(client, "admin@tvh.gov.vn", "wrong-again", "10.0.0.8").status_code == 401
    assert login(client, "admin@tvh.gov.vn", "wrong-again", "10.0.0.9").status_code == 401
    blocked = login(client, "admin@tvh.gov.vn", PASSWORD, "10.0.0.10")  # right password
    assert blocked.status_code == 429
    with world.app_context():
        from survey.models import LoginFailure
        in_db = db.session().scalar(select(func.count()).select_from(LoginFailure))
    if storage == "database":
        assert in_db == 10  # 5 failures, each counted per account and per address
    else:
        import redis
        assert in_db == 0 and redis.Redis.from_url(REDIS_URL).keys("par:account:*")
    assert "15" in blocked.get_data(as_text=True)
    # another account from a fresh address is not affected
    assert login(world.test_client(), "viewer@tvh.gov.vn", PASSWORD, "10.0.0.11").status_code == 302


def test_address_limit_stops_password_spraying(world, storage):
    client = world.test_client()
    for i in range(20):
        assert login(client, f"user{i}@tvh.gov.vn", "guess", "10.9.9.9").status_code == 401
    assert login(client, "viewer@tvh.gov.vn", PASSWORD, "10.9.9.9").status_code == 429


def _actions(app) -> list[str]:
    with app.app_context():
        return list(db.session().scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def test_staff_actions_are_audited(world, tmp_path):
    client = world.test_client()
    login(client, "admin@tvh.gov.vn", "wrong-password")
    login(client, "admin@tvh.gov.vn")
    page = client.get("/manage/c/OWN-2026/respondents").get_data(as_text=True)
    upload = client.post("/manage/c/OWN-2026/respondents", data={
        "csrf_token": csrf_from(page), "file": (__import__("io").BytesIO(LIST.encode()), "l.csv")},
        content_type="multipart/form-data")
    assert upload.status_code == 200, upload.get_data(as_text=True)[:300]
    client.get("/manage/c/OWN-2026/quotas.csv")
    console = client.get("/manage/c/OWN-2026/console").get_data(as_text=True)
    token = csrf_from(console)
    assert client.post("/manage/c/OWN-2026/status", data={"csrf_token": token,
                                                          "status": "closed"}).status_code == 302
    assert client.post("/manage/c/OWN-2026/deadline", data={
        "csrf_token": token, "closes_at": "2099-06-30T17:00"}).status_code == 302
    users = client.get("/manage/users").get_data(as_text=True)
    assert client.post("/manage/users", data={
        "csrf_token": csrf_from(users), "email": "new@tvh.gov.vn", "full_name": "Người mới",
        "role": "viewer", "password": "mot-mat-khau-moi-dai"}).status_code == 302
    page = client.get("/manage/").get_data(as_text=True)
    client.post("/manage/logout", data={"csrf_token": csrf_from(page)})
    actions = _actions(world)
    for expected in ("login.failure", "login.success", "respondents.import", "export.quotas",
                     "campaign.closed", "campaign.deadline", "user.create", "logout"):
        assert expected in actions, (expected, actions)
    with world.app_context():
        rows = db.session().scalars(select(AuditEvent)).all()
        assert all(r.request_id for r in rows if r.action != "user.create" or r.actor_id)
        assert all(PASSWORD not in str(r.detail) for r in rows)
    admin = world.test_client()
    login(admin, "admin@tvh.gov.vn")
    found = admin.get("/manage/audit?action=campaign").get_data(as_text=True)
    assert "campaign.deadline" in found and "login.success" not in found


def test_reopen_a_submitted_form_with_a_reason(world):
    with world.app_context():
        form_id = db.session().scalar(select(Form.id).order_by(Form.id))
        ctx = load_form(form_id)
        key = str(ctx.assignments[0].id)
        for i in range(len(ctx.questionnaire.sections)):
            ctx = save_page(ctx, i, {key: ANSWERS})
        submit_form(ctx)
    client = world.test_client()
    login(client, "admin@tvh.gov.vn")
    console = client.get("/manage/c/OWN-2026/console?q=an@example").get_data(as_text=True)
    assert "Nguyễn Văn An" in console
    r = client.post("/manage/c/OWN-2026/reopen", data={
        "csrf_token": csrf_from(console), "form_id": form_id, "reason": "Người trả lời đề nghị sửa"})
    assert r.status_code == 302
    with world.app_context():
        ctx = load_form(form_id)
        assert not ctx.submitted
        assert ctx.answers_for(ctx.assignments[0])["lead_plan"] == "A"  # answers back as draft
        assert db.session().scalar(text("select count(*) from responses")) == 0
    assert "form.reopen" in _actions(world)


def test_audit_log_is_append_only(world):
    client = world.test_client()
    login(client, "admin@tvh.gov.vn")
    with world.app_context():
        engine = world.extensions["db_engine"]
        for statement in ("UPDATE audit_events SET action = 'x'", "DELETE FROM audit_events"):
            with pytest.raises(Exception, match="append-only"):
                with engine.begin() as conn:
                    conn.execute(text(statement))
        assert db.session().scalar(select(func.count()).select_from(AuditEvent)) >= 1


def test_admin_creates_a_campaign_from_yaml_and_errors_are_located(world):
    client = world.test_client()
    login(client, "admin@tvh.gov.vn")
    page = client.get("/manage/campaigns/new").get_data(as_text=True)
    good = config("NEW-2026", "84").encode()
    r = client.post("/manage/campaigns/new", data={
        "csrf_token": csrf_from(page), "file": (__import__("io").BytesIO(good), "new.yaml")},
        content_type="multipart/form-data")
    assert r.status_code == 302 and "/manage/c/NEW-2026/" in r.headers["Location"]
    assert "campaign.create" in _actions(world)
    bad = good.replace(b"count: 2", b"count: two")
    page = client.get("/manage/campaigns/new").get_data(as_text=True)
    r = client.post("/manage/campaigns/new", data={
        "csrf_token": csrf_from(page), "file": (__import__("io").BytesIO(bad), "bad.yaml")},
        content_type="multipart/form-data")
    assert r.status_code == 422
    assert "quotas[0].count" in r.get_data(as_text=True)
    other = config("ELSEWHERE-2026", "70").encode()
    page = client.get("/manage/campaigns/new").get_data(as_text=True)
    r = client.post("/manage/campaigns/new", data={
        "csrf_token": csrf_from(page), "file": (__import__("io").BytesIO(other), "o.yaml")},
        content_type="multipart/form-data")
    assert r.status_code == 422 and "70" in r.get_data(as_text=True)
    with world.app_context():
        from survey.models import Campaign
        codes = set(db.session().scalars(select(Campaign.code)))
    assert "ELSEWHERE-2026" not in codes and "NEW-2026" in codes


def test_list_template_download(world):
    client = world.test_client()
    login(client, "contractor@tvh.gov.vn")
    r = client.get("/manage/c/OWN-2026/respondents-template.xlsx")
    assert r.status_code == 200 and r.data[:2] == b"PK"
    from openpyxl import load_workbook
    sheet = load_workbook(__import__("io").BytesIO(r.data)).worksheets[0]
    header = [c.value for c in sheet[1]]
    assert "full_name" in header and "group" in header and "unit" in header


def test_contractor_reminds_a_cell_and_sees_bounces(world):
    from survey.models import Campaign, MailKind, OutboxMessage, OutboxStatus
    from survey.services.outbox import queue_invitations

    with world.app_context():
        campaign = db.session().scalar(select(Campaign).filter_by(code="OWN-2026"))
        queue_invitations(campaign)
        with db.write_transaction() as s:
            messages = s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
            messages[0].status = OutboxStatus.SENT
            messages[0].sent_at = utcnow() - dt.timedelta(days=2)
            messages[1].status = OutboxStatus.BOUNCED
    client = world.test_client()
    login(client, "contractor@tvh.gov.vn")
    page = client.get("/manage/c/OWN-2026/?group=dept_division_leader").get_data(as_text=True)
    assert page.count('class="bounced">1<') == 1  # S02's respondent bounced
    r = client.post("/manage/c/OWN-2026/remind", data={
        "csrf_token": csrf_from(page), "group": "dept_division_leader", "unit": "S01"})
    assert r.status_code == 302
    with world.app_context():
        reminders = db.session().scalars(select(OutboxMessage).where(
            OutboxMessage.kind == MailKind.REMINDER)).all()
        assert [m.to_address for m in reminders] == ["an@example.vn"]
    assert "invite.remind" in _actions(world)
    viewer = world.test_client()
    login(viewer, "viewer@tvh.gov.vn")
    assert viewer.post("/manage/c/OWN-2026/remind", data={
        "csrf_token": csrf_from(page), "group": "dept_division_leader",
        "unit": "S01"}).status_code in (400, 403)


# --- Cross-province writes (issue 16, item 1) ---------------------------------------------

def _other_snapshot(app) -> dict:
    """Everything of the other province's campaign a takeover or stray write would change."""
    from survey.models import Campaign, Respondent, Unit

    with app.app_context():
        s = db.session()
        c = s.scalar(select(Campaign).filter_by(code="OTHER-2026"))
        return {
            "campaign": (c.province_code, c.name_vi, c.status, c.closes_at),
            "units": sorted(s.scalars(select(Unit.code).filter_by(campaign_id=c.id))),
            "forms": sorted(s.execute(select(Form.id, Form.status)
                                      .filter_by(campaign_id=c.id)).all()),
            "respondents": s.scalar(select(func.count()).select_from(Respondent)
                                    .filter_by(campaign_id=c.id)),
            "drafts": s.scalar(text("select count(*) from drafts")),
            "responses": sorted(s.execute(text(
                "select id, status from responses where campaign_id = :c"), {"c": c.id}).all()),
            "public": s.scalar(text("select count(*) from public_links where campaign_id = :c"),
                               {"c": c.id}),
        }


@pytest.fixture
def both(world, tmp_path):
    """The world, plus a list and a submitted form in the other province's campaign."""
    with world.app_context():
        lst = tmp_path / "other.csv"
        lst.write_text(LIST.replace("@example.vn", "@other.vn"), encoding="utf-8")
        import_respondents("OTHER-2026", lst)
        from survey.models import Campaign
        other = db.session().scalar(select(Campaign.id).filter_by(code="OTHER-2026"))
        form_id = db.session().scalar(select(Form.id).filter_by(campaign_id=other)
                                      .order_by(Form.id))
        ctx = load_form(form_id)
        key = str(ctx.assignments[0].id)
        for i in range(len(ctx.questionnaire.sections)):
            ctx = save_page(ctx, i, {key: ANSWERS})
        assert submit_form(ctx) is SubmitOutcome.SUBMITTED
        response_id = db.session().scalar(text(
            "select id from responses where campaign_id = :c"), {"c": other})
    return world, form_id, response_id


def test_post_matrix_with_another_provinces_identifiers(both):
    """Every POST route, every role: the other province's code in the URL gives 404 (or 403),
    and its identifiers in the body of an own-campaign POST change nothing of it."""
    import io

    world, other_form, other_response = both
    before = _other_snapshot(world)
    rules = {r.endpoint: r for r in world.url_map.iter_rules()
             if r.endpoint in ROUTES and "POST" in r.methods and r.endpoint != "manage.logout"
             and not ROUTES[r.endpoint].api}  # API: bearer tokens, test_api_route_role_province_matrix
    assert len(rules) >= 12
    hostile_yaml = config("OTHER-2026", "84").encode()  # the other campaign, "moved" to 84
    posted = 0
    for role in Role:
        client = world.test_client()
        world.config["WTF_CSRF_ENABLED"] = True
        assert login(client, f"{role.value}@tvh.gov.vn").status_code == 302
        world.config["WTF_CSRF_ENABLED"] = False
        for endpoint, rule in rules.items():
            meta = ROUTES[endpoint]
            permitted = meta.permission is None or role in PERMISSIONS[meta.permission]
            for code in ("OWN-2026", "OTHER-2026"):
                if code == "OTHER-2026" and not meta.campaign_scoped:
                    continue
                body = {"form_id": str(other_form), "response_id": str(other_response),
                        "decision": "exclude", "reason": "chiếm quyền tỉnh khác",
                        "unit": "S01", "group": "dept_division_leader", "status": "closed",
                        "closes_at": "2030-01-01T00:00", "code": str(other_form),
                        "campaign": "OTHER-2026", "daily_cap": "5",
                        "file": (io.BytesIO(hostile_yaml if endpoint == "manage.new_campaign"
                                            else LIST.encode()),
                                 "c.yaml" if endpoint == "manage.new_campaign" else "l.csv")}
                url = url_for_rule(rule.rule, code) + f"?form={other_form}"
                r = client.post(url, data=body, content_type="multipart/form-data")
                if not permitted:
                    expected = {403}
                elif code == "OTHER-2026" or endpoint == "manage.new_campaign":
                    expected = {404}
                else:
                    expected = {200, 302, 409, 422}
                assert r.status_code in expected, (role, endpoint, code, r.status_code)
                posted += 1
    assert posted > 3 * len(rules)
    assert _other_snapshot(world) == before


def test_campaign_upload_cannot_take_over_another_province(world):
    client = world.test_client()
    login(client, "admin@tvh.gov.vn")
    page = client.get("/manage/campaigns/new").get_data(as_text=True)
    before = _other_snapshot(world)
    r = client.post("/manage/campaigns/new", data={
        "csrf_token": csrf_from(page),
        "file": (__import__("io").BytesIO(config("OTHER-2026", "84").encode()), "x.yaml")},
        content_type="multipart/form-data")
    assert r.status_code == 404
    # the same with the file naming the campaign's own province (not the uploader's)
    page = client.get("/manage/campaigns/new").get_data(as_text=True)
    r = client.post("/manage/campaigns/new", data={
        "csrf_token": csrf_from(page),
        "file": (__import__("io").BytesIO(config("OTHER-2026", "70").encode()), "y.yaml")},
        content_type="multipart/form-data")
    assert r.status_code == 404
    assert _other_snapshot(world) == before
    with world.app_context():
        refused = db.session().scalars(select(AuditEvent).filter_by(
            action="campaign.refused")).all()
    assert [(e.province_code, e.object_id, e.actor_email, e.detail["file_province"])
            for e in refused] == [("70", "OTHER-2026", "admin@tvh.gov.vn", "84"),
                                  ("70", "OTHER-2026", "admin@tvh.gov.vn", "70")]
    # the other province's admin still sees the campaign and the attempt in its audit trail
    with world.app_context():
        create_staff_user("admin@vlg.gov.vn", "Cán bộ VL", PASSWORD, Role.ADMIN, ["70"])
    other = world.test_client()
    login(other, "admin@vlg.gov.vn")
    assert other.get("/manage/c/OTHER-2026/").status_code == 200
    assert "campaign.refused" in other.get("/manage/audit").get_data(as_text=True)
    assert client.get("/manage/c/OTHER-2026/").status_code == 404


def test_a_campaigns_province_never_changes(world, tmp_path):
    """Even an account of both provinces, or the operator at the shell, cannot move one."""
    from survey.services.campaigns import CampaignNotFound

    with world.app_context():
        create_staff_user("both@gov.vn", "Cán bộ hai tỉnh", PASSWORD, Role.ADMIN, ["84", "70"])
    client = world.test_client()
    login(client, "both@gov.vn")
    page = client.get("/manage/campaigns/new").get_data(as_text=True)
    r = client.post("/manage/campaigns/new", data={
        "csrf_token": csrf_from(page),
        "file": (__import__("io").BytesIO(config("OTHER-2026", "84").encode()), "x.yaml")},
        content_type="multipart/form-data")
    assert r.status_code == 404
    path = tmp_path / "moved.yaml"
    path.write_text(config("OTHER-2026", "84"), encoding="utf-8")
    with world.app_context():
        with pytest.raises(CampaignNotFound):
            create_campaign_from_config(path)
    assert _other_snapshot(world)["campaign"][0] == "70"
    # the same file naming the campaign's own province is an update
    path.write_text(config("OTHER-2026", "70").replace("Sở hai", "Sở hai mới"), encoding="utf-8")
    r = world.test_cli_runner().invoke(args=["campaign", "create", "--config", str(path),
                                             "--as", "admin@tvh.gov.vn"])
    assert r.exit_code == 1 and "OTHER-2026" in r.output
    r = world.test_cli_runner().invoke(args=["campaign", "create", "--config", str(path),
                                             "--as", "both@gov.vn"])
    assert r.exit_code == 0, r.output
    r = world.test_cli_runner().invoke(args=["respondents", "import", str(path),
                                             "--campaign", "OTHER-2026",
                                             "--as", "admin@tvh.gov.vn"])
    assert r.exit_code == 1 and "OTHER-2026" in r.output


# --- Login throttling (issue 16, item 3) ---------------------------------------------------

def test_parallel_wrong_passwords_check_at_most_the_limit(world, storage):
    """40 simultaneous wrong passwords for one account, from 40 addresses: the count and the
    decision are one atomic step, so at most MAX_FAILURES_PER_ACCOUNT passwords are checked."""
    from survey.services.staff import MAX_FAILURES_PER_ACCOUNT, log_in
    from tests.conftest import run_threads

    outcomes: list[str] = []

    def attempt(i: int) -> None:
        with world.app_context():
            result = log_in("admin@tvh.gov.vn", "wrong-password", f"10.40.0.{i}")
            outcomes.append("blocked" if result.blocked else "checked")

    assert run_threads(attempt, range(40)) == []
    checked = outcomes.count("checked")
    actions = _actions(world)
    assert checked == actions.count("login.failure")
    assert 1 <= checked <= MAX_FAILURES_PER_ACCOUNT, outcomes
    assert actions.count("login.blocked") == 40 - checked


def test_an_attackers_trickle_does_not_lock_the_owner_out_of_a_known_device(world, storage):
    from survey.manage.auth import DEVICE_COOKIE

    owner = world.test_client()
    assert login(owner, "admin@tvh.gov.vn", address="10.0.0.1").status_code == 302
    assert owner.get_cookie(DEVICE_COOKIE, domain="survey.test", path="/manage/login")
    owner.post("/manage/logout", data={"csrf_token": csrf_from(
        owner.get("/manage/").get_data(as_text=True))})
    # an attacker keeps the account at its limit from addresses of its own
    for i in range(12):
        assert login(world.test_client(), "admin@tvh.gov.vn", "guess",
                     f"10.66.0.{i}").status_code in (401, 429)
    assert login(world.test_client(), "admin@tvh.gov.vn", address="10.0.0.2").status_code == 429
    # the owner's browser, known from its last login, is throttled on its own count
    assert login(owner, "admin@tvh.gov.vn", address="10.0.0.1").status_code == 302
    owner.post("/manage/logout", data={"csrf_token": csrf_from(
        owner.get("/manage/").get_data(as_text=True))})
    # and a device cookie is no master key: its own failures lock it
    for _ in range(5):
        assert login(owner, "admin@tvh.gov.vn", "typo", "10.0.0.1").status_code == 401
    assert login(owner, "admin@tvh.gov.vn", address="10.0.0.1").status_code == 429
    # nor does another account's device cookie count for this one
    stranger = world.test_client()
    assert login(stranger, "viewer@tvh.gov.vn", address="10.0.0.3").status_code == 302
    cookie = stranger.get_cookie(DEVICE_COOKIE, domain="survey.test", path="/manage/login")
    assert cookie and owner.get_cookie(DEVICE_COOKIE, domain="survey.test",
                                       path="/manage/login").value != cookie.value
    stranger.set_cookie(DEVICE_COOKIE, cookie.value, domain="survey.test", path="/manage/login")
    assert login(stranger, "admin@tvh.gov.vn", address="10.0.0.3").status_code == 429


def test_cli_commands_run_as_a_staff_account_stay_in_its_provinces(world, tmp_path):
    runner = world.test_cli_runner()

    def scores(code: str, actor: str):
        return runner.invoke(args=["scores", "--campaign", code, "--format", "csv",
                                   "--out", str(tmp_path / "s.csv"), "--as", actor, "--lang", "en"])

    refused = scores("OTHER-2026", "admin@tvh.gov.vn")
    assert refused.exit_code == 1 and "No campaign with code 'OTHER-2026'" in refused.output
    own = scores("OWN-2026", "admin@tvh.gov.vn")
    assert "No campaign" not in own.output
    unknown = scores("OWN-2026", "nobody@tvh.gov.vn")
    assert unknown.exit_code == 1 and "No active account" in unknown.output
