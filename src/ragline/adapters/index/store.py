"""Index writes: chunks in and out of a collection, always with a version bump in the same
transaction (that is how every process's vector cache and the answer cache notice changes),
and the embedder facts recorded with the index. Vectors go to `chunks.embedding_vector` where
PostgreSQL has pgvector, else to the float32 blob `chunks.embedding`."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Protocol

import numpy as np
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ragline.adapters.db.database import Database
from ragline.adapters.db.tables import Chunk, Collection, IndexMeta
from ragline.adapters.index.languages import DEFAULT, fts_copy, stemmed_in_python
from ragline.adapters.index.pgvector import (
    INSERT_CHUNKS,
    VECTORS_BY_HASH,
    as_param,
    has_vector_column,
)
from ragline.adapters.index.vectors import to_blob

INSERT_BATCH = 500


class ChunkRow(Protocol):
    @property
    def ord(self) -> int: ...
    @property
    def text(self) -> str: ...
    @property
    def page(self) -> int | None: ...
    @property
    def heading(self) -> str | None: ...


class EmbedderMismatch(RuntimeError):
    """The index holds vectors from another embedder; searching it would return garbage."""


async def bump_version(session: AsyncSession, collection_id: str) -> None:
    await session.execute(
        update(Collection).where(Collection.id == collection_id)
        .values(version=Collection.version + 1)
    )


async def replace_chunks(
    session: AsyncSession,
    *,
    document_id: str,
    collection_id: str,
    drafts: Sequence[ChunkRow],
    vectors: np.ndarray,
    language: str = DEFAULT,
) -> None:
    """The document's chunks become exactly `drafts` (a retried job never duplicates)."""
    await session.execute(delete(Chunk).where(Chunk.document_id == document_id))
    await insert_chunks(session, document_id=document_id, collection_id=collection_id,
                        drafts=drafts, vectors=vectors, language=language)
    await bump_version(session, collection_id)


async def insert_chunks(
    session: AsyncSession,
    *,
    document_id: str,
    collection_id: str,
    drafts: Sequence[ChunkRow],
    vectors: np.ndarray,
    hashes: Sequence[str | None] | None = None,
    language: str = DEFAULT,
) -> None:
    """Add chunks without bumping the version (a caller writing a document batch by batch
    deletes its old chunks first and bumps the version once, in the same transaction).
    `hashes`: of the text each vector was computed from (`vectors_by_hash` finds them);
    `language`: the document's (ISO 639-1), which decides how its words are stemmed."""
    if len(drafts) != len(vectors) or (hashes is not None and len(hashes) != len(drafts)):
        raise ValueError("one vector per chunk expected")
    in_database = await has_vector_column(session)
    rows: list[dict[str, object]] = [
        {"document_id": document_id, "collection_id": collection_id, "ord": d.ord,
         "text": d.text, "page": d.page, "heading": d.heading,
         "text_hash": hashes[i] if hashes is not None else None, "language": language,
         "fts_text": None, "fts_heading": None}
        for i, d in enumerate(drafts)
    ]
    if session.get_bind().dialect.name == "sqlite" and stemmed_in_python(language):
        await asyncio.to_thread(_stem_copies, rows, language)  # Python stems: not on the loop
    for row, vector in zip(rows, vectors, strict=True):
        if in_database:
            row["vector"] = as_param(vector)
        else:
            row["embedding"] = to_blob(vector)
    statement = INSERT_CHUNKS if in_database else insert(Chunk)
    for start in range(0, len(rows), INSERT_BATCH):
        await session.execute(statement, rows[start:start + INSERT_BATCH])


def _stem_copies(rows: list[dict[str, object]], language: str) -> None:
    for row in rows:
        row["fts_text"] = fts_copy(language, str(row["text"]))
        heading = row["heading"]
        row["fts_heading"] = fts_copy(language, heading) if isinstance(heading, str) else None


async def vectors_by_hash(session: AsyncSession, document_id: str) -> dict[str, np.ndarray]:
    """The document's stored vectors keyed by the hash of the text they were computed from
    (chunks written before hashes were kept have none and are not offered)."""
    if await has_vector_column(session):
        found = await session.execute(VECTORS_BY_HASH, {"document_id": document_id})
        return {str(h): np.asarray(v, dtype=np.float32) for h, v in found.all()}
    rows = await session.execute(
        select(Chunk.text_hash, Chunk.embedding)
        .where(Chunk.document_id == document_id, Chunk.text_hash.is_not(None),
               Chunk.embedding.is_not(None))
    )
    return {str(h): np.frombuffer(blob, dtype=np.float32).copy()
            for h, blob in rows.all() if blob is not None}


async def remove_chunks(session: AsyncSession, *, document_id: str, collection_id: str) -> None:
    await session.execute(delete(Chunk).where(Chunk.document_id == document_id))
    await bump_version(session, collection_id)


async def check_embedder(db: Database, name: str, dim: int) -> None:
    """Record the embedder with a fresh index; refuse to start on a mismatch with stored vectors."""
    wanted = {"embedder": name, "embedding_dim": str(dim)}
    for _attempt in range(2):
        try:
            async with db.session() as session:
                stored = {m.key: m.value for m in await session.scalars(select(IndexMeta))}
                recorded = {k: stored.get(k) for k in wanted}
                if recorded == wanted:
                    return
                has_vectors = await session.scalar(select(Chunk.id).limit(1))
                if has_vectors and any(recorded.values()):
                    raise EmbedderMismatch(
                        f"the index was built with embedder {recorded['embedder']!r} "
                        f"(dimension {recorded['embedding_dim']}) but this process uses {name!r} "
                        f"(dimension {dim}); set RAGLINE_EMBEDDER back, or use a fresh data "
                        "directory/database and re-ingest"
                    )
                for key, value in wanted.items():
                    await session.merge(IndexMeta(key=key, value=value))
            return
        except IntegrityError:  # another process recorded it at the same moment: check again
            continue
