"""Vector search inside PostgreSQL with pgvector: no process keeps a copy of the vectors.

Migration 0004 adds `chunks.embedding_vector` (type `vector`, no fixed dimension) when the
`vector` extension is available; this module searches it. The HNSW index is an expression index
for the embedder's dimension, `(embedding_vector::vector(DIM)) vector_ip_ops`, created at
startup once the dimension is known (vectors are unit length, so inner product = cosine). It
is not partial: a predicate such as `vector_dims(...) = DIM` has no statistics, and the planner
then guesses a few rows and sorts them instead of walking the graph. Every chunk has the same
dimension anyway (`check_embedder` refuses to mix embedders).

HNSW filters after the graph walk (pgvector 0.6 has no iterative scan): a collection that is a
small part of a big index can come back short. Then the same question runs exactly over the
scope alone, through the btree on `collection_id`, which is cheap precisely because the scope is
small. A scope narrowed to a few documents goes exact at once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence

import numpy as np
from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import TextClause

from ragline.adapters.index.ports import Scope

COLUMN = "embedding_vector"
HNSW_MAX_DIM = 2000  # pgvector's limit for indexing `vector`
EF_SEARCH = 100  # the database's default (migration 0004): enough for up to 50 candidates
MAX_EF_SEARCH = 1000
PGVECTOR_DEFAULT_EF_SEARCH = 40
_HAS_COLUMN = text(
    "SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass('chunks') "
    "AND attname = :column AND NOT attisdropped)"
).bindparams(column=COLUMN)
_QUERY = "CAST(CAST(:query AS real[]) AS vector)"
_APPROX = """
SELECT c.id, -((c.embedding_vector::vector({dim})) <#> {query}) AS score
FROM chunks c
WHERE c.collection_id IN :collections
ORDER BY (c.embedding_vector::vector({dim})) <#> {query}
LIMIT :limit
"""
# No cast on the column: the expression differs from the index's, so this is an exact scan.
_EXACT = """
SELECT c.id, -(c.embedding_vector <#> {query}) AS score
FROM chunks c
WHERE c.embedding_vector IS NOT NULL AND c.collection_id IN :collections {documents}
ORDER BY score DESC, c.id
LIMIT :limit
"""
_SIMILARITIES = """
SELECT c.id, -(c.embedding_vector <#> {query})
FROM chunks c
WHERE c.id IN :ids AND c.embedding_vector IS NOT NULL AND c.collection_id IN :collections
"""
INSERT_CHUNKS = text(
    "INSERT INTO chunks (document_id, collection_id, ord, text, page, heading, text_hash, "
    "language, embedding_vector) "
    f"VALUES (:document_id, :collection_id, :ord, :text, :page, :heading, :text_hash, "
    f":language, {_QUERY.replace(':query', ':vector')})"
)
VECTORS_BY_HASH = text(
    "SELECT text_hash, CAST(embedding_vector AS real[]) FROM chunks "
    "WHERE document_id = :document_id AND text_hash IS NOT NULL AND embedding_vector IS NOT NULL"
)


def index_name(dim: int) -> str:
    return f"ix_chunks_embedding_hnsw_{dim}"


def create_index_sql(dim: int) -> str:
    return (
        f"CREATE INDEX IF NOT EXISTS {index_name(int(dim))} ON chunks USING hnsw "
        f"(({COLUMN}::vector({int(dim)})) vector_ip_ops)"
    )


async def has_vector_column(session: AsyncSession) -> bool:
    """True when chunks carry `embedding_vector`, i.e. the database searches vectors itself."""
    if session.get_bind().dialect.name != "postgresql":
        return False
    return bool(await session.scalar(_HAS_COLUMN))


async def ensure_index(session: AsyncSession, dim: int) -> bool:
    """Create the HNSW index for `dim` once, whichever process gets there first; an index for
    another dimension (a fresh index after an embedder change) goes."""
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtext('ragline.hnsw'))"))
    stale = await session.scalars(text(
        "SELECT indexname FROM pg_indexes WHERE tablename = 'chunks' "
        "AND indexname LIKE 'ix_chunks_embedding_hnsw_%' AND indexname <> :keep"
    ), {"keep": index_name(dim)})
    for name in list(stale):
        await session.execute(text(f'DROP INDEX IF EXISTS "{name}"'))
    if dim > HNSW_MAX_DIM:
        return False
    await session.execute(text("SET LOCAL maintenance_work_mem = '512MB'"))
    await session.execute(text(create_index_sql(dim)))
    return True


async def default_ef_search(session: AsyncSession) -> int:
    """hnsw.ef_search on a fresh connection: migration 0004 sets it for the database."""
    value = await session.scalar(text("SELECT current_setting('hnsw.ef_search', true)"))
    return int(value) if value else PGVECTOR_DEFAULT_EF_SEARCH


def as_param(vector: np.ndarray) -> list[float]:
    """A float4[] parameter: asyncpg sends it in binary, and pgvector casts real[] to vector."""
    values: list[float] = np.asarray(vector, dtype=np.float32).tolist()
    return values


def _statement(template: str, *expanding: str, **fmt: object) -> TextClause:
    statement = text(template.format(query=_QUERY, **fmt))
    return statement.bindparams(*(bindparam(name, expanding=True) for name in expanding))


class PgVectors:
    kind = "pgvector"

    def __init__(self, dim: int, ef_default: int = EF_SEARCH) -> None:
        self.dim = dim
        self.ef_default = ef_default  # what a new connection starts with (default_ef_search)

    async def nearest(
        self, session: AsyncSession, scope: Scope, query: Awaitable[np.ndarray], limit: int
    ) -> list[tuple[int, float]]:
        params: dict[str, object] = {
            "query": as_param(await query), "collections": scope.collection_ids, "limit": limit,
        }
        if not scope.document_ids and self.dim <= HNSW_MAX_DIM:
            if 2 * limit > self.ef_default:  # else the default saves a round trip per query
                await session.execute(text("SELECT set_config('hnsw.ef_search', :ef, true)"),
                                      {"ef": str(min(MAX_EF_SEARCH, 2 * limit))})
            found = await _rows(session, _statement(_APPROX, "collections", dim=self.dim), params)
            if len(found) == limit:
                return found
        documents = ""
        expanding = ["collections"]
        if scope.document_ids:
            documents = "AND c.document_id IN :documents"
            expanding.append("documents")
            params["documents"] = list(scope.document_ids)
        return await _rows(session, _statement(_EXACT, *expanding, documents=documents), params)

    async def similarities(
        self, session: AsyncSession, scope: Scope, query: np.ndarray, chunk_ids: Sequence[int]
    ) -> dict[int, float]:
        if not chunk_ids:
            return {}
        rows = await session.execute(
            _statement(_SIMILARITIES, "ids", "collections"),
            {"query": as_param(query), "ids": list(chunk_ids),
             "collections": scope.collection_ids},
        )
        return {int(row[0]): float(row[1]) for row in rows}

    async def warm(self, session: AsyncSession) -> int:
        return 0  # nothing to load: the index lives in PostgreSQL's shared buffers



async def _rows(
    session: AsyncSession, statement: TextClause, params: dict[str, object]
) -> list[tuple[int, float]]:
    rows = await session.execute(statement, params)
    return [(int(row[0]), float(row[1])) for row in rows]
