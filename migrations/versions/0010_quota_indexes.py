"""quota state: a covering index on responses for the per-key counts

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-22 06:40:00.000000

"""
from typing import Sequence, Union

from alembic import op


# revision identifiers, used by Alembic.
revision: str = '0010'
down_revision: Union[str, Sequence[str], None] = '0009'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    # Quota state and the close-when-full check count responses per (group, questionnaire
    # version, rated unit), status and mode; with every such column in the index they never
    # read the rows (answers, item codes).
    with op.batch_alter_table('responses', schema=None) as batch_op:
        batch_op.create_index('ix_responses_quota', ['campaign_id', 'group_id',
                                                     'questionnaire_version_id',
                                                     'rated_unit_id', 'status', 'mode'],
                              unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('responses', schema=None) as batch_op:
        batch_op.drop_index('ix_responses_quota')
