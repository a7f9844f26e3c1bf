"""Folder sync: a collection may be bound to a server-side folder, sync jobs with their
counts (one active per collection: a partial unique index is the lock), and each chunk keeps
the hash of the text its vector was computed from (an edited document reuses the vectors of
its unchanged chunks).

Revision ID: 0007_sync
Revises: 0005_message_claims
"""

import sqlalchemy as sa
from alembic import op

from ragline.adapters.db.tables import UTCDateTime

revision = "0007_sync"
down_revision = "0005_message_claims"
branch_labels = None
depends_on = None

ACTIVE = sa.text("status IN ('pending', 'running')")


def upgrade() -> None:
    with op.batch_alter_table("collections") as batch:
        batch.add_column(sa.Column("sync_path", sa.String(2000), nullable=True))
        batch.add_column(sa.Column("sync_delete", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
    with op.batch_alter_table("chunks") as batch:
        batch.add_column(sa.Column("text_hash", sa.String(64), nullable=True))
    op.create_table(
        "sync_jobs",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("collection_id", sa.String(36), nullable=False),
        sa.Column("owner_id", sa.String(36), nullable=False),
        sa.Column("path", sa.String(2000), nullable=False),
        sa.Column("delete", sa.Boolean(), nullable=False),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["collection_id"], ["collections.id"],
                                name=op.f("fk_sync_jobs_collection_id_collections"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_jobs")),
    )
    op.create_index("ix_sync_jobs_collection_created", "sync_jobs",
                    ["collection_id", "created_at"])
    op.create_index("uq_sync_jobs_active", "sync_jobs", ["collection_id"], unique=True,
                    sqlite_where=ACTIVE, postgresql_where=ACTIVE)


def downgrade() -> None:
    op.drop_index("uq_sync_jobs_active", table_name="sync_jobs")
    op.drop_index("ix_sync_jobs_collection_created", table_name="sync_jobs")
    op.drop_table("sync_jobs")
    with op.batch_alter_table("chunks") as batch:
        batch.drop_column("text_hash")
    with op.batch_alter_table("collections") as batch:
        batch.drop_column("sync_delete")
        batch.drop_column("sync_path")
