"""Pure sampling layer: campaigns, unit hierarchy, quota plans, respondent lists, draws.

No web framework or database imports here; ``survey`` calls these functions.
"""

from sampling.config import Campaign, GroupKind, RespondentGroup, load_campaign, parse_campaign
from sampling.design import DesignSpec, GroupWeighting, Margin, parse_design
from sampling.contacts import name_key, normalize_email, normalize_name, normalize_phone
from sampling.draw import (
    Draw,
    DrawMethod,
    Pick,
    Role,
    draw_per_unit,
    draw_pps_systematic,
    draw_srs,
    draw_systematic,
    pps_inclusion_probabilities,
    proportion_sample_size,
    sipas_sample_size,
)
from sampling.errors import ERROR_CODES, CampaignInvalid, DrawError, config_problem, list_problem
from sampling.lists import (
    CleanList,
    ListPolicy,
    MergeReport,
    RejectedList,
    Respondent,
    clean_respondent_list,
    merge_cross_group_duplicates,
    write_list_template,
)
from sampling.quotas import (
    CellMode,
    ChildSpec,
    QuotaCell,
    QuotaPlan,
    QuotaRule,
    RateMode,
    Total,
    expand_quotas,
    resolve_census,
)
from sampling.units import Level, Unit, UnitTree

__all__ = [
    "ERROR_CODES", "Campaign", "CampaignInvalid", "CellMode", "ChildSpec", "CleanList",
    "Draw", "DrawError", "DrawMethod", "GroupKind", "Level", "ListPolicy", "MergeReport", "Pick",
    "QuotaCell", "QuotaPlan", "QuotaRule", "RateMode",
    "RejectedList", "Respondent", "RespondentGroup", "Role", "Total", "Unit", "UnitTree",
    "clean_respondent_list", "draw_per_unit", "draw_pps_systematic", "draw_srs",
    "draw_systematic", "expand_quotas", "load_campaign", "merge_cross_group_duplicates",
    "name_key", "normalize_email", "normalize_name", "normalize_phone", "parse_campaign",
    "pps_inclusion_probabilities", "proportion_sample_size", "resolve_census",
    "sipas_sample_size", "write_list_template",
    "DesignSpec", "GroupWeighting", "Margin", "parse_design", "config_problem", "list_problem",
]
