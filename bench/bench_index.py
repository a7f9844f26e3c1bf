"""Vector index benchmark (issue 11): pgvector (HNSW inside PostgreSQL) against the in-process
matrix, on one PostgreSQL 16 + pgvector 0.6 server started from the `pgserver` wheel.

Both backends get the same synthetic chunks: 384-dimensional unit vectors drawn around 2,000
random centres (topic-like clusters) and short texts from a Zipf vocabulary, written through
the real index store (`replace_chunks`, documents of 50 chunks). The matrix backend runs on a
database whose `embedding_vector` column was dropped, i.e. exactly what ragline does without
the extension. Queries are vectors from the same distribution; the embedder is a lookup table,
so the figures are the index alone (a real query embedding adds 5-30 ms to both).

Measured per size: bulk ingestion (chunks/s), HNSW build time, ingestion with the index in
place, matrix load time and memory per process, vector-only and hybrid search p50/p99, and
HNSW recall@10 against exact search.

    python bench/bench_index.py [--sizes 100000,1000000] [--queries 200] [--ingest 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import bindparam, text

from ragline.adapters.db.database import Database
from ragline.adapters.db.migrate import upgrade
from ragline.adapters.db.tables import Collection, Document, User, new_id
from ragline.adapters.index import HybridIndex, Scope, pgvector
from ragline.adapters.index.matrix import MatrixVectors
from ragline.adapters.index.ports import VectorSearch
from ragline.adapters.index.store import check_embedder, replace_chunks
from ragline.adapters.index.vectors import _torch
from ragline.services.chunking import ChunkDraft
from tests.pgvector_server import PgVectorServer, pgvector_server

DIM = 384
CENTRES = 2000
DOC_CHUNKS = 50
TXN_CHUNKS = 5000


class Corpus:
    """Topic centres from `seed`; samples (chunks or queries) from the `stream` generator."""

    def __init__(self, seed: int = 1, stream: int = 0) -> None:
        self.centres = self._unit(np.random.default_rng(seed).normal(size=(CENTRES, DIM)))
        self.rng = np.random.default_rng([seed, stream])
        self.words = [f"w{i}" for i in range(5000)]
        weights = 1.0 / np.arange(1, len(self.words) + 1)
        self.weights = weights / weights.sum()

    @staticmethod
    def _unit(vectors: np.ndarray) -> np.ndarray:
        vectors = np.asarray(vectors, dtype=np.float32)
        unit: np.ndarray = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        return unit

    def vectors(self, n: int) -> np.ndarray:
        base = self.centres[self.rng.integers(0, CENTRES, size=n)]
        return self._unit(base + self.rng.normal(0, 0.6 / np.sqrt(DIM), size=base.shape))

    def texts(self, n: int) -> list[str]:
        picked = self.rng.choice(len(self.words), size=(n, 24), p=self.weights)
        return [" ".join(self.words[i] for i in row) for row in picked]

    def queries(self, n: int) -> list[tuple[str, np.ndarray]]:
        picked = self.rng.integers(20, 2000, size=(n, 4))
        return [(" ".join(self.words[i] for i in row) + f" q{k}", vector)
                for k, (row, vector) in enumerate(zip(picked, self.vectors(n), strict=True))]


class LookupEmbedder:
    """Query vectors decided in advance: the benchmark measures the index, not the model."""

    name = "bench:lookup"
    dim = DIM

    def __init__(self, table: dict[str, np.ndarray]) -> None:
        self.table = table

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([self.table[t] for t in texts])


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


async def setup_database(server: PgVectorServer, in_database: bool) -> tuple[Database, str]:
    url = server.create_database()
    await asyncio.to_thread(upgrade, url)
    db = Database(url)
    async with db.session() as session:
        if not in_database:  # what a server without the extension looks like to ragline
            await session.execute(text("ALTER TABLE chunks DROP COLUMN embedding_vector"))
        user = User(name="bench")
        session.add(user)
        await session.flush()
        collection = Collection(owner_id=user.id, name="bench", version=0)
        session.add(collection)
        await session.flush()
        collection_id = collection.id
    await check_embedder(db, LookupEmbedder.name, DIM)
    return db, collection_id


async def ingest(db: Database, collection_id: str, corpus: Corpus, count: int) -> float:
    """Chunks/s through the index store, 50 per document, 5,000 per transaction."""
    started = time.perf_counter()
    done = 0
    while done < count:
        batch = min(TXN_CHUNKS, count - done)
        vectors, texts = corpus.vectors(batch), corpus.texts(batch)
        async with db.session() as session:
            owner = await session.scalar(
                text("SELECT owner_id FROM collections WHERE id = :c"), {"c": collection_id})
            for start in range(0, batch, DOC_CHUNKS):
                document = Document(id=new_id(), collection_id=collection_id, owner_id=owner,
                                    source=f"s{done + start}", filename="s.txt",
                                    content_type="text/plain", content_hash=new_id(),
                                    status="ready")
                session.add(document)
                await session.flush()
                drafts = [ChunkDraft(ord=i, text=texts[start + i], page=None, heading_path=())
                          for i in range(min(DOC_CHUNKS, batch - start))]
                await replace_chunks(session, document_id=document.id,
                                     collection_id=collection_id, drafts=drafts,
                                     vectors=vectors[start:start + len(drafts)])
        done += batch
    return count / (time.perf_counter() - started)


async def scope_of(db: Database, collection_id: str) -> Scope:
    async with db.session() as session:
        version = await session.scalar(
            text("SELECT version FROM collections WHERE id = :c"), {"c": collection_id})
    return Scope(((collection_id, int(version)),))


async def vector_latencies(
    db: Database, backend: VectorSearch, scope: Scope, queries: list[tuple[str, np.ndarray]]
) -> tuple[list[float], list[list[int]]]:
    times, results = [], []
    for _, vector in queries:
        ready: asyncio.Future[np.ndarray] = asyncio.get_running_loop().create_future()
        ready.set_result(vector)
        started = time.perf_counter()
        async with db.session() as session:
            found = await backend.nearest(session, scope, ready, 50)
        times.append((time.perf_counter() - started) * 1000)
        results.append([chunk_id for chunk_id, _ in found[:10]])
    return times, results


async def execution_times(db: Database, collection_id: str,
                          queries: list[tuple[str, np.ndarray]]) -> list[float]:
    """The HNSW query's execution time inside PostgreSQL (EXPLAIN ANALYZE), without the round
    trips that a loaded client machine inflates."""
    sql = pgvector._APPROX.format(query=pgvector._QUERY, dim=DIM)
    statement = text("EXPLAIN (ANALYZE, FORMAT JSON) " + sql).bindparams(
        bindparam("collections", expanding=True))
    times = []
    async with db.session() as session:
        await session.execute(text("SELECT set_config('hnsw.ef_search', '100', true)"))
        for _, vector in queries:
            plan = await session.scalar(statement, {
                "query": pgvector.as_param(vector), "collections": [collection_id], "limit": 50})
            document = json.loads(plan) if isinstance(plan, str) else plan
            times.append(float(document[0]["Execution Time"]))
    return times


async def hybrid_latencies(index: HybridIndex, scope: Scope,
                           queries: list[tuple[str, np.ndarray]]) -> list[float]:
    async def resolve(_session: Any) -> Scope:
        return scope

    times = []
    for query, _ in queries:
        started = time.perf_counter()
        await index.search(query, resolve, top_k=5, mode="hybrid")
        times.append((time.perf_counter() - started) * 1000)
    return times


async def run_size(server: PgVectorServer, size: int, args: argparse.Namespace) -> None:
    queries = Corpus(seed=size, stream=1).queries(args.queries)  # same topics, other samples
    embedder = LookupEmbedder(dict(queries))
    row: dict[str, dict[str, Any]] = {}
    exact: list[list[int]] = []
    for kind in ("matrix", "pgvector"):
        db, collection_id = await setup_database(server, kind == "pgvector")
        corpus = Corpus(seed=size)  # the same chunks, in the same order, for both backends
        stats: dict[str, Any] = {"load_before": load()}
        stats["bulk_chunks_per_s"] = await ingest(db, collection_id, corpus, size)
        index = HybridIndex(db, embedder)
        if kind == "pgvector":
            started = time.perf_counter()
            async with db.session() as session:
                await session.execute(text("SET LOCAL max_parallel_maintenance_workers = 1"))
                await session.execute(text("SET LOCAL maintenance_work_mem = '4GB'"))
                await session.execute(text(pgvector.create_index_sql(DIM)))
            stats["hnsw_build_s"] = time.perf_counter() - started
        async with db.engine.connect() as conn:
            autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.execute(text("VACUUM ANALYZE chunks"))
        assert await index.prepare() == kind
        if kind == "matrix":
            started = time.perf_counter()
            await index.warm()
            stats["matrix_load_s"] = time.perf_counter() - started
            assert isinstance(index.vectors, MatrixVectors)
            matrices = index.vectors.cache._matrices.values()
            stats["memory_mb"] = sum(m.vectors.nbytes + m.ids.nbytes for m in matrices) / 2**20
        else:
            async with db.session() as session:
                stats["index_mb"] = (await session.scalar(text(
                    "SELECT pg_relation_size(:n)"), {"n": pgvector.index_name(DIM)}) or 0) / 2**20
        scope = await scope_of(db, collection_id)
        await vector_latencies(db, index.vectors, scope, queries[:10])  # warm caches
        times, found = await vector_latencies(db, index.vectors, scope, queries)
        stats["vector_p50"], stats["vector_p99"] = pct(times, 0.5), pct(times, 0.99)
        if kind == "matrix":
            exact = found
        else:
            hits = sum(len(set(a) & set(b)) for a, b in zip(found, exact, strict=True))
            stats["recall_at_10"] = hits / (10 * len(queries))
            inside = await execution_times(db, collection_id, queries[:50])
            stats["sql_exec_p50"], stats["sql_exec_p99"] = pct(inside, 0.5), pct(inside, 0.99)
        times = await hybrid_latencies(index, scope, queries)
        stats["hybrid_p50"], stats["hybrid_p99"] = pct(times, 0.5), pct(times, 0.99)
        stats["ingest_chunks_per_s"] = await ingest(db, collection_id, corpus, args.ingest)
        if kind == "matrix":  # the next search in each process re-reads what changed
            changed = await scope_of(db, collection_id)
            started = time.perf_counter()
            async with db.session() as session:
                await index.vectors.nearest(session, changed, _done(queries[0][1]), 50)
            stats["matrix_refresh_s"] = time.perf_counter() - started
        stats["load_after"] = load()
        row[kind] = stats
        print(f"{size:>9,} {kind:<8} " + "  ".join(
            f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in stats.items()),
            flush=True)
        await db.dispose()


def _done(vector: np.ndarray) -> asyncio.Future[np.ndarray]:
    future: asyncio.Future[np.ndarray] = asyncio.get_running_loop().create_future()
    future.set_result(vector)
    return future


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--ingest", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ragline-bench-index-") as tmp, \
            pgvector_server(Path(tmp)) as server:
        print(f"PostgreSQL 16 + pgvector at {server.socket_dir}; cores {os.cpu_count()}")
        _torch()  # imported once up front, not inside the first matrix load
        for size in (int(s) for s in args.sizes.split(",")):
            await run_size(server, size, args)


if __name__ == "__main__":
    asyncio.run(main())
