"""respondent homes: tokens that open a respondent's home, mail queued per respondent

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 09:10:00.000000

Existing data: tokens are stored hashed, so no respondent token can be made from an old one;
instead every old per-form token stays valid and the application leads it to its respondent's
home (``access_tokens.form_id`` -> ``forms.respondent_id``). Invitations and reminders still
queued per form (not yet claimed) are folded into one queued message per (respondent, kind,
round); rows already claimed, sent, bounced or uncertain stay as they are, per form.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision: str = '0014'
down_revision: Union[str, Sequence[str], None] = '0013'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('access_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('respondent_id', sa.Integer(), nullable=True))
        batch_op.alter_column('form_id', existing_type=sa.Integer(), nullable=True)
        batch_op.create_index(batch_op.f('ix_access_tokens_respondent_id'), ['respondent_id'],
                              unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_access_tokens_respondent_id_respondents'),
                                    'respondents', ['respondent_id'], ['id'], ondelete='CASCADE')
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.alter_column('form_id', existing_type=sa.Integer(), nullable=True)
        batch_op.create_index('uq_outbox_messages_respondent_kind_round',
                              ['respondent_id', 'kind', 'round'], unique=True,
                              sqlite_where=sa.text('form_id IS NULL'),
                              postgresql_where=sa.text('form_id IS NULL'))
    _fold_queued(op.get_bind())


def _fold_queued(conn: sa.engine.Connection) -> None:
    """Queued per-form messages become one queued message per (respondent, kind, round)."""
    groups = conn.execute(sa.text(
        "SELECT respondent_id, kind, round, MIN(id) FROM outbox_messages "
        "WHERE status = 'queued' AND form_id IS NOT NULL "
        "GROUP BY respondent_id, kind, round")).all()
    for respondent_id, kind, round_, keep in groups:
        conn.execute(sa.text(
            "DELETE FROM outbox_messages WHERE status = 'queued' AND form_id IS NOT NULL "
            "AND respondent_id = :r AND kind = :k AND round = :n AND id <> :keep"),
            {"r": respondent_id, "k": kind, "n": round_, "keep": keep})
        conn.execute(sa.text("UPDATE outbox_messages SET form_id = NULL WHERE id = :keep"),
                     {"keep": keep})


def downgrade() -> None:
    """Downgrade schema (respondent tokens and per-respondent messages are dropped: they name
    no form)."""
    conn = op.get_bind()
    conn.execute(sa.text("DELETE FROM outbox_messages WHERE form_id IS NULL"))
    conn.execute(sa.text("DELETE FROM access_tokens WHERE form_id IS NULL"))
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.drop_index('uq_outbox_messages_respondent_kind_round',
                            sqlite_where=sa.text('form_id IS NULL'),
                            postgresql_where=sa.text('form_id IS NULL'))
        batch_op.alter_column('form_id', existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table('access_tokens', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_access_tokens_respondent_id_respondents'),
                                 type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_access_tokens_respondent_id'))
        batch_op.alter_column('form_id', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column('respondent_id')
