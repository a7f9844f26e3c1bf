"""Hybrid retrieval: keyword ranking and vector ranking fused by reciprocal rank fusion.

Keyword ranking always runs in the database. Vector ranking runs in PostgreSQL too when it has
pgvector (migration 0004 added the column), else over in-process matrices; `prepare()` picks
the backend once per process and says which in the log.

Every hit also carries `relevance`, the cosine similarity of its chunk to the query, which
unlike the rank-based scores is comparable across queries, and (hybrid mode) `term_match`, the
IDF-weighted share of the query's terms the passage holds (1.0: every selective term). The answer
pipeline filters on both: a passage naming the question's rare terms stays below the cosine floor.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ragline.adapters.db.database import Database
from ragline.adapters.db.tables import Chunk, Document
from ragline.adapters.embed import Embedder
from ragline.adapters.index import pgvector
from ragline.adapters.index.fusion import reciprocal_rank_fusion, term_coverage
from ragline.adapters.index.keyword import (
    content_terms,
    keyword_search,
    scope_languages,
    term_matches,
)
from ragline.adapters.index.matrix import MatrixVectors
from ragline.adapters.index.ports import Scope, VectorSearch

__all__ = ["MODES", "Hit", "HybridIndex", "Mode", "Resolver", "Scope"]

log = logging.getLogger(__name__)
Mode = Literal["hybrid", "bm25", "vector"]
MODES: tuple[Mode, ...] = ("hybrid", "bm25", "vector")
QUERY_CACHE_SIZE = 512
COVERAGE_POWER = 3  # see _boost_matched_terms; 1 and 2 let long paraphrases drift (bench)

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
    # 0-1: the IDF-weighted share of the query's terms that the passage holds; 0 outside
    # hybrid mode and when most of the query's words occur nowhere in the scope (see `_match_terms`)
    term_match: float = 0.0


class HybridIndex:
    def __init__(
        self,
        db: Database,
        embedder: Embedder,
        *,
        candidates: int = 50,
        rrf_k: int = 60,
        vector_weight: float = 1.0,
        term_boost: float = 2.0,
    ) -> None:
        self.db = db
        self.embedder = embedder
        self.candidates = candidates
        self.rrf_k = rrf_k
        self.vector_weight = vector_weight  # the keyword ranking weighs 1 in the fusion
        self.term_boost = term_boost  # 0: plain RRF
        self.vectors: VectorSearch = MatrixVectors(embedder.dim)
        self._prepared = False
        self._prepare_lock = asyncio.Lock()
        self._queries: OrderedDict[str, np.ndarray] = OrderedDict()

    async def prepare(self) -> str:
        """Choose the vector backend (creating pgvector's HNSW index if missing); its kind."""
        async with self._prepare_lock:
            if self._prepared:
                return self.vectors.kind
            dim = self.embedder.dim
            async with self.db.session() as session:
                if await pgvector.has_vector_column(session):
                    indexed = await pgvector.ensure_index(session, dim)
                    ef_default = await pgvector.default_ef_search(session)
                    self.vectors = pgvector.PgVectors(dim, ef_default)
                    log.info("vector search: pgvector in PostgreSQL (%s, dimension %d)",
                             "HNSW index" if indexed else "exact scan, too many dimensions", dim)
                else:
                    log.info("vector search: in-process matrix in each process (dimension %d); "
                             "PostgreSQL with the `vector` extension would keep it in the "
                             "database", dim)
            self._prepared = True
            return self.vectors.kind

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
        """Load what the vector backend keeps in memory now rather than on the first search."""
        await self.prepare()
        async with self.db.session() as session:
            return await self.vectors.warm(session)

    async def search(
        self, query: str, resolve: Resolver, *, top_k: int, mode: Mode
    ) -> list[Hit]:
        """`resolve` reads the scope (collections and their versions) in the search's session.

        The query embedding starts first and runs while the database works.
        """
        if not query.strip():
            return []
        if not self._prepared:
            await self.prepare()
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
        keyword: list[tuple[int, float]] = []
        languages: tuple[str, ...] = ()
        if mode != "vector":
            languages = await scope_languages(session, scope.collection_ids, scope.document_ids)
            keyword = await keyword_search(
                session, query, scope.collection_ids, limit=pool,
                document_ids=scope.document_ids, sqlite=self.db.is_sqlite, languages=languages,
            )
        vector: list[tuple[int, float]] = []
        if mode != "bm25":
            vector = await self.vectors.nearest(session, scope, embedding, pool)
        coverage: dict[int, float] = {}
        known = False
        if mode == "hybrid":
            ranked = reciprocal_rank_fusion(
                [[i for i, _ in keyword], [i for i, _ in vector]], k=self.rrf_k,
                weights=(1.0, self.vector_weight),
            )
            coverage, known = await self._match_terms(session, query, scope, ranked, pool,
                                                      languages)
            if self.term_boost > 0:
                ranked = self._boost_matched_terms(ranked, coverage)
        else:
            ranked = keyword if mode == "bm25" else vector
        return await self._hydrate(session, scope, ranked[: top_k * 2], top_k, embedding,
                                   coverage if known else {})

    async def _match_terms(
        self,
        session: AsyncSession,
        query: str,
        scope: Scope,
        ranked: list[tuple[int, float]],
        pool: int,
        languages: Sequence[str],
    ) -> tuple[dict[int, float], bool]:
        """Coverage of each passage holding a query term: the IDF-weighted share of the
        query's terms (those the scope holds) that it contains. Passages holding a rare term (in
        at most `pool` passages) are all found, even outside both rankings' pools.

        Also whether at least half of the query's content words occur in the scope. Coverage
        counts only the terms the scope holds, so a question about something else that shares
        one word with a passage ("who won the world cup in 1998" and a CV's "1998") covers it
        fully; hits carry `term_match` only when the query's words are mostly known ("Who
        speaks Portuguese?" in CVs that never say "speaks": one of two).
        """
        matches, total = await term_matches(
            session, query, scope.collection_ids, cap=pool, candidates=[i for i, _ in ranked],
            document_ids=scope.document_ids, sqlite=self.db.is_sqlite, languages=languages,
        )
        words = content_terms(query, languages)
        known = bool(matches) and 2 * len(matches) >= len(words)
        return term_coverage([(m.count, m.ids) for m in matches], total), known

    def _boost_matched_terms(
        self, ranked: list[tuple[int, float]], coverage: dict[int, float]
    ) -> list[tuple[int, float]]:
        """Add to each passage's fused score term_boost * (the best fused score possible) *
        coverage**3 (see `_match_terms`).

        Exact terms are what vectors blur: a technology or a city named in a question. With a
        boost of 1 or more a passage holding every term outranks each passage that only the
        vector ranking found; passages holding a rare term (in at most `pool` passages) that
        neither ranking's pool reached join the candidates. The cube keeps a passage that
        shares one rare word with a long paraphrased question from jumping ahead.
        """
        if not coverage:
            return ranked
        full = self.term_boost * (1.0 + self.vector_weight) / (self.rrf_k + 1)
        scores = dict(ranked)
        for chunk_id, share in coverage.items():
            scores[chunk_id] = scores.get(chunk_id, 0.0) + full * share**COVERAGE_POWER
        return sorted(scores.items(), key=lambda item: item[1], reverse=True)

    async def _hydrate(
        self,
        session: AsyncSession,
        scope: Scope,
        ranked: Sequence[tuple[int, float]],
        top_k: int,
        embedding: asyncio.Future[np.ndarray],
        coverage: dict[int, float],
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
        relevance = await self.vectors.similarities(session, scope, await embedding, ids)
        hits: list[Hit] = []
        for chunk_id, score in ranked:
            row = by_id.get(chunk_id)
            if row is None:
                continue
            hits.append(Hit(
                chunk_id=chunk_id, document_id=row[1], source=row[5], title=row[6], page=row[2],
                heading=row[3], text=row[4], score=score, relevance=relevance.get(chunk_id, 0.0),
                term_match=round(coverage.get(chunk_id, 0.0), 4),
            ))
            if len(hits) == top_k:
                break
        return hits
