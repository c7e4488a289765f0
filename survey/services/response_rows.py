"""Anonymous response rows, streamed: the one source of the API's ``/responses`` microdata.

One row per design row of the scores (a valid, non-public-QR response outside annulled units,
read by :func:`survey.services.scores._valid_rows_query`, as the scores and ``par-survey
responses export`` read them; a response is one (form, rated unit) pair): the rated unit, its
level, the respondent group, the questionnaire version, the mode, the day of submission, the
design columns ``stratum``, ``psu``, ``weight`` and ``fpc`` and each scored item's option
position (``None`` when not answered). Public-QR responses, a self-selected sample with no
design weight, are left out as the scores and the file export leave them out. Never an
identity: a response row holds no respondent, form or token (see :mod:`survey.models.response`).

The design is computed once per request or command by
:func:`survey.services.microdata.load_design` (the file export's and the scores' own
:func:`~survey.services.scores.build_design`, over every design row: weights need them all);
it holds a few numbers per response, not the answers. The rows themselves are read with a
server-side cursor (``stream_results``) in id order, so memory does not grow with responses ×
items, and keyset pagination (``after_id``) resumes where a page ended. A response that became
valid after the design was read is not in it and waits for the next request.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from flask import g

from survey import db
from survey.models import RespondentGroup, Response, Unit
from survey.services.microdata import RowDesign, load_design
from survey.services.questionnaires import questionnaire_for
from survey.services.scores import ResponseFilter, _valid_rows_query, _versions_of, item_key

FIXED_COLUMNS = ("response_id", "unit", "unit_level", "group", "questionnaire", "mode",
                 "submitted_on", "stratum", "psu", "weight", "fpc")


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


def _design(campaign_id: int) -> RowDesign:
    """The campaign's design, computed once per request or command (see the module)."""
    cache = g.setdefault("_response_row_design", {})
    if campaign_id not in cache:
        cache[campaign_id] = load_design(campaign_id)
    return cache[campaign_id]  # type: ignore[no-any-return]


def _rows_query(columns: list[Any], campaign_id: int, filters: RowFilters,
                after_id: int | None) -> Any:
    """The design rows ``filters`` keeps, in id order, after ``after_id``."""
    stmt = _valid_rows_query(campaign_id, columns, ResponseFilter(
        units=(filters.unit,) if filters.unit else (),
        groups=(filters.group,) if filters.group else (),
        submitted_since=filters.since)).order_by(Response.id)
    if after_id is not None:
        stmt = stmt.where(Response.id > after_id)
    return stmt


def next_page_after(campaign_id: int, filters: RowFilters, *, after_id: int | None,
                    limit: int) -> int | None:
    """The id the next page starts after, when rows remain past this page of ``limit``; else
    None. Read from the ids alone, so a page's link is known before its rows stream."""
    ids = list(db.session().scalars(_rows_query([Response.id], campaign_id, filters,
                                                after_id).offset(limit - 1).limit(2)))
    return ids[0] if len(ids) == 2 else None


def iter_response_rows(campaign_id: int, filters: RowFilters | None = None, *,
                       after_id: int | None = None, limit: int | None = None,
                       ) -> Iterator[dict[str, Any]]:
    """Yield the campaign's anonymous response rows in response id order (see the module)."""
    versions = _versions(campaign_id)
    design = _design(campaign_id)
    ids, weights, fpcs = design.response_id.tolist(), design.weight.tolist(), design.fpc.tolist()
    filters = filters or RowFilters()
    stmt = _rows_query([Response.id, Unit.code, Unit.level, RespondentGroup.code,
                        Response.questionnaire_version_id, Response.mode,
                        Response.submitted_on, Response.item_codes],
                       campaign_id, filters, after_id)
    if limit is not None:
        stmt = stmt.limit(limit)
    conn = db.session().connection().execution_options(stream_results=True, yield_per=2000)
    for rid, unit, level, group, vid, mode, day, codes in conn.execute(stmt):
        at = bisect_left(ids, rid)  # both in id order: the design row of this response
        if at == len(ids) or ids[at] != rid:
            continue  # valid since the design was read: in the next request's design
        v = versions[vid]
        row: dict[str, Any] = {"response_id": rid, "unit": unit, "unit_level": level,
                               "group": group, "questionnaire": v.key, "mode": mode.value,
                               "submitted_on": day.isoformat(), "stratum": design.stratum[at],
                               "psu": rid, "weight": weights[at], "fpc": fpcs[at]}
        for key, code in zip(v.items, codes, strict=False):
            row[key] = code or None
        yield row
