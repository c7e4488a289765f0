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

import csv
import dataclasses
import io
import math
import re
import tempfile
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import or_, select

from analysis import (
    Estimate,
    NoSurvey,
    Pooling,
    ScoringConfig,
    SipasConfig,
    SipasElement,
    SubCriterion,
    SurveyDesign,
    WeightsSummary,
    compile_index,
    score_survey,
    sipas,
    weights_summary,
)
from analysis.exports import (
    Column,
    ColumnKind,
    Microdata,
    Report,
    Table,
    Variable,
    csv_bytes,
    json_bytes,
    write_csv,
    write_dta,
    write_json,
    write_sav,
    write_xlsx,
)
from questionnaires import Questionnaire
from survey import db
from survey.models import (
    Campaign,
    Form,
    QuestionnaireVersion,
    RespondentGroup,
    Response,
    ResponseStatus,
    Unit,
)
from survey.models.integrity import UnitAnnulment
from survey.services.campaigns import CampaignNotFound, find_campaign
from survey.services.questionnaires import questionnaire_for

FORMATS = ("csv", "xlsx", "json", "sav", "dta")


def item_key(q: Questionnaire, question_id: str) -> str:
    """The key of a scored question in a :class:`ScoringConfig` (``id@vN/question``)."""
    return f"{q.key}/{question_id}"


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

    @property
    def n_rows(self) -> int:
        return int(self.response_id.size)


def find_campaign_id(code: str, provinces: Collection[str] | None = None) -> int | None:
    """The id of the campaign with ``code`` (within ``provinces`` when given), or None."""
    try:
        return find_campaign(code, provinces).id
    except CampaignNotFound:
        return None


def _versions_of(campaign_id: int) -> list[QuestionnaireVersion]:
    s = db.session()
    used = or_(
        QuestionnaireVersion.id.in_(select(Form.questionnaire_version_id).where(Form.campaign_id == campaign_id)),
        QuestionnaireVersion.id.in_(
            select(Response.questionnaire_version_id).where(Response.campaign_id == campaign_id)
        ),
    )
    return list(s.scalars(select(QuestionnaireVersion).where(used).order_by(QuestionnaireVersion.id)))


def load_campaign_questionnaires(campaign_id: int) -> tuple[Questionnaire, ...]:
    """The questionnaire versions the campaign's forms and responses use, by version id."""
    return tuple(questionnaire_for(v) for v in _versions_of(campaign_id))


def load_score_inputs(campaign_id: int) -> ScoreInputs:
    """Read the campaign's valid responses in one query and unpack them into arrays.

    ``item_codes`` of the responses of one questionnaire version are joined and read with
    ``np.frombuffer`` as a ``(responses x scored items)`` uint8 matrix; option scores come
    from :meth:`Questionnaire.score_table`. No Python loop runs per answer.
    """
    s = db.session()
    code = s.scalar(select(Campaign.code).where(Campaign.id == campaign_id))
    if code is None:
        raise LookupError(f"no campaign with id {campaign_id} / không có chiến dịch mã số {campaign_id}")
    rows = s.execute(
        select(
            Response.id,
            Unit.code,
            Unit.level,
            RespondentGroup.code,
            Response.questionnaire_version_id,
            Response.item_codes,
        )
        .join(Unit, Unit.id == Response.rated_unit_id)
        .join(RespondentGroup, RespondentGroup.id == Response.group_id)
        .where(Response.campaign_id == campaign_id, Response.status == ResponseStatus.VALID)
        .where(Response.rated_unit_id.not_in(select(UnitAnnulment.unit_id)))  # annulled units
        .order_by(Response.id)
    ).all()
    all_units = s.execute(select(Unit.code, Unit.name_vi, Unit.level).where(Unit.campaign_id == campaign_id)).all()
    n = len(rows)
    if n:
        ids, units, levels, groups, vids, blobs = (list(c) for c in zip(*rows, strict=True))
    else:
        ids, units, levels, groups, vids, blobs = [], [], [], [], [], []
    version_id = np.asarray(vids, dtype=np.int64)
    answers: dict[str, NDArray[np.uint8]] = {}
    option_scores: dict[str, Sequence[float]] = {}
    infos: list[VersionInfo] = []
    for row in _versions_of(campaign_id):
        q = questionnaire_for(row)
        keys = [item_key(q, question.id) for question in q.scored_questions]
        (at,) = np.nonzero(version_id == row.id)
        width = len(keys)
        packed = b"".join(blobs[i] for i in at.tolist())
        if len(packed) != at.size * width:
            raise ValueError(
                f"{q.key}: stored item codes do not have {width} bytes per response "
                f"(content hash {row.content_hash[:12]}) / mã trả lời lưu trữ không khớp phiếu"
            )
        matrix = np.frombuffer(packed, dtype=np.uint8).reshape(at.size, width)
        full = np.zeros((n, width), dtype=np.uint8)
        full[at] = matrix
        for k, (key, table) in enumerate(zip(keys, q.score_table(), strict=True)):
            answers[key] = full[:, k]
            option_scores[key] = table
        infos.append(VersionInfo(row.id, q, row.content_hash, int(at.size)))
    return ScoreInputs(
        campaign_code=code,
        response_id=np.asarray(ids, dtype=np.int64),
        unit=np.asarray(units, dtype=object),
        level=np.asarray(levels, dtype=object),
        group=np.asarray(groups, dtype=object),
        version_id=version_id,
        answers=answers,
        option_scores=option_scores,
        versions=tuple(infos),
        unit_names={u.code: u.name_vi for u in all_units},
        unit_levels={u.code: u.level for u in all_units},
    )


def _natural(code: str) -> tuple[Any, ...]:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", code))


def default_scoring_config(questionnaires: Sequence[Questionnaire]) -> ScoringConfig:
    """Every sub-criterion the questionnaires' scored items feed, max points 1.0, pooled.

    A stand-in until the campaign definition supplies the points table; no appraised points.
    """
    items: dict[str, list[str]] = {}
    for q in questionnaires:
        for question in q.scored_questions:
            if question.subcriterion:
                items.setdefault(question.subcriterion, []).append(item_key(q, question.id))
    subs = tuple(
        SubCriterion(code, 1.0, tuple(items[code]), Pooling.POOLED) for code in sorted(items, key=_natural)
    )
    return ScoringConfig(sub_criteria=subs, appraised_max=0.0)


@dataclass(frozen=True)
class SubCriterionResult:
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
    """One rated unit's survey total and its rank among the units of its level (block)."""

    unit: str
    name: str
    level: str
    points: Estimate
    survey_max: float
    survey_pct: float  # points / survey_max x 100
    appraised: float | None
    index_pct: float | None  # (appraised + survey) / total max x 100, when appraised given
    rank: int  # by index_pct when appraised given, else by survey points
    band: str | None  # only with appraised points
    responses: int
    survey_band: str | None = None  # band of survey_pct (the reading without appraised points)


@dataclass(frozen=True)
class SipasRow:
    """One SIPAS index of one rated unit: an item (S1.1), an element (S1) or the overall index."""

    unit: str
    level: str
    kind: str  # "item" | "element" | "overall"
    code: str
    estimate: Estimate  # share satisfied, 0..1


@dataclass(frozen=True)
class CampaignScores:
    """Everything :func:`score_campaign` computes, ready for tables and exports."""

    campaign_code: str
    config: ScoringConfig
    sub_criteria: tuple[SubCriterionResult, ...]  # by level, unit code, config order
    units: tuple[UnitResult, ...]  # by level, rank, unit code
    versions: tuple[VersionInfo, ...]
    weights: WeightsSummary | None  # None when there is no valid response
    population: Mapping[tuple[str, str], float]
    sipas: tuple[SipasRow, ...] = ()  # per rated unit, when the questionnaires have SIPAS items


def _design(inputs: ScoreInputs, population: Mapping[tuple[str, str], float]) -> SurveyDesign:
    data: dict[str, Any] = {"unit": inputs.unit, "group": inputs.group, "level": inputs.level}
    if not population:
        return SurveyDesign(data)
    stratum = np.array([f"{g}|{u}" for g, u in zip(inputs.group.tolist(), inputs.unit.tolist(), strict=True)],
                       dtype=object)
    levels, index, counts = np.unique(stratum.astype(str), return_inverse=True, return_counts=True)
    big_n = np.array(
        [float(population.get(tuple(s.split("|", 1)), c)) for s, c in zip(levels.tolist(), counts.tolist(),
                                                                         strict=True)]
    )
    short = big_n < counts
    if short.any():
        bad = levels[short].tolist()
        raise ValueError(f"population smaller than the responses for strata {bad} / "
                         f"quy mô tổng thể nhỏ hơn số phiếu ở các tầng {bad}")
    data.update(stratum=stratum, fpc=big_n[index], weight=(big_n / counts)[index])
    return SurveyDesign(data, weights="weight", strata="stratum", fpc="fpc")


def score_campaign(
    campaign_id: int,
    config: ScoringConfig,
    population: Mapping[tuple[str, str], float] | None = None,
    appraised: Mapping[str, float] | None = None,
) -> CampaignScores:
    """Survey points per rated unit and sub-criterion, unit totals and ranks within levels.

    Parameters
    ----------
    config
        The campaign's points table and rules (:func:`default_scoring_config` until the
        campaign definition supplies one).
    population
        ``(group code, rated unit code) -> N`` for sampled strata (citizens); others are
        a census with weight 1.
    appraised
        Rated unit code -> appraised points, when imported: then the index %, the band and
        the rank follow :func:`analysis.compile_index`; without them units rank by survey points.
    """
    if not config.sub_criteria:
        raise ValueError("the scoring config has no sub-criteria / cấu hình chấm điểm chưa có tiêu chí thành phần")
    inputs = load_score_inputs(campaign_id)
    population = dict(population or {})
    if inputs.n_rows == 0:
        return CampaignScores(inputs.campaign_code, config, (), (), inputs.versions, None, population)
    design = _design(inputs, population)
    answers, option_scores = dict(inputs.answers), dict(inputs.option_scores)
    for sub in config.sub_criteria:
        for item in sub.items:
            if item not in answers:  # a planned questionnaire nobody has answered yet
                answers[item] = np.zeros(inputs.n_rows, dtype=np.uint8)
                option_scores[item] = [math.nan]
    survey = score_survey(design, answers, option_scores, config, unit="unit", group="group")
    level_of = inputs.unit_levels
    blocks = {u: level_of[u] for u in survey}
    if appraised is None:
        # Rank on survey points alone: index_pct then is survey points / survey max.
        rank_config = dataclasses.replace(config, appraised_max=0.0, no_survey=NoSurvey.ZERO, bands=())
        index = compile_index({u: 0.0 for u in survey}, survey, rank_config, blocks)
    else:
        index = compile_index(appraised, survey, config, {u: level_of.get(u, "") for u in appraised})
    responses = dict(zip(*np.unique(inputs.unit.astype(str), return_counts=True), strict=True))
    subs: list[SubCriterionResult] = []
    units: list[UnitResult] = []
    for entry in index:
        u = entry.unit
        s = survey.get(u)
        if s is None:
            continue  # appraised-only units have no survey row to report here
        for sub in config.sub_criteria:
            r = s.sub_criteria[sub.code]
            subs.append(SubCriterionResult(u, blocks[u], sub.code, sub.max_points, r.score, r.points,
                                           r.answers, r.dont_know))
        units.append(UnitResult(
            unit=u, name=inputs.unit_names.get(u, ""), level=blocks[u], points=s.points,
            survey_max=config.survey_max, survey_pct=s.points.value / config.survey_max * 100,
            appraised=None if appraised is None else entry.appraised,
            index_pct=None if appraised is None else entry.index_pct,
            rank=entry.rank, band=None if appraised is None else entry.band,
            responses=int(responses.get(u, 0)),
            survey_band=band_of(s.points.value / config.survey_max * 100, config)))
    order = {sub.code: k for k, sub in enumerate(config.sub_criteria)}
    subs.sort(key=lambda r: (r.level, _natural(r.unit), order[r.sub_criterion]))
    return CampaignScores(inputs.campaign_code, config, tuple(subs), tuple(units), inputs.versions,
                          weights_summary(design), population, sipas_rows(inputs, design))


def band_of(pct: float, config: ScoringConfig) -> str | None:
    """The first band (highest threshold first) that ``pct`` reaches, else None."""
    for band in sorted(config.bands, key=lambda b: -b.min_pct):
        if pct >= band.min_pct:
            return band.label
    return None


_SIPAS_CODE = re.compile(r"^S(\d+)\.(\d+)$")
SATISFIED_MIN = 0.75  # "Hài lòng" on the 0 / 0.25 / 0.5 / 0.75 / 1 scale


def sipas_rows(inputs: ScoreInputs, design: SurveyDesign) -> tuple[SipasRow, ...]:
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
    result = sipas(design, recoded, config, by="unit")
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
    Column("n", _I, "responses with a valid answer"), Column("n_eff", _N),
    Column("answers", _I, "item answers given"), Column("dont_know", _I), Column("dont_know_rate", _N),
)
UNIT_COLUMNS = (
    Column("unit", _T), Column("name", _T), Column("level", _T), Column("responses", _I),
    Column("survey_points", _N), Column("survey_points_se", _N), Column("survey_points_ci_low", _N),
    Column("survey_points_ci_high", _N), Column("survey_max", _N), Column("survey_pct", _N),
    Column("appraised_points", _N), Column("index_pct", _N), Column("rank", _I), Column("band", _T),
    Column("survey_band", _T, "band of survey_pct"),
)
SIPAS_COLUMNS = (
    Column("unit", _T), Column("level", _T), Column("kind", _T, "item / element / overall"),
    Column("code", _T), Column("satisfied", _N, "share satisfied 0..1"), Column("se", _N),
    Column("ci_low", _N), Column("ci_high", _N), Column("n", _I, "responses with a valid answer"),
    Column("n_eff", _N),
)
METHOD_COLUMNS = (Column("section", _T), Column("key", _T), Column("value", _T))


def small_cell_k() -> int:
    """Estimates from fewer answers than this are suppressed in exports (default 5)."""
    from flask import current_app

    return int(current_app.config.get("SMALL_CELL_K", 5))


def _shown(values: tuple[Any, ...], n: int, k: int) -> tuple[Any, ...]:
    """The estimate columns, or blanks when the cell is too small to publish."""
    return values if n >= k else (None,) * len(values)


def score_tables(result: CampaignScores, k: int | None = None) -> Report:
    """The result as tables: ``scores`` (unit x sub-criterion), ``units``, ``methods``.

    Cells with fewer than ``k`` answers (responses, for unit totals) keep their counts but
    have their estimates blanked, so a small group's answers cannot be read back.
    """
    k = small_cell_k() if k is None else k
    score_rows = tuple(
        (r.unit, r.level, r.sub_criterion, r.max_points,
         *_shown((r.points.value, r.points.se, r.points.ci_low, r.points.ci_high, r.score.value,
                  r.score.se, r.score.ci_low, r.score.ci_high), r.score.n, k),
         r.score.n, r.score.n_eff, r.answers, r.dont_know, r.dont_know_rate)
        for r in result.sub_criteria
    )
    unit_rows = tuple(
        (u.unit, u.name, u.level, u.responses,
         *_shown((u.points.value, u.points.se, u.points.ci_low, u.points.ci_high), u.responses, k),
         u.survey_max, *_shown((u.survey_pct,), u.responses, k), u.appraised,
         *_shown((u.index_pct, u.rank, u.band, u.survey_band), u.responses, k))
        for u in result.units
    )
    sipas_table = tuple(
        (r.unit, r.level, r.kind, r.code,
         *_shown((r.estimate.value, r.estimate.se, r.estimate.ci_low, r.estimate.ci_high),
                 r.estimate.n, k),
         r.estimate.n, r.estimate.n_eff)
        for r in result.sipas
    )
    c = result.config
    methods: list[tuple[str, str, str]] = [
        ("campaign", "code", result.campaign_code),
        ("settings", "dont_know", "counted as 0" if c.dont_know_as_zero else "excluded, rate reported"),
        ("settings", "ci", f"{c.ci.value} {c.level:g}"),
        ("settings", "variance", "Taylor linearisation (R survey svymean / svyby)"),
        ("settings", "appraised_max", f"{c.appraised_max:g}"),
        ("settings", "survey_max", f"{c.survey_max:g}"),
        ("settings", "no_survey", c.no_survey.value),
        ("settings", "small_cells", f"estimates from fewer than {k} answers are left blank"),
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
    if result.population:
        methods.append(("weights", "design", "stratified by group|unit, w = N/n, fpc; other strata census"))
        for (g, u), big_n in sorted(result.population.items()):
            methods.append(("population", f"{g}|{u}", f"{big_n:g}"))
    else:
        methods.append(("weights", "design", "census: every valid response weighs 1"))
    w = result.weights
    if w is not None:
        for name in ("n", "total", "min", "max", "mean", "cv", "deff", "n_eff"):
            value = getattr(w, name)
            methods.append(("weights", name, f"{value:.12g}"))
    if sipas_table:
        methods.append(("sipas", "reading", f"share of valid answers with option score >= {SATISFIED_MIN:g}; "
                                            "element = mean of items; SIPAS = mean of elements"))
    tables = [Table("scores", SCORE_COLUMNS, score_rows), Table("units", UNIT_COLUMNS, unit_rows)]
    if sipas_table:
        tables.append(Table("sipas", SIPAS_COLUMNS, sipas_table))
    tables.append(Table("methods", METHOD_COLUMNS, tuple(methods)))
    return Report(tuple(tables))


_NAME_BAD = re.compile(r"[^A-Za-z0-9_]")


def score_microdata(inputs: ScoreInputs) -> Microdata:
    """One row per valid response: unit, level, group, questionnaire and every scored item's
    option position (system-missing when not answered) with the options' labels."""
    vars_: list[Variable] = [
        Variable("response_id", inputs.response_id.astype(np.float64), "response number"),
        Variable("unit", inputs.unit, "rated unit code / mã đơn vị được đánh giá"),
        Variable("unit_level", inputs.level, "rated unit level / cấp đơn vị"),
        Variable("group", inputs.group, "respondent group / đối tượng điều tra"),
    ]
    key_of = {v.version_id: v.questionnaire.key for v in inputs.versions}
    vars_.append(Variable("questionnaire", np.asarray([key_of[i] for i in inputs.version_id.tolist()],
                                                      dtype=object), "questionnaire version / phiếu"))
    taken = {v.name for v in vars_}
    for v in inputs.versions:
        q = v.questionnaire
        for question in q.scored_questions:
            base = _NAME_BAD.sub("_", question.id)[:28] or "item"
            if not base[0].isalpha():
                base = "q" + base[:27]
            name, k = base, 2
            while name in taken:
                name, k = f"{base}_{k}", k + 1
            taken.add(name)
            codes = inputs.answers[item_key(q, question.id)].astype(np.float64)
            codes[codes == 0] = np.nan
            vars_.append(Variable(
                name, codes, f"{q.key} {question.id}: {question.text.vi}"[:250],
                {i: o.label.vi for i, o in enumerate(question.options, start=1)}))
    return Microdata(tuple(vars_), f"PAR survey {inputs.campaign_code}")


def export_scores(campaign_id: int, config: ScoringConfig, fmt: str, path: str | Path,
                  population: Mapping[tuple[str, str], float] | None = None,
                  appraised: Mapping[str, float] | None = None) -> list[Path]:
    """Score the campaign and write ``fmt`` to ``path``; return the files written.

    ``csv`` writes the scores table to ``path`` and the unit totals beside it
    (``<stem>.units.csv``, and ``<stem>.sipas.csv`` when there are SIPAS items);
    ``sav`` / ``dta`` write the response microdata.
    """
    path = Path(path)
    if fmt in ("sav", "dta"):
        micro = score_microdata(load_score_inputs(campaign_id))
        (write_sav if fmt == "sav" else write_dta)(micro, path)
        return [path]
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    report = score_tables(score_campaign(campaign_id, config, population, appraised))
    if fmt == "xlsx":
        write_xlsx(report, path)
        return [path]
    if fmt == "json":
        write_json(report, path)
        return [path]
    tables = {t.name: t for t in report.tables}
    written = [path]
    write_csv(tables["scores"], path)
    for name in ("units", "sipas"):
        if name in tables:
            extra = path.with_name(f"{path.stem}.{name}{path.suffix or '.csv'}")
            write_csv(tables[name], extra)
            written.append(extra)
    return written


# -- appraised points ---------------------------------------------------------------------

APPRAISED_COLUMNS = ("unit", "appraised_points", "max_appraised_points")


@dataclass(frozen=True)
class AppraisedProblem:
    """A refused cell or row of an appraised-points file (row 1 is the header)."""

    row: int
    column: str
    vi: str
    en: str

    def __str__(self) -> str:
        where = f"dòng/row {self.row}" + (f", {self.column}" if self.column else "")
        return f"{where}: {self.vi} / {self.en}"


class AppraisedRejected(ValueError):
    """The file was refused as a whole; ``problems`` lists every located problem."""

    def __init__(self, problems: Sequence[AppraisedProblem]):
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
            raise AppraisedRejected([AppraisedProblem(0, "", "không đọc được tệp XLSX",
                                                      f"cannot read the XLSX file ({type(exc).__name__})")]) from exc
        ws = wb.worksheets[0]
        rows = [list(r) for r in ws.iter_rows(values_only=True)]
        wb.close()
        return rows
    if suffix == ".csv":
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise AppraisedRejected([AppraisedProblem(0, "", "tệp CSV phải mã hóa UTF-8",
                                                      "the CSV file must be UTF-8")]) from exc
        first = text.split("\n", 1)[0]
        delimiter = ";" if first.count(";") > first.count(",") else ","
        return [list(r) for r in csv.reader(io.StringIO(text), delimiter=delimiter)]
    raise AppraisedRejected([AppraisedProblem(0, "", "chỉ nhận tệp .csv hoặc .xlsx",
                                              "only .csv or .xlsx files are accepted")])


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
    problems: list[AppraisedProblem] = []
    if not rows:
        raise AppraisedRejected([AppraisedProblem(1, "", "tệp rỗng", "the file is empty")])
    header = [str(h).strip().lower() if h is not None else "" for h in rows[0]]
    missing = [c for c in APPRAISED_COLUMNS if c not in header]
    if missing:
        raise AppraisedRejected([AppraisedProblem(1, c, "thiếu cột", "missing column") for c in missing])
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
            problems.append(AppraisedProblem(n, "unit", "thiếu mã đơn vị", "missing unit code"))
        elif unit not in known:
            problems.append(AppraisedProblem(n, "unit", f"đơn vị {unit!r} không thuộc chiến dịch",
                                             f"unit {unit!r} is not a unit of the campaign"))
        elif unit in first_row:
            problems.append(AppraisedProblem(n, "unit", f"đơn vị {unit!r} trùng với dòng {first_row[unit]}",
                                             f"unit {unit!r} repeats row {first_row[unit]}"))
        value = _cell_number(cells[at["appraised_points"]])
        top = _cell_number(cells[at["max_appraised_points"]])
        if top is None or top <= 0:
            problems.append(AppraisedProblem(n, "max_appraised_points", "phải là số > 0", "must be a number > 0"))
        else:
            maxima.add(top)
        if value is None:
            problems.append(AppraisedProblem(n, "appraised_points", "phải là một số", "must be a number"))
        elif value < 0 or (top is not None and value > top):
            problems.append(AppraisedProblem(n, "appraised_points", "phải nằm trong khoảng 0 đến điểm tối đa",
                                             "must lie between 0 and the max points"))
        if unit and unit in known and unit not in first_row:
            first_row[unit] = n
            if value is not None:
                points[unit] = value
    if not first_row and not problems:
        problems.append(AppraisedProblem(2, "", "tệp không có dòng dữ liệu", "the file has no data rows"))
    for unit in sorted(set(surveyed) - set(first_row), key=_natural):
        problems.append(AppraisedProblem(0, "unit", f"đơn vị {unit!r} có phiếu khảo sát nhưng thiếu điểm thẩm định",
                                         f"unit {unit!r} has survey responses but no appraised points"))
    if len(maxima) > 1:
        problems.append(AppraisedProblem(0, "max_appraised_points",
                                         "điểm tối đa phải giống nhau ở mọi dòng",
                                         "max points must be the same on every row"))
    elif maxima and config.appraised_max > 0 and not math.isclose(next(iter(maxima)), config.appraised_max,
                                                                   abs_tol=1e-9):
        problems.append(AppraisedProblem(
            0, "max_appraised_points",
            f"khác điểm thẩm định tối đa của cấu hình ({config.appraised_max:g})",
            f"differs from the scoring section's appraised maximum ({config.appraised_max:g})"))
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

DOWNLOADS = {"csv": "text/csv; charset=utf-8", "json": "application/json",
             "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def download_scores(campaign: Campaign, config: ScoringConfig, fmt: str) -> bytes:
    """The campaign's scores as CSV (the units table), XLSX or JSON bytes; the download is audited."""
    if fmt not in DOWNLOADS:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(DOWNLOADS)}")
    report = score_tables(score_campaign(campaign.id, config))
    if fmt == "csv":
        data = csv_bytes({t.name: t for t in report.tables}["units"])
    elif fmt == "json":
        data = json_bytes(report)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "scores.xlsx"
            write_xlsx(report, out)
            data = out.read_bytes()
    from survey.services.audit import record_audit

    with db.write_transaction():
        record_audit("export.scores", province_code=campaign.province_code, object_type="campaign",
                     object_id=campaign.code, detail={"format": fmt,
                                                      "units": len(report.tables[1].rows)})
    return data
