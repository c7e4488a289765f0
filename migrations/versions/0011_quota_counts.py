"""quota state: each assignment's cell, and per-cell counts of forms kept by the services

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 18:40:00.000000

"""
from collections import defaultdict
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision: str = '0011'
down_revision: Union[str, Sequence[str], None] = '0010'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cell_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_assignments_cell_id'), ['cell_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_assignments_cell_id_quota_cells'),
                                    'quota_cells', ['cell_id'], ['id'], ondelete='SET NULL')
    with op.batch_alter_table('quota_cells', schema=None) as batch_op:
        for name in ('invited', 'started', 'public_started'):
            batch_op.add_column(sa.Column(name, sa.Integer(), server_default='0',
                                          nullable=False))
    _backfill(op.get_bind())


def _backfill(conn: sa.engine.Connection) -> None:
    """Each existing assignment's cell and each cell's counts, by the rule of
    ``survey.services.quotas`` (kept here as it stands at this revision): the cell of the
    assignment's (group, questionnaire version, rated unit) whose source unit is nearest above
    the respondent's own unit; else the one without a source; else the first."""
    for (campaign_id,) in conn.execute(sa.text("SELECT id FROM campaigns")).all():
        parents = dict(conn.execute(sa.text(
            "SELECT id, parent_id FROM units WHERE campaign_id = :c"), {"c": campaign_id}).all())
        cells = defaultdict(list)
        for cell_id, g, q, u, source in conn.execute(sa.text(
                "SELECT id, group_id, questionnaire_version_id, rated_unit_id, source_unit_id "
                "FROM quota_cells WHERE campaign_id = :c ORDER BY id"), {"c": campaign_id}):
            cells[(g, q, u)].append((cell_id, source))
        updates = []
        for a_id, g, q, u, own in conn.execute(sa.text(
                "SELECT a.id, f.group_id, f.questionnaire_version_id, a.rated_unit_id, r.unit_id "
                "FROM assignments a JOIN forms f ON f.id = a.form_id "
                "LEFT JOIN respondents r ON r.id = f.respondent_id "
                "WHERE f.campaign_id = :c"), {"c": campaign_id}):
            members = cells.get((g, q, u))
            if not members:
                continue
            by_source = {}
            for cell_id, source in members:
                if source is not None:
                    by_source.setdefault(source, cell_id)
            found, unit = None, own
            while unit is not None and by_source and found is None:
                found = by_source.get(unit)
                unit = parents.get(unit)
            if found is None:
                found = next((c for c, s in members if s is None), members[0][0])
            updates.append({"a": a_id, "cell": found})
        if updates:
            conn.execute(sa.text("UPDATE assignments SET cell_id = :cell WHERE id = :a"), updates)
        conn.execute(sa.text(
            "UPDATE quota_cells SET "
            "invited = (SELECT count(*) FROM assignments a JOIN forms f ON f.id = a.form_id "
            "  WHERE a.cell_id = quota_cells.id AND f.mode <> 'public'), "
            "started = (SELECT count(*) FROM assignments a JOIN forms f ON f.id = a.form_id "
            "  WHERE a.cell_id = quota_cells.id AND f.mode <> 'public' "
            "  AND f.status IN ('started', 'submitted')), "
            "public_started = (SELECT count(*) FROM assignments a JOIN forms f "
            "  ON f.id = a.form_id WHERE a.cell_id = quota_cells.id AND f.mode = 'public' "
            "  AND f.status IN ('started', 'submitted')) "
            "WHERE campaign_id = :c"), {"c": campaign_id})


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('quota_cells', schema=None) as batch_op:
        for name in ('public_started', 'started', 'invited'):
            batch_op.drop_column(name)
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_assignments_cell_id_quota_cells'),
                                 type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_assignments_cell_id'))
        batch_op.drop_column('cell_id')
