"""Read-only links to threads (a snapshot or live, public or for signed-in users).

Revision ID: 0012_thread_links
Revises: 0011_audit_log
"""

import sqlalchemy as sa
from alembic import op

from ragline.adapters.db.tables import UTCDateTime

revision = "0012_thread_links"
down_revision = "0011_audit_log"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "thread_links",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("thread_id", sa.String(36), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("mode", sa.String(8), nullable=False),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("snapshot", sa.JSON(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["thread_id"], ["threads.id"],
                                name=op.f("fk_thread_links_thread_id_threads"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_thread_links")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_thread_links_token_hash")),
    )
    op.create_index("ix_thread_links_thread_id", "thread_links", ["thread_id"])


def downgrade() -> None:
    op.drop_index("ix_thread_links_thread_id", table_name="thread_links")
    op.drop_table("thread_links")
