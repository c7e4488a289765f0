"""The demo campaign in the field: simulated respondents who open, answer and submit forms.

:func:`fill_demo_campaign` imports a respondent list shaped like the Trà Vinh plan (about a
thousand forms over every group), then answers those forms through the same services a browser
drives (:func:`~survey.services.responding.save_page` with page timings and client hashes,
:func:`~survey.services.responding.submit_form`), so quota counts, paradata and the integrity
scan see what they would see in the field. Fieldwork is simulated over the weeks since the
campaign opened: submission times are moved back to the simulated day after each submit (the
services stamp "now"), and invitations are marked delivered as a mail server would have.

What is simulated, all from one seed (same seed, same answers, same scores):

- each rated unit has a quality (mean option score) and each respondent a leaning around it,
  so units differ and their confidence intervals mean something;
- each unit has a response propensity; a few units lag far behind (the dashboard's "behind
  schedule" list);
- most forms are submitted, some are half done, some never opened;
- planted problems for the integrity scan: speeders, straight-liners, and a burst of forms from
  one network for one unit within minutes.

The demo people's forms (whose links the demo prints) are never touched: they stay fresh.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import bindparam, func, select, update

from questionnaires.spreadsheet import safe_row
from questionnaires import Question
from survey import db
from survey.models import (
    Assignment,
    Campaign,
    Form,
    FormStatus,
    Respondent,
    Response,
    Role,
    StaffUser,
    Unit,
    utcnow,
)
from survey.models.integrity import ResponseParadata
from survey.models.outbox import MailKind, OutboxMessage, OutboxStatus
from survey.services.campaigns import find_campaign
from survey.services.integrity import scan_campaign
from survey.services.outbox import queue_invitations
from survey.services.paradata import ClientInfo, PageTiming, coarse_time, keyed_hash
from survey.services.respondents import import_respondents
from survey.services.responding import (
    SubmitOutcome,
    load_form,
    response_key,
    save_page,
    submit_form,
)
from survey.services.staff import create_staff_user

DEFAULT_SEED = 2023
SIM_PREFIX = "SIM-"  # external ids of simulated respondents
FIELD_DAYS = 24  # the simulated fieldwork began this many days ago
DAYS_LEFT = 12  # and closes this many days from now

_SURNAMES = ("Nguyễn", "Trần", "Lê", "Phạm", "Huỳnh", "Hoàng", "Võ", "Phan", "Trương", "Bùi",
             "Đặng", "Đỗ", "Ngô", "Hồ", "Dương", "Lý", "Thạch", "Kim", "Sơn", "Châu")
_MIDDLES = ("Văn", "Thị", "Minh", "Hoàng", "Ngọc", "Thanh", "Quốc", "Thu", "Hữu", "Kim")
_GIVEN = ("An", "Bình", "Châu", "Dũng", "Em", "Giang", "Hà", "Hải", "Hạnh", "Hiếu", "Hòa",
          "Hùng", "Hương", "Khánh", "Lan", "Linh", "Long", "Mai", "Nam", "Nga", "Nhung", "Phúc",
          "Phương", "Quân", "Sang", "Tâm", "Thảo", "Thắng", "Trang", "Tuấn", "Vân", "Vinh")
_AGENTS = ("Mozilla/5.0 (Linux; Android 13; SM-A135F) Chrome/119 Mobile",
           "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) Safari/604.1",
           "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/119 Safari/537.36",
           "Mozilla/5.0 (Linux; Android 12; Redmi Note 11) Chrome/118 Mobile",
           "Mozilla/5.0 (Macintosh; Intel Mac OS X 13_5) Safari/605.1.15")


@dataclass(frozen=True)
class DemoFill:
    """What the simulation did."""

    seed: int
    respondents: int
    forms: int
    submitted: int
    half_done: int
    untouched: int
    speeders: int
    straight_liners: int
    burst_unit: str
    lagging_units: tuple[str, ...]
    seconds: float
    skipped: bool = False  # the campaign was filled already (the demo is idempotent)


@dataclass(frozen=True)
class _Person:
    external_id: str
    name: str
    group: str
    unit: str
    rated: tuple[str, ...]


def _name(rng: np.random.Generator) -> str:
    return " ".join((_SURNAMES[rng.integers(len(_SURNAMES))], _MIDDLES[rng.integers(len(_MIDDLES))],
                     _GIVEN[rng.integers(len(_GIVEN))]))


def _people(rng: np.random.Generator, departments: Sequence[str], districts: Sequence[str]
            ) -> list[_Person]:
    """The simulated list, shaped like the Trà Vinh plan (counts per group and unit)."""
    out: list[_Person] = []

    def add(group: str, unit: str, rated: tuple[str, ...] = ()) -> None:
        out.append(_Person(f"{SIM_PREFIX}{len(out) + 1:05d}", _name(rng), group, unit, rated))

    for d in departments:
        for _ in range(3):
            add("dept_division_leader", d)
    for h in districts:
        # two division leaders per district rate every department and their own district;
        # the others (26 in all per district) rate their own district only
        for _ in range(2):
            add("district_division_leader", h, (*departments, h))
        for _ in range(24):
            add("district_division_leader", h, (h,))
        for _ in range(4):
            add("commune_leader", h)
    for d in departments:
        for _ in range(20):
            add("citizen", d, (d,))
    for h in districts:
        for _ in range(30):
            add("citizen", h, (h,))
    return out


def _list_csv(people: Sequence[_Person]) -> str:
    """The simulated list as CSV, escaped like every writer's (OWASP CSV injection); our own
    respondent import reads it back, and generated names, codes and units never start with
    ``= + - @``, so nothing it reads changes."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")  # RFC 4180; a CR in a cell is quoted
    w.writerow(["external_id", "full_name", "group", "unit", "email", "phone", "rated_units"])
    for n, p in enumerate(people, start=1):
        w.writerow(safe_row([p.external_id, p.name, p.group, p.unit, f"sim{n:05d}@example.vn",
                             f"08{n:08d}", ";".join(p.rated)]))
    return buf.getvalue()


def _answer_section(rng: np.random.Generator, questions: Sequence[Question],
                    current: dict[str, Any], mean: float, straight: bool) -> dict[str, Any]:
    page: dict[str, Any] = {}
    for q in questions:
        if not q.visible({**current, **page}):
            continue
        value = q.type.kind.simulated_answer(rng, q, mean, straight)
        if value not in (None, "", []):
            page[q.id] = value
    return page


def fill_demo_campaign(code: str, seed: int = DEFAULT_SEED, now: dt.datetime | None = None
                       ) -> DemoFill:
    """Put the demo campaign in the field with simulated respondents (idempotent).

    The respondents save page by page as on the respondent pages, each step committed by
    itself, so this runs outside any unit of work (``par-survey demo`` calls it after its own).
    """
    if db.in_unit_of_work():
        raise db.UnitOfWorkError("fill_demo_campaign commits step by step: call it outside a "
                                 "unit of work")
    started = time.perf_counter()
    now = now or utcnow()
    rng = np.random.default_rng(seed)
    campaign = find_campaign(code)
    s = db.session()
    if s.scalar(select(func.count()).select_from(Respondent).where(
            Respondent.campaign_id == campaign.id,
            Respondent.external_id.like(f"{SIM_PREFIX}%"))):
        return DemoFill(seed, 0, 0, 0, 0, 0, 0, 0, "", (), 0.0, skipped=True)
    opens = now - dt.timedelta(days=FIELD_DAYS)
    with db.write_transaction() as w:
        w.execute(update(Campaign).where(Campaign.id == campaign.id).values(
            opens_at=opens, closes_at=now + dt.timedelta(days=DAYS_LEFT)))
    units = {u.code: u for u in s.scalars(select(Unit).where(Unit.campaign_id == campaign.id)
                                          .order_by(Unit.id))}
    departments = [c for c, u in units.items() if u.level == "department"]
    districts = [c for c, u in units.items() if u.level == "district"]
    people = _people(rng, departments, districts)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "demo-simulated.csv"
        path.write_text(_list_csv(people), encoding="utf-8")
        import_respondents(campaign.code, path)
    # invitations went out when fieldwork opened (as the outbox worker would have sent them)
    queue_invitations(campaign)
    with db.write_transaction() as w:
        w.execute(update(OutboxMessage).where(
            OutboxMessage.campaign_id == campaign.id, OutboxMessage.kind == MailKind.INVITATION,
            OutboxMessage.status == OutboxStatus.QUEUED).values(
            status=OutboxStatus.SENT, sent_at=opens + dt.timedelta(hours=2), attempts=1))

    rated = sorted(units)
    quality = {c: float(np.clip(rng.normal(0.66, 0.11), 0.25, 0.95)) for c in rated}
    propensity = {c: float(np.clip(rng.normal(0.86, 0.07), 0.6, 0.98)) for c in rated}
    lagging = tuple(sorted(rng.choice(rated, size=4, replace=False).tolist()))
    for c in lagging:
        propensity[c] = 0.3
    burst_unit = districts[int(rng.integers(len(districts)))]
    _focal_points(campaign, (*lagging, *rng.choice(
        [c for c in rated if c not in lagging], size=3, replace=False).tolist()), rng)

    forms = list(s.scalars(
        select(Form.id).join(Respondent, Respondent.id == Form.respondent_id)
        .where(Form.campaign_id == campaign.id, Respondent.external_id.like(f"{SIM_PREFIX}%"))
        .order_by(Form.id)))
    s.close()
    burst_left = 12
    counts = {"submitted": 0, "half": 0, "untouched": 0, "speeders": 0, "straight": 0}
    when: dict[int, dt.datetime] = {}
    for form_id in forms:
        ctx = load_form(form_id)
        if ctx is None:
            continue
        unit_codes = [a.rated_unit.code for a in ctx.assignments]
        p = min(propensity[u] for u in unit_codes)
        roll = rng.random()
        if roll > p:
            # not answered (yet); a fifth of them gave up half way
            if rng.random() < 0.35 and len(ctx.questionnaire.sections) > 1:
                kind = "half"
            else:
                counts["untouched"] += 1
                continue
        else:
            kind = "submit"
        burst = (kind == "submit" and burst_left > 0 and unit_codes == [burst_unit]
                 and ctx.form.group.code == "citizen")
        special = rng.random()
        speeder = not burst and special < 0.02
        straight = not burst and 0.02 <= special < 0.04
        if burst:
            burst_left -= 1
            client = ClientInfo(keyed_hash("net", "113.161.40.0/24"),
                                keyed_hash("ua", _AGENTS[0]))
        else:
            net = f"{rng.integers(14, 223)}.{rng.integers(256)}.{rng.integers(256)}.0/24"
            client = ClientInfo(keyed_hash("net", net),
                                keyed_hash("ua", _AGENTS[int(rng.integers(len(_AGENTS)))]))
        leaning = float(rng.normal(0.0, 0.09))
        sections = ctx.questionnaire.sections
        last = len(sections) if kind == "submit" else int(rng.integers(1, len(sections)))
        for index in range(last):
            section = sections[index]
            page = {str(a.id): _answer_section(
                rng, section.questions, ctx.answers.get(str(a.id), {}),
                quality[a.rated_unit.code] + leaning, straight) for a in ctx.assignments}
            items = sum(len(v) for v in page.values())
            per_item = (0.6 if speeder or burst else float(rng.lognormal(math.log(7.0), 0.35)))
            ctx = save_page(ctx, index, page,
                            PageTiming(round(per_item * max(items, 1), 1), client)) or ctx
        if kind == "half":
            counts["half"] += 1
            continue
        if submit_form(ctx) is not SubmitOutcome.SUBMITTED:
            continue
        counts["submitted"] += 1
        counts["speeders"] += speeder
        counts["straight"] += straight
        if burst:
            when[form_id] = now - dt.timedelta(days=3, hours=5) + dt.timedelta(
                minutes=float(rng.uniform(0, 9)))
        else:
            # most answer in the first days after the invitation; a later wave after reminders
            day = (rng.exponential(4.0) if rng.random() < 0.7 else rng.uniform(8, FIELD_DAYS))
            at = opens + dt.timedelta(days=min(float(day), FIELD_DAYS - 0.2),
                                      hours=float(rng.uniform(1, 10)))
            when[form_id] = min(at, now - dt.timedelta(minutes=30))
    _backdate(campaign.id, when)
    scan_campaign(campaign)
    return DemoFill(seed, len(people), len(forms), counts["submitted"], counts["half"],
                    counts["untouched"], counts["speeders"], counts["straight"], burst_unit,
                    lagging, round(time.perf_counter() - started, 1))


def _focal_points(campaign: Campaign, codes: Sequence[str], rng: np.random.Generator) -> None:
    """Focal point accounts (the contacts the dashboard shows) for ``codes``; no password is
    printed: the demo signs in as its admin. (A few units only: each password hash costs a
    quarter of a second on purpose.)"""
    s = db.session()
    for code in codes:
        email = f"daumoi.{code.lower()}@example.vn"
        if s.scalar(select(StaffUser.id).where(StaffUser.email == email)) is None:
            create_staff_user(email, _name(rng), f"demo-{rng.integers(10**9, 10**10)}",
                              Role.FOCAL_POINT, [campaign.province_code], agency_code=code)


def _backdate(campaign_id: int, when: dict[int, dt.datetime]) -> None:
    """Move each submitted form, its responses and their paradata to its simulated time."""
    if not when:
        return
    s = db.session()
    keys: dict[str, int] = {}
    for aid, fid in s.execute(select(Assignment.id, Assignment.form_id).where(
            Assignment.form_id.in_(list(when)))):
        keys[response_key(aid)] = fid
    ids: list[dict[str, Any]] = []
    for rid, key in s.execute(select(Response.id, Response.response_key).where(
            Response.campaign_id == campaign_id)):
        if key in keys:
            at = when[keys[key]]
            ids.append({"rid": rid, "day": at.date(), "at": coarse_time(at)})
    with db.write_transaction() as w:
        conn = w.connection()
        conn.execute(update(Form).where(Form.id == bindparam("fid")).values(
            submitted_at=bindparam("at"), started_at=bindparam("began"),
            opened_at=bindparam("began")).execution_options(synchronize_session=False),
            [{"fid": f, "at": at, "began": at - dt.timedelta(minutes=12)}
             for f, at in when.items()])
        conn.execute(update(Response).where(Response.id == bindparam("rid")).values(
            submitted_on=bindparam("day")).execution_options(synchronize_session=False),
            [{"rid": r["rid"], "day": r["day"]} for r in ids])
        conn.execute(update(ResponseParadata).where(
            ResponseParadata.response_id == bindparam("rid")).values(
            submitted_at=bindparam("at")).execution_options(synchronize_session=False),
            [{"rid": r["rid"], "at": r["at"]} for r in ids])


def demo_status_counts(campaign_id: int) -> dict[str, int]:
    """Forms per status (for the CLI's summary line and tests)."""
    rows = db.session().execute(select(Form.status, func.count()).where(
        Form.campaign_id == campaign_id).group_by(Form.status)).all()
    return {FormStatus(st).value: n for st, n in rows}
