"""Answers keep their checked claims, so a reloaded thread shows them without its run events.

Revision ID: 0005_message_claims
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_message_claims"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("claims", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("claims")
