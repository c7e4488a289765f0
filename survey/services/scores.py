"""Survey scores of a campaign: rows to arrays, :mod:`analysis.scoring`, result tables, exports.

Item keys: a scored question is known to the scoring config as
``"<questionnaire id>@v<version>/<question id>"`` (:func:`item_key`), because two
questionnaires may reuse a question id with different option scores. Every response row
carries the codes of its own questionnaire's items and 0 (not answered) for all others, so a
sub-criterion fed by items of several questionnaires averages each response's own items.

Weights: every response weighs 1 (the leader groups are a census) unless ``population``
gives ``N`` for some (group, rated unit) strata; then the design is stratified by
(group, rated unit) with ``w = N_h / n_h`` and the finite-population correction, strata
without ``N`` counting as a census (``N_h = n_h``).
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import datetime as dt
import gc
import io
import math
import operator
import re
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, TypeVar, overload

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import SmallInteger, case, cast, func, or_, select

from analysis import (
    Estimate,
    poststratify,
    rake,
    trim_weights,
    NoSurvey,
    Pooling,
    ScoringConfig,
    SipasConfig,
    SipasElement,
    SipasResult,
    SurveyDesign,
    WeightsSummary,
    compile_index,
    survey_estimates,
    sipas,
    weights_summary,
)
from analysis.design import factorize
from analysis.estimators import ColumnEstimates
from analysis.disclosure import Cell, suppress
from analysis.scoring import item_estimates
from analysis.scoring_config import _natural, item_key
from analysis.scoring_config import default_scoring_config as default_scoring_config  # re-exported
from analysis.exports import (
    Column,
    ColumnKind,
    Columns,
    Report,
    Table,
    csv_zip_bytes,
    json_bytes,
    write_json,
    write_xlsx,
)
from questionnaires import Questionnaire
from sampling.design import DesignSpec, GroupWeighting
from questionnaires.problems import Location, Problem, ProblemError
from survey import db
from survey.services import copy_rows
from survey.models import (
    Assignment,
    Campaign,
    Form,
    Mode,
    QuestionnaireVersion,
    RespondentGroup,
    Response,
    ResponseStatus,
    Unit,
)
from survey.models.integrity import UnitAnnulment
from survey.models.quota import QuotaCell
from survey.services.questionnaires import questionnaire_for, response_versions

FORMATS = ("csv", "xlsx", "json", "sav", "dta")


@dataclass(frozen=True)
class VersionInfo:
    """A questionnaire version used by the campaign (for the methods sheet and microdata)."""

    version_id: int
    questionnaire: Questionnaire
    content_hash: str
    responses: int


@dataclass(frozen=True)
class ScoreInputs:
    """Valid responses of a campaign as arrays: one row per response, ordered by response id."""

    campaign_code: str
    response_id: NDArray[np.int64]
    unit: NDArray[Any]  # rated unit code
    level: NDArray[Any]  # rated unit level (the ranking block)
    group: NDArray[Any]  # respondent group code
    version_id: NDArray[np.int64]
    answers: Mapping[str, NDArray[np.uint8]]  # item key -> option position (0 = none)
    option_scores: Mapping[str, Sequence[float]]  # item key -> score by option position
    versions: tuple[VersionInfo, ...]
    unit_names: Mapping[str, str]  # unit code -> Vietnamese name, every unit of the campaign
    unit_levels: Mapping[str, str]  # unit code -> level, every unit of the campaign
    #: valid public-QR responses per rated unit: a self-selected sample, never in the design
    public_responses: Mapping[str, int] = dataclasses.field(default_factory=dict)
    #: question id -> option code per row (as printed), for the weighting variables
    profile: Mapping[str, NDArray[Any]] = dataclasses.field(default_factory=dict)
    submitted_on: NDArray[Any] | None = None
    #: ``unit`` and ``group`` as positions in their codes sorted (``(positions, codes)``), as
    #: read: a million rows are factorized by counting integers rather than hashing strings
    unit_positions: tuple[NDArray[np.int64], tuple[str, ...]] | None = None
    group_positions: tuple[NDArray[np.int64], tuple[str, ...]] | None = None

    @property
    def n_rows(self) -> int:
        return int(self.response_id.size)


def _versions_of(campaign_id: int) -> list[QuestionnaireVersion]:
    """The questionnaire versions of the campaign's forms and of its responses (forms may be
    gone after a privacy purge; their responses stay)."""
    s = db.session()
    used = or_(
        QuestionnaireVersion.id.in_(select(Form.questionnaire_version_id).where(Form.campaign_id == campaign_id)),
        QuestionnaireVersion.id.in_(response_versions(campaign_id)),
    )
    return list(s.scalars(select(QuestionnaireVersion).where(used).order_by(QuestionnaireVersion.id)))


def load_campaign_questionnaires(campaign_id: int) -> tuple[Questionnaire, ...]:
    """The questionnaire versions the campaign's forms and responses use, by version id."""
    return tuple(questionnaire_for(v) for v in _versions_of(campaign_id))


@dataclass(frozen=True)
class ResponseFilter:
    """Which valid responses to read: all by default (the microdata export narrows them)."""

    units: tuple[str, ...] = ()  # rated unit codes
    groups: tuple[str, ...] = ()  # respondent group codes
    submitted_since: Any = None  # a date: responses submitted on or after it


def _valid_rows_query(campaign_id: int, columns: Sequence[Any], filters: ResponseFilter | None = None,
                      public: bool = False, names: bool = True) -> Any:
    """Valid responses of the campaign outside annulled units; public-QR ones only if ``public``.

    ``names``: joined to the units and groups (their codes may be selected). Without, the
    columns name only ``responses`` (a response's unit and group always exist: foreign keys),
    and PostgreSQL is spared two hash joins per million rows.
    """
    units = bool(filters and filters.units)
    groups = bool(filters and filters.groups)
    q = select(*columns).select_from(Response)
    if names or units:
        q = q.join(Unit, Unit.id == Response.rated_unit_id)
    if names or groups:
        q = q.join(RespondentGroup, RespondentGroup.id == Response.group_id)
    q = (q.where(Response.campaign_id == campaign_id, Response.status == ResponseStatus.VALID)
         .where(Response.rated_unit_id.not_in(select(UnitAnnulment.unit_id))))  # annulled units
    q = q.where(Response.mode == Mode.PUBLIC) if public else q.where(Response.mode != Mode.PUBLIC)
    if filters is not None:
        if filters.units:
            q = q.where(Unit.code.in_(filters.units))
        if filters.groups:
            q = q.where(RespondentGroup.code.in_(filters.groups))
        if filters.submitted_since is not None:
            q = q.where(Response.submitted_on >= filters.submitted_since)
    return q


def load_score_inputs(campaign_id: int, profile: Sequence[str] = (),
                      filters: ResponseFilter | None = None, with_dates: bool = False,
                      with_answers: bool = True, profile_groups: Sequence[str] | None = None) -> ScoreInputs:
    """Read the campaign's valid responses and unpack them into arrays, ordered by response id.

    ``item_codes`` of the responses of one questionnaire version form a ``(responses x scored
    items)`` uint8 matrix; option scores come from :meth:`Questionnaire.score_table`. No
    Python loop runs per answer. On PostgreSQL the rows come as one binary ``COPY`` per
    version, straight into numpy (:mod:`survey.services.copy_rows`); elsewhere through the
    driver. Public-QR responses (a self-selected sample) are not read, only counted per unit.
    ``profile`` names questions (weighting variables) whose option codes are read as well,
    for the rows of ``profile_groups`` only when given (None elsewhere). ``with_answers=False``
    reads no item codes (``answers`` is empty): enough to build the design
    (:func:`build_design`), in memory per response, not per answer.
    """
    s = db.session()
    code = s.scalar(select(Campaign.code).where(Campaign.id == campaign_id))
    if code is None:
        raise CampaignMissing("CAMPAIGN-ID-UNKNOWN", id=campaign_id)
    versions = _versions_of(campaign_id)
    questionnaires = {row.id: questionnaire_for(row) for row in versions}
    rows = None
    if copy_rows.available(s):
        rows = _copied_rows(s, campaign_id, questionnaires, profile, filters, with_dates, with_answers,
                            profile_groups)
    if rows is None:
        rows = _fetched_rows(s, campaign_id, versions, questionnaires, profile, filters, with_dates, with_answers,
                             profile_groups)
    public: dict[str, int] = dict(s.execute(  # type: ignore[arg-type]
        _valid_rows_query(campaign_id, [Unit.code, func.count()], filters, public=True).group_by(Unit.code)
    ).all())
    all_units = s.execute(select(Unit.id, Unit.code, Unit.name_vi, Unit.level)
                          .where(Unit.campaign_id == campaign_id)).all()
    all_groups = s.execute(select(RespondentGroup.id, RespondentGroup.code)
                           .where(RespondentGroup.campaign_id == campaign_id)).all()
    n = rows.ids.size
    # in code order (plain code points, as the design's factors sort), "" last for an unknown id
    all_units = sorted(all_units, key=lambda u: u.code)
    all_groups = sorted(all_groups, key=lambda g: g.code)
    unit_index = {uid: k for k, (uid, *_rest) in enumerate(all_units)}
    unit_code = np.array([u.code for u in all_units] + [""], dtype=object)
    unit_level = np.array([u.level for u in all_units] + [""], dtype=object)
    group_index = {gid: k for k, (gid, _code) in enumerate(all_groups)}
    group_code = np.array([g.code for g in all_groups] + [""], dtype=object)
    u_at, g_at = _positions(rows.unit_ids, unit_index), _positions(rows.group_ids, group_index)
    units, levels, groups = unit_code[u_at], unit_level[u_at], group_code[g_at]
    version_id = rows.version_ids
    answers: dict[str, NDArray[np.uint8]] = {}
    option_scores: dict[str, Sequence[float]] = {}
    infos: list[VersionInfo] = []
    for row in versions:
        q = questionnaires[row.id]
        keys = [item_key(q, question.id) for question in q.scored_questions]
        (at,) = np.nonzero(version_id == row.id)
        infos.append(VersionInfo(row.id, q, row.content_hash, int(at.size)))
        if not with_answers:
            continue
        matrix = rows.codes[row.id]
        # item by item in contiguous memory: every estimate reads one item's codes at a time
        full = np.zeros((len(keys), n), dtype=np.uint8)
        full[:, at] = matrix.T
        for k, (key, table) in enumerate(zip(keys, q.score_table(), strict=True)):
            answers[key] = full[k]
            option_scores[key] = table
    return ScoreInputs(
        campaign_code=code,
        response_id=rows.ids,
        unit=units,
        level=levels,
        group=groups,
        version_id=version_id,
        answers=answers,
        option_scores=option_scores,
        versions=tuple(infos),
        unit_names={u.code: u.name_vi for u in all_units},
        unit_levels={u.code: u.level for u in all_units},
        public_responses={str(k): int(v) for k, v in public.items()},
        profile=dict(zip(profile, rows.profile, strict=True)),
        submitted_on=rows.dates,
        unit_positions=(u_at, tuple(u.code for u in all_units)),  # codes unique in a campaign
        group_positions=(g_at, tuple(g.code for g in all_groups)),
    )



@dataclass(frozen=True)
class _Rows:
    """The valid responses as read, before codes become names: ordered by response id."""

    ids: NDArray[np.int64]
    unit_ids: NDArray[np.int64]
    group_ids: NDArray[np.int64]
    version_ids: NDArray[np.int64]
    codes: Mapping[int, NDArray[np.uint8]]  # version id -> (its rows in id order x scored items)
    dates: NDArray[Any] | None  # datetime.date per row
    profile: list[NDArray[Any]]  # option code (or None) per row, per profile question


class StoredCodesMismatch(ProblemError, ValueError):
    """Stored item codes that do not fit their questionnaire version: a damaged database."""


class CampaignMissing(ProblemError, LookupError):
    """No campaign has the id asked for."""


class NothingToScore(ProblemError, ValueError):
    """The scoring config has no sub-criteria (the questionnaires have no scored question)."""


def _codes_mismatch(q: Questionnaire, width: int, detail: str) -> StoredCodesMismatch:
    return StoredCodesMismatch("SCORING-CODES-MISMATCH", key=q.key, width=width, detail=detail)


def _fetched_rows(s: Any, campaign_id: int, versions: Sequence[QuestionnaireVersion],
                  questionnaires: Mapping[int, Questionnaire], profile: Sequence[str],
                  filters: ResponseFilter | None, with_dates: bool, with_answers: bool,
                  profile_groups: Sequence[str] | None) -> _Rows:
    """The rows through the driver, in one query."""
    extra = [Response.answers[q].as_string() for q in profile]
    # Integer ids per row, mapped to codes afterwards: a million rows of ints and bytes read
    # through the Core connection cost a fraction of a million rows of strings through the ORM.
    query = (_valid_rows_query(campaign_id, [Response.id, Response.rated_unit_id, Response.group_id,
                                             Response.questionnaire_version_id,
                                             *([Response.item_codes] if with_answers else []),
                                             *([Response.submitted_on] if with_dates else []), *extra,
                                             *([RespondentGroup.code] if profile_groups is not None else [])],
                               filters).order_by(Response.id))
    result = s.connection().execute(query)
    # The driver's tuples as they come (ints, bytes, text): no SQLAlchemy row per response.
    rows = result.cursor.fetchall() if result.cursor is not None else []
    result.close()
    lead = 4 + int(with_answers)
    width_cols = lead + int(with_dates) + len(extra) + int(profile_groups is not None)
    columns: list[list[Any]] = [list(c) for c in zip(*rows, strict=True)] if rows else [[] for _ in range(width_cols)]
    del rows
    ids, unit_ids, group_ids, vids = (np.asarray(c, dtype=np.int64) for c in columns[:4])
    codes: dict[int, NDArray[np.uint8]] = {}
    if with_answers:
        blobs = columns[4]
        for row in versions:
            q = questionnaires[row.id]
            width = len(q.scored_questions)
            (at,) = np.nonzero(vids == row.id)
            picked = operator.itemgetter(*at.tolist())(blobs) if at.size > 1 else [blobs[i] for i in at.tolist()]
            packed = b"".join(picked)
            if len(packed) != at.size * width:
                raise _codes_mismatch(q, width, f"content hash {row.content_hash[:12]}")
            codes[row.id] = np.frombuffer(packed, dtype=np.uint8).reshape(at.size, width)
    dates = columns[lead] if with_dates else None
    if dates and isinstance(dates[0], str):  # SQLite hands the raw ISO text back
        dates = [dt.date.fromisoformat(d) for d in dates]
    first = lead + int(with_dates)
    profile_cols = [np.asarray(col, dtype=object) for col in columns[first:first + len(extra)]]
    if profile_groups is not None:
        outside = ~np.isin(np.asarray(columns[-1], dtype=object), list(profile_groups))
        for col in profile_cols:
            col[outside] = None
    return _Rows(ids, unit_ids, group_ids, vids, codes, None if dates is None else np.asarray(dates, dtype=object),
                 profile_cols)


def _copied_rows(s: Any, campaign_id: int, questionnaires: Mapping[int, Questionnaire], profile: Sequence[str],
                 filters: ResponseFilter | None, with_dates: bool, with_answers: bool,
                 profile_groups: Sequence[str] | None) -> _Rows | None:
    """The rows by binary COPY, one per questionnaire version (a fixed row width each); None
    when a profile answer is not one of its question's option codes (read through the driver)."""
    options: list[list[str]] = []
    for qid in profile:
        found: set[str] = set()
        for q in questionnaires.values():
            question = next((x for x in q.questions() if x.id == qid), None)
            found |= {o.code for o in question.options} if question is not None else set()
        options.append(sorted(found))
    picked = []
    for qid, codes_q in zip(profile, options, strict=True):
        text = Response.answers[qid].as_string()
        # 0: no answer, k: the k-th option code, -1: anything else (then the driver reads it);
        # a "simple" CASE reads the answer out of the JSON once per row, not once per option
        expr: Any = case({c: k + 1 for k, c in enumerate(codes_q)}, value=text,
                         else_=case((text.is_(None), 0), else_=-1)) if codes_q else \
            case((text.is_(None), 0), else_=-1)
        if profile_groups is not None:  # the JSON is parsed only for the rows whose weighting uses it
            weighted = select(RespondentGroup.id).where(RespondentGroup.campaign_id == campaign_id,
                                                        RespondentGroup.code.in_(list(profile_groups)))
            expr = case((Response.group_id.in_(weighted.scalar_subquery()), expr), else_=0)
        picked.append(cast(expr, SmallInteger))
    parts: list[dict[str, NDArray[Any]]] = []
    codes: dict[int, NDArray[np.uint8]] = {}
    for vid, q in questionnaires.items():
        width = len(q.scored_questions)
        fields = [copy_rows.Field("id", "int4"), copy_rows.Field("unit", "int4"), copy_rows.Field("group", "int4"),
                  *([copy_rows.Field("day", "date")] if with_dates else []),
                  *(copy_rows.Field(f"p{k}", "int2") for k in range(len(profile))),
                  *([copy_rows.Field("codes", "bytes", width)] if with_answers else [])]
        query = _valid_rows_query(
            campaign_id, [Response.id, Response.rated_unit_id, Response.group_id,
                          *([Response.submitted_on] if with_dates else []), *picked,
                          *([Response.item_codes] if with_answers else [])], filters, names=False
        ).where(Response.questionnaire_version_id == vid)
        try:
            got = copy_rows.read(s, query, fields)
        except copy_rows.CopyMismatch as exc:
            raise _codes_mismatch(q, width, str(exc)) from exc
        order = np.argsort(got["id"], kind="stable")
        got = {name: col[order] for name, col in got.items()}
        got["version"] = np.full(got["id"].size, vid, dtype=np.int64)
        if with_answers:
            codes[vid] = got.pop("codes")
        parts.append(got)
    if any((p[f"p{k}"] < 0).any() for p in parts for k in range(len(profile))):
        return None
    joined = {name: np.concatenate([p[name] for p in parts]) if parts else np.zeros(0, dtype=np.int64)
              for name in ("id", "unit", "group", "version", *([f"p{k}" for k in range(len(profile))]))}
    order = np.argsort(joined["id"], kind="stable")
    dates = None
    if with_dates:
        dates = (np.concatenate([p["day"] for p in parts]) if parts else np.zeros(0, "datetime64[D]"))[order]
        dates = dates.astype(object)
    profile_cols = []
    for k, codes_q in enumerate(options):
        lookup = np.array([None, *codes_q], dtype=object)
        profile_cols.append(lookup[joined[f"p{k}"][order]])
    return _Rows(joined["id"][order], joined["unit"][order], joined["group"][order], joined["version"][order],
                 codes, dates, profile_cols)


def _positions(ids: Sequence[int] | NDArray[np.int64], index: Mapping[int, int]) -> NDArray[np.int64]:
    """``index[x]`` for every id of ``ids`` (database ids: small non-negative integers)."""
    at_ids = np.asarray(ids, dtype=np.int64)
    if at_ids.size == 0:
        return np.zeros(0, dtype=np.int64)
    keys = np.fromiter(index.keys(), dtype=np.int64, count=len(index))
    lookup = np.full(int(max(keys.max(initial=0), at_ids.max())) + 1, -1, dtype=np.int64)
    lookup[keys] = np.fromiter(index.values(), dtype=np.int64, count=len(index))
    at = lookup[at_ids]
    if (at < 0).any():  # a row's unit or group outside the campaign: as the dict lookup did
        raise KeyError(int(at_ids[np.flatnonzero(at < 0)[0]]))
    return at


class SubCriterionResult(NamedTuple):  # a tuple: made once per unit and item
    """One rated unit on one sub-criterion."""

    unit: str
    level: str
    sub_criterion: str
    max_points: float
    score: Estimate  # weighted mean option score, 0..1
    points: Estimate  # max_points x score
    answers: int  # item answers given (don't know included)
    dont_know: int

    @property
    def dont_know_rate(self) -> float:
        return self.dont_know / self.answers if self.answers else float("nan")


@dataclass(frozen=True)
class UnitResult:
    """One rated unit: survey total, index and rank among the units of its level (block).

    A unit without valid survey responses keeps its row: ``has_survey`` is False, its
    points are NaN ("no survey"), and it is ranked on its appraised points when given.
    """

    unit: str
    name: str
    level: str
    points: Estimate
    survey_max: float
    survey_pct: float  # points / survey_max x 100
    appraised: float | None
    index_pct: float | None  # (appraised + survey) / total max x 100, when appraised given
    rank: int | None  # by index_pct when appraised given, else by survey points; None: not ranked
    band: str | None  # only with appraised points
    responses: int
    survey_band: str | None = None  # band of survey_pct (the reading without appraised points)
    has_survey: bool = True
    public_responses: int = 0  # public-QR forms, reported, never in the estimates


class ItemResult(NamedTuple):  # a tuple: made once per unit and item
    """One rated unit on one scored item (a question of one questionnaire version)."""

    unit: str
    level: str
    item: str  # id@vN/question
    sub_criterion: str
    score: Estimate
    answers: int
    dont_know: int


_Row = TypeVar("_Row")


@dataclass(frozen=True, eq=False)
class _ColumnRows(Sequence[_Row]):
    """Result rows held as columns, in table order; reads as a sequence of row objects made
    when asked for. A campaign has a row per unit and sub-criterion or item (160,000 for
    2,000 units and 80 items): the columns come from the estimates' arrays and go to the
    tables as they are, with no object per row on the way. The estimate's columns are
    ``value`` ... ``df`` (:class:`Estimate`'s fields)."""

    unit: Sequence[str] = ()
    level: Sequence[str] = ()
    sub_criterion: Sequence[str] = ()
    value: Sequence[float] = ()
    se: Sequence[float] = ()
    ci_low: Sequence[float] = ()
    ci_high: Sequence[float] = ()
    n: Sequence[int] = ()
    n_eff: Sequence[float] = ()
    df: Sequence[float] = ()
    answers: Sequence[int] = ()  # item answers given (don't know included)
    dont_know: Sequence[int] = ()

    def _row(self, i: int) -> _Row:
        raise NotImplementedError

    def estimate(self, i: int) -> Estimate:
        return Estimate(self.value[i], self.se[i], self.ci_low[i], self.ci_high[i], self.n[i], self.n_eff[i],
                        self.df[i])

    def __len__(self) -> int:
        return len(self.unit)

    @overload
    def __getitem__(self, i: int) -> _Row: ...
    @overload
    def __getitem__(self, i: slice) -> list[_Row]: ...
    def __getitem__(self, i: int | slice) -> _Row | list[_Row]:
        if isinstance(i, slice):
            return [self._row(k) for k in range(*i.indices(len(self)))]
        return self._row(range(len(self))[i])  # negative indices, and IndexError past the end


@dataclass(frozen=True, eq=False)
class SubCriterionRows(_ColumnRows[SubCriterionResult]):
    """Every (rated unit, sub-criterion) result: by level, unit code, configuration order.
    The estimate is the score's (0..1); the points' (max_points x score) have their own."""

    max_points: Sequence[float] = ()
    points: Sequence[float] = ()
    points_se: Sequence[float] = ()
    points_ci_low: Sequence[float] = ()
    points_ci_high: Sequence[float] = ()

    def _row(self, i: int) -> SubCriterionResult:
        points = Estimate(self.points[i], self.points_se[i], self.points_ci_low[i], self.points_ci_high[i],
                          self.n[i], self.n_eff[i])
        return SubCriterionResult(self.unit[i], self.level[i], self.sub_criterion[i], self.max_points[i],
                                  self.estimate(i), points, self.answers[i], self.dont_know[i])


@dataclass(frozen=True, eq=False)
class ItemRows(_ColumnRows[ItemResult]):
    """Every (rated unit, scored item) result: by level, unit code, item."""

    item: Sequence[str] = ()

    def _row(self, i: int) -> ItemResult:
        return ItemResult(self.unit[i], self.level[i], self.item[i], self.sub_criterion[i], self.estimate(i),
                          self.answers[i], self.dont_know[i])


@dataclass(frozen=True)
class SipasRow:
    """One SIPAS index of one rated unit: an item (S1.1), an element (S1) or the overall index."""

    unit: str
    level: str
    kind: str  # "item" | "element" | "overall"
    code: str
    estimate: Estimate  # share satisfied, 0..1


@dataclass(frozen=True)
class StratumInfo:
    """One design stratum: its sample, its population size and where that size came from."""

    key: str  # "group|unit" (or "unit" when strata are rated units only)
    n: int
    big_n: float
    source: str  # "population" (the design's file) | "listed" (people listed) | "responses" (N = n)
    code: int = -1  # the stratum's code in the design


@dataclass(frozen=True)
class WeightingInfo:
    """One group's weighting steps after the base weights, with their convergence."""

    group: str
    method: str | None  # rake | poststratify | None
    margins_file: str
    iterations: int | None
    converged: bool | None
    max_change: float | None
    trim: tuple[float, float] | None
    rows: int


@dataclass(frozen=True)
class DesignInfo:
    """How the design of a scoring run was built (for the methods of every export)."""

    strata_by: tuple[str, ...]
    lonely_psu: str
    population_file: str
    strata: tuple[StratumInfo, ...]
    weighting: tuple[WeightingInfo, ...]
    public_responses: int
    degf: int
    lonely_strata: int
    #: rated unit code by the design's integer ``unit_code`` column (estimates group by it)
    unit_codes: tuple[str, ...] = ()


@dataclass(frozen=True)
class CampaignScores:
    """Everything :func:`score_campaign` computes, ready for tables and exports."""

    campaign_code: str
    config: ScoringConfig
    sub_criteria: SubCriterionRows  # by level, unit code, config order
    units: tuple[UnitResult, ...]  # by level, rank, unit code
    versions: tuple[VersionInfo, ...]
    weights: WeightsSummary | None  # None when there is no valid response
    population: Mapping[tuple[str, str], float]
    sipas: tuple[SipasRow, ...] = ()  # per rated unit, when the questionnaires have SIPAS items
    items: ItemRows = ItemRows()  # per rated unit and scored item
    design: DesignInfo | None = None


def listed_sizes(campaign_id: int) -> dict[tuple[str, str], int]:
    """People listed per (group, rated unit): the assignments of personal (non-public) forms.

    For a census group this is the population of the stratum; responses / listed is the
    response rate the weights N/n adjust for.
    """
    rows = db.session().execute(
        select(RespondentGroup.code, Unit.code, func.count(Assignment.id))
        .select_from(Assignment)
        .join(Form, Form.id == Assignment.form_id)
        .join(RespondentGroup, RespondentGroup.id == Form.group_id)
        .join(Unit, Unit.id == Assignment.rated_unit_id)
        .where(Form.campaign_id == campaign_id, Form.mode != Mode.PUBLIC)
        .group_by(RespondentGroup.code, Unit.code)
    ).all()
    return {(str(g), str(u)): int(n) for g, u, n in rows}


def _codes(values: NDArray[Any], positions: tuple[NDArray[np.int64], tuple[str, ...]] | None = None
           ) -> tuple[list[Any], NDArray[np.int64]]:
    """Distinct values (sorted) and an integer code per row (:func:`analysis.design.factorize`);
    from ``positions`` (see :class:`ScoreInputs`) when given."""
    if positions is not None:
        at, table = positions
        present, codes = factorize(at)  # counting small integers, in the table's (sorted) order
        return [table[k] for k in present.tolist()], codes
    levels, codes = factorize(values)
    return levels.tolist(), codes


class DesignError(ProblemError, ValueError):
    """The design cannot be built from the responses (e.g. a population below its sample)."""


def build_design(inputs: ScoreInputs, spec: DesignSpec,
                 listed: Mapping[tuple[str, str], int] | None = None,
                 population: Mapping[tuple[str, str], float] | None = None) -> tuple[SurveyDesign, DesignInfo]:
    """The design of a set of responses: strata, base weights ``N_h / n_h``, fpc ``N_h``,
    each group's weighting steps (rake / post-stratify, then trim) and the lonely-PSU rule.

    ``N_h`` of a (group, rated unit) stratum is the design's population when it gives one,
    else the people listed (``listed``), else ``n_h`` (a census of those who answered).
    ``population`` overrides the design's file. The final weights enter the returned design
    as fixed weights, as an analyst reading the microdata uses them (R ``svydesign(weights=,
    strata=, fpc=)``): the calibration's variance reduction is not claimed.
    """
    pop = dict(spec.population)
    pop.update(population or {})
    listed = listed or {}
    n = inputs.n_rows
    groups, g_code = _codes(inputs.group, inputs.group_positions)
    units, u_code = _codes(inputs.unit, inputs.unit_positions)
    cell = g_code * len(units) + u_code
    cell_n = np.bincount(cell, minlength=len(groups) * len(units))
    cell_big = np.zeros(cell_n.size)
    cell_src: dict[int, str] = {}
    too_small: list[str] = []
    for c in np.flatnonzero(cell_n).tolist():
        key = (str(groups[c // len(units)]), str(units[c % len(units)]))
        if key in pop:
            big, src = pop[key], "population"
            if big < cell_n[c]:
                too_small.append(f"{key[0]}|{key[1]}: N={big:g} < n={cell_n[c]}")
        elif listed.get(key, 0) >= cell_n[c]:
            big, src = float(listed[key]), "listed"
        else:
            big, src = float(cell_n[c]), "responses"
        cell_big[c], cell_src[c] = big, src
    if too_small:
        raise DesignError("SCORING-DESIGN-POPULATION", strata="; ".join(too_small))
    s_n: NDArray[Any]
    s_big: NDArray[Any]
    if "group" in spec.strata:
        stratum = cell
        s_n, s_big = cell_n, cell_big
        keys = {c: f"{groups[c // len(units)]}|{units[c % len(units)]}" for c in cell_src}
        srcs = cell_src
    else:
        stratum = u_code
        s_n = np.bincount(u_code, minlength=len(units))
        s_big = np.bincount(np.arange(cell_big.size) % len(units), weights=cell_big, minlength=len(units))
        keys = {u: str(units[u]) for u in np.flatnonzero(s_n).tolist()}
        srcs = {u: "+".join(sorted({cell_src[c] for c in cell_src if c % len(units) == u})) for u in keys}
    weight = (s_big / np.maximum(s_n, 1))[stratum]
    fpc = s_big[stratum]
    steps: list[WeightingInfo] = []
    for g, rule in sorted(spec.weighting.items()):
        if g not in groups:
            continue
        rows = np.flatnonzero(g_code == groups.index(g))
        weight, step = _weight_group(inputs, rows, stratum, weight, g, rule)
        steps.append(step)
    # unit_code: integers group a million rows in one counting pass where strings need a sort
    data: dict[str, Any] = {"unit": inputs.unit, "unit_code": u_code, "group": inputs.group,
                            "level": inputs.level, "stratum": stratum, "fpc": fpc, "weight": weight}
    design = SurveyDesign(data, weights="weight", strata="stratum", fpc="fpc", lonely_psu=spec.lonely_psu)
    strata = tuple(StratumInfo(keys[h], int(s_n[h]), float(s_big[h]), srcs[h], h)
                   for h in sorted(keys, key=lambda h: keys[h]))
    lonely = sum(1 for st in strata if st.n == 1 and st.big_n > 1)
    info = DesignInfo(tuple(spec.strata), spec.lonely_psu, spec.population_file, strata, tuple(steps),
                      sum(inputs.public_responses.values()), design.degf if n else 0, lonely,
                      tuple(str(u) for u in units))
    return design, info


def _weight_group(inputs: ScoreInputs, rows: NDArray[np.int64], stratum: NDArray[np.int64],
                  weight: NDArray[np.float64], group: str, rule: GroupWeighting
                  ) -> tuple[NDArray[np.float64], WeightingInfo]:
    """Calibrate one group's rows: rake (stratum totals kept as a margin) or post-stratify to
    the margins' shares scaled to the group's weight total, then trim. Rows without an answer
    to a margin variable keep their share in a cell of their own."""
    w = weight[rows]
    total = float(w.sum())
    data: dict[str, Any] = {"_stratum": stratum[rows]}
    margins: dict[str, dict[Any, float]] = {}
    if rule.method == "rake":
        margins["_stratum"] = {int(h): float(v) for h, v in zip(*_sum_by(stratum[rows], w), strict=True)}
    for m in rule.margins:
        name = "+".join(m.variables)
        cols = [np.asarray(inputs.profile.get(v, np.full(inputs.n_rows, None, dtype=object)), dtype=object)[rows]
                for v in m.variables]
        value, missing = _cell_labels(cols, rows.size)
        kept = float(w[missing].sum())
        share = sum(m.totals.values())
        totals = {"|".join(k): v / share * (total - kept) for k, v in m.totals.items()}
        if kept > 0:
            totals["(missing)"] = kept
        data[name] = value
        margins[name] = totals
    sub = SurveyDesign(data, weights=None)._derive(weights=w)
    iterations = converged = max_change = None
    if rule.method == "rake":
        sub = rake(sub, margins, max_iter=rule.max_iter, epsilon=rule.epsilon, partial=True)
        report = sub.rake_report
        assert report is not None
        iterations, converged, max_change = report.iterations, report.converged, report.max_change
    elif rule.method == "poststratify":
        ((name, totals),) = margins.items()
        sub = poststratify(sub, name, totals, partial=True)
    if rule.trim is not None:
        mean_w = float(sub.weights.mean())
        sub = trim_weights(sub, rule.trim[0] * mean_w, rule.trim[1] * mean_w, strict=True)
    out = weight.copy()
    out[rows] = sub.weights
    return out, WeightingInfo(group, rule.method, rule.margins_file, iterations, converged, max_change,
                              rule.trim, int(rows.size))


def _cell_labels(cols: Sequence[NDArray[Any]], n: int) -> tuple[NDArray[Any], NDArray[np.bool_]]:
    """Each row's weighting cell, ``"a|b"`` from its answers to the margin's variables, and
    whether one of them is missing (the cell is then ``"(missing)"``): the distinct
    combinations are labelled once, not row by row."""
    missing = np.zeros(n, dtype=bool)
    if not cols:
        return np.array([], dtype=object), missing
    codes = np.zeros(n, dtype=np.int64)
    names: list[NDArray[Any]] = []
    for col in cols:
        levels, at = factorize(col)  # -1: no answer
        missing |= at < 0
        codes = codes * (levels.size + 1) + (at + 1)
        names.append(levels)
    combos, inverse = factorize(codes)
    labels = []
    for combo in combos.tolist():
        parts = []
        for levels in reversed(names):
            combo, at = divmod(combo, levels.size + 1)
            parts.append(str(levels[at - 1]) if at else "")
        labels.append("|".join(reversed(parts)))
    value = np.array(labels, dtype=object)[inverse]
    value[missing] = "(missing)"
    return value, missing


def _sum_by(codes: NDArray[np.int64], w: NDArray[np.float64]) -> tuple[list[int], list[float]]:
    keys, inv = factorize(codes)
    return keys.tolist(), np.bincount(inv, weights=w).tolist()


def design_spec_for(campaign_id: int) -> DesignSpec:
    """The campaign's stored design section (the defaults when it has none)."""
    raw = db.session().scalar(select(Campaign.design).where(Campaign.id == campaign_id))
    return DesignSpec.from_json(raw)


def rated_units(campaign_id: int) -> list[str]:
    """Units the campaign rates: a quota cell's rated unit or a response's."""
    s = db.session()
    # EXISTS per unit: one probe of an index each (quota cells; ix_responses_campaign_unit),
    # not a read of every response
    cells = select(QuotaCell.id).where(QuotaCell.campaign_id == campaign_id, QuotaCell.rated_unit_id == Unit.id)
    answered = select(Response.id).where(Response.campaign_id == campaign_id, Response.rated_unit_id == Unit.id)
    return sorted(s.scalars(select(Unit.code).where(Unit.campaign_id == campaign_id,
                                                    or_(cells.exists(), answered.exists()))),
                  key=_natural)


def score_campaign(
    campaign_id: int,
    config: ScoringConfig,
    population: Mapping[tuple[str, str], float] | None = None,
    appraised: Mapping[str, float] | None = None,
    spec: DesignSpec | None = None,
) -> CampaignScores:
    """Survey points per rated unit and sub-criterion, unit totals and ranks within levels,
    computed under the campaign's design (:func:`build_design`).

    Parameters
    ----------
    config
        The campaign's points table and rules (:func:`default_scoring_config` until the
        campaign definition supplies one).
    population
        ``(group code, rated unit code) -> N``, overriding the design section's population.
    appraised
        Rated unit code -> appraised points, when imported: then the index %, the band and
        the rank follow :func:`analysis.compile_index`; without them units rank by survey points.
    spec
        The design; default the campaign's stored ``design:`` section.
    """
    if not config.sub_criteria:
        raise NothingToScore("SCORING-NO-ITEMS")
    spec = design_spec_for(campaign_id) if spec is None else spec
    profile = sorted({v for w in spec.weighting.values() for m in w.margins for v in m.variables})
    inputs = load_score_inputs(campaign_id, profile, profile_groups=sorted(spec.weighting))
    listed, units = listed_sizes(campaign_id), rated_units(campaign_id)
    db.end_reads()
    with without_cycle_collection():
        return score_responses(inputs, config, spec, listed, population, appraised, units)


@contextlib.contextmanager
def without_cycle_collection() -> Iterator[None]:
    """No cyclic garbage collection while the block builds the result objects.

    A campaign's result is a few hundred thousand small objects (an estimate and a row per
    unit, sub-criterion and item) made while a million-row read is alive; each full
    collection walks every one of them again, which took about a quarter of the scoring time
    of the bench's million responses. The objects hold no reference cycles, so nothing is
    left for the collector; it runs again as before when the block ends.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _stratum_key(key: str) -> tuple[str, str]:
    """``"group|unit"`` (a stratum's key) as (group, unit); a unit-only stratum has group ""."""
    group, sep, unit = key.partition("|")
    return (group, unit) if sep else ("", key)


class _UnitMajor:
    """Rows of (variables x units) arrays in table order: units by rank, then variables;
    ``keep`` (same shape) drops the cells without a row."""

    def __init__(self, levels: Sequence[int], unit_rank: Mapping[int, int], keep: NDArray[np.bool_] | None = None):
        self.levels = levels
        self.order = np.argsort(np.fromiter(map(unit_rank.__getitem__, levels), dtype=np.int64, count=len(levels)),
                                kind="stable")
        self.keep = None if keep is None else self.flat(keep)

    def flat(self, values: NDArray[Any]) -> NDArray[Any]:
        out: NDArray[Any] = values[:, self.order].T.ravel()
        return out

    def column(self, values: NDArray[Any]) -> list[Any]:
        """One column of the rows: ``values`` (variables x units) read unit by unit."""
        flat = self.flat(values)
        out: list[Any] = (flat if self.keep is None else flat[self.keep]).tolist()
        return out

    def units(self, n_variables: int) -> list[int]:
        """The unit (design code) of each row."""
        return self.column(np.broadcast_to(np.asarray(self.levels, dtype=np.int64), (n_variables, len(self.levels))))


def score_responses(
    inputs: ScoreInputs,
    config: ScoringConfig,
    spec: DesignSpec,
    listed: Mapping[tuple[str, str], int] | None = None,
    population: Mapping[tuple[str, str], float] | None = None,
    appraised: Mapping[str, float] | None = None,
    units: Sequence[str] = (),
) -> CampaignScores:
    """Scores of a set of responses under a design: the reusable core of :func:`score_campaign`
    (a comparison of two years calls it once per year's responses).

    ``units`` lists the rated units that must appear in the unit table even without a
    survey response ("no survey"); units of ``appraised`` always do.
    """
    population = dict(population or {})
    listed_units = set(units) | set(appraised or {})
    if inputs.n_rows == 0:
        no_survey = _no_survey_units(inputs, config, listed_units, appraised, {})
        return CampaignScores(inputs.campaign_code, config, SubCriterionRows(), tuple(no_survey), inputs.versions,
                              None, population)
    design, info = build_design(inputs, spec, listed, population)
    answers, option_scores = dict(inputs.answers), dict(inputs.option_scores)
    for sub in config.sub_criteria:
        for item in sub.items:
            if item not in answers:  # a planned questionnaire nobody has answered yet
                answers[item] = np.zeros(inputs.n_rows, dtype=np.uint8)
                option_scores[item] = [math.nan]
    reused: dict[str, tuple[ColumnEstimates, int]] = {}  # one-item sub-criteria, for item_estimates
    counted: dict[str, NDArray[np.int64]] = {}  # items of pooled sub-criteria: their counts, for item_estimates
    try:
        scored = survey_estimates(design, answers, option_scores, config, unit="unit_code", group="group",
                                  item_estimates=reused, item_counts=counted)
    except ValueError as exc:
        # Name the stratum as the campaign knows it (group|unit), not by its integer code.
        names = {str(st.code): st.key for st in info.strata}
        raise DesignError("SCORING-DESIGN", reason=re.sub(
            r"stratum (\d+)", lambda m: f"stratum {names.get(m.group(1), m.group(1))!r}", str(exc))) from exc
    code_of = info.unit_codes
    survey = {code_of[k]: dataclasses.replace(v, unit=code_of[k]) for k, v in scored.scores().items()}
    level_of = inputs.unit_levels
    everyone = set(survey) | listed_units
    blocks = {u: level_of.get(u, "") for u in everyone}
    if appraised is None:
        # Rank on survey points alone: index_pct then is survey points / survey max.
        rank_config = dataclasses.replace(config, appraised_max=0.0, no_survey=NoSurvey.ZERO, bands=())
        index = compile_index({u: 0.0 for u in survey}, survey, rank_config, {u: blocks[u] for u in survey})
    else:
        index = compile_index(appraised, survey, config, {u: blocks[u] for u in appraised})
    responses = dict(zip(code_of, np.bincount(design.column("unit_code"), minlength=len(code_of)).tolist(),
                         strict=True))
    unit_rows: list[UnitResult] = []
    survey_max = config.survey_max  # a sum over the sub-criteria: once, not per unit
    for entry in index:
        u = entry.unit
        s = survey.get(u)
        if s is None:
            continue  # appraised-only: added with the other units without a survey below
        unit_rows.append(UnitResult(
            unit=u, name=inputs.unit_names.get(u, ""), level=blocks[u], points=s.points,
            survey_max=survey_max, survey_pct=s.points.value / survey_max * 100,
            appraised=None if appraised is None else entry.appraised,
            index_pct=None if appraised is None else entry.index_pct,
            rank=entry.rank, band=None if appraised is None else entry.band,
            responses=int(responses.get(u, 0)),
            survey_band=band_of(s.points.value / survey_max * 100, config),
            public_responses=inputs.public_responses.get(u, 0)))
    ranked = {e.unit: e for e in index}
    unit_rows.extend(_no_survey_units(inputs, config, everyone - set(survey), appraised, ranked))
    unit_rows.sort(key=lambda r: (r.level, r.rank is None, r.rank or 0, _natural(r.unit)))
    sub_of = {item: sub.code for sub in config.sub_criteria for item in sub.items}
    item_keys = list(dict.fromkeys(item for sub in config.sub_criteria for item in sub.items
                                   if item in inputs.answers))
    # units by (block, natural code) as one integer rank each, of the design's unit codes
    by_block = sorted(range(len(code_of)), key=lambda k: (blocks.get(code_of[k], ""), _natural(code_of[k])))
    unit_rank = {k: rank for rank, k in enumerate(by_block)}
    levels_of = [blocks.get(code, "") for code in code_of]  # by the design's unit code
    # sub-criteria: every unit with a response, by unit rank, then configuration order
    rows = _UnitMajor(scored.levels, unit_rank)
    unit_at = rows.units(len(scored.codes))
    score, points = scored.score, scored.points
    c = rows.column
    subs = SubCriterionRows(
        unit=[code_of[u] for u in unit_at], level=[levels_of[u] for u in unit_at],
        sub_criterion=list(scored.codes) * len(scored.levels),
        max_points=[sub.max_points for sub in config.sub_criteria] * len(scored.levels),
        **{name: c(values) for name, values in score._asdict().items()}, points=c(points.value),
        points_se=c(points.se), points_ci_low=c(points.ci_low), points_ci_high=c(points.ci_high),
        answers=c(scored.answers), dont_know=c(scored.dont_know))
    est = item_estimates(design, answers, option_scores, item_keys, config, unit="unit_code", known=reused,
                         counted=counted)
    # items: by unit rank, then item (config order); a unit without an answer to an item has no row
    rows = _UnitMajor(est.levels, unit_rank, est.answers > 0)
    unit_at = rows.units(len(est.items))
    item_names = rows.column(np.broadcast_to(np.asarray(est.items, dtype=object)[:, None], est.answers.shape))
    c = rows.column
    items = ItemRows(
        unit=[code_of[u] for u in unit_at], level=[levels_of[u] for u in unit_at], item=item_names,
        sub_criterion=[sub_of[i] for i in item_names],
        **{name: c(values) for name, values in est.score._asdict().items()}, answers=c(est.answers),
        dont_know=c(est.dont_know))
    return CampaignScores(inputs.campaign_code, config, subs, tuple(unit_rows), inputs.versions,
                          weights_summary(design), {_stratum_key(k): v
                                                    for k, v in ((st.key, st.big_n) for st in info.strata)},
                          sipas_rows(inputs, design, config), items, info)


_NAN = Estimate(math.nan, math.nan, math.nan, math.nan, 0, 0.0)


def _no_survey_units(inputs: ScoreInputs, config: ScoringConfig, codes: set[str],
                     appraised: Mapping[str, float] | None, ranked: Mapping[str, Any]) -> list[UnitResult]:
    """Rows for rated units without a valid survey response: "no survey", ranked on their
    appraised points (``no_survey`` rule) when given, else unranked."""
    out = []
    for u in sorted(codes, key=_natural):
        entry = ranked.get(u)
        out.append(UnitResult(
            unit=u, name=inputs.unit_names.get(u, ""), level=inputs.unit_levels.get(u, ""), points=_NAN,
            survey_max=config.survey_max, survey_pct=math.nan,
            appraised=None if appraised is None else appraised.get(u),
            index_pct=None if entry is None else entry.index_pct,
            rank=None if entry is None else entry.rank, band=None if entry is None else entry.band,
            responses=0, has_survey=False, public_responses=inputs.public_responses.get(u, 0)))
    return out


def band_of(pct: float, config: ScoringConfig) -> str | None:
    """The first band (highest threshold first) that ``pct`` reaches, else None."""
    for band in sorted(config.bands, key=lambda b: -b.min_pct):
        if pct >= band.min_pct:
            return band.label
    return None


_SIPAS_CODE = re.compile(r"^S(\d+)\.(\d+)$")
SATISFIED_MIN = 0.75  # "Hài lòng" on the 0 / 0.25 / 0.5 / 0.75 / 1 scale


def sipas_rows(inputs: ScoreInputs, design: SurveyDesign,
               scoring: ScoringConfig | None = None) -> tuple[SipasRow, ...]:
    """SIPAS item / element / overall indices per rated unit (Decision 1001/QĐ-BNV reading).

    A SIPAS item is a scored question whose sub-criterion reads ``S<element>.<item>``; the
    same code in several questionnaires (full and short form) is one item. An answer is
    satisfied when its option scores >= 0.75; "don't know" is not a valid answer.
    """
    recoded: dict[str, NDArray[np.uint8]] = {}
    for v in inputs.versions:
        q = v.questionnaire
        for question in q.scored_questions:
            code = question.subcriterion or ""
            if not _SIPAS_CODE.match(code):
                continue
            # 0 = no valid answer, 1 = valid not satisfied, 2 = satisfied
            lut = np.zeros(len(question.options) + 1, dtype=np.uint8)
            for i, o in enumerate(question.options, start=1):
                if not o.dont_know and o.score is not None:
                    lut[i] = 2 if o.score >= SATISFIED_MIN else 1
            own = lut[inputs.answers[item_key(q, question.id)]]
            recoded[code] = np.maximum(recoded.get(code, np.zeros(inputs.n_rows, np.uint8)), own)
    if not recoded or inputs.n_rows == 0:
        return ()
    by_element: dict[str, list[str]] = {}
    for code in sorted(recoded, key=_natural):
        by_element.setdefault(code.split(".", 1)[0], []).append(code)
    config = SipasConfig(tuple(SipasElement(e, tuple(items)) for e, items in by_element.items()),
                         satisfied_codes=frozenset({2}))
    by = "unit_code" if "unit_code" in design.data else "unit"
    if scoring is None:
        result = sipas(design, recoded, config, by=by)
    else:
        result = sipas(design, recoded, config, by=by, ci=scoring.ci, level=scoring.level)
    if by == "unit_code":  # back from the design's integer codes to the unit codes
        codes, first = np.unique(np.asarray(design.column("unit_code")), return_index=True)
        names = dict(zip(codes.tolist(), (str(u) for u in design.column("unit")[first].tolist()), strict=True))

        def named(table: Any) -> Any:
            return {names[int(k)]: v for k, v in table.items()}

        result = SipasResult(items={k: named(v) for k, v in result.items.items()},
                             elements={k: named(v) for k, v in result.elements.items()},
                             overall=named(result.overall))
    units = sorted({u for u in inputs.unit.tolist()}, key=_natural)
    level = inputs.unit_levels
    rows: list[SipasRow] = []
    for u in units:
        for kind, table in (("item", result.items), ("element", result.elements)):
            for code, by_unit in table.items():
                assert isinstance(by_unit, dict)
                if u in by_unit and by_unit[u].n > 0:
                    rows.append(SipasRow(u, level.get(u, ""), kind, code, by_unit[u]))
        overall = result.overall
        assert isinstance(overall, dict)
        if u in overall and overall[u].n > 0:
            rows.append(SipasRow(u, level.get(u, ""), "overall", "SIPAS", overall[u]))
    order = {"overall": 0, "element": 1, "item": 2}
    rows.sort(key=lambda r: (r.level, _natural(r.unit), order[r.kind], _natural(r.code)))
    return tuple(rows)


_N, _I, _T = ColumnKind.NUMBER, ColumnKind.INTEGER, ColumnKind.TEXT

SCORE_COLUMNS = (
    Column("unit", _T, "rated unit code"), Column("level", _T, "unit level (ranking block)"),
    Column("sub_criterion", _T), Column("max_points", _N), Column("points", _N),
    Column("points_se", _N), Column("points_ci_low", _N), Column("points_ci_high", _N),
    Column("score", _N, "mean option score 0..1"), Column("score_se", _N),
    Column("score_ci_low", _N), Column("score_ci_high", _N),
    Column("n", _I, "responses with a valid answer"), Column("n_eff", _N), Column("df", _N, "CI degrees of freedom"),
    Column("answers", _I, "item answers given"), Column("dont_know", _I), Column("dont_know_rate", _N),
    Column("suppressed", _T, "primary (n < k) | secondary (complementary) | empty: published"),
)
UNIT_COLUMNS = (
    Column("unit", _T), Column("name", _T), Column("level", _T), Column("responses", _I),
    Column("survey", _T, "surveyed | no survey"),
    Column("survey_points", _N), Column("survey_points_se", _N), Column("survey_points_ci_low", _N),
    Column("survey_points_ci_high", _N), Column("survey_max", _N), Column("survey_pct", _N),
    Column("appraised_points", _N), Column("index_pct", _N), Column("rank", _I), Column("band", _T),
    Column("survey_band", _T, "band of survey_pct"),
    Column("public_responses", _I, "public-QR forms: self-selected, counted here, never in the estimates"),
    Column("suppressed", _T),
)
ITEM_COLUMNS = (
    Column("unit", _T), Column("level", _T), Column("item", _T, "questionnaire@version/question"),
    Column("sub_criterion", _T), Column("estimate", _N, "mean option score 0..1"), Column("se", _N),
    Column("ci_low", _N), Column("ci_high", _N), Column("n", _I, "responses with a valid answer"),
    Column("n_eff", _N), Column("df", _N), Column("answers", _I), Column("dont_know", _I),
    Column("suppressed", _T),
)
SIPAS_COLUMNS = (
    Column("unit", _T), Column("level", _T), Column("kind", _T, "item / element / overall"),
    Column("code", _T), Column("satisfied", _N, "share satisfied 0..1"), Column("se", _N),
    Column("ci_low", _N), Column("ci_high", _N), Column("n", _I, "responses with a valid answer"),
    Column("n_eff", _N), Column("df", _N), Column("suppressed", _T),
)
METHOD_COLUMNS = (Column("section", _T), Column("key", _T), Column("value", _T))


def small_cell_k() -> int:
    """Estimates from fewer answers than this are suppressed in exports (default 5)."""
    from flask import current_app

    return int(current_app.config.get("SMALL_CELL_K", 5))


def _mark(key: Any, primary: set[Any], hidden: set[Any]) -> str:
    if key in primary:
        return "primary"
    return "secondary" if key in hidden else ""


def _shown(values: tuple[Any, ...], key: Any, hidden: set[Any]) -> tuple[Any, ...]:
    """The estimate columns, or blanks when the cell is suppressed."""
    return (None,) * len(values) if key in hidden else values


def suppression(result: CampaignScores, k: int) -> tuple[set[Any], set[Any]]:
    """(primary, all hidden) cell keys of the tables published together.

    Cells: ``("sub", unit, code)``, ``("unit", unit)``, ``("item", unit, item)``,
    ``("sipas", unit, kind, code)``. Relations: a unit's survey points are the sum of its
    sub-criteria's points; a sub-criterion is the mean of its items (exact for one item,
    and whenever every response answers every item); a SIPAS element is the mean of its
    items, the SIPAS index the mean of its elements. See :mod:`analysis.disclosure`.
    """
    # Relations never cross units: only units with a small cell need the algebra.
    small = {u.unit for u in result.units if u.has_survey and 0 < u.responses < k}
    subs, item_rows = result.sub_criteria, result.items
    small |= {u for u, n in zip(subs.unit, subs.n, strict=True) if 0 < n < k}
    small |= {u for u, n in zip(item_rows.unit, item_rows.n, strict=True) if 0 < n < k}
    small |= {r.unit for r in result.sipas if 0 < r.estimate.n < k}
    if not small:
        return set(), set()
    cells: dict[Any, Cell] = {}
    for u in result.units:
        if u.has_survey and u.unit in small:
            cells[("unit", u.unit)] = Cell(u.points.value, u.responses)
    subs_in_small = [i for i, u in enumerate(subs.unit) if u in small]
    for i in subs_in_small:
        if subs.n[i] > 0:
            cells[("sub", subs.unit[i], subs.sub_criterion[i])] = Cell(subs.value[i], subs.n[i])
    in_small = [i for i, u in enumerate(item_rows.unit) if u in small]
    for i in in_small:
        if item_rows.n[i] > 0:
            cells[("item", item_rows.unit[i], item_rows.item[i])] = Cell(item_rows.value[i], item_rows.n[i])
    for row in result.sipas:
        if row.unit in small:
            cells[("sipas", row.unit, row.kind, row.code)] = Cell(row.estimate.value, row.estimate.n)
    relations: list[dict[Any, float]] = []
    max_points = {sub.code: sub.max_points for sub in result.config.sub_criteria}
    subs_of: dict[str, list[str]] = {}
    for i in subs_in_small:
        if ("sub", subs.unit[i], subs.sub_criterion[i]) in cells:
            subs_of.setdefault(subs.unit[i], []).append(subs.sub_criterion[i])
    for unit, codes in subs_of.items():
        if ("unit", unit) in cells:
            rel: dict[Any, float] = {("unit", unit): 1.0}
            for c in codes:
                rel[("sub", unit, c)] = -max_points[c]
            relations.append(rel)
    items_of: dict[tuple[str, str], list[str]] = {}
    for i in in_small:
        if ("item", item_rows.unit[i], item_rows.item[i]) in cells:
            items_of.setdefault((item_rows.unit[i], item_rows.sub_criterion[i]), []).append(item_rows.item[i])
    for (unit, code), items in items_of.items():
        if ("sub", unit, code) in cells:
            rel = {("sub", unit, code): 1.0}
            for item in items:
                rel[("item", unit, item)] = -1.0 / len(items)
            relations.append(rel)
    parts: dict[tuple[str, str, str], list[Any]] = {}
    for row in result.sipas:
        if row.unit not in small:
            continue
        if row.kind == "item":
            parts.setdefault((row.unit, "element", row.code.split(".", 1)[0]), []).append(
                ("sipas", row.unit, "item", row.code))
        elif row.kind == "element":
            parts.setdefault((row.unit, "overall", "SIPAS"), []).append(("sipas", row.unit, "element", row.code))
    for (unit, kind, code), members in parts.items():
        if ("sipas", unit, kind, code) in cells:
            rel = {("sipas", unit, kind, code): 1.0}
            for m in members:
                rel[m] = -1.0 / len(members)
            relations.append(rel)
    primary = {key for key, cell in cells.items() if 0 < cell.n < k}
    return primary, suppress(cells, relations, k)


def _published(kind: str, keys: Iterable[tuple[str, str]], shown: list[Sequence[Any]], primary: set[Any],
               hidden: set[Any]) -> tuple[list[Sequence[Any]], list[str]]:
    """A column table's estimate columns with the suppressed cells (``(kind, *key)``) blanked,
    and each row's mark: what :func:`_shown` and :func:`_mark` do row by row."""
    marks = [""] * (len(shown[0]) if shown else 0)
    keyed = {key[1:] for key in hidden | primary if key[0] == kind}
    if not keyed:
        return shown, marks
    blanked: list[list[Any]] = [list(c) for c in shown]
    for i, pair in enumerate(keys):
        if pair in keyed:
            key = (kind, *pair)
            marks[i] = _mark(key, primary, hidden)
            if key in hidden:
                for c in blanked:
                    c[i] = None
    return list(blanked), marks


def _score_columns(subs: SubCriterionRows, primary: set[Any], hidden: set[Any]) -> Columns:
    """The ``scores`` table's columns (:data:`SCORE_COLUMNS`), suppressed cells blanked."""
    shown, marks = _published("sub", zip(subs.unit, subs.sub_criterion, strict=True),
                              [subs.points, subs.points_se, subs.points_ci_low, subs.points_ci_high, subs.value,
                               subs.se, subs.ci_low, subs.ci_high], primary, hidden)
    rate = [d / a if a else math.nan for a, d in zip(subs.answers, subs.dont_know, strict=True)]
    return Columns((subs.unit, subs.level, subs.sub_criterion, subs.max_points, *shown, subs.n, subs.n_eff, subs.df,
                    subs.answers, subs.dont_know, rate, marks))


def _item_columns(items: ItemRows, primary: set[Any], hidden: set[Any]) -> Columns:
    """The ``items`` table's columns (:data:`ITEM_COLUMNS`), suppressed cells blanked."""
    shown, marks = _published("item", zip(items.unit, items.item, strict=True),
                              [items.value, items.se, items.ci_low, items.ci_high], primary, hidden)
    return Columns((items.unit, items.level, items.item, items.sub_criterion, *shown, items.n, items.n_eff,
                    items.df, items.answers, items.dont_know, marks))


def score_tables(result: CampaignScores, k: int | None = None) -> Report:
    """The result as tables: ``scores`` (unit x sub-criterion), ``units``, ``items``,
    ``sipas`` (when there are SIPAS items) and ``methods``.

    Estimates from fewer than ``k`` respondents are hidden (primary suppression), and so are
    the cells that would give them back through the tables' sums and means (secondary,
    :func:`suppression`); counts stay. Every rated unit has a row in ``units``.
    """
    k = small_cell_k() if k is None else k
    primary, hidden = suppression(result, k)
    score_rows = _score_columns(result.sub_criteria, primary, hidden)
    unit_rows = tuple(
        (u.unit, u.name, u.level, u.responses, "surveyed" if u.has_survey else "no survey",
         *_shown((u.points.value, u.points.se, u.points.ci_low, u.points.ci_high), ("unit", u.unit), hidden),
         u.survey_max, *_shown((u.survey_pct,), ("unit", u.unit), hidden), u.appraised,
         *_shown((u.index_pct, u.rank, u.band, u.survey_band), ("unit", u.unit), hidden),
         u.public_responses, _mark(("unit", u.unit), primary, hidden))
        for u in result.units
    )
    item_rows = _item_columns(result.items, primary, hidden)
    sipas_table = tuple(
        (r.unit, r.level, r.kind, r.code,
         *_shown((r.estimate.value, r.estimate.se, r.estimate.ci_low, r.estimate.ci_high),
                 ("sipas", r.unit, r.kind, r.code), hidden),
         r.estimate.n, r.estimate.n_eff, r.estimate.df, _mark(("sipas", r.unit, r.kind, r.code), primary, hidden))
        for r in result.sipas
    )
    tables = [Table("scores", SCORE_COLUMNS, score_rows), Table("units", UNIT_COLUMNS, unit_rows),
              Table("items", ITEM_COLUMNS, item_rows)]
    if sipas_table:
        tables.append(Table("sipas", SIPAS_COLUMNS, sipas_table))
    tables.append(Table("methods", METHOD_COLUMNS, tuple(methods_rows(result, k))))
    return Report(tuple(tables))


_SOURCES = {"population": "the design's population file", "listed": "people listed (forms sent)",
            "responses": "no list or population: N = n (census of those who answered)"}


def methods_rows(result: CampaignScores, k: int) -> list[tuple[str, str, str]]:
    """What every export says about how its numbers were made."""
    c = result.config
    methods: list[tuple[str, str, str]] = [
        ("campaign", "code", result.campaign_code),
        ("settings", "dont_know", "counted as 0" if c.dont_know_as_zero else "excluded, rate reported"),
        ("settings", "ci", f"{c.ci.value} {c.level:g}"),
        ("settings", "ci_detail", {
            "normal": "estimate +- qnorm * SE, clipped to the score's range",
            "t": "estimate +- qt(design df) * SE, clipped to the score's range",
            "logit": "expit(logit(p) +- qt(design df) * SE / (p (1 - p))) on the score's range "
                     "(R svyciprop method = 'logit')"}[c.ci.value]),
        ("settings", "variance", "Taylor linearisation (R survey svymean / svyby), weights as fixed"),
        ("settings", "appraised_max", f"{c.appraised_max:g}"),
        ("settings", "survey_max", f"{c.survey_max:g}"),
        ("settings", "no_survey", c.no_survey.value),
        ("suppression", "rule",
         f"primary: estimates from fewer than {k} respondents are left blank; secondary: further cells "
         "are left blank until no blank cell can be derived from the unit totals, sub-criterion, item, "
         "SIPAS element and overall values published together (column 'suppressed')"),
        ("suppression", "k", str(k)),
        ("suppression", "microdata", "response microdata (par-survey responses export) are not suppressed; "
                                     "they go only to Home Affairs staff with server access, never to "
                                     "agencies, and carry no identity"),
    ]
    for band in sorted(c.bands, key=lambda b: -b.min_pct):
        methods.append(("band", band.label, f">= {band.min_pct:g} %"))
    for sub in c.sub_criteria:
        detail = f"max {sub.max_points:g}; {sub.pooling.value}"
        if sub.pooling is Pooling.GROUP_WEIGHTED:
            detail += "; weights " + ", ".join(f"{g}={w:g}" for g, w in sorted(sub.group_weights.items()))
        methods.append(("sub_criterion", sub.code, detail + "; items " + " ".join(sub.items)))
    for v in result.versions:
        q = v.questionnaire
        methods.append(("questionnaire", q.key, f"hash {v.content_hash}; {v.responses} valid responses"))
    d = result.design
    if d is not None:
        methods.append(("design", "strata", " x ".join(d.strata_by)))
        methods.append(("design", "weights", "w = N_h / n_h within each stratum (non-response adjustment), "
                                             "fpc = N_h; then each group's weighting steps below"))
        methods.append(("design", "lonely_psu", f"{d.lonely_psu} (R options(survey.lonely.psu)); "
                                                f"{d.lonely_strata} strata with one response"))
        methods.append(("design", "degf", str(d.degf)))
        if d.population_file:
            methods.append(("design", "population_file", d.population_file))
        counts: dict[str, int] = {}
        for st in d.strata:
            counts[st.source] = counts.get(st.source, 0) + 1
        for src, count in sorted(counts.items()):
            methods.append(("design", f"N from {src}", f"{count} strata: {_SOURCES.get(src, src)}"))
        for st in d.strata:
            methods.append(("stratum", st.key, f"n={st.n}; N={st.big_n:g}; {st.source}"))
        for w in d.weighting:
            if w.method == "rake":
                detail = (f"rake to {w.margins_file} (stratum totals kept); {w.iterations} passes; "
                          f"{'converged' if w.converged else 'NOT converged'}; last change {w.max_change:.3g}")
            elif w.method == "poststratify":
                detail = f"post-stratified to {w.margins_file}"
            else:
                detail = "base weights"
            if w.trim:
                detail += f"; trimmed to [{w.trim[0]:g}, {w.trim[1]:g}] x mean weight"
            methods.append(("weighting", w.group, f"{detail}; {w.rows} responses"))
        methods.append(("design", "public_qr",
                        f"{d.public_responses} public-QR responses (self-selected) are not in any estimate; "
                        "they are counted per unit in units.public_responses"))
    summary = result.weights
    if summary is not None:
        for name in ("n", "total", "min", "max", "mean", "cv", "deff", "n_eff"):
            value = getattr(summary, name)
            methods.append(("weights", name, f"{value:.12g}"))
    if result.sipas:
        methods.append(("sipas", "reading", f"share of valid answers with option score >= {SATISFIED_MIN:g}; "
                                            "element = mean of items; SIPAS = mean of elements"))
    return methods


def export_scores(campaign_id: int, config: ScoringConfig, fmt: str, path: str | Path,
                  population: Mapping[tuple[str, str], float] | None = None,
                  appraised: Mapping[str, float] | None = None) -> list[Path]:
    """Score the campaign and write ``fmt`` to ``path``; return the files written.

    ``csv`` writes a ZIP of CSV files (every table, ``methods.csv`` and ``codebook.csv``);
    ``sav`` / ``dta`` write the response microdata (see :func:`export_responses`).
    """
    path = Path(path)
    if fmt in ("sav", "dta"):
        from survey.services.microdata import export_responses

        return [export_responses(campaign_id, fmt, path, values="codes")]
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    result = score_campaign(campaign_id, config, population, appraised)
    from survey.services.yoy import with_yoy

    with without_cycle_collection():  # a row per published figure (see there)
        report = with_yoy(score_tables(result), campaign_id, config, small_cell_k())
        if fmt == "xlsx":
            write_xlsx(report, path)
        elif fmt == "json":
            write_json(report, path)
        else:
            path.write_bytes(csv_zip_bytes(report))
    return [path]


# -- appraised points ---------------------------------------------------------------------

APPRAISED_COLUMNS = ("unit", "appraised_points", "max_appraised_points")


def _appraised_problem(code: str, name: str, row: int, column: str = "", detail: str = "",
                       **params: Any) -> Problem:
    """A refused cell or row of an appraised-points file (row 1 is the header, 0 the file)."""
    return Problem(code, Location(file=name, row=row or None, column=column or None), params,
                   detail)


class AppraisedRejected(ValueError):
    """The file was refused as a whole; ``problems`` lists every located problem."""

    def __init__(self, problems: Sequence[Problem]):
        self.problems = tuple(problems)
        super().__init__("; ".join(str(p) for p in self.problems))


@dataclass(frozen=True)
class Appraised:
    """Imported appraised points and the config with the appraised maximum they imply."""

    points: Mapping[str, float]
    config: ScoringConfig


def _appraised_rows(name: str, data: bytes) -> list[list[Any]]:
    suffix = Path(name).suffix.lower()
    if suffix == ".xlsx":
        from openpyxl import load_workbook

        try:
            wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception as exc:  # a damaged or mislabelled file
            raise AppraisedRejected([_appraised_problem("APPRAISED-XLSX", name, 0,
                                                        detail=type(exc).__name__)]) from exc
        ws = wb.worksheets[0]
        rows = [list(r) for r in ws.iter_rows(values_only=True)]
        wb.close()
        return rows
    if suffix == ".csv":
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise AppraisedRejected([_appraised_problem("APPRAISED-UTF8", name, 0)]) from exc
        first = text.split("\n", 1)[0]
        delimiter = ";" if first.count(";") > first.count(",") else ","
        return [list(r) for r in csv.reader(io.StringIO(text), delimiter=delimiter)]
    raise AppraisedRejected([_appraised_problem("APPRAISED-FILE-TYPE", name, 0)])


def _cell_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        f = float(value)
    elif isinstance(value, str) and value.strip():
        try:
            f = float(value.strip().replace(",", "."))
        except ValueError:
            return None
    else:
        return None
    return f if math.isfinite(f) else None


def parse_appraised(name: str, data: bytes, unit_codes: Sequence[str] | Mapping[str, Any],
                    config: ScoringConfig, surveyed: Sequence[str] = ()) -> Appraised:
    """Read appraised points (columns unit, appraised_points, max_appraised_points).

    All or nothing: every problem is collected and :class:`AppraisedRejected` raised. The
    file's ``max_appraised_points`` must be the same on every row and, when the scoring
    section sets the index's ``max_points``, equal its appraised share
    (``max_points`` - survey points); without one the file sets it. Every unit in
    ``surveyed`` (units with valid responses) needs a row.
    """
    rows = _appraised_rows(name, data)
    problems: list[Problem] = []
    if not rows:
        raise AppraisedRejected([_appraised_problem("APPRAISED-EMPTY", name, 1)])
    header = [str(h).strip().lower() if h is not None else "" for h in rows[0]]
    missing = [c for c in APPRAISED_COLUMNS if c not in header]
    if missing:
        raise AppraisedRejected([_appraised_problem("APPRAISED-COLUMN", name, 1, c) for c in missing])
    at = {c: header.index(c) for c in APPRAISED_COLUMNS}
    known = set(unit_codes)
    points: dict[str, float] = {}
    first_row: dict[str, int] = {}
    maxima: set[float] = set()
    for n, raw in enumerate(rows[1:], start=2):
        cells = list(raw) + [None] * (len(header) - len(raw))
        if all(c is None or (isinstance(c, str) and not c.strip()) for c in cells):
            continue
        unit = cells[at["unit"]]
        unit = str(unit).strip() if unit is not None else ""
        if not unit:
            problems.append(_appraised_problem("APPRAISED-UNIT-MISSING", name, n, "unit"))
        elif unit not in known:
            problems.append(_appraised_problem("APPRAISED-UNIT-UNKNOWN", name, n, "unit", unit=repr(unit)))
        elif unit in first_row:
            problems.append(_appraised_problem("APPRAISED-UNIT-REPEATED", name, n, "unit",
                                               unit=repr(unit), first=first_row[unit]))
        value = _cell_number(cells[at["appraised_points"]])
        top = _cell_number(cells[at["max_appraised_points"]])
        if top is None or top <= 0:
            problems.append(_appraised_problem("APPRAISED-MAX", name, n, "max_appraised_points"))
        else:
            maxima.add(top)
        if value is None:
            problems.append(_appraised_problem("APPRAISED-POINTS", name, n, "appraised_points"))
        elif value < 0 or (top is not None and value > top):
            problems.append(_appraised_problem("APPRAISED-RANGE", name, n, "appraised_points"))
        if unit and unit in known and unit not in first_row:
            first_row[unit] = n
            if value is not None:
                points[unit] = value
    if not first_row and not problems:
        problems.append(_appraised_problem("APPRAISED-NO-ROWS", name, 2))
    for unit in sorted(set(surveyed) - set(first_row), key=_natural):
        problems.append(_appraised_problem("APPRAISED-UNIT-NO-POINTS", name, 0, "unit",
                                           unit=repr(unit)))
    if len(maxima) > 1:
        problems.append(_appraised_problem("APPRAISED-MAX-VARIES", name, 0, "max_appraised_points"))
    elif maxima and config.appraised_max > 0 and not math.isclose(next(iter(maxima)), config.appraised_max,
                                                                   abs_tol=1e-9):
        problems.append(_appraised_problem("APPRAISED-MAX-CONFIG", name, 0, "max_appraised_points",
                                           max=f"{config.appraised_max:g}"))
    if problems:
        raise AppraisedRejected(problems)
    top = next(iter(maxima))
    return Appraised(points, dataclasses.replace(config, appraised_max=top))


def read_appraised(campaign_id: int, path: str | Path, config: ScoringConfig) -> Appraised:
    """:func:`parse_appraised` on a file, checked against the campaign's units."""
    path = Path(path)
    s = db.session()
    codes = s.scalars(select(Unit.code).where(Unit.campaign_id == campaign_id)).all()
    surveyed = s.scalars(select(Unit.code).distinct().join(Response, Response.rated_unit_id == Unit.id).where(
        Response.campaign_id == campaign_id, Response.status == ResponseStatus.VALID)).all()
    return parse_appraised(path.name, path.read_bytes(), list(codes), config, list(surveyed))


# -- web downloads ------------------------------------------------------------------------

DOWNLOADS = {"csv": "application/zip", "json": "application/json",
             "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def download_scores(campaign: Campaign, config: ScoringConfig, fmt: str) -> bytes:
    """The campaign's scores as a CSV ZIP (tables, methods, codebook), XLSX or JSON bytes;
    the download is audited."""
    if fmt not in DOWNLOADS:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(DOWNLOADS)}")
    report = score_tables(score_campaign(campaign.id, config))
    from survey.services.yoy import with_yoy

    report = with_yoy(report, campaign.id, config, small_cell_k())
    if fmt == "csv":
        data = csv_zip_bytes(report)
    elif fmt == "json":
        data = json_bytes(report)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "scores.xlsx"
            write_xlsx(report, out)
            data = out.read_bytes()
    from survey.services.audit import record_audit

    from survey.services.webhooks import queue_event

    with db.write_transaction() as s:
        queue_event(s, campaign, "scores.recomputed", {"units": len(report.tables[1].rows)})
        record_audit("export.scores", province_code=campaign.province_code, object_type="campaign",
                     object_id=campaign.code, detail={"format": fmt,
                                                      "units": len(report.tables[1].rows)})
    return data
