"""Response-integrity review: scan a campaign, record flags, reviewers' decisions, annulments.

The scan reads the answer side only (responses and :class:`ResponseParadata`) and runs
:func:`analysis.integrity.scan`. Re-running it replaces the previous scan's flags and
recommendations; reviewers' decisions stay and override the recommendation. A response's
status follows: excluded when the reviewer excluded it, or when the scan recommends
exclusion (flags from two independent families) and no reviewer decided otherwise; valid
otherwise. Annulled units are left out of scores (:mod:`survey.services.scores`).
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from collections.abc import Iterable
from typing import Any

import numpy as np
from sqlalchemy import delete, select, update

from analysis.exports import Column, ColumnKind, Table, table_bytes
from analysis.integrity import (
    RESPONSE_CHECKS,
    IntegrityConfig,
    IntegrityReport,
    Paradata,
    Recommendation,
    decide,
    scan,
)
from questionnaires.problems import ProblemError
from survey import db
from survey.models import Campaign, RespondentGroup, Response, ResponseStatus, Unit, utcnow
from survey.models.campaign import QuestionnaireVersion
from survey.models.integrity import IntegrityFlag, IntegrityVerdict, ResponseParadata, UnitAnnulment
from survey.services.audit import record_audit
from survey.services.paradata import SCAN_MODE
from survey.services.webhooks import queue_event

DECISIONS = ("accept", "exclude")
_DECISION_REC = {"accept": Recommendation.OK, "exclude": Recommendation.EXCLUDE}


class ReviewError(ProblemError, ValueError):
    """A refused review action: a problem code (``REVIEW-*``) and its parameters."""


@dataclass(frozen=True)
class ScanSummary:
    campaign_code: str
    responses: int
    counts: dict[str, int]  # final recommendation (after decisions) -> responses
    excluded: int
    unit_flags: int
    decided: int


def load_paradata(campaign_id: int) -> Paradata:
    """Every response of the campaign with its paradata, as :class:`Paradata` columns.

    Responses stored before paradata was recorded have no timing and no hashes.
    """
    rows = db.session().execute(
        select(Response.id, Response.rated_unit_id, Response.group_id,
               Response.questionnaire_version_id, Response.mode, Response.submitted_on,
               Response.item_codes, ResponseParadata)
        .outerjoin(ResponseParadata, ResponseParadata.response_id == Response.id)
        .where(Response.campaign_id == campaign_id).order_by(Response.id)).all()
    n = len(rows)
    pages = max([len(r[7].page_seconds or []) for r in rows if r[7] is not None] + [1])
    items = max([len(r[6]) for r in rows] + [1])
    page_seconds = np.full((n, pages), np.nan)
    items_per_page = np.zeros((n, pages), dtype=np.int64)
    codes = np.zeros((n, items), dtype=np.uint8)
    cols: dict[str, list[Any]] = defaultdict(list)
    for i, (rid, unit, group, version, mode, day, blob, para) in enumerate(rows):
        codes[i, :len(blob)] = np.frombuffer(blob, dtype=np.uint8)
        cols["response_id"].append(rid)
        cols["unit"].append(unit)
        cols["group"].append(group)
        cols["questionnaire"].append(version)
        if para is None:
            at = dt.datetime.combine(day, dt.time(), dt.UTC)
            cols["mode"].append(SCAN_MODE[mode])
            cols["submitted_at"].append(at.timestamp())
            cols["total_seconds"].append(math.nan)
            for name in ("network_hash", "device_hash", "link_open_devices"):
                cols[name].append(0)
            cols["honeypot_filled"].append(False)
            continue
        at = para.submitted_at or dt.datetime.combine(day, dt.time(), dt.UTC)
        cols["mode"].append(para.mode)
        cols["submitted_at"].append(at.timestamp())
        cols["total_seconds"].append(math.nan if para.total_seconds is None else para.total_seconds)
        cols["network_hash"].append(para.network_hash)
        cols["device_hash"].append(para.device_hash)
        cols["link_open_devices"].append(para.link_open_devices)
        cols["honeypot_filled"].append(para.honeypot_filled)
        for p, (sec, k) in enumerate(zip(para.page_seconds or [], para.page_items or [], strict=False)):
            page_seconds[i, p] = math.nan if sec is None else float(sec)
            items_per_page[i, p] = int(k or 0)
    return Paradata(
        response_id=np.asarray(cols["response_id"], dtype=np.int64),
        unit=np.asarray(cols["unit"], dtype=np.int64),
        group=np.asarray(cols["group"], dtype=np.int64),
        questionnaire=np.asarray(cols["questionnaire"], dtype=np.int64),
        mode=np.asarray(cols["mode"], dtype=np.int8),
        submitted_at=np.asarray(cols["submitted_at"], dtype=np.float64),
        total_seconds=np.asarray(cols["total_seconds"], dtype=np.float64),
        page_seconds=page_seconds, items_per_page=items_per_page,
        network_hash=np.asarray(cols["network_hash"], dtype=np.int64),
        device_hash=np.asarray(cols["device_hash"], dtype=np.int64),
        link_open_devices=np.asarray(cols["link_open_devices"], dtype=np.int64),
        honeypot_filled=np.asarray(cols["honeypot_filled"], dtype=bool),
        codes=codes,
    )


def _json_safe(params: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in dict(params).items():
        if isinstance(v, np.generic):
            v = v.item()
        if isinstance(v, float) and not math.isfinite(v):
            v = None
        elif not isinstance(v, int | float | str | bool | type(None)):
            v = str(v)
        out[str(k)] = v
    return out


def integrity_config(campaign: Campaign) -> IntegrityConfig:
    """The checks and thresholds of the campaign file's ``integrity`` section (else defaults)."""
    return IntegrityConfig.from_mapping(campaign.integrity)


def scan_campaign(campaign: Campaign, config: IntegrityConfig | None = None,
                  actor_email: str | None = None) -> ScanSummary:
    """Scan the campaign's responses; idempotent (flags replaced, decisions kept); audited.

    ``config`` defaults to the campaign's own (:func:`integrity_config`).
    """
    data = load_paradata(campaign.id)
    report = scan(data, config or integrity_config(campaign))
    raw_rec = report.recommendation.copy()
    now = utcnow()
    with db.write_transaction() as s:
        verdicts = {v.response_id: v for v in s.scalars(
            select(IntegrityVerdict).where(IntegrityVerdict.campaign_id == campaign.id))}
        present = set(data.response_id.tolist())
        decisions = {rid: _DECISION_REC[v.decision] for rid, v in verdicts.items()
                     if v.decision in _DECISION_REC and rid in present}
        if decisions:
            report = decide(report, decisions)
        s.execute(delete(IntegrityFlag).where(IntegrityFlag.campaign_id == campaign.id))
        _store_flags(s, campaign.id, report, now)
        ids = data.response_id.tolist()
        excluded: list[int] = []
        for row, rid in enumerate(ids):
            rec = ("ok", "review", "exclude")[int(raw_rec[row])]
            v = verdicts.get(rid)
            if rec == "ok" and (v is None or v.decision is None):
                if v is not None:
                    s.delete(v)
            elif v is None:
                s.add(IntegrityVerdict(response_id=rid, campaign_id=campaign.id, recommendation=rec,
                                       families=int(report.families[row]), scanned_at=now))
            else:
                v.recommendation, v.families, v.scanned_at = rec, int(report.families[row]), now
            if report.recommendation_of(row) is Recommendation.EXCLUDE:
                excluded.append(rid)
        s.execute(update(Response).where(Response.campaign_id == campaign.id)
                  .values(status=ResponseStatus.VALID))
        for start in range(0, len(excluded), 500):
            s.execute(update(Response).where(Response.id.in_(excluded[start:start + 500]))
                      .values(status=ResponseStatus.EXCLUDED))
        counts = report.counts()
        record_audit("integrity.scan", actor_email=actor_email, province_code=campaign.province_code,
                     object_type="campaign", object_id=campaign.code,
                     detail={"responses": data.n, **counts, "excluded": len(excluded),
                             "unit_flags": len(report.units), "decided": len(decisions)})
    return ScanSummary(campaign.code, data.n, counts, len(excluded), len(report.units), len(decisions))


def _store_flags(s: Any, campaign_id: int, report: IntegrityReport, now: dt.datetime) -> None:
    for row, flags in report.flags.items():
        rid = int(report.response_id[row])
        for f in flags:
            s.add(IntegrityFlag(campaign_id=campaign_id, response_id=rid, check_code=f.check.value,
                                family=f.family.value, evidence=f.evidence,
                                params=_json_safe(f.params), created_at=now))
    for u in report.units:
        params = _json_safe(u.params) | {"mode": int(u.mode), "forms": u.forms}
        s.add(IntegrityFlag(campaign_id=campaign_id, unit_id=int(u.unit),
                            questionnaire_version_id=int(u.questionnaire), check_code=u.check.value,
                            family=u.family.value, evidence=u.evidence, params=params,
                            created_at=now))


def _response_in(s: Any, campaign: Campaign, response_id: int) -> Response:
    response = s.get(Response, response_id)
    if response is None or response.campaign_id != campaign.id:
        raise ReviewError("REVIEW-RESPONSE-UNKNOWN", response=response_id)
    return response


def decide_response(campaign: Campaign, response_id: int, decision: str, reason: str,
                    actor_id: int | None = None) -> None:
    """A reviewer accepts (valid) or excludes a response, with a reason; audited."""
    reason = reason.strip()
    if decision not in DECISIONS:
        raise ReviewError("REVIEW-DECISION")
    if len(reason) < 5:
        raise ReviewError("REVIEW-REASON")
    with db.write_transaction() as s:
        response = _response_in(s, campaign, response_id)
        verdict = s.get(IntegrityVerdict, response_id)
        if verdict is None:
            verdict = IntegrityVerdict(response_id=response_id, campaign_id=campaign.id,
                                       recommendation="ok", families=0, scanned_at=utcnow())
            s.add(verdict)
        previous = verdict.decision
        verdict.decision, verdict.reason = decision, reason
        verdict.decided_by, verdict.decided_at = actor_id, utcnow()
        response.status = ResponseStatus.EXCLUDED if decision == "exclude" else ResponseStatus.VALID
        queue_event(s, campaign, "review.decision", lambda: {
            "response_id": response_id, "decision": decision, "previous": previous,
            "recommendation": verdict.recommendation})
        record_audit(f"integrity.{decision}", actor_id=actor_id,
                     province_code=campaign.province_code, object_type="response",
                     object_id=response_id,
                     detail={"campaign": campaign.code, "reason": reason, "previous": previous,
                             "recommendation": verdict.recommendation})


def annul_unit(campaign: Campaign, unit_code: str, reason: str, actor_id: int | None = None) -> None:
    """Annul a rated unit's survey result (left out of scores), with a reason; audited."""
    reason = reason.strip()
    if len(reason) < 5:
        raise ReviewError("REVIEW-REASON")
    with db.write_transaction() as s:
        unit = s.scalar(select(Unit).where(Unit.campaign_id == campaign.id, Unit.code == unit_code))
        if unit is None:
            raise ReviewError("REVIEW-UNIT-UNKNOWN", unit=unit_code)
        if s.get(UnitAnnulment, unit.id) is not None:
            raise ReviewError("REVIEW-ANNULLED")
        s.add(UnitAnnulment(unit_id=unit.id, campaign_id=campaign.id, reason=reason,
                            annulled_by=actor_id, annulled_at=utcnow()))
        queue_event(s, campaign, "unit.annulled", {"unit": unit.code})
        record_audit("integrity.annul_unit", actor_id=actor_id,
                     province_code=campaign.province_code, object_type="unit", object_id=unit.code,
                     detail={"campaign": campaign.code, "reason": reason})


# --------------------------------------------------------------------------- review page


@dataclass
class FlaggedResponse:
    response_id: int
    unit: str
    group: str
    questionnaire: str
    status: str
    recommendation: str
    families: int
    decision: str | None
    reason: str | None
    flags: list[IntegrityFlag] = field(default_factory=list)


@dataclass(frozen=True)
class UnitFlagRow:
    unit: str
    questionnaire: str
    check: str
    evidence: str
    forms: int
    params: dict[str, Any]


@dataclass(frozen=True)
class ReviewData:
    responses: list[FlaggedResponse]
    units: list[UnitFlagRow]
    annulled: list[tuple[str, str, dt.datetime]]  # unit code, reason, when
    unit_codes: list[str]
    scanned_at: dt.datetime | None


def review_data(campaign: Campaign, limit: int = 500) -> ReviewData:
    """Flagged or decided responses (exclude first) with their flags, unit flags, annulments."""
    s = db.session()
    q_key = {v.id: f"{v.qid}@v{v.version}" for v in s.scalars(select(QuestionnaireVersion))}
    rows = s.execute(
        select(IntegrityVerdict, Response.status, Response.questionnaire_version_id, Unit.code,
               RespondentGroup.code)
        .join(Response, Response.id == IntegrityVerdict.response_id)
        .join(Unit, Unit.id == Response.rated_unit_id)
        .join(RespondentGroup, RespondentGroup.id == Response.group_id)
        .where(IntegrityVerdict.campaign_id == campaign.id)).all()
    rows = list(rows)
    order = {"exclude": 0, "review": 1, "ok": 2}
    rows.sort(key=lambda r: (r[0].decision is not None, order.get(r[0].recommendation, 3),
                             r[0].response_id))
    rows = rows[:limit]
    out = {v.response_id: FlaggedResponse(v.response_id, unit, group, q_key.get(vid, ""),
                                          status.value, v.recommendation, v.families, v.decision,
                                          v.reason)
           for v, status, vid, unit, group in rows}
    flags: Iterable[IntegrityFlag] = s.scalars(select(IntegrityFlag).where(
        IntegrityFlag.campaign_id == campaign.id,
        IntegrityFlag.response_id.in_(list(out))).order_by(IntegrityFlag.id)) if out else []
    for f in flags:
        if f.response_id is not None:
            out[f.response_id].flags.append(f)
    units = {u.id: u.code for u in s.scalars(select(Unit).where(Unit.campaign_id == campaign.id))}
    unit_rows = [UnitFlagRow(units.get(f.unit_id or 0, ""), q_key.get(f.questionnaire_version_id or 0, ""),
                             f.check_code, f.evidence, int(f.params.get("forms", 0) or 0),
                             dict(f.params or {}))
                 for f in s.scalars(select(IntegrityFlag).where(
                     IntegrityFlag.campaign_id == campaign.id, IntegrityFlag.unit_id.is_not(None))
                     .order_by(IntegrityFlag.id))]
    annulled = [(units.get(a.unit_id, ""), a.reason, a.annulled_at) for a in s.scalars(
        select(UnitAnnulment).where(UnitAnnulment.campaign_id == campaign.id))]
    scanned = s.scalar(select(IntegrityVerdict.scanned_at).where(
        IntegrityVerdict.campaign_id == campaign.id).order_by(IntegrityVerdict.scanned_at.desc())
        .limit(1))
    return ReviewData(list(out.values()), unit_rows, annulled,
                      sorted(units.values()), scanned)


# --------------------------------------------------------------------------- report

REPORT_COLUMNS = (
    Column("unit", ColumnKind.TEXT, "rated unit code"), Column("group", ColumnKind.TEXT),
    Column("responses", ColumnKind.INTEGER), Column("flagged", ColumnKind.INTEGER, "review or exclude"),
    Column("excluded", ColumnKind.INTEGER, "status excluded"), Column("flag_rate", ColumnKind.NUMBER),
    Column("excluded_rate", ColumnKind.NUMBER), Column("unit_flags", ColumnKind.INTEGER),
    Column("annulled", ColumnKind.INTEGER, "1 = the unit's result is annulled"),
    *(Column(c.value, ColumnKind.INTEGER, "responses with this flag") for c in RESPONSE_CHECKS),
)


@dataclass(frozen=True)
class ReportRow:
    unit: str
    group: str
    responses: int
    flagged: int
    excluded: int
    unit_flags: int
    annulled: bool
    checks: dict[str, int]

    @property
    def flag_rate(self) -> float:
        return self.flagged / self.responses if self.responses else math.nan

    @property
    def excluded_rate(self) -> float:
        return self.excluded / self.responses if self.responses else math.nan


def report_rows(campaign: Campaign) -> list[ReportRow]:
    """Flag rates per (rated unit, respondent group); a row per pair with responses."""
    s = db.session()
    base = s.execute(
        select(Response.id, Unit.code, Response.rated_unit_id, RespondentGroup.code, Response.status)
        .join(Unit, Unit.id == Response.rated_unit_id)
        .join(RespondentGroup, RespondentGroup.id == Response.group_id)
        .where(Response.campaign_id == campaign.id)).all()
    flagged = {rid for rid, rec in s.execute(
        select(IntegrityVerdict.response_id, IntegrityVerdict.recommendation)
        .where(IntegrityVerdict.campaign_id == campaign.id)) if rec != "ok"}
    checks: dict[int, set[str]] = defaultdict(set)
    unit_flags: Counter[int] = Counter()
    for rid, uid, code in s.execute(select(IntegrityFlag.response_id, IntegrityFlag.unit_id,
                                           IntegrityFlag.check_code)
                                    .where(IntegrityFlag.campaign_id == campaign.id)):
        if rid is not None:
            checks[rid].add(code)
        elif uid is not None:
            unit_flags[uid] += 1
    annulled = set(s.scalars(select(UnitAnnulment.unit_id).where(
        UnitAnnulment.campaign_id == campaign.id)))
    acc: dict[tuple[str, str], dict[str, Any]] = {}
    for rid, unit, uid, group, status in base:
        a = acc.setdefault((unit, group), {"uid": uid, "n": 0, "flagged": 0, "excluded": 0,
                                           "checks": Counter()})
        a["n"] += 1
        a["flagged"] += rid in flagged
        a["excluded"] += status is ResponseStatus.EXCLUDED
        a["checks"].update(checks.get(rid, ()))
    return [ReportRow(unit, group, a["n"], a["flagged"], a["excluded"], unit_flags[a["uid"]],
                      a["uid"] in annulled, {c.value: a["checks"][c.value] for c in RESPONSE_CHECKS})
            for (unit, group), a in sorted(acc.items())]


def report_table(rows: list[ReportRow]) -> Table:
    return Table("integrity", REPORT_COLUMNS, tuple(
        (r.unit, r.group, r.responses, r.flagged, r.excluded, r.flag_rate, r.excluded_rate,
         r.unit_flags, int(r.annulled), *(r.checks[c.value] for c in RESPONSE_CHECKS))
        for r in rows))


def export_report(campaign: Campaign, fmt: str) -> bytes:
    """The integrity report as CSV or XLSX bytes; the download is audited."""
    if fmt not in ("csv", "xlsx"):
        raise ReviewError("REVIEW-FORMAT", format=fmt)
    table = report_table(report_rows(campaign))
    data = table_bytes(table, fmt)
    with db.write_transaction():
        record_audit("export.integrity", province_code=campaign.province_code,
                     object_type="campaign", object_id=campaign.code,
                     detail={"format": fmt, "rows": len(table.rows)})
    return data
