"""Vectors inside PostgreSQL when it has pgvector: `chunks.embedding_vector` and an HNSW index.

A no-op on SQLite and on a PostgreSQL server without the `vector` extension (the in-process
matrices serve there). Existing float32 blobs are copied into the new column; the HNSW index is
built here when the embedder's dimension is already recorded, else at the first startup.

Revision ID: 0004
Revises: 0003
"""

import logging

import numpy as np
import sqlalchemy as sa
from alembic import op

from ragline.adapters.index.pgvector import EF_SEARCH, as_param, create_index_sql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")
BACKFILL_BATCH = 1000


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    available = bind.scalar(sa.text(
        "SELECT count(*) FROM pg_available_extensions WHERE name = 'vector'"))
    if not available:
        log.info("pgvector is not installed on this server: vectors stay in process memory")
        return
    try:
        with bind.begin_nested():
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS vector"))
    except sa.exc.DBAPIError as exc:  # e.g. not allowed to create extensions
        log.warning("pgvector is available but could not be enabled (%s): vectors stay in "
                    "process memory", exc.orig)
        return
    op.execute("ALTER TABLE chunks ADD COLUMN embedding_vector vector")
    _default_ef_search(bind)
    _backfill(bind)
    dim = bind.scalar(sa.text("SELECT value FROM index_meta WHERE key = 'embedding_dim'"))
    if dim is not None and int(dim) <= 2000:
        op.execute(create_index_sql(int(dim)))


def _default_ef_search(bind: sa.Connection) -> None:
    """HNSW candidates per search for every new connection (pgvector's default is 40), so a
    search needs no extra round trip to raise it."""
    try:
        with bind.begin_nested():
            bind.execute(sa.text(
                "DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET hnsw.ef_search = "
                f"{EF_SEARCH}', current_database()); END $$"))
    except sa.exc.DBAPIError as exc:  # not the database's owner: searches set it themselves
        log.warning("could not set hnsw.ef_search for the database (%s)", exc.orig)


def _backfill(bind: sa.Connection) -> None:
    last = 0
    while True:
        rows = bind.execute(sa.text(
            "SELECT id, embedding FROM chunks WHERE id > :last AND embedding IS NOT NULL "
            "ORDER BY id LIMIT :batch"), {"last": last, "batch": BACKFILL_BATCH}).all()
        if not rows:
            return
        bind.execute(
            sa.text("UPDATE chunks SET embedding_vector = CAST(CAST(:v AS real[]) AS vector) "
                    "WHERE id = :id"),
            [{"id": row[0], "v": as_param(np.frombuffer(row[1], dtype=np.float32))}
             for row in rows],
        )
        last = rows[-1][0]


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE chunks DROP COLUMN IF EXISTS embedding_vector")
