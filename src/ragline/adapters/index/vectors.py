"""Brute-force (exact) vector search over one in-memory matrix per collection.

Embeddings live in `chunks.embedding` as float32; each process keeps a matrix per collection and
refreshes it when the collection's `version` moves, fetching only the rows it does not hold yet.
In memory the rows are float16 multiplied by torch (half the memory traffic of float32, which
bounds a brute-force scan; ranking is unaffected at 3 significant digits); without torch,
float32 and numpy.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cache
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ragline.adapters.db.tables import Chunk

log = logging.getLogger(__name__)
SCAN_THREADS = max(1, os.cpu_count() or 1)
FETCH_BATCH = 500  # documents per query when re-reading changed ones


DocStats = tuple[int, int, int]  # chunk count, lowest and highest chunk id


@dataclass(frozen=True)
class Matrix:
    version: int
    ids: np.ndarray  # int64, ascending
    codes: np.ndarray  # int32: for each row, the index of its document in `documents`
    documents: tuple[str, ...]
    stats: dict[str, DocStats]  # what each document looked like when its rows were read
    vectors: np.ndarray  # (rows, dim), unit length, float16 with torch else float32

    def rows_for(self, chunk_ids: Sequence[int] | np.ndarray) -> np.ndarray:
        wanted = np.asarray(chunk_ids, dtype=np.int64)
        if len(self.ids) == 0:
            return np.full(len(wanted), -1, dtype=np.int64)
        positions = np.searchsorted(self.ids, wanted)
        positions = np.clip(positions, 0, len(self.ids) - 1)
        return np.where(self.ids[positions] == wanted, positions, -1)

    def mask_for(self, document_ids: Sequence[str]) -> np.ndarray:
        wanted = set(document_ids)
        codes = [i for i, d in enumerate(self.documents) if d in wanted]
        return np.isin(self.codes, np.asarray(codes, dtype=np.int32))


def to_blob(vector: np.ndarray) -> bytes:
    return np.ascontiguousarray(vector, dtype=np.float32).tobytes()


@cache
def _torch() -> Any:
    try:
        import torch
    except ImportError:  # pragma: no cover - torch comes with sentence-transformers
        return None
    return torch


def storage_dtype() -> type[np.floating[Any]]:
    return np.float16 if _torch() is not None else np.float32


def _stack(blobs: Sequence[bytes], dim: int) -> np.ndarray:
    if not blobs:
        return np.zeros((0, dim), dtype=storage_dtype())
    matrix = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), dim)
    return matrix.astype(storage_dtype())


def _scores(vectors: np.ndarray, query: np.ndarray) -> np.ndarray:
    """The matrix-vector product, on torch's thread pool when there is one (the one the local
    embedder uses, so the two take turns instead of OpenBLAS threads fighting torch's)."""
    torch = _torch()
    if torch is None or vectors.dtype != np.float16 or not vectors.flags.writeable:
        scores: np.ndarray = vectors.astype(np.float32, copy=False) @ query
        return scores
    torch.set_num_threads(SCAN_THREADS)  # per calling thread (OpenMP); a query may have set 1
    with torch.inference_mode():
        half = torch.from_numpy(np.asarray(query, dtype=np.float16))
        product = torch.mv(torch.from_numpy(vectors), half)
    result: np.ndarray = product.float().numpy()
    return result


class VectorCache:
    def __init__(self, dim: int) -> None:
        self.dim = dim
        self._matrices: dict[str, Matrix] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def matrix(self, session: AsyncSession, collection_id: str, version: int) -> Matrix:
        """The collection's matrix as of `version` (read the version before calling)."""
        current = self._matrices.get(collection_id)
        if current is not None and current.version == version:
            return current
        lock = self._locks.setdefault(collection_id, asyncio.Lock())
        async with lock:
            current = self._matrices.get(collection_id)
            if current is None or current.version != version:
                current = await self._refresh(session, collection_id, version, current)
                self._matrices[collection_id] = current
        return current

    def cached_vectors(self, chunk_ids: Sequence[int]) -> dict[int, np.ndarray]:
        """float32 vectors of the given chunks that some loaded matrix holds (others: absent)."""
        found: dict[int, np.ndarray] = {}
        for matrix in list(self._matrices.values()):
            for chunk_id, row in zip(chunk_ids, matrix.rows_for(chunk_ids), strict=True):
                if row >= 0:
                    found[chunk_id] = matrix.vectors[row].astype(np.float32)
        return found

    async def _refresh(
        self, session: AsyncSession, collection_id: str, version: int, old: Matrix | None
    ) -> Matrix:
        """Re-read only documents that are new or changed (count or id range moved); a per-
        document summary is cheap even at 100k chunks, and SQLite may reuse deleted ids."""
        valid = Chunk.embedding.is_not(None)
        summary = await session.execute(
            select(Chunk.document_id, func.count(), func.min(Chunk.id), func.max(Chunk.id))
            .where(Chunk.collection_id == collection_id).group_by(Chunk.document_id)
        )
        stats: dict[str, DocStats] = {str(r[0]): (int(r[1]), int(r[2]), int(r[3]))
                                      for r in summary}
        kept = {d for d, st in stats.items() if old is not None and old.stats.get(d) == st}
        if old is not None and len(kept) == len(stats) == len(old.stats):
            return replace(old, version=version)  # e.g. a failed document: nothing to re-read
        rows: list[Any] = []
        if old is None or not kept:
            rows = list((await session.execute(
                select(Chunk.id, Chunk.document_id, Chunk.embedding)
                .where(Chunk.collection_id == collection_id, valid)
            )).all())
        else:
            changed = [d for d in stats if d not in kept]
            for start in range(0, len(changed), FETCH_BATCH):
                rows.extend((await session.execute(
                    select(Chunk.id, Chunk.document_id, Chunk.embedding)
                    .where(Chunk.document_id.in_(changed[start:start + FETCH_BATCH]), valid)
                )).all())
        return await asyncio.to_thread(self._build, version, stats, old, kept, rows)

    def _build(
        self,
        version: int,
        stats: dict[str, DocStats],
        old: Matrix | None,
        kept: set[str],
        rows: Sequence[Any],
    ) -> Matrix:
        good = [r for r in rows if r[2] is not None and len(r[2]) == self.dim * 4]
        if len(good) != len(rows):
            log.warning("%d chunks have embeddings of the wrong size", len(rows) - len(good))
        documents = tuple(stats)
        code_of = {d: i for i, d in enumerate(documents)}
        ids = np.fromiter((r[0] for r in good), dtype=np.int64, count=len(good))
        codes = np.fromiter((code_of.get(r[1], -1) for r in good), dtype=np.int32,
                            count=len(good))
        vectors = _stack([r[2] for r in good], self.dim)
        if old is not None and kept:
            mask = old.mask_for(list(kept))
            remap = np.asarray([code_of.get(d, -1) for d in old.documents], dtype=np.int32)
            ids = np.concatenate([old.ids[mask], ids])
            codes = np.concatenate([remap[old.codes[mask]], codes])
            vectors = np.concatenate([old.vectors[mask], vectors])
        order = np.argsort(ids, kind="stable")
        return Matrix(version, ids[order], codes[order], documents,
                      {d: stats[d] for d in documents}, np.ascontiguousarray(vectors[order]))


def nearest(
    matrices: Sequence[Matrix],
    query: np.ndarray,
    limit: int,
    document_ids: Sequence[str] | None = None,
) -> list[tuple[int, float]]:
    """Blocking: best-first (chunk id, cosine similarity) over several matrices."""
    found: list[tuple[int, float]] = []
    for matrix in matrices:
        if len(matrix.ids) == 0:
            continue
        scores = _scores(matrix.vectors, query)
        if document_ids:
            scores = np.where(matrix.mask_for(document_ids), scores, -np.inf)
        take = min(limit, len(scores))
        top = np.argpartition(-scores, take - 1)[:take]
        found.extend(
            (int(matrix.ids[i]), float(scores[i])) for i in top if np.isfinite(scores[i])
        )
    found.sort(key=lambda pair: pair[1], reverse=True)
    return found[:limit]


def similarities(
    matrices: Sequence[Matrix], query: np.ndarray, chunk_ids: Sequence[int]
) -> dict[int, float]:
    """Cosine similarity of the query to each given chunk that the matrices hold."""
    result: dict[int, float] = {}
    for matrix in matrices:
        rows = matrix.rows_for(chunk_ids)
        for chunk_id, row in zip(chunk_ids, rows, strict=True):
            if row >= 0:
                result[chunk_id] = float(matrix.vectors[row].astype(np.float32) @ query)
    return result
