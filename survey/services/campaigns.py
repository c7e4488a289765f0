"""Campaigns from configuration files: units, groups and quota cells in one transaction.

The YAML is validated by :func:`sampling.load_campaign`; a stored campaign can be turned back
into a :class:`sampling.Campaign` (:func:`build_sampling_campaign`) for list cleaning and the
list template.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

import sampling
from analysis.integrity import config_problems
from analysis.scoring_config import scoring_section_problems
from questionnaires import load_builtin
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from questionnaires.problems import ProblemError, Text
from survey import db
from survey.models import Campaign, QuestionnaireVersion, RespondentGroup, Unit
from survey.models.quota import QuotaCell
from survey.services.audit import record_refusal
from survey.services.questionnaires import publish_builtin_questionnaires
from survey.services.quotas import assign_cells, recount_cells
from survey.services.yoy import continuation_record

CellKey = tuple[int, int, int, int | None]  # group, questionnaire version, rated, source unit


class CampaignNotFound(ProblemError, LookupError):
    """No campaign has the given code (``campaign_code``)."""

    def __init__(self, code: str) -> None:
        self.campaign_code = code
        super().__init__("CAMPAIGN-UNKNOWN", code=code)


class CampaignOutOfScope(CampaignNotFound):
    """The campaign exists but lies outside the actor's provinces (or the file would move it to
    another province): refused exactly as a campaign that does not exist."""


class ProvinceNotAllowed(ProblemError, ValueError):
    """A new campaign's file names a province outside the actor's."""

    def __init__(self, province: str) -> None:
        super().__init__("CAMPAIGN-PROVINCE", province=province)


def find_campaign(code: str, provinces: Collection[str] | None = None) -> Campaign:
    """The stored campaign with this code, within ``provinces`` when given.

    This is the one scope rule every path that takes a campaign code from user input goes
    through (pages via :func:`survey.manage.access.campaign_in_scope`, uploads, CLI commands
    run as a staff account): :class:`CampaignNotFound` if there is none, or if it lies outside
    ``provinces`` (no hint that it exists). ``provinces=None`` is the operator at the shell.
    """
    stmt = select(Campaign).filter_by(code=code)
    if provinces is not None:
        stmt = stmt.where(Campaign.province_code.in_(tuple(provinces)))
    row = db.session().scalar(stmt)
    if row is None:
        raise CampaignNotFound(code)
    return row


def check_campaign_target(config: sampling.Campaign, provinces: Collection[str] | None,
                          source: str) -> None:
    """Refuse a campaign file that is not the actor's to write; nothing is written.

    A new code needs the file's province among ``provinces`` (else
    :class:`ProvinceNotAllowed`). An existing code is an update
    only when the stored campaign is in ``provinces`` and the file names the same province:
    a campaign's province never changes. A refusal over an existing campaign is audited under
    that campaign's province (its owners see the attempt) and raised as
    :class:`CampaignOutOfScope`, which callers answer as they answer an unknown campaign.
    """
    stored = db.session().execute(select(Campaign.id, Campaign.province_code)
                                  .filter_by(code=config.code)).first()
    if stored is None:
        if provinces is not None and config.province not in provinces:
            raise ProvinceNotAllowed(config.province)
        return
    if config.province == stored.province_code and (provinces is None
                                                     or stored.province_code in provinces):
        return
    with db.write_transaction():
        record_refusal("campaign.refused", province_code=stored.province_code,
                     object_type="campaign", object_id=config.code,
                     detail={"file": source, "file_province": config.province})
    raise CampaignOutOfScope(config.code)


def create_campaign_from_config(path: str | Path,
                                provinces: Collection[str] | None = None) -> Campaign:
    """Create or update the campaign a YAML file describes; idempotent.

    The file is validated first (:class:`sampling.CampaignInvalid` carries every located
    problem, rendered at the edge in the reader's language) so a bad file writes nothing. Built-in questionnaires
    are then published (immutable rows, idempotent), and the campaign, its units, groups and
    expanded quota cells are written in one transaction. A census cell keeps the target an
    imported list gave it. ``provinces`` limits what may be written
    (:func:`check_campaign_target`); None is the operator at the shell.
    """
    return save_campaign_config(load_campaign_config(path), provinces, Path(path).name)


def load_campaign_config(path: str | Path) -> sampling.Campaign:
    """Parse and validate a campaign YAML against the built-in questionnaires; writes nothing."""
    config = sampling.load_campaign(path, known_questionnaires={q.id for q in load_builtin()},
                                    integrity_validator=_integrity_problems,
                                    scoring_validator=_scoring_problems)
    continuation_record(config)  # predecessors loaded, crosswalk valid (located errors)
    return config


def _scoring_problems(raw: Any, by_group: Mapping[str, Sequence[str]]) -> list[tuple[str, Text]]:
    # The built-in versions the groups' questionnaire ids publish: the items scores will read.
    ids = {q for qs in by_group.values() for q in qs}
    return scoring_section_problems(raw, [q for q in load_builtin() if q.id in ids])


def _integrity_problems(raw: Any) -> list[tuple[str, Text]]:
    return [(p.path, p.rule) for p in config_problems(raw)]


def save_campaign_config(config: sampling.Campaign, provinces: Collection[str] | None = None,
                         source: str = "") -> Campaign:
    """Store an already validated campaign config (see :func:`create_campaign_from_config`)."""
    check_campaign_target(config, provinces, source or config.file)
    versions = publish_builtin_questionnaires()
    with db.write_transaction() as s:
        campaign = _store_campaign(s, config)
        units = _store_units(s, campaign, config.units)
        groups = _store_groups(s, campaign, config)
        _store_cells(s, campaign, config.quota_plan(), units, groups,
                     {qid: v.id for qid, v in versions.items()})
        s.flush()
        # Cells or the unit tree may have changed under forms made before: each assignment's
        # cell is worked out again and the cells counted (nothing to do for a new campaign).
        assign_cells(s, campaign.id)
        recount_cells(s, campaign.id)
    return campaign


def _assign(row: Any, values: Mapping[str, Any]) -> None:
    # Set only what differs, so a re-run leaves rows (and their history) untouched.
    for name, value in values.items():
        if getattr(row, name) != value:
            setattr(row, name, value)


def _store_campaign(s: Session, config: sampling.Campaign) -> Campaign:
    values = {"name_vi": config.name_vi, "name_en": config.name_en,
              "province_code": config.province, "year": config.year,
              "opens_at": config.opens_at, "closes_at": config.closes_at,
              "scoring": dict(config.scoring) if config.scoring is not None else None,
              "integrity": dict(config.integrity) if config.integrity is not None else None,
              "continues": continuation_record(config),
              "design": config.design.to_json() if config.design_raw is not None else None,
              "duplicates_in_group": config.duplicates_in_group}
    campaign = s.scalar(select(Campaign).filter_by(code=config.code))
    if campaign is not None and campaign.province_code != config.province:
        # created meanwhile by someone else: the check above saw no row
        raise CampaignOutOfScope(config.code)
    if campaign is None:
        campaign = Campaign(code=config.code, **values)
        s.add(campaign)
        s.flush()
    else:
        _assign(campaign, values)
    return campaign


def _store_units(s: Session, campaign: Campaign, tree: sampling.UnitTree) -> dict[str, Unit]:
    rows = {u.code: u for u in s.scalars(select(Unit).filter_by(campaign_id=campaign.id))}
    for unit in tree:
        values = {"name_vi": unit.name_vi, "name_en": unit.name_en, "level": unit.level}
        if unit.code in rows:
            _assign(rows[unit.code], values)
        else:
            rows[unit.code] = Unit(campaign_id=campaign.id, code=unit.code, **values)
            s.add(rows[unit.code])
    s.flush()  # parents need ids; a units file need not list parents first
    for unit in tree:
        _assign(rows[unit.code], {"parent_id": None if unit.parent is None
                                  else rows[unit.parent].id})
    return rows


def _store_groups(s: Session, campaign: Campaign, config: sampling.Campaign
                  ) -> dict[str, RespondentGroup]:
    rows = {g.code: g for g in s.scalars(select(RespondentGroup)
                                         .filter_by(campaign_id=campaign.id))}
    rank = {code: i for i, code in enumerate(config.duplicate_priority, start=1)}
    for group in config.groups:
        values = {"name_vi": group.name_vi, "name_en": group.name_en,
                  "priority": rank.get(group.code, len(rank) + 1)}
        if group.code in rows:
            _assign(rows[group.code], values)
        else:
            rows[group.code] = RespondentGroup(campaign_id=campaign.id, code=group.code,
                                               **values)
            s.add(rows[group.code])
    s.flush()
    return rows


def _store_cells(s: Session, campaign: Campaign, plan: sampling.QuotaPlan,
                 units: Mapping[str, Unit], groups: Mapping[str, RespondentGroup],
                 versions: Mapping[str, int]) -> None:
    rules = {r.id: r for r in plan.rules}
    existing: dict[CellKey, QuotaCell] = {
        (c.group_id, c.questionnaire_version_id, c.rated_unit_id, c.source_unit_id): c
        for c in s.scalars(select(QuotaCell).filter_by(campaign_id=campaign.id))}
    wanted: set[CellKey] = set()
    for cell in plan.cells:
        rule = rules[cell.rule]
        key = (groups[cell.group].id, versions[cell.questionnaire], units[cell.rated_unit].id,
               None if cell.source_unit is None else units[cell.source_unit].id)
        wanted.add(key)
        values: dict[str, Any] = {
            "close_when_full": cell.close_when_full, "census": cell.census, "rate": rule.rate,
            "rule": cell.rule, "label_vi": rule.label_vi or None, "label_en": rule.label_en or None}
        row = existing.get(key)
        if row is None:
            s.add(QuotaCell(campaign_id=campaign.id, group_id=key[0],
                            questionnaire_version_id=key[1], rated_unit_id=key[2],
                            source_unit_id=key[3], target=cell.target, **values))
        else:
            if not cell.census:
                values["target"] = cell.target
            _assign(row, values)
    stale = [row.id for key, row in existing.items() if key not in wanted]
    if stale:
        # Assignments pointing at them are let go (SET NULL), then assigned again above.
        s.execute(delete(QuotaCell).where(QuotaCell.id.in_(stale)))


def build_sampling_campaign(campaign: Campaign) -> sampling.Campaign:
    """The stored campaign as a :class:`sampling.Campaign`, for cleaning lists and templates.

    The database keeps units, groups, priorities and cells, not the YAML: level names are
    their codes, and groups carry no ``unit_levels`` (the respondent import checks a
    member's unit against the group's quota cells instead).
    """
    s = db.session()
    unit_rows = s.scalars(select(Unit).filter_by(campaign_id=campaign.id).order_by(Unit.id)).all()
    code_of = {u.id: u.code for u in unit_rows}
    level_of = {u.id: u.level for u in unit_rows}
    parent_level: dict[str, str | None] = {}
    for u in unit_rows:
        parent_level.setdefault(u.level, None if u.parent_id is None
                                else level_of[u.parent_id])
    levels = [sampling.Level(code, code, code, parent) for code, parent in parent_level.items()]
    units = [sampling.Unit(u.code, u.name_vi, u.name_en or u.name_vi, u.level,
                           None if u.parent_id is None else code_of[u.parent_id])
             for u in unit_rows]
    group_rows = s.scalars(select(RespondentGroup).filter_by(campaign_id=campaign.id)
                           .order_by(RespondentGroup.priority, RespondentGroup.id)).all()
    qids: dict[int, list[str]] = {g.id: [] for g in group_rows}
    for group_id, qid in s.execute(
            select(QuotaCell.group_id, QuestionnaireVersion.qid).distinct()
            .join(QuestionnaireVersion)
            .where(QuotaCell.campaign_id == campaign.id)
            .order_by(QuotaCell.group_id, QuestionnaireVersion.qid)):
        qids[group_id].append(qid)
    groups = tuple(sampling.RespondentGroup(g.code, g.name_vi, g.name_en or g.name_vi,
                                            tuple(qids[g.id])) for g in group_rows)
    return sampling.Campaign(
        file=campaign.code, code=campaign.code, name_vi=campaign.name_vi,
        name_en=campaign.name_en or campaign.name_vi, province=campaign.province_code,
        year=campaign.year, opens_at=campaign.opens_at, closes_at=campaign.closes_at,
        timezone="UTC", units=sampling.UnitTree(levels, units), groups=groups,
        quota_rules=(), duplicate_priority=tuple(g.code for g in groups),
        duplicates_in_group=campaign.duplicates_in_group)
