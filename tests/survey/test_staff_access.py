"""Staff accounts: the route x role x province matrix, login hardening, audit, the dashboard."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import textwrap
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

PASSWORD = "mot-mat-khau-dai-du"
ROOT = Path(__file__).resolve().parents[2]


def config(code: str, province: str) -> str:
    return textwrap.dedent(f"""\
        version: 1
        code: {code}
        name: {{vi: Chiến dịch {code}, en: Campaign {code}}}
        province: "{province}"
        year: 2026
        opens_at: 2020-01-01
        closes_at: 2099-12-31
        levels:
          - {{code: province, name: {{vi: Tỉnh, en: Province}}}}
          - {{code: department, name: {{vi: Sở, en: Department}}, parent: province}}
        units:
          - {{code: "{province}", level: province, name: {{vi: Tỉnh, en: Province}}}}
          - {{code: S01, level: department, parent: "{province}", name: {{vi: Sở một, en: One}}}}
          - {{code: S02, level: department, parent: "{province}", name: {{vi: Sở hai, en: Two}}}}
        groups:
          - code: dept_division_leader
            name: {{vi: Lãnh đạo phòng, en: Division leaders}}
            kind: department_division_leader
            unit_level: department
            questionnaires: [dept-division-rates-own-department]
        quotas:
          - {{group: dept_division_leader, questionnaire: dept-division-rates-own-department,
             count: 2, per: department}}
        """)


LIST = ("external_id,full_name,group,unit,email\n"
        "A,Nguyễn Văn An,dept_division_leader,S01,an@example.vn\n"
        "B,Trần Thị Bích,dept_division_leader,S02,bich@example.vn\n")
ANSWERS = {"lead_plan": "A", "lead_head": "B", "lead_innovation": "C", "proc_public": "A",
           "proc_ontime": "A", "egov_online": "B"}


@pytest.fixture
def world(app, tmp_path):
    """Two provinces' campaigns, one account per role in province TVH, one list imported."""
    with app.app_context():
        for code, province in (("OWN-2026", "84"), ("OTHER-2026", "70")):
            path = tmp_path / f"{code}.yaml"
            path.write_text(config(code, province), encoding="utf-8")
            create_campaign_from_config(path)
        lst = tmp_path / "list.csv"
        lst.write_text(LIST, encoding="utf-8")
        import_respondents("OWN-2026", lst)
        for role in Role:
            create_staff_user(f"{role.value}@tvh.gov.vn", f"Cán bộ {role.value}", PASSWORD, role,
                              ["84"], agency_code="S01" if role is Role.FOCAL_POINT else None)
    return app


def login(client, email: str, password: str = PASSWORD, address: str = "10.0.0.1"):
    page = client.get("/manage/login").get_data(as_text=True)
    return client.post("/manage/login", data={"email": email, "password": password,
                                              "csrf_token": csrf_from(page)},
                       environ_base={"REMOTE_ADDR": address})


def url_for_rule(rule: str, code: str) -> str:
    return rule.replace("<code>", code).replace("<fmt>", "csv").replace("<unit>", "S01")


def test_every_staff_route_has_a_rule(app):
    endpoints = {r.endpoint for r in app.url_map.iter_rules() if r.endpoint.startswith("manage.")}
    assert endpoints == set(ROUTES), "a staff route was added without a permission rule"
    assert all(r.permission is None or r.permission in PERMISSIONS for r in ROUTES.values())


def test_route_role_province_matrix(world):
    rules = {r.endpoint: r for r in world.url_map.iter_rules() if r.endpoint in ROUTES}
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
        assert r.status_code == 302 and "/manage/login" in r.headers["Location"], endpoint


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
            save_page(ctx, i, {key: ANSWERS})
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
            save_page(ctx, i, {key: ANSWERS})
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
