"""The in-process vector backend: one exact matrix per collection in every process (vectors.py).

Used where the database cannot search vectors itself (SQLite, PostgreSQL without pgvector).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence

import numpy as np
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ragline.adapters.db.tables import Chunk, Collection
from ragline.adapters.index.ports import Scope
from ragline.adapters.index.vectors import Matrix, VectorCache, nearest, similarities


class MatrixVectors:
    kind = "matrix"

    def __init__(self, dim: int) -> None:
        self.cache = VectorCache(dim)

    async def _matrices(self, session: AsyncSession, scope: Scope) -> list[Matrix]:
        return [await self.cache.matrix(session, collection_id, version)
                for collection_id, version in scope.collections]

    async def nearest(
        self, session: AsyncSession, scope: Scope, query: Awaitable[np.ndarray], limit: int
    ) -> list[tuple[int, float]]:
        matrices = await self._matrices(session, scope)  # while the query is being embedded
        vector = await query
        return await asyncio.to_thread(nearest, matrices, vector, limit, scope.document_ids)

    async def similarities(
        self, session: AsyncSession, scope: Scope, query: np.ndarray, chunk_ids: Sequence[int]
    ) -> dict[int, float]:
        return similarities(await self._matrices(session, scope), query, chunk_ids)

    async def warm(self, session: AsyncSession) -> int:
        collections = (await session.execute(
            select(Collection.id, Collection.version)
            .where(Collection.id.in_(select(Chunk.collection_id).distinct()))
        )).all()
        for collection_id, version in collections:
            await self.cache.matrix(session, collection_id, version)
        return len(collections)
