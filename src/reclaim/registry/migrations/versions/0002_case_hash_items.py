"""Items: the hashes of one picture or video are grouped within their case.

Existing hashes become items of their own, numbered per case in the order
they were added.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("case_hashes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("item", sa.Integer(), nullable=True))
    op.execute(
        """
        UPDATE case_hashes SET item = (
            SELECT count(*) FROM case_hashes AS earlier
             WHERE earlier.case_id = case_hashes.case_id
               AND (earlier.added_at < case_hashes.added_at
                    OR (earlier.added_at = case_hashes.added_at
                        AND earlier.hash_id < case_hashes.hash_id))
        )
        """
    )
    with op.batch_alter_table("case_hashes", schema=None) as batch_op:
        batch_op.alter_column("item", existing_type=sa.Integer(), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("case_hashes", schema=None) as batch_op:
        batch_op.drop_column("item")
