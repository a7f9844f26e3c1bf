"""Document benchmarks (issue 4): ingestion throughput against raw `encode()`, search latency
per mode at 10k and 100k chunks, and index size on disk per chunk.

1. Ingestion: a generated corpus of PDFs goes end to end through the document service (parse,
   chunk, embed, index into SQLite); the exact texts it embedded are then encoded again with
   the bare model in the same run, so the ratio compares like with like.
2. Search: synthetic chunks are bulk-inserted (texts from a Zipf vocabulary; vectors are the
   real embeddings from step 1 plus noise, so no extra hours of encoding), then distinct
   queries run through `DocumentService.search`, query embedding included (cache cleared).

    python bench/bench_documents.py [--pages 400] [--sizes 10000,100000] [--queries 100]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert, text

from ragline.adapters.db.database import Database
from ragline.adapters.db.migrate import upgrade
from ragline.adapters.db.tables import Chunk, Document, User, new_id
from ragline.adapters.embed.local_onnx import OnnxEmbedder
from ragline.adapters.index.vectors import to_blob
from ragline.config import Settings
from ragline.services.documents import DocumentService
from tests.doc_samples import make_pdf

SYLLABLES = ("ka", "lo", "mi", "ne", "ru", "ta", "vo", "shi", "en", "dor", "pel", "qua", "bri",
             "sto", "max", "zen", "ul", "fra", "gen", "tor")


class RecordingEmbedder(OnnxEmbedder):
    """The default local embedder, remembering every text it was asked to embed."""

    def __init__(self) -> None:
        super().__init__(Settings().model_dir)
        self.seen: list[str] = []

    def encode(self, texts: Any) -> np.ndarray:
        self.seen.extend(texts)
        return super().encode(texts)


def vocabulary(size: int, rng: random.Random) -> list[str]:
    words = {"".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))
             for _ in range(size * 3)}
    shuffled = sorted(words)
    rng.shuffle(shuffled)
    return shuffled[:size]


def sentence(words: list[str], weights: np.ndarray, rng: np.random.Generator, n: int) -> str:
    picked = rng.choice(len(words), size=n, p=weights)
    return " ".join(words[i] for i in picked).capitalize() + "."


def corpus_pdfs(pages: int, words: list[str], weights: np.ndarray, seed: int) -> list[bytes]:
    """PDFs of 10 pages, ~40 lines of ~9 words per page (about 360 words, a printed page)."""
    rng = np.random.default_rng(seed)
    files = []
    for start in range(0, pages, 10):
        doc_pages = [[sentence(words, weights, rng, 9) for _ in range(40)]
                     for _ in range(min(10, pages - start))]
        files.append(make_pdf(doc_pages, title=f"Report {start // 10}"))
    return files


def make_queries(words: list[str], count: int) -> list[str]:
    """Like real questions: one common word (rank 20-200) and three rarer content words."""
    rng = np.random.default_rng(99)
    return [
        " ".join([words[rng.integers(20, 200)], *(words[i] for i in
                                                   rng.integers(200, len(words), size=3))])
        for _ in range(count)
    ]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def bench_ingest(service: DocumentService, owner: str, pdfs: list[bytes],
                       pages: int) -> dict[str, float]:
    started = time.perf_counter()
    results = await asyncio.gather(*(
        service.ingest_now(owner, filename=f"r{i}.pdf", data=data, collection="bench",
                           source=f"r{i}.pdf")
        for i, data in enumerate(pdfs)
    ))
    elapsed = time.perf_counter() - started
    assert all(status == "ready" for _, status in results), results
    embedder = service.embedder
    assert isinstance(embedder, RecordingEmbedder)
    texts = list(embedder.seen)
    model = embedder.model()
    started = time.perf_counter()
    model.encode(texts, batch_size=embedder.batch_size, normalize_embeddings=True,
                 show_progress_bar=False)
    raw = time.perf_counter() - started
    return {"pages": pages, "chunks": len(texts), "ingest_s": elapsed,
            "pages_per_s": pages / elapsed, "chunks_per_s": len(texts) / elapsed,
            "raw_encode_chunks_per_s": len(texts) / raw,
            "ratio_to_raw": (len(texts) / elapsed) / (len(texts) / raw)}


async def grow(db: Database, owner: str, collection_id: str, target: int, have: int,
               words: list[str], weights: np.ndarray, seeds: np.ndarray, seed: int) -> None:
    """Bulk-insert synthetic chunks (50 per document) until the collection holds `target`."""
    rng = np.random.default_rng(seed)
    while have < target:
        batch = min(5000, target - have)
        documents, chunks = [], []
        for d in range(0, batch, 50):
            document_id = new_id()
            documents.append({"id": document_id, "collection_id": collection_id,
                              "owner_id": owner, "source": f"synthetic/{have + d}.txt",
                              "title": None, "filename": "s.txt", "content_type": "text/plain",
                              "content_hash": document_id, "size": 0, "status": "ready",
                              "pages": 1, "chunks": 50})
            base = seeds[rng.integers(0, len(seeds), size=min(50, batch - d))]
            vectors = base + rng.normal(0, 0.35 / np.sqrt(base.shape[1]), size=base.shape)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            for j, vector in enumerate(vectors):
                body = " ".join(sentence(words, weights, rng, 12) for _ in range(10))
                chunks.append({"document_id": document_id, "collection_id": collection_id,
                               "ord": j, "text": body, "page": 1, "heading": None,
                               "embedding": to_blob(vector.astype(np.float32))})
        async with db.session() as session:
            await session.execute(insert(Document), documents)
            await session.execute(insert(Chunk), chunks)
            await session.execute(text("UPDATE collections SET version = version + 1 "
                                       "WHERE id = :c"), {"c": collection_id})
        have += batch


async def bench_search(service: DocumentService, owner: str, queries: list[str]) -> dict[str, Any]:
    await service.search(owner, "warm up the caches", "bench", 5)  # loads the matrix
    embed_ms = []
    for q in queries[:50]:
        started = time.perf_counter()
        await service.embedder.embed([q + " x"])
        embed_ms.append((time.perf_counter() - started) * 1000)
    out: dict[str, Any] = {"query_embedding_p50_ms": pct(embed_ms, 0.5)}
    for mode in ("hybrid", "bm25", "vector"):
        latencies = []
        for q in queries:
            service.index._queries.clear()  # every measurement includes the query embedding
            started = time.perf_counter()
            await service.search(owner, q, "bench", 5, mode)
            latencies.append((time.perf_counter() - started) * 1000)
        out[mode] = {"p50_ms": pct(latencies, 0.5), "p99_ms": pct(latencies, 0.99)}
    return out


async def main(args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(7)
    words = vocabulary(8000, rng)
    ranks = np.arange(1, len(words) + 1)
    weights = (1 / ranks) / (1 / ranks).sum()
    workdir = Path(tempfile.mkdtemp(prefix="ragline-bench-"))
    settings = Settings(data_dir=workdir, database_url=None, redis_url=None,
                        embedder_warmup=False)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    await asyncio.to_thread(upgrade, settings.resolved_database_url)
    db = Database(settings.resolved_database_url)
    service = DocumentService(settings, db, RecordingEmbedder())
    await service.prepare()
    async with db.session() as session:
        user = User(name="bench")
        session.add(user)
        await session.flush()
        owner = user.id
    await service.embedder.warmup()  # type: ignore[attr-defined]
    report: dict[str, Any] = {"workdir": str(workdir)}
    pdfs = corpus_pdfs(args.pages, words, weights, seed=1)
    report["ingest"] = await bench_ingest(service, owner, pdfs, args.pages)
    print(json.dumps(report["ingest"], indent=1), flush=True)
    async with db.session() as session:
        collection = (await session.execute(
            text("SELECT id FROM collections WHERE name = 'bench'"))).scalar_one()
        seeds_rows = (await session.execute(text("SELECT embedding FROM chunks"))).all()
        have = int((await session.execute(text("SELECT count(*) FROM chunks"))).scalar_one())
    seeds = np.stack([np.frombuffer(r[0], dtype=np.float32) for r in seeds_rows])
    queries = make_queries(words, args.queries)
    db_path = workdir / "ragline.db"
    for size in args.sizes:
        started = time.perf_counter()
        await grow(db, owner, collection, size, have, words, weights, seeds, seed=size)
        have = max(have, size)
        grown = time.perf_counter() - started
        async with db.session() as session:
            await session.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        result = await bench_search(service, owner, queries)
        result["insert_s"] = grown
        result["db_bytes_per_chunk"] = db_path.stat().st_size / have
        report[f"search_{size}"] = result
        print(size, json.dumps(result, indent=1), flush=True)
    await db.dispose()
    return report


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--pages", type=int, default=400)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--json", type=Path, help="also write the report here")
    ns = parser.parse_args()
    ns.sizes = [int(s) for s in ns.sizes.split(",")]
    result = asyncio.run(main(ns))
    if ns.json:
        ns.json.write_text(json.dumps(result, indent=2))
