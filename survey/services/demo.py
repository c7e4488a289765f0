"""The demo campaign: the Trà Vinh 2023 plan from ``examples/campaigns``, a small list of
Vietnamese respondents per group, fieldwork open now, and a Home Affairs account.

It goes through the same steps a province does (campaign config, then list import), so it is
idempotent for the same reasons they are. Tokens are stored only as hashes, so every run issues
one fresh link per group; the demo admin's password is reset and printed on every run.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select, update

from questionnaires.spreadsheet import safe_row
from survey import db
from survey.config import PROJECT_ROOT
from survey.models import (
    Campaign,
    CampaignStatus,
    Form,
    RespondentGroup,
    Role,
    StaffUser,
    Unit,
    utcnow,
)
from survey.services.campaigns import create_campaign_from_config, find_campaign
from survey.services.public import create_public_links, public_code
from survey.services.respondents import import_respondents
from survey.services.staff import create_staff_user, set_staff_password
from survey.services.tokens import issue_token

DEMO_CONFIG = PROJECT_ROOT / "examples" / "campaigns" / "travinh-2023.yaml"
DEMO_CODE = "TVH-2023"
DEMO_ADMIN = "demo-admin@example.vn"
DEMO_PUBLIC_GROUP, DEMO_PUBLIC_UNIT = "citizen", "S-NOIVU"

# group, own unit code, name: three people per group
DEMO_PEOPLE = [
    ("dept_division_leader", "S-NOIVU", "Nguyễn Văn An"),
    ("dept_division_leader", "S-TUPHAP", "Trần Thị Bích"),
    ("dept_division_leader", "S-KHDT", "Lê Hoàng Minh"),
    ("district_division_leader", "TP-TRAVINH", "Phạm Thị Lan"),
    ("district_division_leader", "H-CANGLONG", "Huỳnh Văn Dũng"),
    ("district_division_leader", "H-CAUKE", "Võ Thị Hồng"),
    ("commune_leader", "H-TIEUCAN", "Đặng Quốc Bảo"),
    ("commune_leader", "H-CHAUTHANH", "Bùi Thị Thu"),
    ("commune_leader", "H-TRACU", "Đỗ Minh Tuấn"),
    ("citizen", "S-NOIVU", "Hồ Thị Ngọc"),
    ("citizen", "S-TUPHAP", "Ngô Văn Phúc"),
    ("citizen", "TP-TRAVINH", "Dương Thị Mai"),
]


@dataclass(frozen=True)
class DemoLink:
    group_code: str
    unit_code: str
    token: str


@dataclass(frozen=True)
class DemoPublic:
    group_code: str
    unit_code: str
    code: str  # the poster's code: /q/<code>


@dataclass(frozen=True)
class DemoResult:
    campaign_code: str
    links: tuple[DemoLink, ...]
    admin_email: str
    admin_password: str
    public: DemoPublic | None = None  # a counter poster's link for citizens


def _ascii(name: str) -> str:
    import unicodedata

    plain = unicodedata.normalize("NFKD", name.replace("Đ", "D").replace("đ", "d"))
    return "".join(c for c in plain if c.isascii()).lower()


def demo_list_csv() -> str:
    """The demo respondent list, as a province would upload it."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180; a CR in a cell is quoted
    writer.writerow(["external_id", "full_name", "group", "unit", "email", "phone"])
    for n, (group, unit, name) in enumerate(DEMO_PEOPLE, start=1):
        parts = _ascii(name).split()
        writer.writerow(safe_row([f"DEMO-{n:03d}", name, group, unit,
                                  f"{parts[-1]}.{''.join(p[0] for p in parts[:-1])}{n}@example.vn",
                                  f"09{n:08d}"]))
    return out.getvalue()


def load_demo_campaign(now: dt.datetime | None = None) -> DemoResult:
    """Create or refresh the demo; return one fresh link per group and the admin login."""
    now = now or utcnow()
    campaign = create_campaign_from_config(DEMO_CONFIG)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "demo-list.csv"
        path.write_text(demo_list_csv(), encoding="utf-8")
        import_respondents(campaign.code, path)
    with db.write_transaction() as s:
        # the plan's own dates are in 2023: open the demo's fieldwork now
        s.execute(update(Campaign).where(Campaign.id == campaign.id).values(
            opens_at=now - dt.timedelta(days=1), closes_at=now + dt.timedelta(days=90),
            status=CampaignStatus.OPEN))
    password = _demo_admin(campaign)
    links = []
    with db.write_transaction() as s:
        for group in s.scalars(select(RespondentGroup).where(
                RespondentGroup.campaign_id == campaign.id).order_by(RespondentGroup.id)):
            form = s.scalar(select(Form).where(Form.campaign_id == campaign.id,
                                               Form.group_id == group.id)
                            .order_by(Form.id).limit(1))
            if form is None:
                continue
            unit = s.get(Unit, form.assignments[0].rated_unit_id)
            assert unit is not None
            links.append(DemoLink(group.code, unit.code, issue_token(form)))
    # public QR links for the citizens' units (idempotent; codes derive from the secret, so
    # every run prints the same poster link)
    posters = create_public_links(find_campaign(campaign.code), DEMO_PUBLIC_GROUP)
    shown = next((p for p in posters if p.rated_unit.code == DEMO_PUBLIC_UNIT), None)
    public = (DemoPublic(DEMO_PUBLIC_GROUP, DEMO_PUBLIC_UNIT, public_code(shown))
              if shown is not None else None)
    return DemoResult(campaign.code, tuple(links), DEMO_ADMIN, password, public)


def _demo_admin(campaign: Campaign) -> str:
    password = secrets.token_urlsafe(12)
    exists = db.session().scalar(select(StaffUser.id).where(StaffUser.email == DEMO_ADMIN))
    if exists is None:
        create_staff_user(DEMO_ADMIN, "Quản trị demo", password, Role.ADMIN,
                          [campaign.province_code])
    else:
        set_staff_password(DEMO_ADMIN, password)
    return password
