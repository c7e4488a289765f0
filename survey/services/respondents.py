"""Respondent lists: import a province's list and create each person's forms from the quotas.

All or nothing: :func:`import_respondents` either writes the whole cleaned list in one
transaction or raises :class:`ListRejected` with every located error (row, column, what is
wrong and how to fix it, in Vietnamese and English). Re-importing the same file changes
nothing; an updated list updates people matched by external id, else by email.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sampling
from questionnaires import Problem, RatingLayout
from sqlalchemy import Integer, any_, case, delete, func, literal, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from survey import db
from survey.models import (
    Assignment,
    Campaign,
    Form,
    FormStatus,
    Mode,
    QuestionnaireVersion,
    Respondent,
    RespondentGroup,
    Unit,
    utcnow,
)
from survey.models.quota import QuotaCell
from survey.services.campaigns import build_sampling_campaign, find_campaign
from survey.services.questionnaires import questionnaire_for
from survey.services.quotas import CellFinder, assign_cells, cells_for_member, recount_cells


class ListRejected(Exception):
    """A list refused as a whole; ``errors`` are located problems (the first
    ``ListPolicy.max_errors``), ``error_count`` counts them all."""

    def __init__(self, file: str, errors: tuple[Problem, ...],
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
        counts, moved = _write(s, campaign, outcome, plan, units, groups,
                               CellFinder(cells, parents))
        if moved:  # their forms kept (begun ones) now count where their new unit does
            assign_cells(s, campaign.id, moved)
        recount_cells(s, campaign.id)
        _resolve_census(s, campaign, cells)
    return ImportReport(outcome.file, *counts, merges=outcome.merges)


# (questionnaire version id, rated unit ids) per respondent row number
Plan = dict[int, list[tuple[int, tuple[int, ...]]]]


def _plan_forms(clean: sampling.CleanList, cells: Sequence[QuotaCell], units: dict[str, Unit],
                groups: dict[str, RespondentGroup], parents: dict[int, int | None]) -> Plan:
    """The forms each row needs; a member whose unit no cell of the group takes is an error.

    The forms depend only on (group, unit, rated units named), so each such combination is
    worked out once, however many rows share it.
    """
    cells_of: dict[int, list[QuotaCell]] = defaultdict(list)
    for c in cells:
        cells_of[c.group_id].append(c)
    versions = {v.id: v for v in db.session().scalars(
        select(QuestionnaireVersion).where(
            QuestionnaireVersion.id.in_({c.questionnaire_version_id for c in cells})))}
    matrix = {vid for vid, v in versions.items()
              if questionnaire_for(v).rating.layout is RatingLayout.MATRIX}
    level_of = {u.id: u.level for u in units.values()}
    errors: list[Problem] = []
    plan: Plan = {}
    known: dict[tuple[str, str, tuple[str, ...]], list[tuple[int, tuple[int, ...]]] | None] = {}
    for r in clean.respondents:
        combo = (r.group, r.unit, tuple(r.rated_units))
        if combo not in known:
            known[combo] = _forms_for(groups[r.group], units[r.unit], r.rated_units, cells_of,
                                      units, parents, matrix)
        forms = known[combo]
        if forms is None:
            group, unit = groups[r.group], units[r.unit]
            allowed = sorted({level_of[c.source_unit_id or c.rated_unit_id]
                              for c in cells_of[group.id]})
            errors.append(sampling.list_problem(
                "LIST-UNIT-LEVEL", clean.file, r.row, "unit", value=r.unit, level=unit.level,
                group=r.group, allowed=", ".join(allowed) or "-"))
            continue
        plan[r.row] = forms
    if errors:
        raise ListRejected(clean.file, tuple(errors), len(errors))
    return plan


def _forms_for(group: RespondentGroup, unit: Unit, rated_units: tuple[str, ...],
               cells_of: dict[int, list[QuotaCell]], units: dict[str, Unit],
               parents: dict[int, int | None], matrix: set[int]
               ) -> list[tuple[int, tuple[int, ...]]] | None:
    """The forms of one member (None: no cell of the group takes their unit)."""
    chosen = cells_for_member(cells_of[group.id], unit.id, parents)
    if rated_units:
        named = {units[code].id for code in rated_units}
        chosen = [c for c in cells_of[group.id] if c.rated_unit_id in named
                  and (c in chosen or c.source_unit_id is None)]
    if not chosen:
        return None
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
    return forms


# Columns written in bulk; ``id`` first where the import allocates ids itself.
_RESPONDENT_COLUMNS = ("id", "campaign_id", "created_at") + _FIELDS
_FORM_COLUMNS = ("id", "campaign_id", "respondent_id", "group_id", "questionnaire_version_id",
                 "mode", "status", "created_at")
_ASSIGNMENT_COLUMNS = ("form_id", "rated_unit_id", "cell_id")
_CHUNK = 20_000  # rows per statement: each stays far below the statement timeout


class _ExistingForm:
    """A stored (or just planned) form of a respondent and the units it rates."""

    __slots__ = ("id", "status", "units")

    def __init__(self, form_id: int, status: FormStatus, units: set[int]) -> None:
        self.id = form_id
        self.status = status
        self.units = units


def _write(s: Session, campaign: Campaign, clean: sampling.CleanList, plan: Plan,
           units: dict[str, Unit], groups: dict[str, RespondentGroup], finder: CellFinder[Any]
           ) -> tuple[tuple[int, int, int, int, int, int], set[int]]:
    """Write respondents, forms and assignments in bulk (ids allocated up front, rows sent
    with ``executemany`` on SQLite and ``COPY`` on PostgreSQL), no ORM objects per row; each
    new assignment carries its quota cell. Returns the counts, and the people stored before
    whose unit changed."""
    stored = s.execute(select(Respondent.id, *(getattr(Respondent, k) for k in _FIELDS))
                       .where(Respondent.campaign_id == campaign.id)).tuples().all()
    current = {row[0]: row[1:] for row in stored}
    by_external = {row[4]: row[0] for row in stored if row[4]}
    by_email = {row[5]: row[0] for row in stored if row[5]}
    created = updated = unchanged = 0
    moved: set[int] = set()
    new_people: list[tuple[Any, ...]] = []
    changes: list[dict[str, Any]] = []
    rows: list[tuple[int | None, int, int]] = []  # (person id or None if new, row, group id)
    for r in clean.respondents:
        values = (r.full_name, groups[r.group].id, units[r.unit].id, r.external_id or None,
                  r.email, r.phone, r.position or None)
        person = by_external.get(r.external_id) or (by_email.get(r.email) if r.email else None)
        if person is None:
            new_people.append(values)
            rows.append((None, r.row, values[1]))
            created += 1
            continue
        if current[person] != values:
            if current[person][2] != values[2]:
                moved.add(person)
            changes.append({"id": person, **dict(zip(_FIELDS, values, strict=True))})
            current[person] = values
            updated += 1
        else:
            unchanged += 1
        rows.append((person, r.row, values[1]))

    now = _db_value(Respondent, "created_at", utcnow(), s)
    people_ids = iter(_reserve_ids(s, Respondent, len(new_people)))
    person_rows = [(next(people_ids), campaign.id, now) + v for v in new_people]
    new_ids = iter(row[0] for row in person_rows)
    placed: list[tuple[int, int, int]] = [(p if p is not None else next(new_ids), row, g)
                                          for p, row, g in rows]
    if changes:
        s.execute(update(Respondent), changes)

    # Forms of the people on the list (new people have none yet).
    have: dict[int, dict[int, list[_ExistingForm]]] = defaultdict(lambda: defaultdict(list))
    matched = {p for p, _, _ in placed if p in current}
    old_forms: dict[int, _ExistingForm] = {}
    if matched:
        for form_id, person, vid, status, unit_id in s.execute(
                select(Form.id, Form.respondent_id, Form.questionnaire_version_id, Form.status,
                       Assignment.rated_unit_id)
                .outerjoin(Assignment, Assignment.form_id == Form.id)
                .where(Form.campaign_id == campaign.id, Form.respondent_id.is_not(None))
                .order_by(Form.id)).tuples():
            if person is None or person not in matched:
                continue
            form = old_forms.get(form_id)
            if form is None:
                form = old_forms[form_id] = _ExistingForm(form_id, status, set())
                have[person][vid].append(form)
            if unit_id is not None:
                form.units.add(unit_id)

    # The cell of an assignment by (group, questionnaire, rated unit, member's unit).
    unit_of = {r.row: units[r.unit].id for r in clean.respondents}
    cell_ids: dict[tuple[int, int, int, int], int | None] = {}

    def cell_of(group_id: int, vid: int, rated_id: int, unit_id: int) -> int | None:
        key = (group_id, vid, rated_id, unit_id)
        if key not in cell_ids:
            cell = finder.find(*key)
            cell_ids[key] = None if cell is None else cell.id
        return cell_ids[key]

    # People stored before: their forms are matched to the plan (few on a first import).
    new_forms: list[tuple[int, int, int]] = []  # (respondent, group, questionnaire version)
    # (form, rated unit, cell)
    new_assignments: list[tuple[_ExistingForm, int, int | None]] = []
    keep: set[int] = set()
    fresh: list[tuple[int, int, int]] = []
    for person, row, group_id in placed:
        if person not in matched:
            fresh.append((person, row, group_id))
            continue
        for vid, unit_ids in plan[row]:
            existing = have[person][vid]
            wanted = set(unit_ids)
            match = next((f for f in existing if wanted <= f.units
                          or (len(unit_ids) > 1 and f.units & wanted)), None)
            if match is None:
                # placeholder id -n for the n-th form made here, until ids are allocated
                match = _ExistingForm(-len(new_forms) - 1, FormStatus.PENDING, set())
                new_forms.append((person, group_id, vid))
                existing.append(match)
            for unit_id in unit_ids:
                if unit_id not in match.units and match.status is not FormStatus.SUBMITTED:
                    new_assignments.append((match, unit_id,
                                            cell_of(group_id, vid, unit_id, unit_of[row])))
                    match.units.add(unit_id)
            keep.add(match.id)

    form_ids = _reserve_ids(s, Form, len(new_forms)
                            + sum(len(plan[row]) for _, row, _ in fresh))
    mode, status = _db_value(Form, "mode", Mode.WEB, s), _db_value(Form, "status",
                                                                    FormStatus.PENDING, s)
    form_rows = [(fid, campaign.id, person, group_id, vid, mode, status, now)
                 for fid, (person, group_id, vid) in zip(form_ids, new_forms)]
    assignment_rows = [(form.id if form.id > 0 else form_ids[-form.id - 1], unit_id, cell)
                       for form, unit_id, cell in new_assignments]
    # Someone new has no forms, and one row's plan never names a unit twice for a
    # questionnaire, so each planned form is new: no search, rows made straight away.
    next_form = len(new_forms)
    for person, row, group_id in fresh:
        for vid, unit_ids in plan[row]:
            form_id = form_ids[next_form]
            next_form += 1
            form_rows.append((form_id, campaign.id, person, group_id, vid, mode, status, now))
            for unit_id in unit_ids:
                assignment_rows.append((form_id, unit_id,
                                        cell_of(group_id, vid, unit_id, unit_of[row])))
    refs = _References(
        campaign.id,
        groups={r[4] for r in person_rows} | {r[3] for r in form_rows},
        units={r[5] for r in person_rows} | {r[1] for r in assignment_rows},
        versions={r[4] for r in form_rows},
        respondents={person for person, _, _ in new_forms},
        forms={form.id for form, _, _ in new_assignments if form.id > 0},
        cells={r[2] for r in assignment_rows if r[2] is not None})
    _insert_bulk(s, refs, ((Respondent, _RESPONDENT_COLUMNS, person_rows),
                           (Form, _FORM_COLUMNS, form_rows),
                           (Assignment, _ASSIGNMENT_COLUMNS, assignment_rows)))

    # A changed group or unit leaves forms nobody should fill; drop them while untouched.
    stale = [f.id for f in old_forms.values() if f.id not in keep
             and f.status in (FormStatus.PENDING, FormStatus.OPENED)]
    for i in range(0, len(stale), _CHUNK):
        s.execute(delete(Form).where(Form.id.in_(stale[i:i + _CHUNK])))
    return (created, updated, unchanged, len(form_rows), len(assignment_rows), len(stale)), moved


def _reserve_ids(s: Session, model: type[Any], n: int) -> Sequence[int]:
    """``n`` fresh primary keys for ``model``'s table, inside the current write transaction.

    PostgreSQL: drawn from the table's sequence (safe beside concurrent inserts); the values
    come back as one range when no one else drew in between (the usual case: nothing to
    send), else as the list. SQLite: after the largest id; ``BEGIN IMMEDIATE`` holds the only
    write lock until commit.
    """
    if n == 0:
        return []
    table = model.__table__
    if s.get_bind().dialect.name == "postgresql":
        # The sequence's name first: as an argument of nextval() it is looked up per row.
        sequence = s.scalar(select(func.pg_get_serial_sequence(table.name, "id")))
        drawn = (select(func.nextval(sequence).label("v"))
                 .select_from(func.generate_series(1, n)).subquery("drawn"))
        low, high, count = (func.min(drawn.c.v), func.max(drawn.c.v), func.count())
        row = s.execute(select(low, high, case((high - low + 1 == count, None),
                                               else_=func.array_agg(drawn.c.v)))).one()
        return range(row[0], row[1] + 1) if row[2] is None else sorted(row[2])
    start = (s.scalar(select(func.max(table.c.id))) or 0) + 1
    return range(start, start + n)


def _db_value(model: type[Any], column: str, value: Any, s: Session) -> Any:
    """``value`` as the column's type sends it to the database (enum names, SQLite dates)."""
    dialect = s.get_bind().dialect
    process = model.__table__.c[column].type.dialect_impl(dialect).bind_processor(dialect)
    return process(value) if process else value


@dataclass(frozen=True)
class _References:
    """What the rows written in bulk point to, besides each other: the campaign, its groups
    and units, questionnaire versions, respondents and forms stored before, and quota cells."""

    campaign: int
    groups: set[int]
    units: set[int]
    versions: set[int]
    respondents: set[int]
    forms: set[int]
    cells: set[int]


# The foreign keys of the tables written in bulk, by column: what _lock_references stands in
# for. A table with any other foreign key is written with its triggers on.
_BULK_FOREIGN_KEYS = {
    "respondents": {"campaign_id": "campaigns", "group_id": "respondent_groups",
                    "unit_id": "units"},
    "forms": {"campaign_id": "campaigns", "respondent_id": "respondents",
              "group_id": "respondent_groups",
              "questionnaire_version_id": "questionnaire_versions"},
    "assignments": {"form_id": "forms", "rated_unit_id": "units", "cell_id": "quota_cells"},
}

Batch = tuple[type[Any], tuple[str, ...], list[tuple[Any, ...]]]


def _insert_bulk(s: Session, refs: _References, batches: Iterable[Batch]) -> None:
    """Insert the batches in order (see :func:`_insert_rows`).

    On PostgreSQL, foreign keys are checked by row triggers: one lookup and row lock per key
    per row, some 2.5 million for a list of 100,000 people, about three quarters of the
    import. When the connection may (a superuser, or ``GRANT SET ON PARAMETER
    session_replication_role``) and the tables carry no trigger but those checks, the rows
    are copied with triggers off for these statements only (``SET LOCAL
    session_replication_role = replica``, as ``pg_restore --disable-triggers`` does) and
    the checks are made once per referenced row instead: every campaign, group, unit,
    questionnaire version, respondent and form the rows point to is locked ``FOR KEY
    SHARE``, exactly as the triggers lock them, and must be there. Anything missing, or any
    doubt, and the rows go in with their triggers, which then raise as usual. Triggers are
    back on before anything is updated or deleted (cascades are triggers too).
    """
    batches = [b for b in batches if b[2]]
    if not batches:
        return
    fast = (s.get_bind().dialect.name == "postgresql" and _may_skip_row_triggers(s)
            and _lock_references(s, refs))
    if fast:
        s.execute(text("SET LOCAL session_replication_role = replica"))
    for model, columns, rows in batches:
        _insert_rows(s, model, columns, rows)
    # (On an error the transaction rolls back, which ends SET LOCAL as well.)
    if fast:
        s.execute(text("SET LOCAL session_replication_role = origin"))


def _may_skip_row_triggers(s: Session) -> bool:
    """Whether this PostgreSQL connection may copy into the bulk tables without triggers:
    allowed to set ``session_replication_role``, and no trigger on those tables but the
    foreign-key checks :func:`_lock_references` replaces."""
    conn = s.connection()
    if conn.scalar(text("SELECT current_setting('is_superuser')")) != "on":
        if (conn.dialect.server_version_info or (0,)) < (15,) or not conn.scalar(text(
                "SELECT has_parameter_privilege('session_replication_role', 'SET')")):
            return False
    tables = list(_BULK_FOREIGN_KEYS)
    # Every trigger that fires on INSERT into these tables (RI_FKey_check_ins is a foreign
    # key's check; the other RI_FKey_* functions act for the referenced side, on its
    # UPDATE and DELETE only), and every foreign key with the table it points to.
    inserts = conn.execute(text(
        "SELECT p.proname FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid "
        "WHERE t.tgrelid = ANY(CAST(:tables AS regclass[])) "
        "AND (t.tgtype & 4) <> 0"), {"tables": tables}).scalars().all()
    if any(name != "RI_FKey_check_ins" for name in inserts):
        return False
    keys = conn.execute(text(
        "SELECT c.conrelid::regclass::text, a.attname, c.confrelid::regclass::text "
        "FROM pg_constraint c JOIN pg_attribute a "
        "ON a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey) "
        "WHERE c.contype = 'f' AND c.conrelid = ANY(CAST(:tables AS regclass[]))"),
        {"tables": tables}).tuples().all()
    found: dict[str, dict[str, str]] = defaultdict(dict)
    for table, column, target in keys:
        found[table][column] = target
    return dict(found) == _BULK_FOREIGN_KEYS and len(keys) == len(inserts)


def _lock_references(s: Session, refs: _References) -> bool:
    """Lock every row the bulk rows point to ``FOR KEY SHARE`` (what each row's foreign-key
    trigger would do); whether all of them are there."""
    wanted: list[tuple[type[Any], set[int]]] = [
        (Campaign, {refs.campaign}), (RespondentGroup, refs.groups), (Unit, refs.units),
        (QuestionnaireVersion, refs.versions), (Respondent, refs.respondents),
        (Form, refs.forms), (QuotaCell, refs.cells)]
    for model, ids in wanted:
        if not ids:
            continue
        found = s.scalars(
            select(model.id).where(model.id == any_(literal(sorted(ids), ARRAY(Integer))))
            .order_by(model.id).with_for_update(read=True, key_share=True)).all()
        if len(found) != len(ids):
            return False
    return True


def _insert_rows(s: Session, model: type[Any], columns: tuple[str, ...],
                 rows: list[tuple[Any, ...]]) -> None:
    """Insert tuples of database-ready values (see :func:`_db_value`) in chunks through the
    driver: ``COPY`` on PostgreSQL, ``executemany`` elsewhere."""
    if not rows:
        return
    table = model.__table__
    dialect = s.get_bind().dialect
    raw = s.connection().connection.dbapi_connection
    assert raw is not None
    names = ", ".join(columns)
    cursor = raw.cursor()
    try:
        for i in range(0, len(rows), _CHUNK):
            chunk = rows[i:i + _CHUNK]
            if dialect.name == "postgresql":
                with cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
                    for row in chunk:
                        copy.write_row(row)
            else:
                marks = ", ".join("?" * len(columns))
                cursor.executemany(f"INSERT INTO {table.name} ({names}) VALUES ({marks})",
                                   chunk)
    finally:
        cursor.close()


def _resolve_census(s: Session, campaign: Campaign, cells: Sequence[QuotaCell]) -> None:
    """A census cell's target is everyone on the list for it: its invitations (as
    :func:`recount_cells` just counted them)."""
    census = [c for c in cells if c.census]
    if not census:
        return
    invited = dict(s.execute(select(QuotaCell.id, QuotaCell.invited)
                             .where(QuotaCell.id.in_([c.id for c in census]))).tuples().all())
    for c in census:
        n = invited.get(c.id, 0)
        if c.target != n:
            c.target = n

