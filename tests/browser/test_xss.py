"""Hostile text everywhere a person can put it (questionnaire, unit names, respondent names,
free-text answers, list files) is shown as text on every page: nothing executes."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import select

from questionnaires import build_questionnaire, load_builtin_by_id
from survey import db
from survey.models import Form, Role
from survey.services.campaigns import create_campaign_from_config
from survey.services.respondents import import_respondents
from survey.services.responding import load_form, save_page, submit_form
from survey.services.staff import create_staff_user
from survey.services.tokens import issue_token

PAYLOADS = [
    "<script>alert('xss1')</script>",
    "<img src=x onerror=alert('xss2')>",
    "\"><svg onload=alert('xss3')>",
    "javascript:alert('xss4')",
    "'\"><iframe srcdoc=\"<script>alert('xss5')</script>\">",
    "{{7*7}}<b onmouseover=alert('xss6')>hover</b>",
]
EVIL = " ".join(PAYLOADS)
PASSWORD = "mat-khau-kiem-thu-xss"


def evil_config() -> str:
    unit = EVIL.replace("'", "’").replace('"', "”")  # keep the YAML quoting simple
    return f"""\
version: 1
code: XSS-2026
name: {{vi: 'Khảo sát {unit}', en: 'Survey {unit}'}}
province: "84"
year: 2026
opens_at: 2020-01-01
closes_at: 2099-12-31
levels:
  - {{code: province, name: {{vi: Tỉnh, en: Province}}}}
  - {{code: department, name: {{vi: Sở, en: Department}}, parent: province}}
units:
  - {{code: "84", level: province, name: {{vi: Tỉnh, en: Province}}}}
  - {{code: S01, level: department, parent: "84", name: {{vi: 'Sở {unit}', en: 'Dept {unit}'}}}}
groups:
  - code: dept_division_leader
    name: {{vi: 'Nhóm {unit}', en: 'Group {unit}'}}
    kind: department_division_leader
    unit_level: department
    questionnaires: [xss-form]
quotas:
  - {{group: dept_division_leader, questionnaire: xss-form, count: 2, per: department}}
"""


def evil_questionnaire():
    base = load_builtin_by_id("dept-division-rates-own-department")
    doc = copy.deepcopy(dict(base.document))
    doc["id"] = "xss-form"
    doc["title"] = {"vi": "Phiếu " + EVIL, "en": "Form " + EVIL}
    doc["description"] = {"vi": EVIL, "en": EVIL}
    doc["sections"][0]["questions"][0]["text"] = {"vi": "Câu " + EVIL, "en": "Q " + EVIL}
    doc["sections"][0]["questions"][0]["options"] = [
        {"code": "A", "score": 1.0, "label": {"vi": "Có " + EVIL, "en": "Yes " + EVIL}},
        {"code": "B", "score": 0.0, "label": {"vi": "Không", "en": "No"}},
    ]
    return build_questionnaire(doc, "xss.yaml")


def seed(app: Flask, tmp_path: Path) -> str:
    from survey.services.questionnaires import publish_questionnaire

    questionnaire = evil_questionnaire()
    with app.app_context():
        publish_questionnaire(questionnaire)
        # the campaign loader checks questionnaire ids against the built-in set, so the
        # test questionnaire is swapped in after the campaign exists
        config = evil_config().replace("xss-form", "dept-division-rates-own-department")
        (tmp_path / "c.yaml").write_text(config, encoding="utf-8")
        campaign = create_campaign_from_config(tmp_path / "c.yaml")
        from sqlalchemy import update

        from survey.models import QuestionnaireVersion, QuotaCell
        with db.write_transaction() as s:
            evil_id = s.scalar(select(QuestionnaireVersion.id).filter_by(qid="xss-form"))
            s.execute(update(QuotaCell).where(QuotaCell.campaign_id == campaign.id)
                      .values(questionnaire_version_id=evil_id))
        name = " ".join(PAYLOADS[:3]).replace('"', "”").replace(",", " ")  # names: 200 chars max
        (tmp_path / "l.csv").write_text(
            "external_id,full_name,group,unit,email\n"
            f'A,"Nguyễn {name}",dept_division_leader,S01,an@example.vn\n'
            f'B,"Trần {name}",dept_division_leader,S01,bich@example.vn\n', encoding="utf-8")
        import_respondents("XSS-2026", tmp_path / "l.csv")
        create_staff_user("admin@example.vn", "Quản trị", PASSWORD, Role.ADMIN, ["84"])
        forms = db.session().scalars(select(Form).order_by(Form.id)).all()
        # the second respondent already answered, with hostile free text
        ctx = load_form(forms[1].id)
        key = str(ctx.assignments[0].id)
        for i, section in enumerate(ctx.questionnaire.sections):
            answers = {q.id: q.options[0].code for q in section.questions if q.scored}
            if any(q.id == "has_suggestion" for q in section.questions):
                answers["has_suggestion"] = "Y"
            if any(q.id == "suggestion_text" for q in section.questions):
                answers["suggestion_text"] = EVIL
            ctx = save_page(ctx, i, {key: answers})
        submit_form(ctx)
        with db.write_transaction():
            return issue_token(forms[0])


def visit_all(page: Any, base: str, token: str) -> list[str]:
    visited = []
    page.goto(f"{base}/s/{token}")
    assert page.url.endswith("/f/p/1")  # page 1 with the welcome (title, description, units)
    visited.append(page.url)
    for path in ("/f/", "/f/p/1?lang=en", "/f/p/2", "/f/p/3", "/f/review", "/f/?lang=en",
                 "/f/p/1"):
        page.goto(base + path)
        visited.append(page.url)
    # a free-text answer with the payloads, then the review page that repeats it
    page.goto(f"{base}/f/p/3")
    page.locator("label[for='u0-has_suggestion-1']").click()
    page.get_by_role("button", name="Next").click()
    page.locator("#u0-suggestion_text").fill(EVIL)
    page.get_by_role("button", name="Review answers").click()
    visited.append(page.url)
    # the staff side: login, campaign list, dashboard, console search, audit, accounts
    page.goto(f"{base}/manage/login")
    page.locator("#email").fill("admin@example.vn")
    page.locator("#password").fill(PASSWORD)
    page.locator("button[type=submit]").click()
    for path in ("/manage/", "/manage/c/XSS-2026/", "/manage/c/XSS-2026/console?q=Nguy",
                 "/manage/audit", "/manage/users", "/manage/c/XSS-2026/respondents"):
        page.goto(base + path)
        visited.append(page.url)
    # an uploaded list whose every cell is hostile: the error report shows them as text
    bad = tmp_upload(EVIL)
    page.set_input_files("#file", bad)
    page.locator("button.primary").click()
    visited.append(page.url)
    return visited


def tmp_upload(evil: str) -> Any:
    cell = evil.replace('"', "'").replace(",", " ")
    return {"name": "hostile.csv", "mimeType": "text/csv",
            "buffer": ("external_id,full_name,group,unit,email\n"
                       f'"{cell}","{cell}","{cell}","{cell}","{cell}"\n').encode()}


def test_no_payload_executes_on_any_page(browser: Any, live_server: str, app: Flask,
                                         tmp_path: Path) -> None:
    token = seed(app, tmp_path)
    context = browser.new_context(locale="vi-VN")
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    visited = visit_all(page, live_server, token)
    assert dialogs == [], f"script ran: {dialogs}"
    assert len(visited) >= 15
    # the payloads are on screen as text, so they were rendered and escaped, not dropped
    page.goto(f"{live_server}/manage/c/XSS-2026/console?q=Nguy")
    assert "<img src=x onerror=" in page.locator("main").inner_text()
    context.close()
