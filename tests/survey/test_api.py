"""The JSON API: tokens, the route x role x province matrix through tokens, problem details,
streamed microdata with cursors, the import job, and the OpenAPI contract."""

from __future__ import annotations

import datetime as dt
import io
import json
import time

import jsonschema
import pytest
from sqlalchemy import select, update

from survey import db
from survey.api import OPERATIONS
from survey.api.openapi import build_openapi, openapi_path
from survey.manage.access import ROUTES
from survey.models import ApiToken, AuditEvent, Form, ImportJob, Role, StaffUser, utcnow
from survey.services.api_tokens import create_api_token, list_api_tokens, revoke_api_token
from survey.services.responding import SubmitOutcome, load_form, save_page, submit_form
from tests.survey.conftest import ANSWERS, LIST


SPEC_CACHE: dict[str, dict] = {}


def submit_all(app) -> int:
    with app.app_context():
        n = 0
        for form_id in db.session().scalars(select(Form.id).order_by(Form.id)).all():
            ctx = load_form(form_id)
            key = str(ctx.assignments[0].id)
            for i in range(len(ctx.questionnaire.sections)):
                ctx = save_page(ctx, i, {key: ANSWERS})
            assert submit_form(ctx) is SubmitOutcome.SUBMITTED
            n += 1
    return n


@pytest.fixture
def tokens(world):
    """A token per role (accounts of province 84)."""
    with world.app_context():
        return {role: create_api_token(f"{role.value}@tvh.gov.vn", "tests")[1] for role in Role}


def auth(token: str, **extra) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **extra}


def spec(app) -> dict:
    with app.test_request_context():
        return build_openapi(app)


def check_contract(app, method: str, rule: str, r) -> None:
    """The answer validates against the description of its route and status."""
    doc = spec(app)
    op = doc["paths"][openapi_path(rule)][method.lower()]
    described = op["responses"].get(str(r.status_code))
    assert described is not None, (rule, r.status_code, "status not described")
    media = r.mimetype
    content = described["content"]
    assert media in content, (rule, media, list(content))
    schema = content[media]["schema"]
    resolver_root = {"components": doc["components"], **schema}
    if media in ("application/json", "application/problem+json"):
        jsonschema.validate(r.get_json(), resolver_root)
    elif media == "application/x-ndjson":
        for line in r.get_data(as_text=True).splitlines():
            jsonschema.validate(json.loads(line), resolver_root)
    else:
        assert isinstance(r.get_data(as_text=True), str)


def url_for_rule(rule: str, code: str) -> str:
    return rule.replace("<code>", code).replace("<job_id>", "nojob")


# ---------------------------------------------------------------------------- tokens

def test_token_is_shown_once_stored_hashed_and_listed_with_last_use(world):
    with world.app_context():
        row, raw = create_api_token("admin@tvh.gov.vn", "index software", expires_days=30)
        assert raw.startswith("par_") and len(raw) > 40
        stored = db.session().scalar(select(ApiToken).where(ApiToken.id == row.id))
        assert raw not in (stored.token_hash, stored.prefix) and len(stored.token_hash) == 64
        assert stored.expires_at is not None
        assert list_api_tokens("admin@tvh.gov.vn")[0].last_used_at is None
    r = world.test_client().get("/api/v1/campaigns", headers=auth(raw))
    assert r.status_code == 200
    with world.app_context():
        (listed,) = list_api_tokens("admin@tvh.gov.vn")
        assert listed.name == "index software" and listed.last_used_at is not None
        events = db.session().scalars(select(AuditEvent).where(AuditEvent.action == "api.call"))
        assert any(e.detail["path"] == "/api/v1/campaigns" and e.detail["status"] == 200
                   and e.actor_email == "admin@tvh.gov.vn" for e in events)
        assert all(raw not in json.dumps(e.detail) for e in db.session().scalars(
            select(AuditEvent)))


def test_revoked_expired_unknown_and_missing_tokens_are_401(world, tokens):
    client = world.test_client()
    raw = tokens[Role.ADMIN]
    assert client.get("/api/v1/campaigns", headers=auth(raw)).status_code == 200
    with world.app_context():
        assert revoke_api_token("admin@tvh.gov.vn", name="tests") == 1
    r = client.get("/api/v1/campaigns", headers=auth(raw))
    assert r.status_code == 401 and r.mimetype == "application/problem+json"
    assert r.get_json()["code"] == "API-TOKEN-INVALID"
    with world.app_context():
        _, expiring = create_api_token("viewer@tvh.gov.vn", "short", expires_days=1)
        with db.write_transaction() as s:
            s.execute(update(ApiToken).where(ApiToken.name == "short")
                      .values(expires_at=utcnow() - dt.timedelta(seconds=1)))
    assert client.get("/api/v1/campaigns", headers=auth(expiring)).status_code == 401
    assert client.get("/api/v1/campaigns", headers=auth("par_" + "x" * 43)).status_code == 401
    r = client.get("/api/v1/campaigns", headers={"Accept-Language": "en"})
    assert r.status_code == 401 and r.get_json()["code"] == "API-TOKEN-MISSING"
    assert r.get_json()["detail"].startswith("An API token is required")
    assert client.get("/api/v1/campaigns").get_json()["detail"].startswith("Thiếu token")
    # a disabled account's tokens stop at once
    with world.app_context():
        with db.write_transaction() as s:
            s.execute(update(StaffUser).where(StaffUser.email == "viewer@tvh.gov.vn")
                      .values(active=False))
    assert client.get("/api/v1/campaigns", headers=auth(tokens[Role.VIEWER])).status_code == 401


def test_someone_elses_token_cannot_be_revoked(world, tokens):
    from survey.services.staff import StaffError

    with world.app_context():
        (mine,) = list_api_tokens("admin@tvh.gov.vn")
        with pytest.raises(StaffError):
            revoke_api_token("viewer@tvh.gov.vn", token_id=mine.id)


def test_rate_limit_per_token(world, tokens):
    world.config["API_RATE_PER_MINUTE"] = 3
    client = world.test_client()
    codes = [client.get("/api/v1/campaigns", headers=auth(tokens[Role.ADMIN])).status_code
             for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    r = client.get("/api/v1/campaigns", headers=auth(tokens[Role.ADMIN]))
    assert r.get_json()["code"] == "API-RATE-LIMITED" and r.headers["Retry-After"] == "60"
    # another token has its own budget
    assert client.get("/api/v1/campaigns", headers=auth(tokens[Role.VIEWER])).status_code == 200


# ---------------------------------------------------------------------------- the matrix

def test_api_routes_are_in_the_one_registry(app):
    api = {r.endpoint for r in app.url_map.iter_rules() if r.endpoint.startswith("api.")}
    assert api and api == {e for e, rule in ROUTES.items() if rule.api}
    assert api == set(OPERATIONS)


def test_focal_point_sees_its_own_cells_through_the_api(world, tokens):
    data = world.test_client().get("/api/v1/campaigns/OWN-2026/quotas",
                                   headers=auth(tokens[Role.FOCAL_POINT])).get_json()
    assert {c["rated_unit"] for c in data["cells"]} == {"S01"} and "total" not in data


def test_campaign_list_is_the_accounts_provinces(world, tokens):
    data = world.test_client().get("/api/v1/campaigns", headers=auth(tokens[Role.ADMIN]))
    assert [c["code"] for c in data.get_json()["campaigns"]] == ["OWN-2026"]


# ---------------------------------------------------------------------------- resources

def test_quotas_are_the_cli_numbers(world, tokens):
    submit_all(world)
    api = world.test_client().get("/api/v1/campaigns/OWN-2026/quotas",
                                  headers=auth(tokens[Role.ADMIN])).get_json()
    out = world.test_cli_runner().invoke(args=["quotas", "--campaign", "OWN-2026",
                                               "--format", "json"])
    assert out.exit_code == 0
    assert api == json.loads(out.output)
    assert api["total"]["completed"] == 2


def test_responses_stream_pages_and_filters_without_identity(world, tokens):
    assert submit_all(world) == 2
    client = world.test_client()
    h = auth(tokens[Role.ADMIN])
    r = client.get("/api/v1/campaigns/OWN-2026/responses", headers=h)
    assert r.status_code == 200 and r.mimetype == "application/x-ndjson"
    rows = [json.loads(line) for line in r.get_data(as_text=True).splitlines()]
    assert [row["unit"] for row in rows] == ["S01", "S02"] and "Link" not in r.headers
    text = r.get_data(as_text=True)
    for secret in ("Nguyễn", "an@example.vn", "Bích", "external_id", "respondent"):
        assert secret not in text
    item = next(k for k in rows[0] if k.endswith("/lead_plan"))
    assert rows[0][item] == 1  # option A is position 1
    # pages of one: the cursor leads through every row once
    seen, url = [], "/api/v1/campaigns/OWN-2026/responses?limit=1"
    while url:
        page = client.get(url, headers=h)
        seen += [json.loads(x)["response_id"] for x in page.get_data(as_text=True).splitlines()]
        link = page.headers.get("Link")
        url = link[1:link.index(">")] if link else None
    assert seen == [row["response_id"] for row in rows]
    # a cursor is bound to its filters and cannot be forged
    first = client.get("/api/v1/campaigns/OWN-2026/responses?limit=1", headers=h)
    cursor = first.headers["X-Next-Cursor"]
    first.close()  # a streamed answer left unread holds its cursor open until closed
    bad = client.get(f"/api/v1/campaigns/OWN-2026/responses?unit=S01&cursor={cursor}", headers=h)
    assert bad.status_code == 400 and bad.get_json()["code"] == "API-BAD-CURSOR"
    assert client.get("/api/v1/campaigns/OWN-2026/responses?cursor=abc",
                      headers=h).status_code == 400
    # filters
    only = client.get("/api/v1/campaigns/OWN-2026/responses?unit=S02&format=csv", headers=h)
    lines = only.get_data(as_text=True).splitlines()
    assert lines[0].startswith("response_id,unit,unit_level,group") and len(lines) == 2
    assert ",S02," in lines[1]
    tomorrow = (dt.date.today() + dt.timedelta(days=2)).isoformat()
    assert client.get(f"/api/v1/campaigns/OWN-2026/responses?since={tomorrow}",
                      headers=h).get_data() == b""
    bad = client.get("/api/v1/campaigns/OWN-2026/responses?since=yesterday",
                     headers={**h, "Accept-Language": "en"})
    assert bad.status_code == 400 and "since must be a date" in bad.get_json()["detail"]
    # the CLI prints the same rows
    out = world.test_cli_runner().invoke(args=["responses", "stream", "--campaign", "OWN-2026"])
    assert out.exit_code == 0, out.output
    assert [json.loads(x) for x in out.output.splitlines()] == rows


def test_scores_are_the_cli_json(world, tokens, tmp_path):
    submit_all(world)
    r = world.test_client().get("/api/v1/campaigns/OWN-2026/scores",
                                headers=auth(tokens[Role.VIEWER]))
    assert r.status_code == 200
    out = tmp_path / "s.json"
    res = world.test_cli_runner().invoke(args=["scores", "--campaign", "OWN-2026", "--format",
                                               "json", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert r.get_json() == json.loads(out.read_text(encoding="utf-8"))


def test_an_invalid_scoring_section_answers_its_located_problems_in_the_callers_language(world, tokens):
    from survey.models import Campaign

    with world.app_context(), db.write_transaction() as s:
        campaign = s.scalar(select(Campaign).where(Campaign.code == "OWN-2026"))
        campaign.scoring = {"subcriteria": [{"code": "9.9", "max_points": 1}]}
    url = "/api/v1/campaigns/OWN-2026/scores"
    vi = world.test_client().get(url, headers=auth(tokens[Role.VIEWER]))
    en = world.test_client().get(url, headers=auth(tokens[Role.VIEWER], **{"Accept-Language": "en"}))
    assert vi.status_code == en.status_code == 422
    assert vi.get_json()["code"] == en.get_json()["code"] == "SCORING-CONFIG-INVALID"
    (vi_error,), (en_error,) = vi.get_json()["errors"], en.get_json()["errors"]
    assert vi_error.startswith("scoring.subcriteria[0].code: [CFG-SCORING] không phiếu nào của chiến dịch")
    assert en_error.startswith("scoring.subcriteria[0].code: [CFG-SCORING] no questionnaire of the campaign")
    assert "Cách sửa" in vi_error and "Fix:" in en_error


def test_integrity_and_outbox(world, tokens):
    submit_all(world)
    from survey.models import Campaign
    from survey.services.integrity import decide_response

    with world.app_context():
        campaign = db.session().scalar(select(Campaign).where(Campaign.code == "OWN-2026"))
        rid = db.session().scalar(select(__import__("survey.models", fromlist=["Response"])
                                         .Response.id).order_by("id"))
        decide_response(campaign, rid, "exclude", "speeding through the form", actor_id=None)
    client = world.test_client()
    data = client.get("/api/v1/campaigns/OWN-2026/integrity",
                      headers=auth(tokens[Role.ADMIN])).get_json()
    assert [(x["response_id"], x["decision"]) for x in data["responses"]] == [(rid, "exclude")]
    rows = client.get("/api/v1/campaigns/OWN-2026/responses",
                      headers=auth(tokens[Role.ADMIN])).get_data(as_text=True).splitlines()
    assert len(rows) == 1  # the excluded response is not microdata
    outbox = client.get("/api/v1/campaigns/OWN-2026/outbox",
                        headers=auth(tokens[Role.CONTRACTOR])).get_json()
    assert outbox["mail"]["queued"] == 0 and "dead" in outbox["webhooks"]


# ---------------------------------------------------------------------------- import jobs

def wait_for(client, url, headers, timeout=30.0):
    deadline = time.monotonic() + timeout
    while True:
        job = client.get(url, headers=headers).get_json()
        if job["status"] in ("done", "failed") or time.monotonic() > deadline:
            return job
        time.sleep(0.05)


def test_import_job_runs_in_a_thread_and_is_polled(world, tokens):
    client = world.test_client()
    h = auth(tokens[Role.CONTRACTOR])
    more = LIST + "C,Lê Văn Cường,dept_division_leader,S01,cuong@example.vn\n"
    r = client.post("/api/v1/campaigns/OWN-2026/respondent-imports", headers=h,
                    data={"file": (io.BytesIO(more.encode()), "list.csv")})
    assert r.status_code == 202, r.get_data(as_text=True)
    # polled through another app (as another gunicorn worker would): the state is in the row
    from survey import create_app

    other = create_app({"TESTING": True, "SERVER_NAME": "survey.test",
                        "SQLALCHEMY_DATABASE_URI": world.config["SQLALCHEMY_DATABASE_URI"]})
    try:
        job = wait_for(other.test_client(), r.headers["Location"], h)
    finally:
        other.extensions["db_engine"].dispose()
    assert job["status"] == "done" and job["progress"] == 100
    assert job["report"]["imported"] and job["report"]["created"] == 1
    assert job["report"]["unchanged"] == 2
    with world.app_context():
        assert db.session().scalar(select(ImportJob.data)) is None  # the file is not kept


def test_a_refused_list_imports_nothing_and_reports_rows(world, tokens):
    world.config["API_IMPORT_THREADS"] = False  # the worker command takes it
    client = world.test_client()
    h = auth(tokens[Role.ADMIN], **{"Accept-Language": "en"})
    bad = LIST + "D,Phạm Dũng,no_such_group,S01,dung@example.vn\nE,,dept_division_leader,S09,x\n"
    r = client.post("/api/v1/campaigns/OWN-2026/respondent-imports", headers=h,
                    data={"file": (io.BytesIO(bad.encode()), "bad.csv")})
    assert r.status_code == 202
    assert client.get(r.headers["Location"], headers=h).get_json()["status"] == "queued"
    res = world.test_cli_runner().invoke(args=["respondents", "work-imports"])
    assert res.exit_code == 0 and "1" in res.output
    job = client.get(r.headers["Location"], headers=h).get_json()
    assert job["status"] == "failed" and not job["report"]["imported"]
    rows = {e["row"] for e in job["report"]["errors"]}
    assert {4, 5} <= rows
    assert all(e["code"] and "bad.csv" in e["message"]["vi"] and "row" in e["message"]["en"]
               for e in job["report"]["errors"] if e["row"])
    # the same code and message the CLI prints
    path = world.instance_path
    import pathlib
    p = pathlib.Path(path)
    p.mkdir(parents=True, exist_ok=True)
    (p / "bad.csv").write_text(bad, encoding="utf-8")
    cli = world.test_cli_runner().invoke(args=["respondents", "import", str(p / "bad.csv"),
                                               "--campaign", "OWN-2026", "--lang", "en"])
    assert cli.exit_code == 1
    for e in job["report"]["errors"]:
        assert e["message"]["en"].split(": ", 1)[1] in cli.output
    wrong = client.post("/api/v1/campaigns/OWN-2026/respondent-imports", headers=h,
                        data={"file": (io.BytesIO(b"x"), "list.pdf")})
    assert wrong.status_code == 422 and wrong.get_json()["code"] == "LIST-FILE-TYPE"


# ---------------------------------------------------------------------------- OpenAPI

def test_openapi_describes_exactly_the_routes(world):
    client = world.test_client()
    doc = client.get("/api/v1/openapi.json").get_json()
    jsonschema.Draft202012Validator.check_schema(doc["components"]["schemas"]["Problem"])
    described = {(path, m) for path, ms in doc["paths"].items() for m in ms}
    routed = {(openapi_path(r.rule), m.lower()) for r in world.url_map.iter_rules()
              if r.endpoint.startswith("api.") for m in r.methods - {"HEAD", "OPTIONS"}}
    assert described == routed
    assert doc["openapi"].startswith("3.1")
    for ms in doc["paths"].values():
        for op in ms.values():
            for content in (r.get("content", {}) for r in op["responses"].values()):
                for media in content.values():
                    jsonschema.Draft202012Validator.check_schema(media["schema"])
    page = client.get("/api/v1/docs")
    assert page.status_code == 200 and b"/api/v1/campaigns/{code}/responses" in page.data
    assert b"https://" not in page.data.replace(b"https://json-schema.org", b"")


def test_every_answer_validates_against_the_description(world, tokens):
    world.config["API_IMPORT_THREADS"] = False
    submit_all(world)
    rules = [r for r in world.url_map.iter_rules() if r.endpoint.startswith("api.")]
    checked = 0
    for role in Role:
        client = world.test_client()
        for rule in rules:
            method = "GET" if "GET" in rule.methods else "POST"
            for code in ("OWN-2026", "OTHER-2026"):
                data = ({"file": (io.BytesIO(LIST.encode()), "list.csv")}
                        if method == "POST" else None)
                r = client.open(url_for_rule(rule.rule, code), method=method,
                                headers=auth(tokens[role]), data=data)
                check_contract(world, method, rule.rule, r)
                checked += 1
    anonymous = world.test_client().get("/api/v1/campaigns")
    check_contract(world, "GET", "/api/v1/campaigns", anonymous)
    assert checked >= 4 * len(rules)


def test_tokens_page_makes_shows_once_lists_and_revokes(world):
    from tests.survey.conftest import login
    from tests.conftest import csrf_from

    client = world.test_client()
    world.config["WTF_CSRF_ENABLED"] = True
    login(client, "contractor@tvh.gov.vn")
    page = client.get("/manage/tokens").get_data(as_text=True)
    made = client.post("/manage/tokens", data={"name": "bảng tiến độ", "expires_days": "90",
                                               "csrf_token": csrf_from(page)})
    assert made.status_code == 200
    html = made.get_data(as_text=True)
    raw = html.split('class="token-once" type="text" readonly value="')[1].split('"')[0]
    assert raw.startswith("par_")
    again = client.get("/manage/tokens").get_data(as_text=True)
    assert raw not in again and "bảng tiến độ" in again and raw[:10] in again
    assert client.get("/api/v1/campaigns/OWN-2026/quotas", headers=auth(raw)).status_code == 200
    with world.app_context():
        (row,) = list_api_tokens("contractor@tvh.gov.vn")
        assert row.last_used_at is not None
    revoked = client.post("/manage/tokens/revoke", data={"token_id": str(row.id),
                                                        "csrf_token": csrf_from(again)})
    assert revoked.status_code == 302
    assert client.get("/api/v1/campaigns", headers=auth(raw)).status_code == 401
    bad = client.post("/manage/tokens", data={"name": "", "csrf_token": csrf_from(again)})
    assert bad.status_code == 422


def test_unknown_api_paths_and_methods_are_problems(app):
    client = app.test_client()
    r = client.get("/api/v1/nothing-here")
    assert r.status_code == 404 and r.mimetype == "application/problem+json"
    assert r.get_json()["code"] == "API-NOT-FOUND"
    r = client.delete("/api/v1/campaigns")
    assert r.status_code == 405 and r.get_json()["code"] == "API-METHOD"
    assert client.get("/no-such-page").mimetype == "text/html"


def test_cli_tokens_and_read_commands(world):
    runner = world.test_cli_runner()
    made = runner.invoke(args=["users", "token", "create", "--email", "viewer@tvh.gov.vn",
                               "--name", "sheets", "--expires-days", "7"])
    assert made.exit_code == 0, made.output
    raw = made.stdout.strip().splitlines()[-1]
    assert raw.startswith("par_") and len(raw.split()) == 1
    assert world.test_client().get("/api/v1/campaigns", headers=auth(raw)).status_code == 200
    listed = runner.invoke(args=["users", "token", "list", "--email", "viewer@tvh.gov.vn"])
    assert "sheets" in listed.output and "live" in listed.output and raw not in listed.output
    gone = runner.invoke(args=["users", "token", "revoke", "--email", "viewer@tvh.gov.vn",
                               "--name", "sheets"])
    assert gone.exit_code == 0
    assert world.test_client().get("/api/v1/campaigns", headers=auth(raw)).status_code == 401
    again = runner.invoke(args=["users", "token", "revoke", "--email", "viewer@tvh.gov.vn",
                                "--name", "sheets", "--lang", "en"])
    assert again.exit_code == 1 and "No such live token" in again.output
    campaigns = json.loads(runner.invoke(args=["campaign", "list", "--province", "84"]).output)
    assert [c["code"] for c in campaigns["campaigns"]] == ["OWN-2026"]
    outbox = json.loads(runner.invoke(args=["campaign", "show", "--campaign", "OWN-2026",
                                            "--outbox"]).output)
    assert set(outbox) == {"mail", "webhooks"}
    flags = json.loads(runner.invoke(args=["integrity", "show", "--campaign",
                                           "OWN-2026"]).output)
    assert flags["responses"] == [] and flags["annulled"] == []
