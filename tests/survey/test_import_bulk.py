"""The bulk write of a respondent list: on PostgreSQL, rows are copied with their foreign-key
triggers off and the same checks made once per referenced row; the result must be the same
as with the triggers on, all or nothing, and the fast path must refuse when in doubt."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select, text

import survey.services.respondents as respondents
from survey import db
from survey.models import Assignment, Form, Respondent, Unit
from survey.services.campaigns import create_campaign_from_config
from survey.services.respondents import import_respondents

ROOT = Path(__file__).resolve().parents[2]
TRAVINH = ROOT / "examples" / "campaigns" / "travinh-2023.yaml"

ROWS = [
    "external_id,full_name,group,unit,position,email,phone",
    "TV-0001,Nguyễn Thị Hoà,dept_division_leader,S-NOIVU,Phó Trưởng phòng,hoa@travinh.gov.vn,",
    "TV-0002,Trần Văn Bình,district_division_leader,H-CANGLONG,Trưởng phòng,,0912345678",
    "TV-0003,Lê Thị Cúc,citizen,S-TUPHAP,,,0987654321",
    "TV-0004,Phạm Văn Dũng,commune_leader,H-CAUKE,Chủ tịch,dung@example.vn,",
]


def _listing(tmp_path: Path, rows: list[str], name: str = "list.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def _snapshot() -> dict[str, list[tuple[object, ...]]]:
    """Everything the import wrote, without ids (they come from sequences)."""
    s = db.session()
    people = s.execute(select(Respondent.external_id, Respondent.full_name, Respondent.email,
                              Respondent.phone, Unit.code)
                       .join(Unit, Unit.id == Respondent.unit_id)
                       .order_by(Respondent.external_id)).tuples().all()
    forms = s.execute(select(Respondent.external_id, Form.questionnaire_version_id, Form.mode,
                             Form.status, Unit.code)
                      .join(Respondent, Respondent.id == Form.respondent_id)
                      .join(Assignment, Assignment.form_id == Form.id)
                      .join(Unit, Unit.id == Assignment.rated_unit_id)
                      .order_by(Respondent.external_id, Unit.code)).tuples().all()
    return {"people": list(people), "forms": list(forms)}


def _is_postgresql(app) -> bool:
    return app.extensions["db_engine"].dialect.name == "postgresql"


def test_bulk_and_trigger_checked_writes_store_the_same(app, tmp_path, monkeypatch):
    listing = _listing(tmp_path, ROWS)
    locked: list[bool] = []
    lock_references = respondents._lock_references

    def spy(s, refs):
        locked.append(lock_references(s, refs))
        return locked[-1]

    monkeypatch.setattr(respondents, "_lock_references", spy)
    with app.app_context():
        campaign = create_campaign_from_config(TRAVINH)
        first = import_respondents("TVH-2023", listing)
        fast = _snapshot()
        # (the district division leader's 18 departments are one matrix form)
        assert (first.created, first.forms_created, first.assignments_created) == (4, 5, 22)
        if _is_postgresql(app):
            # the test database's superuser may copy without triggers, and nothing stops it
            assert locked == [True]
            assert db.session().scalar(text("SHOW session_replication_role")) == "origin"
        db.session().rollback()
        with db.write_transaction() as s:  # start again, this time with the triggers on
            s.execute(Assignment.__table__.delete())
            s.execute(Form.__table__.delete().where(Form.campaign_id == campaign.id))
            s.execute(Respondent.__table__.delete())
        monkeypatch.setattr(respondents, "_may_skip_row_triggers", lambda s: False)
        import_respondents("TVH-2023", listing)
        assert _snapshot() == fast
        assert len(fast["forms"]) == 22  # (form, rated unit) rows


def test_bulk_import_is_all_or_nothing_and_updates_by_external_id(app, tmp_path,
                                                                   monkeypatch):
    with app.app_context():
        create_campaign_from_config(TRAVINH)

        def broken(*args: object) -> None:
            raise RuntimeError("disk full")

        # fails after every row is copied: the whole import goes
        monkeypatch.setattr(respondents, "_resolve_census", broken)
        with pytest.raises(RuntimeError):
            import_respondents("TVH-2023", _listing(tmp_path, ROWS))
        s = db.session()
        assert s.scalar(select(func.count()).select_from(Respondent)) == 0
        assert s.scalar(select(func.count()).select_from(Assignment)) == 0
        if _is_postgresql(app):
            assert s.scalar(text("SHOW session_replication_role")) == "origin"
        s.rollback()
        monkeypatch.undo()
        import_respondents("TVH-2023", _listing(tmp_path, ROWS))
        # a moved citizen and a new person: new rows through the bulk path again, pointing
        # at a respondent stored before
        moved = [*ROWS[:3], ROWS[3].replace("S-TUPHAP", "S-NOIVU"), ROWS[4],
                 "TV-0005,Võ Thị Em,citizen,S-TUPHAP,,,0911222333"]
        report = import_respondents("TVH-2023", _listing(tmp_path, moved, "v2.csv"))
        assert (report.created, report.updated, report.unchanged) == (1, 1, 3)
        assert (report.forms_created, report.forms_removed) == (2, 1)
        s = db.session()
        rated = dict(s.execute(select(Respondent.external_id, Unit.code)
                               .join(Form, Form.respondent_id == Respondent.id)
                               .join(Assignment, Assignment.form_id == Form.id)
                               .join(Unit, Unit.id == Assignment.rated_unit_id)
                               .where(Respondent.external_id.in_(["TV-0003", "TV-0005"])))
                     .tuples().all())
        assert rated == {"TV-0003": "S-NOIVU", "TV-0005": "S-TUPHAP"}


def test_fast_path_refuses_extra_triggers_missing_rows_and_missing_rights(app):
    if not _is_postgresql(app):
        pytest.skip("the trigger-free copy is PostgreSQL's")
    with app.app_context():
        campaign = create_campaign_from_config(TRAVINH)
        s = db.session()
        assert respondents._may_skip_row_triggers(s)
        # a trigger of someone else's on forms would be skipped too: then no fast path
        s.execute(text("CREATE FUNCTION h3_noop() RETURNS trigger LANGUAGE plpgsql AS "
                       "$$ BEGIN RETURN NEW; END $$"))
        s.execute(text("CREATE TRIGGER h3_noop AFTER INSERT ON forms "
                       "FOR EACH ROW EXECUTE FUNCTION h3_noop()"))
        assert not respondents._may_skip_row_triggers(s)
        s.rollback()
        # every row pointed to must be there (and is then locked); one deleted meanwhile
        # leaves the checking to the triggers
        unit = s.scalar(select(func.max(Unit.id)).where(Unit.campaign_id == campaign.id))
        present = respondents._References(campaign.id, groups=set(), units={unit},
                                          versions=set(), respondents=set(), forms=set(),
                                          cells=set())
        assert respondents._lock_references(s, present)
        missing = respondents._References(campaign.id, groups=set(), units={unit, unit + 1000},
                                          versions=set(), respondents=set(), forms=set(),
                                          cells=set())
        assert not respondents._lock_references(s, missing)
        s.rollback()
        # an account neither superuser nor granted the setting
        s.execute(text("SET LOCAL ROLE pg_monitor"))
        assert not respondents._may_skip_row_triggers(s)
        s.rollback()
