"""The demo campaign: Trà Vinh 2023 groups over 18 departments and 9 districts.

Loading is idempotent: a second run finds the campaign and creates nothing, then issues one
fresh link per group (tokens are never stored, so old links cannot be printed again).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from survey import db
from survey.models import (
    Assignment,
    Campaign,
    CampaignStatus,
    Form,
    QuestionnaireVersion,
    Respondent,
    RespondentGroup,
    Unit,
    utcnow,
)
from survey.services.questionnaires import publish_builtin_questionnaires
from survey.services.tokens import issue_token

DEMO_CODE = "TVH-2023-DEMO"

DEPARTMENTS = [
    ("Sở Nội vụ", "Department of Home Affairs"),
    ("Sở Tư pháp", "Department of Justice"),
    ("Sở Kế hoạch và Đầu tư", "Department of Planning and Investment"),
    ("Sở Tài chính", "Department of Finance"),
    ("Sở Công Thương", "Department of Industry and Trade"),
    ("Sở Nông nghiệp và Phát triển nông thôn", "Department of Agriculture and Rural Development"),
    ("Sở Giao thông vận tải", "Department of Transport"),
    ("Sở Xây dựng", "Department of Construction"),
    ("Sở Tài nguyên và Môi trường", "Department of Natural Resources and Environment"),
    ("Sở Thông tin và Truyền thông", "Department of Information and Communications"),
    ("Sở Lao động - Thương binh và Xã hội", "Department of Labour, Invalids and Social Affairs"),
    ("Sở Văn hóa, Thể thao và Du lịch", "Department of Culture, Sports and Tourism"),
    ("Sở Khoa học và Công nghệ", "Department of Science and Technology"),
    ("Sở Giáo dục và Đào tạo", "Department of Education and Training"),
    ("Sở Y tế", "Department of Health"),
    ("Thanh tra tỉnh", "Provincial Inspectorate"),
    ("Văn phòng UBND tỉnh", "Office of the Provincial People's Committee"),
    ("Ban Dân tộc", "Ethnic Minorities Committee"),
]

DISTRICTS = [
    ("UBND thành phố Trà Vinh", "Trà Vinh City People's Committee"),
    ("UBND thị xã Duyên Hải", "Duyên Hải Town People's Committee"),
    ("UBND huyện Càng Long", "Càng Long District People's Committee"),
    ("UBND huyện Cầu Kè", "Cầu Kè District People's Committee"),
    ("UBND huyện Tiểu Cần", "Tiểu Cần District People's Committee"),
    ("UBND huyện Châu Thành", "Châu Thành District People's Committee"),
    ("UBND huyện Cầu Ngang", "Cầu Ngang District People's Committee"),
    ("UBND huyện Trà Cú", "Trà Cú District People's Committee"),
    ("UBND huyện Duyên Hải", "Duyên Hải District People's Committee"),
]

# group code, Vietnamese, English, [(questionnaire id, which units it rates)]
GROUPS = [
    ("dept_division_leader", "Lãnh đạo cấp phòng thuộc sở", "Department division leaders",
     [("dept-division-rates-own-department", "own")]),
    ("district_division_leader", "Lãnh đạo cấp phòng thuộc UBND cấp huyện",
     "District division leaders",
     [("district-division-rates-departments", "departments"),
      ("district-division-rates-own-district", "own")]),
    ("commune_leader", "Lãnh đạo UBND cấp xã", "Commune leaders",
     [("commune-leader-rates-district", "parent")]),
    ("citizen", "Người dân, tổ chức", "Citizens and organisations",
     [("citizen-sipas", "own")]),
]

PEOPLE = [
    "Nguyễn Văn An", "Trần Thị Bích", "Lê Hoàng Minh", "Phạm Thị Lan", "Huỳnh Văn Dũng",
    "Võ Thị Hồng", "Đặng Quốc Bảo", "Bùi Thị Thu", "Đỗ Minh Tuấn", "Hồ Thị Ngọc",
    "Ngô Văn Phúc", "Dương Thị Mai",
]


@dataclass(frozen=True)
class DemoLink:
    group_code: str
    unit_code: str
    token: str


@dataclass(frozen=True)
class DemoResult:
    campaign_code: str
    created: bool
    links: tuple[DemoLink, ...]


def _ascii_email(name: str, n: int) -> str:
    import unicodedata

    plain = unicodedata.normalize("NFKD", name.replace("Đ", "D").replace("đ", "d"))
    plain = "".join(c for c in plain if c.isascii()).lower().split()
    return f"{plain[-1]}.{''.join(p[0] for p in plain[:-1])}{n}@example.vn"


def load_demo_campaign(now: dt.datetime | None = None) -> DemoResult:
    """Create the demo campaign if missing; return one fresh link per group."""
    now = now or utcnow()
    versions = publish_builtin_questionnaires()
    s = db.session()
    campaign = s.scalar(select(Campaign).filter_by(code=DEMO_CODE))
    created = campaign is None
    if created:
        with db.write_transaction() as s:
            campaign = _create_campaign(s, now, versions)
    assert campaign is not None
    links = []
    with db.write_transaction() as s:
        for code, *_ in GROUPS:
            form = s.scalar(
                select(Form).join(RespondentGroup).where(
                    Form.campaign_id == campaign.id, RespondentGroup.code == code)
                .order_by(Form.id).limit(1))
            if form is None:
                continue
            unit = s.get(Unit, form.assignments[0].rated_unit_id)
            assert unit is not None
            links.append(DemoLink(code, unit.code, issue_token(form)))
    return DemoResult(DEMO_CODE, created, tuple(links))


def _create_campaign(s: Session, now: dt.datetime,
                     versions: dict[str, QuestionnaireVersion]) -> Campaign:
    campaign = Campaign(
        code=DEMO_CODE, name_vi="Điều tra xã hội học Chỉ số CCHC tỉnh Trà Vinh năm 2023 (demo)",
        name_en="Trà Vinh 2023 PAR Index sociological survey (demo)", province_code="TVH",
        year=2023, opens_at=now - dt.timedelta(days=1), closes_at=now + dt.timedelta(days=90),
        status=CampaignStatus.OPEN)
    s.add(campaign)
    s.flush()
    province = Unit(campaign_id=campaign.id, code="TVH", name_vi="Tỉnh Trà Vinh",
                    name_en="Trà Vinh Province", level="province")
    s.add(province)
    s.flush()
    departments = [Unit(campaign_id=campaign.id, code=f"S{i:02d}", name_vi=vi, name_en=en,
                        level="department", parent_id=province.id)
                   for i, (vi, en) in enumerate(DEPARTMENTS, start=1)]
    districts = [Unit(campaign_id=campaign.id, code=f"H{i:02d}", name_vi=vi, name_en=en,
                      level="district", parent_id=province.id)
                 for i, (vi, en) in enumerate(DISTRICTS, start=1)]
    s.add_all(departments + districts)
    s.flush()
    communes = []
    for d in districts:
        for j in range(1, 5):
            communes.append(Unit(campaign_id=campaign.id, code=f"{d.code}X{j:02d}",
                                 name_vi=f"UBND xã {j} ({d.name_vi.removeprefix('UBND ')})",
                                 name_en=f"Commune {j} People's Committee ({d.name_en})",
                                 level="commune", parent_id=d.id))
    s.add_all(communes)
    s.flush()
    people = iter(PEOPLE)
    for priority, (code, vi, en, rules) in enumerate(GROUPS, start=1):
        group = RespondentGroup(campaign_id=campaign.id, code=code, name_vi=vi, name_en=en,
                                priority=priority)
        s.add(group)
        s.flush()
        home_units = {"dept_division_leader": departments, "district_division_leader": districts,
                      "commune_leader": communes, "citizen": departments}[code]
        for n in range(3):
            name = next(people)
            home = home_units[n]
            person = Respondent(campaign_id=campaign.id, group_id=group.id, unit_id=home.id,
                                full_name=name, email=_ascii_email(name, n + 1),
                                external_id=f"{code[:3].upper()}-{n + 1:03d}")
            s.add(person)
            s.flush()
            for qid, target in rules:
                rated = {"own": [home], "departments": departments,
                         "parent": [u for u in districts if u.id == home.parent_id]}[target]
                for unit in rated:
                    form = Form(campaign_id=campaign.id, respondent_id=person.id,
                                group_id=group.id, questionnaire_version_id=versions[qid].id)
                    s.add(form)
                    s.flush()
                    s.add(Assignment(form_id=form.id, rated_unit_id=unit.id))
    return campaign
