"""Vector search inside PostgreSQL (pgvector + HNSW) against a real server with the extension,
and the in-process matrix on a PostgreSQL without it.

The system PostgreSQL 15 has no pgvector, so a PostgreSQL 16 + pgvector 0.6 from the `pgserver`
wheel is started for this module, listening on a Unix socket in a temporary directory.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from sqlalchemy import text

from ragline.adapters.db.database import Database
from ragline.adapters.db.migrate import upgrade
from ragline.adapters.index import Scope, pgvector
from ragline.config import Settings
from ragline.web.app import create_app
from tests.integration.documents_support import running_service, settings_for
from tests.integration.test_documents_ingest import FILES, QUESTIONS
from tests.pgvector_server import PgVectorServer, Unavailable, pgvector_server

DIM = 384
SUBSET = ("kitchen.html", "security.md", "office.txt")  # three formats, little to embed


@pytest.fixture(scope="module")
def pg16(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PgVectorServer]:
    try:
        with pgvector_server(tmp_path_factory.mktemp("pgvector")) as server:
            yield server
    except Unavailable as exc:
        pytest.skip(f"no PostgreSQL with pgvector to test against: {exc}")


@pytest.fixture
def pgvector_url(pg16: PgVectorServer) -> str:
    return pg16.create_database()


@asynccontextmanager
async def in_process_app(pgvector_url: str, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The whole app in this process, lifespan included, on the pgvector database. Entered in
    the test's own task: the lifespan's task groups must be left by the task that entered them,
    which an async fixture's teardown is not."""
    settings = Settings(data_dir=tmp_path / "data", database_url=pgvector_url, redis_url=None,
                        default_model="scripted", load_model_at_startup=False,
                        embedder_warmup=False, log_json=False)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ragline") as http:
            yield http


async def _upload_all(http: httpx.AsyncClient) -> dict[str, str]:
    documents = {}
    for name in SUBSET:
        answer = await http.post("/api/documents", files={"file": (name, FILES[name])},
                                 data={"collection": "handbook"})
        assert answer.status_code == 202, answer.text
        documents[name] = answer.json()["document_id"]
    deadline = time.monotonic() + 120
    for name, document_id in documents.items():
        while (status := (await http.get(f"/api/documents/{document_id}")).json()["status"]) \
                not in ("ready", "failed"):
            assert time.monotonic() < deadline, f"{name} still {status}"
            await asyncio.sleep(0.1)
        assert status == "ready", name
    return documents


async def _sse_events(http: httpx.AsyncClient, run_id: str) -> list[tuple[str, Any]]:
    answer = await http.get(f"/api/runs/{run_id}/events")
    events, kind = [], ""
    for line in answer.text.splitlines():
        if line.startswith("event: "):
            kind = line[7:]
        elif line.startswith("data: "):
            events.append((kind, json.loads(line[6:])))
    return events


async def test_ingest_search_and_chat_run_on_vectors_inside_postgresql(
    pgvector_url: str, tmp_path: Path
) -> None:
    async with in_process_app(pgvector_url, tmp_path) as client:
        await _ingest_search_and_chat(client, pgvector_url)


async def _ingest_search_and_chat(client: httpx.AsyncClient, pgvector_url: str) -> None:
    ready = (await client.get("/readyz")).json()
    assert ready["checks"]["index"]["vectors"] == "pgvector"
    documents = await _upload_all(client)

    for mode in ("hybrid", "bm25", "vector"):
        for question, (source, page) in QUESTIONS.items():
            if source not in SUBSET:
                continue
            answer = await client.post("/api/search", json={
                "query": question, "collection": "handbook", "top_k": 3, "mode": mode})
            results = answer.json()["results"]
            assert results and results[0]["source"] == source, (mode, question, results[:1])
            assert results[0]["page"] == page

    thread = (await client.post("/api/threads", json={"collection": "handbook"})).json()
    posted = await client.post(f"/api/threads/{thread['thread_id']}/messages",
                               json={"content": "how long should spaghetti boil"})
    assert posted.status_code == 202
    events = await _sse_events(client, posted.json()["run_id"])
    kinds = [kind for kind, _ in events]
    assert kinds[-1] == "done" and events[-1][1]["status"] == "done", events[-3:]
    sources = next(data for kind, data in events if kind == "sources")["sources"]
    assert sources[0]["source"] == "kitchen.html"

    db = Database(pgvector_url)
    try:
        async with db.session() as session:
            stored = (await session.execute(text(
                "SELECT count(*), count(embedding_vector), count(embedding) FROM chunks"
            ))).one()
            indexes = await session.scalar(text(
                "SELECT count(*) FROM pg_indexes WHERE indexname = :name"
            ), {"name": pgvector.index_name(DIM)})
    finally:
        await db.dispose()
    assert stored[0] > 0 and stored[1] == stored[0] and stored[2] == 0  # no second copy
    assert indexes == 1

    assert (await client.delete(f"/api/documents/{documents['kitchen.html']}")).status_code == 204
    for mode in ("hybrid", "vector"):
        answer = await client.post("/api/search", json={
            "query": "how long should spaghetti boil", "collection": "handbook", "mode": mode})
        assert all(r["source"] != "kitchen.html" for r in answer.json()["results"])


async def _seed_random(db: Database, rows: dict[str, int], rng: np.random.Generator) -> None:
    """Chunks with random unit vectors, `rows[collection]` of them, through the index store."""
    from ragline.adapters.db.tables import Collection, Document, User
    from ragline.adapters.index.store import replace_chunks
    from ragline.services.chunking import ChunkDraft

    async with db.session() as session:
        user = User(name="u")
        session.add(user)
        await session.flush()
        for name, count in rows.items():
            collection = Collection(owner_id=user.id, name=name, version=0)
            session.add(collection)
            await session.flush()
            document = Document(collection_id=collection.id, owner_id=user.id, source=name,
                                filename=name, content_type="text/plain", content_hash=name)
            session.add(document)
            await session.flush()
            drafts = [ChunkDraft(text=f"passage {i}", ord=i, page=None,
                                 heading_path=()) for i in range(count)]
            vectors = rng.normal(size=(count, DIM)).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            await replace_chunks(session, document_id=document.id,
                                 collection_id=collection.id, drafts=drafts, vectors=vectors)


async def _collection_id(db: Database, name: str) -> str:
    async with db.session() as session:
        return str(await session.scalar(
            text("SELECT id FROM collections WHERE name = :n"), {"n": name}))


async def test_a_small_collection_in_a_big_index_still_gets_its_nearest_chunks(
    pgvector_url: str,
) -> None:
    """HNSW filters after the graph walk; a short answer falls back to an exact scan."""
    await asyncio.to_thread(upgrade, pgvector_url)
    db = Database(pgvector_url)
    rng = np.random.default_rng(7)
    try:
        await _seed_random(db, {"big": 3000, "small": 4}, rng)
        async with db.session() as session:
            assert await pgvector.ensure_index(session, DIM)
            await session.execute(text("ANALYZE chunks"))
        vectors = pgvector.PgVectors(DIM)
        query = rng.normal(size=DIM).astype(np.float32)
        query /= np.linalg.norm(query)
        ready: asyncio.Future[np.ndarray] = asyncio.get_running_loop().create_future()
        ready.set_result(query)
        small = Scope(((await _collection_id(db, "small"), 0),))
        big = Scope(((await _collection_id(db, "big"), 0),))
        async with db.session() as session:
            found_small = await vectors.nearest(session, small, ready, 50)
            found_big = await vectors.nearest(session, big, ready, 50)
            exact_big = await session.execute(text(
                "SELECT id FROM chunks WHERE collection_id = :c "
                "ORDER BY embedding_vector <#> CAST(CAST(:q AS real[]) AS vector) LIMIT 10"
            ), {"c": big.collection_ids[0], "q": pgvector.as_param(query)})
            relevance = await vectors.similarities(
                session, small, query, [chunk_id for chunk_id, _ in found_small])
        assert len(found_small) == 4
        assert [s for _, s in found_small] == sorted((s for _, s in found_small), reverse=True)
        assert relevance == pytest.approx(dict(found_small), abs=1e-5)
        assert len(found_big) == 50
        top_exact = {int(row[0]) for row in exact_big}
        assert len(top_exact & {chunk_id for chunk_id, _ in found_big[:10]}) >= 8  # recall
    finally:
        await db.dispose()


async def test_the_vector_query_walks_the_hnsw_index(pgvector_url: str) -> None:
    await asyncio.to_thread(upgrade, pgvector_url)
    db = Database(pgvector_url)
    try:
        async with db.session() as session:
            await pgvector.ensure_index(session, DIM)
            # An empty table makes any plan cheap: forbid sorting, so only an ordered index scan
            # can answer, and check that the HNSW index is one the query can use.
            await session.execute(text("SET LOCAL enable_sort = off"))
            sql = pgvector._APPROX.format(query=pgvector._QUERY, dim=DIM)
            plan = await session.execute(
                text("EXPLAIN " + sql.replace("IN :collections", "IN ('c')")),
                {"query": [0.0] * DIM, "limit": 5})
            lines = "\n".join(str(row[0]) for row in plan)
        assert pgvector.index_name(DIM) in lines, lines
    finally:
        await db.dispose()


async def test_without_the_extension_vectors_stay_in_process_and_the_log_says_so(
    pg_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The system PostgreSQL 15 has no pgvector: migration 0004 changes nothing."""
    caplog.set_level(logging.INFO, logger="ragline.adapters.index.hybrid")
    async with running_service(settings_for(pg_url, tmp_path / "data")) as service:
        assert service.readiness()["vectors"] == "matrix"
        async with service.db.session() as session:
            assert not await pgvector.has_vector_column(session)
    assert "vector search: in-process matrix" in caplog.text
