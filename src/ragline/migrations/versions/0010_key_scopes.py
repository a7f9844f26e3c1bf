"""Scoped API keys: read-only, limited to some collections, expiring; when each was last used.

Revision ID: 0010_key_scopes
Revises: 0009_sharing
"""

import sqlalchemy as sa
from alembic import op

from ragline.adapters.db.tables import UTCDateTime

revision = "0010_key_scopes"
down_revision = "0009_sharing"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("read_only", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
        batch.add_column(sa.Column("collections", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("expires_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("last_used_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("last_used_at")
        batch.drop_column("expires_at")
        batch.drop_column("collections")
        batch.drop_column("read_only")
