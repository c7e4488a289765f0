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

import dataclasses
import re
from collections.abc import Mapping, Sequence
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
    SubCriterion,
    SurveyDesign,
    WeightsSummary,
    compile_index,
    score_survey,
    weights_summary,
)
from analysis.exports import (
    Column,
    ColumnKind,
    Microdata,
    Report,
    Table,
    Variable,
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


def find_campaign_id(code: str) -> int | None:
    """The id of the campaign with ``code``, or None."""
    return db.session().scalar(select(Campaign.id).where(Campaign.code == code))


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
    survey = score_survey(design, inputs.answers, inputs.option_scores, config, unit="unit", group="group")
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
            responses=int(responses.get(u, 0))))
    order = {sub.code: k for k, sub in enumerate(config.sub_criteria)}
    subs.sort(key=lambda r: (r.level, _natural(r.unit), order[r.sub_criterion]))
    return CampaignScores(inputs.campaign_code, config, tuple(subs), tuple(units), inputs.versions,
                          weights_summary(design), population)


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
)
METHOD_COLUMNS = (Column("section", _T), Column("key", _T), Column("value", _T))


def score_tables(result: CampaignScores) -> Report:
    """The result as tables: ``scores`` (unit x sub-criterion), ``units``, ``methods``."""
    score_rows = tuple(
        (r.unit, r.level, r.sub_criterion, r.max_points, r.points.value, r.points.se, r.points.ci_low,
         r.points.ci_high, r.score.value, r.score.se, r.score.ci_low, r.score.ci_high, r.score.n,
         r.score.n_eff, r.answers, r.dont_know, r.dont_know_rate)
        for r in result.sub_criteria
    )
    unit_rows = tuple(
        (u.unit, u.name, u.level, u.responses, u.points.value, u.points.se, u.points.ci_low,
         u.points.ci_high, u.survey_max, u.survey_pct, u.appraised, u.index_pct, u.rank, u.band)
        for u in result.units
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
    return Report((
        Table("scores", SCORE_COLUMNS, score_rows),
        Table("units", UNIT_COLUMNS, unit_rows),
        Table("methods", METHOD_COLUMNS, tuple(methods)),
    ))


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
                  population: Mapping[tuple[str, str], float] | None = None) -> list[Path]:
    """Score the campaign and write ``fmt`` to ``path``; return the files written.

    ``csv`` writes the scores table to ``path`` and the unit totals beside it
    (``<stem>.units.csv``); ``sav`` / ``dta`` write the response microdata.
    """
    path = Path(path)
    if fmt in ("sav", "dta"):
        micro = score_microdata(load_score_inputs(campaign_id))
        (write_sav if fmt == "sav" else write_dta)(micro, path)
        return [path]
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    report = score_tables(score_campaign(campaign_id, config, population))
    if fmt == "xlsx":
        write_xlsx(report, path)
        return [path]
    if fmt == "json":
        write_json(report, path)
        return [path]
    tables = {t.name: t for t in report.tables}
    units_path = path.with_name(f"{path.stem}.units{path.suffix or '.csv'}")
    write_csv(tables["scores"], path)
    write_csv(tables["units"], units_path)
    return [path, units_path]
