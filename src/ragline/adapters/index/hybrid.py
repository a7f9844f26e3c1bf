"""Hybrid retrieval: keyword ranking and vector ranking fused by reciprocal rank fusion.

Every hit also carries `relevance`, the cosine similarity of its chunk to the query, which
unlike the rank-based scores is comparable across queries (the answer pipeline filters on it).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ragline.adapters.db.database import Database
from ragline.adapters.db.tables import Chunk, Collection, Document
from ragline.adapters.embed import Embedder
from ragline.adapters.index.fusion import reciprocal_rank_fusion
from ragline.adapters.index.keyword import keyword_search
from ragline.adapters.index.vectors import Matrix, VectorCache, nearest, similarities

Mode = Literal["hybrid", "bm25", "vector"]
MODES: tuple[Mode, ...] = ("hybrid", "bm25", "vector")
QUERY_CACHE_SIZE = 512


@dataclass(frozen=True)
class Scope:
    """Collections to search, each with the version read just before the search."""

    collections: tuple[tuple[str, int], ...]
    document_ids: tuple[str, ...] | None = None


Resolver = Callable[[AsyncSession], Awaitable[Scope]]


@dataclass(frozen=True)
class Hit:
    chunk_id: int
    document_id: str
    source: str
    title: str | None
    page: int | None
    heading: str | None
    text: str
    score: float
    relevance: float


class HybridIndex:
    def __init__(
        self, db: Database, embedder: Embedder, *, candidates: int = 50, rrf_k: int = 60
    ) -> None:
        self.db = db
        self.embedder = embedder
        self.candidates = candidates
        self.rrf_k = rrf_k
        self.vectors = VectorCache(embedder.dim)
        self._queries: OrderedDict[str, np.ndarray] = OrderedDict()

    async def embed_query(self, query: str) -> np.ndarray:
        cached = self._queries.get(query)
        if cached is not None:
            self._queries.move_to_end(query)
            return cached
        vector: np.ndarray = (await self.embedder.embed([query]))[0]
        self._queries[query] = vector
        if len(self._queries) > QUERY_CACHE_SIZE:
            self._queries.popitem(last=False)
        return vector

    async def warm(self) -> int:
        """Load every collection's vectors now rather than on its first search."""
        async with self.db.session() as session:
            collections = (await session.execute(
                select(Collection.id, Collection.version)
                .where(Collection.id.in_(select(Chunk.collection_id).distinct()))
            )).all()
            for collection_id, version in collections:
                await self.vectors.matrix(session, collection_id, version)
        return len(collections)

    async def search(
        self, query: str, resolve: Resolver, *, top_k: int, mode: Mode
    ) -> list[Hit]:
        """`resolve` reads the scope (collections and their versions) in the search's session.

        The query embedding starts first and runs while the database works.
        """
        if not query.strip():
            return []
        embedding = asyncio.ensure_future(self.embed_query(query))
        try:
            async with self.db.session() as session:
                scope = await resolve(session)
                if not scope.collections:
                    return []
                return await self._search(session, query, scope, embedding, top_k, mode)
        finally:
            if not embedding.done():
                embedding.cancel()

    async def _search(
        self,
        session: AsyncSession,
        query: str,
        scope: Scope,
        embedding: asyncio.Future[np.ndarray],
        top_k: int,
        mode: Mode,
    ) -> list[Hit]:
        pool = max(self.candidates, top_k)
        documents = list(scope.document_ids) if scope.document_ids else None
        keyword: list[tuple[int, float]] = []
        if mode != "vector":
            keyword = await keyword_search(
                session, query, [c for c, _ in scope.collections], limit=pool,
                document_ids=documents, sqlite=self.db.is_sqlite,
            )
        matrices = [await self.vectors.matrix(session, cid, version)
                    for cid, version in scope.collections]
        query_vector = await embedding
        vector: list[tuple[int, float]] = []
        if mode != "bm25":
            vector = await asyncio.to_thread(nearest, matrices, query_vector, pool, documents)
        if mode == "hybrid":
            ranked = reciprocal_rank_fusion(
                [[i for i, _ in keyword], [i for i, _ in vector]], k=self.rrf_k
            )
        else:
            ranked = keyword if mode == "bm25" else vector
        return await self._hydrate(session, ranked[: top_k * 2], top_k, matrices, query_vector)

    async def _hydrate(
        self,
        session: AsyncSession,
        ranked: Sequence[tuple[int, float]],
        top_k: int,
        matrices: Sequence[Matrix],
        query_vector: np.ndarray,
    ) -> list[Hit]:
        """Rows for the best ids; ids deleted since ranking drop out, the next ones move up."""
        if not ranked:
            return []
        ids = [chunk_id for chunk_id, _ in ranked]
        rows = await session.execute(
            select(Chunk.id, Chunk.document_id, Chunk.page, Chunk.heading, Chunk.text,
                   Document.source, Document.title)
            .join(Document, Document.id == Chunk.document_id)
            .where(Chunk.id.in_(ids))
        )
        by_id = {int(row[0]): row for row in rows}
        relevance = similarities(matrices, query_vector, ids)
        hits: list[Hit] = []
        for chunk_id, score in ranked:
            row = by_id.get(chunk_id)
            if row is None:
                continue
            hits.append(Hit(
                chunk_id=chunk_id, document_id=row[1], source=row[5], title=row[6], page=row[2],
                heading=row[3], text=row[4], score=score, relevance=relevance.get(chunk_id, 0.0),
            ))
            if len(hits) == top_k:
                break
        return hits
