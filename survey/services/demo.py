"""The demo campaign: the Trà Vinh 2023 plan from ``examples/campaigns``, a small list of
Vietnamese respondents per group, fieldwork open now, and a Home Affairs account.

Trà Vinh 2023 has no council delegates or civil servants, so the demo also loads the two-tier
example (``VIDU-2026``) with a few of each: every group of the product gets a link. The Trà Vinh
district division leaders rate the 18 departments through one matrix form (and their own
district through another); the council delegates rate six departments through one matrix form.

It goes through the same steps a province does (campaign config, then list import), so it is
idempotent for the same reasons they are. Tokens are stored only as hashes, so every run issues
one fresh link per respondent (to their home); the demo admin's password is reset and printed
on every run.
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
    Respondent,
    RespondentGroup,
    Role,
    StaffProvince,
    StaffUser,
    Unit,
    utcnow,
)
from survey.services.campaigns import create_campaign_from_config, find_campaign
from survey.services.public import create_public_links, public_code
from survey.services.respondents import import_respondents
from survey.services.staff import create_staff_user, set_staff_password
from survey.services.tokens import issue_respondent_token

DEMO_CONFIG = PROJECT_ROOT / "examples" / "campaigns" / "travinh-2023.yaml"
DEMO_CODE = "TVH-2023"
TWO_TIER_CONFIG = PROJECT_ROOT / "examples" / "campaigns" / "example-two-tier-2026.yaml"
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
# the groups Trà Vinh 2023 does not survey, in the two-tier example campaign
TWO_TIER_PEOPLE = [
    ("hdnd_delegate", "99", "Lý Thị Hạnh"),
    ("hdnd_delegate", "99", "Trịnh Văn Khoa"),
    ("civil_servant", "S-NOIVU", "Mai Thị Liên"),
    ("civil_servant", "X-TANLAP", "Tạ Văn Hải"),
]


@dataclass(frozen=True)
class DemoLink:
    """A demo respondent's home link: their group, their own unit and the raw token."""

    group_code: str
    unit_code: str
    token: str
    campaign_code: str = DEMO_CODE


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


def demo_list_csv(people: list[tuple[str, str, str]] = DEMO_PEOPLE, first: int = 1) -> str:
    """The demo respondent list, as a province would upload it (``first``: the number of the
    first person, so the two campaigns' ids, emails and phones differ)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180; a CR in a cell is quoted
    writer.writerow(["external_id", "full_name", "group", "unit", "email", "phone"])
    for n, (group, unit, name) in enumerate(people, start=first):
        parts = _ascii(name).split()
        writer.writerow(safe_row([f"DEMO-{n:03d}", name, group, unit,
                                  f"{parts[-1]}.{''.join(p[0] for p in parts[:-1])}{n}@example.vn",
                                  f"09{n:08d}"]))
    return out.getvalue()


def load_demo_campaign(now: dt.datetime | None = None) -> DemoResult:
    """Create or refresh the demo; return a fresh home link per demo respondent (both
    campaigns) and the admin login."""
    now = now or utcnow()
    campaign = _load(DEMO_CONFIG, DEMO_PEOPLE, 1, now)
    two_tier = _load(TWO_TIER_CONFIG, TWO_TIER_PEOPLE, len(DEMO_PEOPLE) + 1, now)
    password = _demo_admin(campaign, two_tier)
    links = _home_links(campaign) + _home_links(two_tier)
    # public QR links for the citizens' units (idempotent; codes derive from the secret, so
    # every run prints the same poster link)
    posters = create_public_links(find_campaign(campaign.code), DEMO_PUBLIC_GROUP)
    shown = next((p for p in posters if p.rated_unit.code == DEMO_PUBLIC_UNIT), None)
    public = (DemoPublic(DEMO_PUBLIC_GROUP, DEMO_PUBLIC_UNIT, public_code(shown))
              if shown is not None else None)
    return DemoResult(campaign.code, tuple(links), DEMO_ADMIN, password, public)


def _load(config: Path, people: list[tuple[str, str, str]], first: int,
          now: dt.datetime) -> Campaign:
    """A campaign from its config with the demo people imported and fieldwork open now."""
    campaign = create_campaign_from_config(config)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "demo-list.csv"
        path.write_text(demo_list_csv(people, first), encoding="utf-8")
        import_respondents(campaign.code, path)
    with db.write_transaction() as s:
        # the plans' own dates are past or future: open the demo's fieldwork now
        s.execute(update(Campaign).where(Campaign.id == campaign.id).values(
            opens_at=now - dt.timedelta(days=1), closes_at=now + dt.timedelta(days=90),
            status=CampaignStatus.OPEN))
    return campaign


def _home_links(campaign: Campaign) -> list[DemoLink]:
    """One fresh link per demo respondent of ``campaign``, to their home, in list order."""
    links = []
    with db.write_transaction() as s:
        rows = s.execute(
            select(Respondent.id, RespondentGroup.code, Unit.code)
            .join(RespondentGroup, RespondentGroup.id == Respondent.group_id)
            .join(Unit, Unit.id == Respondent.unit_id)
            .where(Respondent.campaign_id == campaign.id,
                   Respondent.external_id.like("DEMO-%"))
            .order_by(Respondent.external_id)).all()
        for respondent_id, group_code, unit_code in rows:
            links.append(DemoLink(group_code, unit_code, issue_respondent_token(respondent_id),
                                  campaign.code))
    return links


def _demo_admin(*campaigns: Campaign) -> str:
    password = secrets.token_urlsafe(12)
    provinces = sorted({c.province_code for c in campaigns})
    user = db.session().scalar(select(StaffUser).where(StaffUser.email == DEMO_ADMIN))
    if user is None:
        create_staff_user(DEMO_ADMIN, "Quản trị demo", password, Role.ADMIN, provinces)
    else:
        set_staff_password(DEMO_ADMIN, password)
        with db.write_transaction() as s:  # an admin of an older demo: both provinces
            for code in set(provinces) - set(user.province_codes):
                s.add(StaffProvince(user_id=user.id, province_code=code))
    return password
