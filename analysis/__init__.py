"""Pure statistics for the PAR-index survey: designs, estimators, weighting, scoring.

Numbers are pinned to R's ``survey`` package (Lumley) in ``tests/analysis``.
Nothing here imports the web layer, a database or form libraries.
"""

from .design import PostStratification, RakeReport, Raking, SurveyDesign
from .estimators import CIMethod, Estimate, mean, proportion, ratio, total
from .scoring import (
    Band,
    NoSurvey,
    Pooling,
    ScoringConfig,
    SipasConfig,
    SipasElement,
    SipasResult,
    SubCriterion,
    SubCriterionScore,
    UnitIndex,
    UnitSurveyScore,
    compile_index,
    score_survey,
    sipas,
    survey_estimates,
)
from .weighting import (
    WeightsSummary,
    design_weights,
    nh_weights,
    poststratify,
    rake,
    trim_weights,
    weights_summary,
)

__all__ = [
    "Band",
    "CIMethod",
    "Estimate",
    "NoSurvey",
    "Pooling",
    "PostStratification",
    "RakeReport",
    "Raking",
    "ScoringConfig",
    "SipasConfig",
    "SipasElement",
    "SipasResult",
    "SubCriterion",
    "SubCriterionScore",
    "SurveyDesign",
    "UnitIndex",
    "UnitSurveyScore",
    "WeightsSummary",
    "compile_index",
    "design_weights",
    "mean",
    "nh_weights",
    "poststratify",
    "proportion",
    "rake",
    "ratio",
    "score_survey",
    "survey_estimates",
    "sipas",
    "total",
    "trim_weights",
    "weights_summary",
]
