"""What the contractor and Home Affairs do from their pages, each step audited."""

from __future__ import annotations

import datetime as dt
import io
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, func, select, update

from analysis.exports import Column, ColumnKind, Table, table_bytes
from sampling import write_list_template
from questionnaires.problems import ProblemError
from survey import db
from survey.models import (
    Assignment,
    Campaign,
    CampaignStatus,
    Draft,
    Form,
    FormStatus,
    OutboxMessage,
    OutboxStatus,
    Respondent,
    RespondentGroup,
    Response,
    Unit,
    utcnow,
)
from survey.services.audit import record_audit
from survey.services.campaigns import (
    ProvinceNotAllowed,
    build_sampling_campaign,
    load_campaign_config,
    save_campaign_config,
)
from survey.services.outbox import queue_reminders
from survey.services.quota_reports import COUNT_COLUMNS, QUOTA_COLUMNS, quota_rows
from survey.services.quotas import CellState, QuotaState
from survey.services.respondents import ImportReport, import_respondents
from survey.services.responding import response_key


class ConsoleError(ProblemError, ValueError):
    """A refused console action: a problem code and its parameters."""


@dataclass(frozen=True)
class CellProgress:
    cell: CellState
    share: float | None  # completed / target
    late: bool  # behind the share of fieldwork time already gone


def cell_progress(state: QuotaState, campaign: Campaign, now: dt.datetime | None = None
                  ) -> list[CellProgress]:
    """Each cell with its completion share; late = under half the share of time elapsed."""
    now = now or utcnow()
    span = (campaign.closes_at - campaign.opens_at).total_seconds() or 1.0
    elapsed = min(1.0, max(0.0, (now - campaign.opens_at).total_seconds() / span))
    out = []
    for c in state.cells:
        share = None if not c.target else c.completed / c.target
        late = share is not None and elapsed > 0.25 and share < 0.5 * elapsed
        out.append(CellProgress(c, share, late))
    return out


def daily_completions(campaign: Campaign) -> list[tuple[dt.date, int]]:
    """Responses per submission day (the response date is a day on purpose)."""
    rows = db.session().execute(
        select(Response.submitted_on, func.count()).where(Response.campaign_id == campaign.id)
        .group_by(Response.submitted_on).order_by(Response.submitted_on)).all()
    return [(day, n) for day, n in rows]


def quota_table(cells: list[CellState]) -> Table:
    return Table("quotas", tuple(Column(n, ColumnKind.INTEGER if n in COUNT_COLUMNS
                                        else ColumnKind.TEXT) for n in QUOTA_COLUMNS),
                 tuple(tuple(r) for r in quota_rows(cells)))


def export_quotas(campaign: Campaign, cells: list[CellState], fmt: str) -> bytes:
    """Progress as CSV or XLSX bytes; the download is audited."""
    table = quota_table(cells)
    data = table_bytes(table, fmt)
    with db.write_transaction():
        record_audit("export.quotas", province_code=campaign.province_code,
                     object_type="campaign", object_id=campaign.code,
                     detail={"format": fmt, "cells": len(cells)})
    return data


def upload_respondent_list(campaign: Campaign, filename: str, data: bytes) -> ImportReport:
    """Import an uploaded list (all or nothing) and audit it; raises ListRejected."""
    suffix = Path(filename).suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise ConsoleError("CONSOLE-LIST-FILE")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / Path(filename).name
        path.write_bytes(data)
        report = import_respondents(campaign.code, path)
    with db.write_transaction():
        record_audit("respondents.import", province_code=campaign.province_code,
                     object_type="campaign", object_id=campaign.code,
                     detail={"file": Path(filename).name, "created": report.created,
                             "updated": report.updated, "unchanged": report.unchanged,
                             "forms_created": report.forms_created})
    return report


def set_campaign_status(campaign: Campaign, status: CampaignStatus) -> None:
    """Open or close fieldwork."""
    with db.write_transaction() as s:
        s.execute(update(Campaign).where(Campaign.id == campaign.id).values(status=status))
        record_audit(f"campaign.{status.value}", province_code=campaign.province_code,
                     object_type="campaign", object_id=campaign.code)


def move_deadline(campaign: Campaign, closes_at: dt.datetime) -> None:
    if closes_at <= campaign.opens_at:
        raise ConsoleError("CONSOLE-DEADLINE")
    with db.write_transaction() as s:
        s.execute(update(Campaign).where(Campaign.id == campaign.id).values(closes_at=closes_at))
        record_audit("campaign.deadline", province_code=campaign.province_code,
                     object_type="campaign", object_id=campaign.code,
                     detail={"from": campaign.closes_at.isoformat(),
                             "to": closes_at.isoformat()})


def reopen_form(campaign: Campaign, form_id: int, reason: str) -> int:
    """Reopen one submitted form: its responses go back to a draft the respondent can edit.

    The responses are found through their HMAC key (the only link from a form to its answers),
    so this needs the server secret, not a readable column. Returns the responses withdrawn.
    """
    reason = reason.strip()
    if len(reason) < 5:
        raise ConsoleError("CONSOLE-REASON")
    with db.write_transaction() as s:
        form = s.scalar(select(Form).where(Form.id == form_id, Form.campaign_id == campaign.id))
        if form is None or form.status is not FormStatus.SUBMITTED:
            raise ConsoleError("CONSOLE-FORM-UNKNOWN")
        assignments = s.scalars(select(Assignment).where(Assignment.form_id == form.id)).all()
        keys = {response_key(a.id): a for a in assignments}
        responses = s.scalars(select(Response).where(Response.response_key.in_(keys))).all()
        s.add(Draft(form_id=form.id, answers={str(keys[r.response_key].id): dict(r.answers)
                                               for r in responses}, updated_at=utcnow()))
        s.execute(delete(Response).where(Response.response_key.in_(keys)))
        form.status = FormStatus.STARTED
        form.submitted_at = None
        record_audit("form.reopen", province_code=campaign.province_code, object_type="form",
                     object_id=form.id, detail={"reason": reason, "responses": len(responses)})
    return len(responses)


def find_forms(campaign: Campaign, query: str, limit: int = 50) -> list[Form]:
    """Forms of respondents whose email, external id or name contains ``query``."""
    q = f"%{query.strip().lower()}%"
    return list(db.session().scalars(
        select(Form).join(Respondent).where(
            Form.campaign_id == campaign.id,
            func.lower(Respondent.email).like(q) | func.lower(Respondent.external_id).like(q)
            | Respondent.full_name.like(f"%{query.strip()}%"))
        .order_by(Form.id).limit(limit)))


def create_campaign_upload(provinces: tuple[str, ...], filename: str, data: bytes) -> Campaign:
    """Create (or update) a campaign from an uploaded YAML config, inside the user's provinces.

    Raises :class:`sampling.CampaignInvalid` with located messages, ConsoleError, or
    :class:`CampaignOutOfScope` when the code is another province's campaign.
    """
    if Path(filename).suffix.lower() not in (".yaml", ".yml"):
        raise ConsoleError("CONSOLE-CONFIG-FILE")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / Path(filename).name
        path.write_bytes(data)
        config = load_campaign_config(path)
        try:
            # an existing code outside ``provinces`` raises CampaignOutOfScope (a 404), audited
            campaign = save_campaign_config(config, provinces, Path(filename).name)
        except ProvinceNotAllowed as exc:
            raise ConsoleError(exc.code, **exc.problem.params) from exc
    with db.write_transaction():
        record_audit("campaign.create", province_code=campaign.province_code,
                     object_type="campaign", object_id=campaign.code,
                     detail={"file": Path(filename).name})
    return campaign


def list_template(campaign: Campaign) -> bytes:
    """The XLSX list template of a campaign (drop-downs for group and unit)."""
    buf = io.BytesIO()
    write_list_template(buf, build_sampling_campaign(campaign))
    return buf.getvalue()


def bounced_by_cell(campaign: Campaign) -> dict[tuple[str, str], int]:
    """Forms whose email bounced, per (group code, rated unit code) (a message to a
    respondent's home counts for each of their forms)."""
    rows = db.session().execute(
        select(RespondentGroup.code, Unit.code, func.count(func.distinct(Form.id)))
        .select_from(OutboxMessage)
        .join(Form, (Form.id == OutboxMessage.form_id)
              | (OutboxMessage.form_id.is_(None)
                 & (Form.respondent_id == OutboxMessage.respondent_id)))
        .join(RespondentGroup, RespondentGroup.id == Form.group_id)
        .join(Assignment, Assignment.form_id == Form.id)
        .join(Unit, Unit.id == Assignment.rated_unit_id)
        .where(OutboxMessage.campaign_id == campaign.id,
               OutboxMessage.status == OutboxStatus.BOUNCED)
        .group_by(RespondentGroup.code, Unit.code)).all()
    return {(g, u): n for g, u, n in rows}


def remind_cell(campaign: Campaign, group: str, unit: str) -> int:
    """Queue reminders for the cell's forms that were invited but not completed; audited by
    the outbox. Returns how many reminders were queued."""
    return queue_reminders(campaign, after_days=0, group=group, unit=unit).queued


def unit_levels(campaign: Campaign) -> dict[str, str]:
    """Unit code -> level (department, district, commune ...) of a campaign."""
    return dict(db.session().execute(
        select(Unit.code, Unit.level).where(Unit.campaign_id == campaign.id)).tuples().all())
