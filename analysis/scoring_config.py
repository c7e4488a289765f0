"""The campaign's ``scoring:`` section -> :class:`analysis.scoring.ScoringConfig`.

Checked when the campaign file is loaded (``CFG-SCORING``, see
:func:`scoring_section_problems`) and again when scores are computed against the
questionnaire versions actually used. Each sub-criterion resolves to the item keys of
the campaign's questionnaires (``id@vN/question``, :func:`item_key`).
Every problem is reported with its path in the section and the rule it breaks, a catalog
message (:class:`~questionnaires.problems.Text`) the edge renders in the reader's language; all
problems are collected, none is silently fixed.

Shape (every key but ``subcriteria`` is optional)::

    scoring:
      max_points: 100              # index total = appraised max + survey points
      survey_points: 35            # optional check: the sub-criteria's points sum to this
      dont_know_as_zero: false     # default: "don't know" is excluded and its rate reported
      ci: {method: t, level: 0.95} # normal | t (design df) | logit (svyciprop "logit"); default normal 0.95
      no_survey: rescale           # rescale | zero: index of a unit without survey answers
      pooling: pooled              # default for sub-criteria: pooled | per_group
      group_weights: {citizen: 1}  # default group weights for per_group sub-criteria
      subcriteria:
        - {code: "1.1", max_points: 0.5}
        - {code: "3.1", max_points: 1, pooling: per_group,
           group_weights: {dept_division_leader: 0.6, district_division_leader: 0.4}}
        - {code: SIPAS, max_points: 10, from: [S1.1, S1.2, S2.1]}   # several question codes
      bands:                       # highest first or not: sorted by min_pct
        - {label: {vi: Tốt, en: Good}, min_pct: 80}
        - {label: {vi: Yếu, en: Weak}, min_pct: 0}

Without ``max_points`` there are no appraised points (``appraised_max = 0``).
Without a ``scoring:`` section :func:`default_scoring_config` applies.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from questionnaires import Questionnaire
from questionnaires.problems import ENGLISH, N_, Text, Translator

from .estimators import CIMethod
from .scoring import Band, NoSurvey, Pooling, ScoringConfig, SubCriterion

__all__ = [
    "CampaignScoring",
    "ScoringConfigError",
    "ScoringProblem",
    "default_scoring_config",
    "item_key",
    "parse_scoring",
    "scoring_section_problems",
]

_TOP_KEYS = {"max_points", "survey_points", "dont_know_as_zero", "no_survey", "pooling",
             "group_weights", "subcriteria", "bands", "ci"}
_CI_KEYS = {"method", "level"}
_SUB_KEYS = {"code", "max_points", "from", "pooling", "group_weights", "name"}
_BAND_KEYS = {"label", "min_pct"}
_POOLING = {"pooled": Pooling.POOLED, "per_group": Pooling.GROUP_WEIGHTED}
_NO_SURVEY = {"rescale": NoSurvey.RESCALE, "zero": NoSurvey.ZERO}


@dataclass(frozen=True)
class ScoringProblem:
    """One problem in the section: where (``scoring.bands[2].min_pct``) and the rule broken."""

    path: str
    rule: Text

    def message(self, tr: Translator = ENGLISH) -> str:
        """The rule, in ``tr``'s language."""
        return self.rule.text(tr)

    def __str__(self) -> str:
        return f"{self.path}: {self.message()}"


class ScoringConfigError(ValueError):
    """The scoring section is invalid; ``problems`` lists every located problem."""

    def __init__(self, problems: Sequence[ScoringProblem]):
        self.problems = tuple(problems)
        super().__init__("; ".join(str(p) for p in self.problems))


@dataclass(frozen=True)
class CampaignScoring:
    """A campaign's scoring rules: the engine config plus what only people read."""

    config: ScoringConfig
    #: band label (as in ``config.bands``, the Vietnamese label) -> {"vi": ..., "en": ...}
    band_labels: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    #: True when the campaign had no ``scoring:`` section (every sub-criterion worth 1 point)
    default: bool = False

    def band_label(self, label: str | None, lang: str) -> str:
        if label is None:
            return ""
        names = self.band_labels.get(label, {})
        return names.get(lang) or names.get("vi") or label


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    f = float(value)
    return f if math.isfinite(f) else None


def _code(value: Any) -> str | None:
    """A sub-criterion code: YAML may read ``1.1`` as a float; take it back as written."""
    if isinstance(value, str) and value.strip():
        return value.strip()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return repr(value)
    return None


def item_key(q: Questionnaire, question_id: str) -> str:
    """The key of a scored question in a :class:`ScoringConfig` (``id@vN/question``)."""
    return f"{q.key}/{question_id}"


@functools.lru_cache(maxsize=1 << 16)
def _natural(code: str) -> tuple[Any, ...]:
    """Sort key: digit runs as numbers (S2 before S10); a campaign's codes are few and are
    sorted many times (once per unit and sub-criterion row), so each key is made once."""
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


class _Parser:
    def __init__(self, questionnaires: Sequence[Questionnaire]):
        self.problems: list[ScoringProblem] = []
        self.items: dict[str, list[str]] = {}
        for q in questionnaires:
            for question in q.scored_questions:
                if question.subcriterion:
                    self.items.setdefault(question.subcriterion, []).append(item_key(q, question.id))

    def bad(self, path: str, rule: str, **params: Any) -> None:
        self.problems.append(ScoringProblem(path, Text(rule, params)))

    def unknown_keys(self, data: Mapping[str, Any], allowed: set[str], path: str) -> None:
        for key in sorted(set(map(str, data)) - allowed):
            self.bad(f"{path}.{key}", N_("unknown key"))

    def weights(self, raw: Any, path: str) -> dict[str, float] | None:
        if not isinstance(raw, Mapping) or not raw:
            self.bad(path, N_("must be a non-empty mapping {{group: weight}}"))
            return None
        out: dict[str, float] = {}
        for group, w in raw.items():
            value = _number(w)
            if value is None or value < 0:
                self.bad(f"{path}.{group}", N_("weight must be a number >= 0"))
                continue
            out[str(group)] = value
        if out and sum(out.values()) <= 0:
            self.bad(path, N_("weights must not all be 0"))
            return None
        return out if len(out) == len(raw) else None

    def pooling(self, raw: Any, path: str) -> Pooling | None:
        if raw not in _POOLING:
            self.bad(path, N_("must be 'pooled' or 'per_group'"))
            return None
        return _POOLING[raw]

    def sub_criterion(self, raw: Any, path: str, default_pooling: Pooling,
                      default_weights: dict[str, float] | None) -> SubCriterion | None:
        if not isinstance(raw, Mapping):
            self.bad(path, N_("must be a mapping with code and max_points"))
            return None
        self.unknown_keys(raw, _SUB_KEYS, path)
        ok = True
        code = _code(raw.get("code"))
        if code is None:
            self.bad(f"{path}.code", N_("missing sub-criterion code"))
            ok = False
        points = _number(raw.get("max_points"))
        if points is None or points <= 0:
            self.bad(f"{path}.max_points", N_("max points must be a number > 0"))
            ok = False
        sources: list[str] = []
        if "from" in raw:
            listed = raw["from"]
            if not isinstance(listed, list) or not listed:
                self.bad(f"{path}.from", N_("must be a non-empty list of question codes"))
                ok = False
            else:
                for k, value in enumerate(listed):
                    c = _code(value)
                    if c is None:
                        self.bad(f"{path}.from[{k}]", N_("invalid code"))
                        ok = False
                    else:
                        sources.append(c)
        elif code is not None:
            sources = [code]
        items: list[str] = []
        for k, source in enumerate(sources):
            found = self.items.get(source)
            if not found:
                where = f"{path}.from[{k}]" if "from" in raw else f"{path}.code"
                self.bad(where, N_("no questionnaire of the campaign has questions for code '{code}'"),
                         code=source)
                ok = False
            else:
                items.extend(found)
        pooling = default_pooling
        if "pooling" in raw:
            pooling = self.pooling(raw["pooling"], f"{path}.pooling") or default_pooling
        weights = default_weights
        if "group_weights" in raw:
            weights = self.weights(raw["group_weights"], f"{path}.group_weights")
            if weights is None:
                ok = False
        if pooling is Pooling.GROUP_WEIGHTED and not weights:
            if "group_weights" not in raw:
                self.bad(f"{path}.group_weights", N_("per_group needs group weights"))
            ok = False
        if not ok or code is None or points is None:
            return None
        return SubCriterion(code, points, tuple(items), pooling,
                            dict(weights or {}) if pooling is Pooling.GROUP_WEIGHTED else {})

    def band(self, raw: Any, path: str) -> tuple[Band, dict[str, str]] | None:
        if not isinstance(raw, Mapping):
            self.bad(path, N_("must be a mapping with label and min_pct"))
            return None
        self.unknown_keys(raw, _BAND_KEYS, path)
        label = raw.get("label")
        names: dict[str, str] = {}
        if isinstance(label, str) and label.strip():
            names = {"vi": label.strip()}
        elif isinstance(label, Mapping) and isinstance(label.get("vi"), str) and label["vi"].strip():
            names = {"vi": label["vi"].strip()}
            if isinstance(label.get("en"), str) and label["en"].strip():
                names["en"] = label["en"].strip()
        else:
            self.bad(f"{path}.label", N_("missing band label (vi, en)"))
        pct = _number(raw.get("min_pct"))
        if pct is None or not 0 <= pct <= 100:
            self.bad(f"{path}.min_pct", N_("threshold must be a number from 0 to 100"))
        if not names or pct is None or not 0 <= pct <= 100:
            return None
        return Band(names["vi"], pct), names

    def parse(self, raw: Any) -> CampaignScoring | None:
        p = "scoring"
        if not isinstance(raw, Mapping):
            self.bad(p, N_("must be a mapping"))
            return None
        self.unknown_keys(raw, _TOP_KEYS, p)
        default_pooling = Pooling.POOLED
        if "pooling" in raw:
            default_pooling = self.pooling(raw["pooling"], f"{p}.pooling") or Pooling.POOLED
        default_weights = None
        if "group_weights" in raw:
            default_weights = self.weights(raw["group_weights"], f"{p}.group_weights")
        subs: list[SubCriterion] = []
        listed = raw.get("subcriteria")
        if not isinstance(listed, list) or not listed:
            self.bad(f"{p}.subcriteria", N_("needs a list of sub-criteria (code, max_points)"))
            listed = []
        seen: dict[str, int] = {}
        for k, entry in enumerate(listed):
            sub = self.sub_criterion(entry, f"{p}.subcriteria[{k}]", default_pooling, default_weights)
            if sub is None:
                continue
            if sub.code in seen:
                self.bad(f"{p}.subcriteria[{k}].code", N_("code '{code}' repeats subcriteria[{first}]"),
                         code=sub.code, first=seen[sub.code])
                continue
            seen[sub.code] = k
            subs.append(sub)
        survey_max = sum(s.max_points for s in subs)
        if "survey_points" in raw:
            expected = _number(raw["survey_points"])
            if expected is None or expected <= 0:
                self.bad(f"{p}.survey_points", N_("must be a number > 0"))
            elif len(subs) == len(listed) and not math.isclose(survey_max, expected, abs_tol=1e-9):
                self.bad(f"{p}.survey_points", N_("the sub-criteria's points sum to {total}, not {expected}"),
                         total=f"{survey_max:g}", expected=f"{expected:g}")
        appraised_max = 0.0
        if "max_points" in raw:
            total = _number(raw["max_points"])
            if total is None or total <= 0:
                self.bad(f"{p}.max_points", N_("the index's max points must be a number > 0"))
            elif total < survey_max - 1e-9:
                self.bad(f"{p}.max_points", N_("smaller than the survey points ({points})"),
                         points=f"{survey_max:g}")
            else:
                appraised_max = max(0.0, total - survey_max)
        dont_know = raw.get("dont_know_as_zero", False)
        if not isinstance(dont_know, bool):
            self.bad(f"{p}.dont_know_as_zero", N_("must be true or false"))
            dont_know = False
        no_survey = NoSurvey.RESCALE
        if "no_survey" in raw:
            if raw["no_survey"] not in _NO_SURVEY:
                self.bad(f"{p}.no_survey", N_("must be 'rescale' or 'zero'"))
            else:
                no_survey = _NO_SURVEY[raw["no_survey"]]
        bands: list[Band] = []
        labels: dict[str, dict[str, str]] = {}
        raw_bands = raw.get("bands", [])
        if not isinstance(raw_bands, list):
            self.bad(f"{p}.bands", N_("must be a list"))
            raw_bands = []
        for k, entry in enumerate(raw_bands):
            found = self.band(entry, f"{p}.bands[{k}]")
            if found is None:
                continue
            band, names = found
            if band.label in labels:
                self.bad(f"{p}.bands[{k}].label", N_("label '{label}' repeats"), label=band.label)
                continue
            if any(math.isclose(b.min_pct, band.min_pct) for b in bands):
                self.bad(f"{p}.bands[{k}].min_pct", N_("threshold {value} repeats"),
                         value=f"{band.min_pct:g}")
                continue
            labels[band.label] = names
            bands.append(band)
        ci_method, ci_level = CIMethod.NORMAL, 0.95
        if "ci" in raw:
            ci = raw["ci"]
            if not isinstance(ci, Mapping):
                self.bad(f"{p}.ci", N_("must be a mapping {{method, level}}"))
            else:
                self.unknown_keys(ci, _CI_KEYS, f"{p}.ci")
                if "method" in ci:
                    if ci["method"] not in {m.value for m in CIMethod}:
                        self.bad(f"{p}.ci.method", N_("must be normal, t or logit"))
                    else:
                        ci_method = CIMethod(ci["method"])
                if "level" in ci:
                    lv = _number(ci["level"])
                    if lv is None or not 0.5 <= lv < 1:
                        self.bad(f"{p}.ci.level", N_("must be a number in [0.5, 1), e.g. 0.95"))
                    else:
                        ci_level = lv
        if self.problems:
            return None
        config = ScoringConfig(
            sub_criteria=tuple(subs), appraised_max=appraised_max,
            bands=tuple(sorted(bands, key=lambda b: -b.min_pct)),
            dont_know_as_zero=dont_know, no_survey=no_survey, ci=ci_method, level=ci_level)
        return CampaignScoring(config, labels)


def parse_scoring(raw: Any, questionnaires: Sequence[Questionnaire]) -> CampaignScoring:
    """Check a ``scoring:`` section against the campaign's questionnaires.

    Raises :class:`ScoringConfigError` listing every located problem.
    """
    parser = _Parser(questionnaires)
    result = parser.parse(raw)
    if result is None:
        raise ScoringConfigError(parser.problems)
    return result




def scoring_section_problems(raw: Any, questionnaires: Sequence[Questionnaire]) -> list[tuple[str, Text]]:
    """Problems of a ``scoring:`` section as ``(path inside the section, rule)``, for the loader."""
    parser = _Parser(questionnaires)
    parser.parse(raw)
    return [(p.path.removeprefix("scoring").lstrip("."), p.rule) for p in parser.problems]
