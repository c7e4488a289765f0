"""Anonymous response rows, streamed: the one source of the API's ``/responses`` microdata.

One row per valid response (a response is one (form, rated unit) pair, so this is one row per
(response, unit)) outside annulled units, the rows :func:`survey.services.scores.load_score_inputs`
scores: the rated unit, its level, the respondent group, the questionnaire version, the mode,
the day of submission and each scored item's option position (``None`` when not answered).
Never an identity: a response row holds no respondent, form or token (see
:mod:`survey.models.response`).

Rows are read with a server-side cursor (``stream_results``) in id order, so memory stays
constant however many there are, and keyset pagination (``after_id``) resumes where a page
ended.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from flask import g
from sqlalchemy import select

from survey import db
from survey.models import RespondentGroup, Response, ResponseStatus, Unit
from survey.models.integrity import UnitAnnulment
from survey.services.questionnaires import questionnaire_for
from survey.services.scores import _versions_of, item_key

FIXED_COLUMNS = ("response_id", "unit", "unit_level", "group", "questionnaire", "mode",
                 "submitted_on")


@dataclass(frozen=True)
class RowFilters:
    unit: str | None = None
    group: str | None = None
    since: dt.date | None = None  # submitted on or after (responses keep the day only)


@dataclass(frozen=True)
class _Version:
    key: str
    items: tuple[str, ...]  # item keys in item_codes order


def _versions(campaign_id: int) -> dict[int, _Version]:
    """The campaign's questionnaire versions and their item keys, read once per request or
    command (the header and the rows of one answer both need them; reading them scans the
    campaign's responses)."""
    cache = g.setdefault("_response_row_versions", {})
    if campaign_id in cache:
        return cache[campaign_id]  # type: ignore[no-any-return]
    out = cache[campaign_id] = {}
    for row in _versions_of(campaign_id):
        q = questionnaire_for(row)
        out[row.id] = _Version(q.key, tuple(item_key(q, x.id) for x in q.scored_questions))
    return out


def response_columns(campaign_id: int) -> tuple[str, ...]:
    """The fixed columns, then every scored item of the campaign's questionnaires."""
    items: dict[str, None] = {}
    for v in _versions(campaign_id).values():
        items.update(dict.fromkeys(v.items))
    return FIXED_COLUMNS + tuple(items)


def _filtered(stmt: Any, campaign_id: int, filters: RowFilters, after_id: int | None) -> Any:
    stmt = (stmt.join(Unit, Unit.id == Response.rated_unit_id)
            .join(RespondentGroup, RespondentGroup.id == Response.group_id)
            .where(Response.campaign_id == campaign_id, Response.status == ResponseStatus.VALID,
                   Response.rated_unit_id.not_in(select(UnitAnnulment.unit_id)))
            .order_by(Response.id))
    if filters.unit:
        stmt = stmt.where(Unit.code == filters.unit)
    if filters.group:
        stmt = stmt.where(RespondentGroup.code == filters.group)
    if filters.since:
        stmt = stmt.where(Response.submitted_on >= filters.since)
    if after_id is not None:
        stmt = stmt.where(Response.id > after_id)
    return stmt


def next_page_after(campaign_id: int, filters: RowFilters, *, after_id: int | None,
                    limit: int) -> int | None:
    """The id the next page starts after, when rows remain past this page of ``limit``; else
    None. Read from the ids alone, so a page's link is known before its rows stream."""
    ids = list(db.session().scalars(_filtered(select(Response.id), campaign_id, filters,
                                              after_id).offset(limit - 1).limit(2)))
    return ids[0] if len(ids) == 2 else None


def iter_response_rows(campaign_id: int, filters: RowFilters | None = None, *,
                       after_id: int | None = None, limit: int | None = None,
                       ) -> Iterator[dict[str, Any]]:
    """Yield the campaign's anonymous response rows in response id order (see the module)."""
    versions = _versions(campaign_id)
    filters = filters or RowFilters()
    stmt = _filtered(select(Response.id, Unit.code, Unit.level, RespondentGroup.code,
                            Response.questionnaire_version_id, Response.mode,
                            Response.submitted_on, Response.item_codes),
                     campaign_id, filters, after_id)
    if limit is not None:
        stmt = stmt.limit(limit)
    conn = db.session().connection().execution_options(stream_results=True, yield_per=2000)
    for rid, unit, level, group, vid, mode, day, codes in conn.execute(stmt):
        v = versions[vid]
        row: dict[str, Any] = {"response_id": rid, "unit": unit, "unit_level": level,
                               "group": group, "questionnaire": v.key, "mode": mode.value,
                               "submitted_on": day.isoformat()}
        for key, code in zip(v.items, codes, strict=False):
            row[key] = code or None
        yield row
