"""Fixtures shared by the staff-side test modules: two provinces' campaigns and one staff
account per role (``world``), and the helpers that go with them."""

from __future__ import annotations

import textwrap

import pytest

from survey.models import Role
from survey.services.campaigns import create_campaign_from_config
from survey.services.respondents import import_respondents
from survey.services.staff import create_staff_user
from tests.conftest import csrf_from

PASSWORD = "mot-mat-khau-dai-du"


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
    """A staff route's URL rule with a campaign ``code`` (and the csv format) filled in."""
    return rule.replace("<code>", code).replace("<fmt>", "csv").replace("<unit>", "S01")
