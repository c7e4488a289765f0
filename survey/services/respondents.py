"""Respondent lists: import a province's list and create each person's forms from the quotas.

All or nothing: :func:`import_respondents` either writes the whole cleaned list in one
transaction or raises :class:`ListRejected` with every located error (row, column, what is
wrong and how to fix it, in Vietnamese and English). Re-importing the same file changes
nothing; an updated list updates people matched by external id, else by email.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sampling
from questionnaires import RatingLayout
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from survey import db
from survey.models import (
    Assignment,
    Campaign,
    Form,
    FormStatus,
    QuestionnaireVersion,
    Respondent,
    RespondentGroup,
    Unit,
)
from survey.models.quota import QuotaCell
from survey.services.campaigns import build_sampling_campaign, find_campaign
from survey.services.questionnaires import questionnaire_for
from survey.services.quotas import cells_for_member, invitations_by_cell


class ListRejected(Exception):
    """A list refused as a whole; ``errors`` are :class:`sampling.ListError` (the first
    ``ListPolicy.max_errors``), ``error_count`` counts them all."""

    def __init__(self, file: str, errors: tuple[sampling.ListError, ...],
                 error_count: int) -> None:
        self.file = file
        self.errors = errors
        self.error_count = error_count
        super().__init__(f"{file}: {error_count} error(s); nothing imported")


@dataclass(frozen=True)
class ImportReport:
    """What an import did."""

    file: str
    created: int
    updated: int
    unchanged: int
    forms_created: int
    assignments_created: int
    forms_removed: int
    merges: tuple[sampling.MergeReport, ...]


_FIELDS = ("full_name", "group_id", "unit_id", "external_id", "email", "phone", "position")


def import_respondents(campaign_code: str, path: str | Path) -> ImportReport:
    """Import a respondent list (CSV or XLSX) into a campaign and create their forms.

    A member of group G whose own unit is U gets forms for G's quota cells whose source unit
    is U, or whose rated unit is U for "rate their own" rules (see
    :func:`survey.services.quotas.cells_for_member`); a ``rated_units`` column narrows that
    to the units it names. A matrix-layout questionnaire is one form with an assignment
    per rated unit; any other is one form per rated unit. Forms a changed row no longer
    needs are removed while still unstarted. Census cells take the invited count as target.
    """
    path = Path(path)
    campaign = find_campaign(campaign_code)
    outcome = sampling.clean_respondent_list(path, build_sampling_campaign(campaign))
    if isinstance(outcome, sampling.RejectedList):
        raise ListRejected(outcome.file, outcome.errors, outcome.error_count)

    s = db.session()
    units = {u.code: u for u in s.scalars(select(Unit).filter_by(campaign_id=campaign.id))}
    groups = {g.code: g for g in s.scalars(select(RespondentGroup)
                                           .filter_by(campaign_id=campaign.id))}
    cells = s.scalars(select(QuotaCell).filter_by(campaign_id=campaign.id)).all()
    parents = {u.id: u.parent_id for u in units.values()}
    plan = _plan_forms(outcome, cells, units, groups, parents)

    with db.write_transaction() as s:
        counts = _write(s, campaign, outcome, plan, units, groups)
        _resolve_census(s, campaign, cells, parents)
    return ImportReport(outcome.file, *counts, merges=outcome.merges)


# (questionnaire version id, rated unit ids) per respondent row number
Plan = dict[int, list[tuple[int, tuple[int, ...]]]]


def _plan_forms(clean: sampling.CleanList, cells: list[QuotaCell], units: dict[str, Unit],
                groups: dict[str, RespondentGroup], parents: dict[int, int | None]) -> Plan:
    """The forms each row needs; a member whose unit no cell of the group takes is an error."""
    cells_of: dict[int, list[QuotaCell]] = defaultdict(list)
    for c in cells:
        cells_of[c.group_id].append(c)
    versions = {v.id: v for v in db.session().scalars(
        select(QuestionnaireVersion).where(
            QuestionnaireVersion.id.in_({c.questionnaire_version_id for c in cells})))}
    matrix = {vid for vid, v in versions.items()
              if questionnaire_for(v).rating.layout is RatingLayout.MATRIX}
    level_of = {u.id: u.level for u in units.values()}
    errors: list[sampling.ListError] = []
    plan: Plan = {}
    for r in clean.respondents:
        group = groups[r.group]
        unit = units[r.unit]
        chosen = cells_for_member(cells_of[group.id], unit.id, parents)
        if r.rated_units:
            named = {units[code].id for code in r.rated_units}
            chosen = [c for c in cells_of[group.id] if c.rated_unit_id in named
                      and (c in chosen or c.source_unit_id is None)]
        if not chosen:
            allowed = sorted({level_of[c.source_unit_id or c.rated_unit_id]
                              for c in cells_of[group.id]})
            errors.append(sampling.ListError.make(
                "LIST-UNIT-LEVEL", clean.file, r.row, "unit", value=r.unit, level=unit.level,
                group=r.group, allowed=", ".join(allowed) or "-"))
            continue
        rated: dict[int, list[int]] = defaultdict(list)
        for c in chosen:
            if c.rated_unit_id not in rated[c.questionnaire_version_id]:
                rated[c.questionnaire_version_id].append(c.rated_unit_id)
        forms: list[tuple[int, tuple[int, ...]]] = []
        for vid, unit_ids in sorted(rated.items()):
            if vid in matrix:
                forms.append((vid, tuple(unit_ids)))
            else:
                forms.extend((vid, (u,)) for u in unit_ids)
        plan[r.row] = forms
    if errors:
        raise ListRejected(clean.file, tuple(errors), len(errors))
    return plan


def _write(s: Session, campaign: Campaign, clean: sampling.CleanList, plan: Plan,
           units: dict[str, Unit], groups: dict[str, RespondentGroup]
           ) -> tuple[int, int, int, int, int, int]:
    people = s.scalars(select(Respondent).filter_by(campaign_id=campaign.id)).all()
    by_external = {p.external_id: p for p in people if p.external_id}
    by_email = {p.email: p for p in people if p.email}
    created = updated = unchanged = 0
    rows: list[tuple[Respondent, int]] = []
    for r in clean.respondents:
        values: dict[str, Any] = {
            "full_name": r.full_name, "group_id": groups[r.group].id,
            "unit_id": units[r.unit].id, "external_id": r.external_id or None,
            "email": r.email, "phone": r.phone, "position": r.position or None}
        person = by_external.get(r.external_id) or (by_email.get(r.email) if r.email else None)
        if person is None:
            person = Respondent(campaign_id=campaign.id, **values)
            s.add(person)
            created += 1
        elif any(getattr(person, k) != values[k] for k in _FIELDS):
            for k in _FIELDS:
                setattr(person, k, values[k])
            updated += 1
        else:
            unchanged += 1
        rows.append((person, r.row))
    s.flush()

    ids = [p.id for p, _ in rows]
    have: dict[int, dict[int, list[tuple[Form, set[int]]]]] = defaultdict(lambda: defaultdict(list))
    forms = s.scalars(select(Form).where(Form.respondent_id.in_(ids))).all() if ids else []
    assigned: dict[int, set[int]] = defaultdict(set)
    if forms:
        for form_id, unit_id in s.execute(select(Assignment.form_id, Assignment.rated_unit_id)
                                          .where(Assignment.form_id.in_([f.id for f in forms]))):
            assigned[form_id].add(unit_id)
    for f in forms:
        assert f.respondent_id is not None
        have[f.respondent_id][f.questionnaire_version_id].append((f, assigned[f.id]))

    forms_created = assignments_created = 0
    keep: set[int] = set()
    for person, row in rows:
        for vid, unit_ids in plan[row]:
            existing = have[person.id][vid]
            match = next((f for f, got in existing if set(unit_ids) <= got
                          or (len(unit_ids) > 1 and got & set(unit_ids))), None)
            if match is None:
                match = Form(campaign_id=campaign.id, respondent_id=person.id,
                             group_id=person.group_id, questionnaire_version_id=vid)
                s.add(match)
                s.flush()
                existing.append((match, set()))
                forms_created += 1
            got = next(g for f, g in existing if f is match)
            for unit_id in unit_ids:
                if unit_id not in got and match.status is not FormStatus.SUBMITTED:
                    s.add(Assignment(form_id=match.id, rated_unit_id=unit_id))
                    got.add(unit_id)
                    assignments_created += 1
            keep.add(match.id)
    # A changed group or unit leaves forms nobody should fill; drop them while untouched.
    stale = [f.id for f in forms if f.id not in keep
             and f.status in (FormStatus.PENDING, FormStatus.OPENED)]
    if stale:
        s.execute(delete(Form).where(Form.id.in_(stale)))
    return created, updated, unchanged, forms_created, assignments_created, len(stale)


def _resolve_census(s: Session, campaign: Campaign, cells: list[QuotaCell],
                    parents: dict[int, int | None]) -> None:
    """A census cell's target is everyone on the list for it: its invitations."""
    census = [c for c in cells if c.census]
    if not census:
        return
    s.flush()
    invited = invitations_by_cell(s, campaign.id, cells, parents)
    for c in census:
        n = invited.get(c.id, (0, 0))[0]
        if c.target != n:
            c.target = n

