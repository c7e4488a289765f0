"""The staff pages on the demo in the field (both backends): names never codes on any page in
either language; the progress download is the matrix shown; a unit's reminder reaches exactly
its unfinished respondents; an exclusion moves the unit's score; an annulment, after its
confirmation, drops the unit from the ranks and an admin can reverse it."""

from __future__ import annotations

import csv
import html
import io
import re

from sqlalchemy import select

from survey import db
from survey.models import (
    AuditEvent,
    Assignment,
    Form,
    FormStatus,
    MailKind,
    Mode,
    OutboxMessage,
    RespondentGroup,
    Response,
    ResponseStatus,
    Role,
    Unit,
)
from survey.models.integrity import IntegrityVerdict
from survey.services.campaigns import find_campaign
from survey.services.demo import DEMO_ADMIN, load_demo_campaign
from survey.services.demo_data import fill_demo_campaign
from survey.services.scores import score_campaign
from survey.services.scoring_config import scoring_for_campaign
from survey.services.staff import create_staff_user, set_staff_password
from tests.conftest import csrf_from

PASSWORD = "mat-khau-kiem-thu-2026"
CODE = "TVH-2023"


def visible_text(page: str) -> str:
    """What a reader sees: no scripts, styles, titles, comments, tags or attributes."""
    page = re.sub(r"(?s)<(script|style|title)\b[^>]*>.*?</\1>", " ", page)
    page = re.sub(r"(?s)<!--.*?-->", " ", page)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def codes_shown(page: str, codes: set[str]) -> list[str]:
    text = visible_text(page)
    return sorted(c for c in codes if re.search(rf"(?<![\w-]){re.escape(c)}(?![\w-])", text))


def _login(app, email: str):
    client = app.test_client()
    page = client.get("/manage/login").get_data(as_text=True)
    r = client.post("/manage/login", data={"email": email, "password": PASSWORD,
                                           "csrf_token": csrf_from(page)})
    assert r.status_code == 302, r.get_data(as_text=True)[:500]
    return client


def _scores(app) -> dict[str, tuple[str, int, float]]:
    with app.app_context():
        campaign = find_campaign(CODE)
        result = score_campaign(campaign.id, scoring_for_campaign(campaign.id).config)
        # the units with a survey score (an annulled unit stays in the table without one)
        return {u.unit: (u.level, u.rank, u.points.value) for u in result.units if u.has_survey}


def test_staff_pages_on_the_demo_in_the_field(app):
    with app.app_context():
        load_demo_campaign()
        fill_demo_campaign(CODE, seed=11)
        set_staff_password(DEMO_ADMIN, PASSWORD)
        create_staff_user("nhathau@example.vn", "Nhà thầu", PASSWORD, Role.CONTRACTOR, ["84"])
        s = db.session()
        campaign = find_campaign(CODE)
        units = {u.code: u for u in s.scalars(select(Unit).filter_by(campaign_id=campaign.id))}
        groups = set(s.scalars(select(RespondentGroup.code).filter_by(campaign_id=campaign.id)))
        # numeric codes (the province's "84") cannot be told from numbers on a page
        codes = {c for c in units if not c.isdigit()} | groups
        some_unit = sorted(c for c, u in units.items() if u.level == "department")[0]
    admin = _login(app, DEMO_ADMIN)

    # -- every staff page, in Vietnamese and in English: names, never codes
    pages = ["/manage/", "/manage/audit", "/manage/users", f"/manage/c/{CODE}/",
             f"/manage/c/{CODE}/?group=citizen", f"/manage/c/{CODE}/?show=behind&sort=name",
             f"/manage/c/{CODE}/?unit={some_unit}", f"/manage/c/{CODE}/integrity",
             f"/manage/c/{CODE}/integrity?state=all&flag=burst",
             f"/manage/c/{CODE}/integrity/report", f"/manage/c/{CODE}/scores",
             f"/manage/c/{CODE}/scores/u/{some_unit}", f"/manage/c/{CODE}/console",
             f"/manage/c/{CODE}/console?q=Nguy", f"/manage/c/{CODE}/paper",
             f"/manage/c/{CODE}/paper/print",
             f"/manage/c/{CODE}/public", f"/manage/c/{CODE}/respondents",
             "/manage/campaigns/new", "/manage/tokens", "/manage/questionnaires/preview"]
    routes = {r.rule for r in app.url_map.iter_rules() if r.endpoint.startswith("manage.")
              and "GET" in r.methods and "<fmt>" not in r.rule and "." not in r.rule}
    covered = {re.sub(r"\?.*", "", p).replace(CODE, "<code>").replace(some_unit, "<unit>")
               for p in pages}
    # every HTML page without parameters of its own is in the list above (entry and resolve
    # need a form number and show the paper form itself)
    assert {r for r in routes if re.fullmatch(r"[^<]*(<code>[^<]*)?", r)} - covered == {
        "/manage/login", "/manage/c/<code>/paper/entry", "/manage/c/<code>/paper/resolve"}
    for path in pages:
        for lang in ("vi", "en"):
            r = admin.get(f"{path}{'&' if '?' in path else '?'}lang={lang}")
            assert r.status_code == 200, path
            assert codes_shown(r.get_data(as_text=True), codes) == [], (path, lang)
    english = visible_text(admin.get(f"/manage/c/{CODE}/?lang=en").get_data(as_text=True))
    assert "Behind schedule" in english and "Department of Home Affairs" in english

    # -- the contractor's download holds exactly the matrix shown
    contractor = _login(app, "nhathau@example.vn")
    page = contractor.get(f"/manage/c/{CODE}/?group=citizen&level=district").get_data(
        as_text=True)
    matrix = page.split('<table class="heat"', 1)[1].split("</table>", 1)[0]
    shown = {(html.unescape(name).strip(), cell.rstrip("▾")) for name, cell in re.findall(
        r'<th scope="row">([^<]+)</th><td class="h\d[^"]*">([^<]+)</td>', matrix)}
    download = contractor.get(f"/manage/c/{CODE}/progress.csv?group=citizen&level=district")
    header, *rows = list(csv.reader(io.StringIO(download.data.decode("utf-8-sig"))))
    assert header[0] == "Đơn vị" and header[-2:] == ["unit_code", "group_code"]
    assert {(r[0], f"{r[3]}/{r[4]}") for r in rows} == shown
    assert len(shown) == 9 and {r[-1] for r in rows} == {"citizen"}

    # -- a reminder for one unit reaches exactly its unfinished respondents' forms
    behind = re.search(r'<tr data-unit="([^"]+)"><th scope="row">', page)
    assert behind, "no unit behind schedule in the demo"
    unit = behind.group(1)
    with app.app_context():
        s = db.session()
        expected = set(s.scalars(
            select(Form.respondent_id).join(Assignment, Assignment.form_id == Form.id)
            .join(Unit, Unit.id == Assignment.rated_unit_id)
            .where(Unit.code == unit, Form.mode == Mode.WEB,
                   Form.status != FormStatus.SUBMITTED)))
    assert expected
    r = contractor.post(f"/manage/c/{CODE}/remind-unit", data={
        "csrf_token": csrf_from(page), "unit": unit,
        "back": f"/manage/c/{CODE}/?show=behind"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/?show=behind")
    with app.app_context():
        queued = list(db.session().scalars(select(OutboxMessage.respondent_id).where(
            OutboxMessage.kind == MailKind.REMINDER)))
    # one message to each person with an unfinished form rating the unit, nobody else
    assert sorted(queued) == sorted(expected)

    # -- a reviewer excludes a flagged response: its unit's score moves
    before = _scores(app)
    with app.app_context():
        s = db.session()
        rid, unit_id = s.execute(
            select(Response.id, Response.rated_unit_id)
            .join(IntegrityVerdict, IntegrityVerdict.response_id == Response.id)
            .where(Response.status == ResponseStatus.VALID).order_by(Response.id)).first()
        flagged_unit = s.get(Unit, unit_id).code
    review = admin.get(f"/manage/c/{CODE}/integrity").get_data(as_text=True)
    assert f'data-row="{rid}"' in review
    r = admin.post(f"/manage/c/{CODE}/integrity/decide", data={
        "csrf_token": csrf_from(review), "response_id": rid, "decision": "exclude",
        "reason": "Xác nhận cờ: làm quá nhanh", "back": f"/manage/c/{CODE}/integrity?flag=burst"})
    assert r.status_code == 302 and r.headers["Location"].endswith("integrity?flag=burst")
    after = _scores(app)
    assert after[flagged_unit][2] != before[flagged_unit][2]
    assert all(after[u] == before[u] for u in before if u != flagged_unit)

    # -- an annulment shows what it cancels, waits for the confirmation, drops the unit
    target = max((u for u in after if after[u][0] == "district"), key=lambda u: after[u][2])
    r = admin.post(f"/manage/c/{CODE}/integrity/annul", data={
        "csrf_token": csrf_from(review), "unit": target, "reason": "Can thiệp vào khảo sát"})
    preview = visible_text(r.get_data(as_text=True))
    assert r.status_code == 200  # (the admin chose English above)
    assert "rank 1 of 9" in preview and "submitted form(s) that rate this unit" in preview
    assert _scores(app) == after  # nothing annulled before the confirmation
    r = admin.post(f"/manage/c/{CODE}/integrity/annul", data={
        "csrf_token": csrf_from(review), "unit": target, "confirm": "yes",
        "reason": "Can thiệp vào khảo sát"})
    assert r.status_code == 302
    annulled = _scores(app)
    assert target not in annulled  # its survey result is cancelled
    assert sorted(v[1] for v in annulled.values() if v[0] == "district") == list(range(1, 9))
    scores_page = admin.get(f"/manage/c/{CODE}/scores").get_data(as_text=True)
    assert f'data-unit="{target}"' not in scores_page
    # reversed by an admin with a reason
    review = admin.get(f"/manage/c/{CODE}/integrity").get_data(as_text=True)
    r = admin.post(f"/manage/c/{CODE}/integrity/annul/revoke", data={
        "csrf_token": csrf_from(review), "unit": target, "reason": "x"})
    assert r.status_code == 422 and target not in _scores(app)  # a reason is required
    r = admin.post(f"/manage/c/{CODE}/integrity/annul/revoke", data={
        "csrf_token": csrf_from(review), "unit": target,
        "reason": "Thanh tra kết luận không có can thiệp"})
    assert r.status_code == 302 and _scores(app) == after
    with app.app_context():
        actions = [e.action for e in db.session().scalars(
            select(AuditEvent).order_by(AuditEvent.id))]
    assert {"integrity.exclude", "integrity.annul_unit", "integrity.annul_revoke",
            "invite.remind", "export.progress"} <= set(actions)
    # a contractor may not annul or reverse
    assert contractor.post(f"/manage/c/{CODE}/integrity/annul/revoke", data={
        "csrf_token": csrf_from(page), "unit": target,
        "reason": "Thanh tra kết luận"}).status_code == 403
