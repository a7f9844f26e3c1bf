"""A covering index for each document's chunks within a collection.

The vector cache summarises a collection per document (count, lowest and highest chunk id) to
re-read only what changed; with this index that summary never touches the table itself.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_chunks_collection_document", "chunks", ["collection_id", "document_id", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_chunks_collection_document", table_name="chunks")
