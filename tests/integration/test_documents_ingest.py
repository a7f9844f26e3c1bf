"""Upload → background ingestion → hybrid search, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import func, select, update

from ragline.adapters.db.database import Database
from ragline.adapters.db.migrate import upgrade
from ragline.adapters.db.tables import Chunk, Job
from ragline.adapters.index import EmbedderMismatch, check_embedder
from ragline.domain.errors import NotFound
from ragline.services.documents import DocumentService
from tests.doc_samples import make_docx, make_encrypted_pdf, make_html, make_pdf
from tests.integration.documents_support import (
    add_user,
    running_service,
    settings_for,
    wait_for_job,
)

FILES = {
    "handbook.pdf": make_pdf(
        [["Welcome to the company handbook."],
         ["Employees receive twenty-five days of paid vacation every year."]],
        title="Employee Handbook",
    ),
    "kitchen.html": make_html(
        "Kitchen", "<h1>Pasta</h1><p>Boil the spaghetti in salted water for nine minutes.</p>"
    ),
    "security.md": b"# Security\n\nRotate your password every ninety days.\n\n## VPN\n\n"
                   b"Always connect through the VPN on public wifi networks.",
    "office.txt": b"The office opens at eight in the morning and closes at six.",
    "cars.docx": make_docx("Cars", [("Engines", ["A diesel engine uses compression ignition."])]),
}
QUESTIONS = {
    "how many vacation days do employees get": ("handbook.pdf", 2),
    "how long should spaghetti boil": ("kitchen.html", None),
    "how does a diesel engine ignite fuel": ("cars.docx", None),
    "when does the office open": ("office.txt", None),
    "should I use a VPN on public wifi": ("security.md", None),
}


@pytest.fixture
async def service(database_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    async with running_service(settings_for(database_url, tmp_path / "data")) as svc:
        yield svc


async def _ingest_all(service: DocumentService, owner: str, collection: str = "default") -> dict:
    registered = {}
    for name, data in FILES.items():
        registered[name] = await service.upload(owner, filename=name, data=data,
                                                collection=collection)
    for name, reg in registered.items():
        job = await wait_for_job(service, owner, reg.job.id)
        assert job.status == "ready", (name, job.error)
        assert job.progress == 1.0
    return registered


async def test_every_file_type_is_ingested_and_found_in_every_mode(
    service: DocumentService,
) -> None:
    owner = await add_user(service.db)
    registered = await _ingest_all(service, owner)
    pdf = (await service.get_document(owner, registered["handbook.pdf"].document.id)).document
    assert (pdf.status, pdf.title, pdf.pages, pdf.chunks) == ("ready", "Employee Handbook", 2, 2)
    for mode in ("hybrid", "bm25", "vector"):
        for question, (source, page) in QUESTIONS.items():
            hits = await service.search(owner, question, "default", 3, mode)
            assert hits, (mode, question)
            assert hits[0]["source"] == source, (mode, question, hits[0])
            assert hits[0]["page"] == page
            assert set(hits[0]) >= {"chunk_id", "document_id", "source", "title", "page",
                                    "text", "score", "relevance"}
            assert hits == sorted(hits, key=lambda h: h["score"], reverse=True)


async def test_relevance_separates_real_questions_from_unrelated_ones(
    service: DocumentService,
) -> None:
    owner = await add_user(service.db)
    await _ingest_all(service, owner)
    min_score = service.settings.retrieval_min_score
    for question in QUESTIONS:
        hits = await service.search(owner, question, "default", 1)
        assert hits[0]["relevance"] >= min_score, (question, hits[0]["relevance"])
    for unrelated in ("who won the football world cup in 1998",
                      "explain quantum chromodynamics on a lattice",
                      "best chocolate cake recipe"):
        hits = await service.search(owner, unrelated, "default", 5)
        assert all(h["relevance"] < min_score for h in hits), (unrelated, hits[:1])


async def test_identical_bytes_are_not_ingested_twice(service: DocumentService) -> None:
    owner = await add_user(service.db)
    first = await service.upload(owner, filename="a.txt", data=b"same bytes here")
    await wait_for_job(service, owner, first.job.id)
    again = await service.upload(owner, filename="renamed.txt", data=b"same bytes here")
    assert not again.created
    assert again.document.id == first.document.id and again.job.id == first.job.id
    other = await service.upload(owner, filename="a.txt", data=b"same bytes here",
                                 collection="elsewhere")
    assert other.created and other.document.id != first.document.id


async def test_delete_removes_passages_from_results_at_once(service: DocumentService) -> None:
    owner = await add_user(service.db)
    registered = await _ingest_all(service, owner)
    question = "how many vacation days do employees get"
    before_version = await service.collection_version(owner, "default")
    assert (await service.search(owner, question, None, 5))[0]["source"] == "handbook.pdf"
    await service.delete_document(owner, registered["handbook.pdf"].document.id)
    assert await service.collection_version(owner, "default") == (before_version or 0) + 1
    for mode in ("hybrid", "bm25", "vector"):
        hits = await service.search(owner, question, None, 10, mode)
        assert all(h["source"] != "handbook.pdf" for h in hits)
    with pytest.raises(NotFound):
        await service.get_document(owner, registered["handbook.pdf"].document.id)


async def test_unreadable_files_fail_with_a_reason_and_the_rest_are_ingested(
    service: DocumentService,
) -> None:
    owner = await add_user(service.db)
    bad = await service.upload(owner, filename="locked.pdf", data=make_encrypted_pdf())
    corrupt = await service.upload(owner, filename="broken.pdf", data=b"%PDF-1.4 garbage")
    good = await service.upload(owner, filename="ok.txt", data=b"good content survives")
    locked = await wait_for_job(service, owner, bad.job.id)
    assert locked.error.startswith("the PDF is encrypted")
    assert "corrupt" in (await wait_for_job(service, owner, corrupt.job.id)).error
    assert (await wait_for_job(service, owner, good.job.id)).status == "ready"
    view = await service.get_document(owner, bad.document.id)
    assert view.document.status == "failed" and "encrypted" in (view.document.error or "")
    retried = await service.upload(owner, filename="locked.pdf", data=make_encrypted_pdf())
    assert retried.created or retried.document.status == "failed"


async def test_searches_are_scoped_by_owner_collection_and_document(
    service: DocumentService,
) -> None:
    alice, bob = await add_user(service.db, "alice"), await add_user(service.db, "bob")
    registered = await _ingest_all(service, alice, "handbook")
    question = "how many vacation days do employees get"
    assert await service.search(bob, question, None, 5) == []
    assert await service.collection_version(bob, "handbook") is None
    with pytest.raises(NotFound):
        await service.search(bob, question, "handbook", 5)
    with pytest.raises(NotFound):
        await service.get_document(bob, registered["handbook.pdf"].document.id)
    assert await service.search(alice, question, "default", 5) == []
    only = registered["kitchen.html"].document.id
    for mode in ("hybrid", "bm25", "vector"):
        hits = await service.search(alice, question, "handbook", 5, mode, document_ids=[only])
        assert {h["document_id"] for h in hits} <= {only}
    listed = await service.list_collections(alice, limit=10)
    assert [(c.name, c.documents, c.chunks) for c in listed] == [
        ("handbook", 5, 7), ("default", 0, 0)  # oldest first; `default` appeared on first use
    ]


async def test_a_crashed_job_is_retried_and_gives_up_after_max_attempts(
    database_url: str, tmp_path: Path
) -> None:
    settings = settings_for(database_url, tmp_path / "data", ingest_stale_seconds=0.6,
                            ingest_max_attempts=2)
    async with running_service(settings) as service:
        owner = await add_user(service.db)
        registered = await service.upload(owner, filename="x.txt", data=b"retry me please")
        await wait_for_job(service, owner, registered.job.id)
        long_ago = datetime.now(UTC) - timedelta(minutes=5)
        async with service.db.session() as session:  # as if a worker died while embedding
            await session.execute(update(Job).where(Job.id == registered.job.id).values(
                status="embedding", attempts=1, updated_at=long_ago))
        job = await wait_for_job(service, owner, registered.job.id, within=30)
        assert (job.status, job.attempts) == ("ready", 2)
        async with service.db.session() as session:
            chunks = await session.scalar(select(func.count()).select_from(Chunk).where(
                Chunk.document_id == registered.document.id))
            assert chunks == 1  # the retry replaced the chunks instead of adding more
            await session.execute(update(Job).where(Job.id == registered.job.id).values(
                status="indexing", attempts=2, updated_at=long_ago))
        job = await wait_for_job(service, owner, registered.job.id, within=30)
        assert job.status == "failed" and "interrupted 2 times" in job.error


async def test_an_index_built_by_another_embedder_refuses_to_start(
    database_url: str, tmp_path: Path
) -> None:
    async with running_service(settings_for(database_url, tmp_path / "data")) as service:
        owner = await add_user(service.db)
        reg = await service.upload(owner, filename="x.txt", data=b"some words")
        await wait_for_job(service, owner, reg.job.id)
    db = Database(database_url)
    try:
        await check_embedder(db, "local:all-MiniLM-L6-v2", 384)
        with pytest.raises(EmbedderMismatch, match="was built with embedder"):
            await check_embedder(db, "openai:text-embedding-3-small", 1536)
    finally:
        await db.dispose()


@pytest.mark.parametrize("mode", ["hybrid", "bm25", "vector"])
async def test_queries_with_search_syntax_or_odd_characters_never_fail(
    service: DocumentService, mode: str
) -> None:
    owner = await add_user(service.db)
    reg = await service.upload(owner, filename="a.txt", data=b"snake_case names and NEAR things")
    await wait_for_job(service, owner, reg.job.id)
    odd = ('"; DROP TABLE chunks; --', "NEAR(a b)", "*", "a AND OR NOT", "col:value",
           "日本語のテキスト", "emoji 🎉 test", "snake_case", "'quoted' \"double\"", "-", "^x")
    for query in odd:
        hits = await service.search(owner, query, None, 3, mode)
        assert isinstance(hits, list)
    hits = await service.search(owner, "snake_case", None, 3, "bm25")
    assert hits and hits[0]["document_id"] == reg.document.id


async def test_the_vector_cache_follows_inserts_and_deletes_incrementally(
    service: DocumentService,
) -> None:
    owner = await add_user(service.db)
    first = await service.upload(owner, filename="one.txt", data=b"Alpacas live in the Andes.")
    await wait_for_job(service, owner, first.job.id)
    assert [h["source"] for h in await service.search(owner, "alpaca", None, 5, "vector")] == [
        "one.txt"
    ]
    second = await service.upload(owner, filename="two.txt", data=b"Glaciers carve valleys.")
    await wait_for_job(service, owner, second.job.id)
    assert {h["source"] for h in await service.search(owner, "alpaca", None, 5, "vector")} == {
        "one.txt", "two.txt"
    }
    await service.delete_document(owner, second.document.id)
    third = await service.upload(owner, filename="three.txt", data=b"Volcanoes erupt lava.")
    await wait_for_job(service, owner, third.job.id)  # on SQLite it may reuse the deleted ids
    hits = await service.search(owner, "volcano eruption", None, 5, "vector")
    assert hits[0]["source"] == "three.txt"
    assert "two.txt" not in {h["source"] for h in hits}
    assert hits[0]["relevance"] > 0.5


class _CountingEmbedder:
    """Our embedding port, faked: records the size of every call."""

    name, dim = "test:counting", 8

    def __init__(self) -> None:
        self.calls: list[int] = []

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(len(texts))
        vectors = np.ones((len(texts), self.dim), np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    loaded = True

    async def warmup(self) -> None:
        return None

    async def aclose(self) -> None:
        return None


async def test_a_large_text_is_read_chunked_and_embedded_in_bounded_pieces_off_the_loop(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 16: a big upload is never parsed whole, nor on the event loop; it is embedded in
    batches of at most `embed_batch` and every chunk is written once, in order."""
    import ragline.services.ingest as ingest_module
    from ragline.adapters.parse import stream as stream_module

    loop_thread = threading.get_ident()
    seen: list[tuple[bool, int]] = []  # (on the loop's thread, characters) per chunking call
    chunk = ingest_module.chunk_sections

    def recording_chunk(sections: Sequence[Any], **kwargs: Any) -> Any:
        seen.append((threading.get_ident() == loop_thread, sum(len(s.text) for s in sections)))
        return chunk(sections, **kwargs)

    def no_whole_parse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a plain text upload was parsed whole")

    monkeypatch.setattr(ingest_module, "chunk_sections", recording_chunk)
    monkeypatch.setattr(stream_module, "parse", no_whole_parse)
    paragraph = " ".join(f"Word{i} of the bounded ingestion test." for i in range(30))
    data = "\n\n".join(f"Section {n}. {paragraph}" for n in range(600)).encode()  # ~0.8 MB
    settings = settings_for(database_url, tmp_path / "data")
    await asyncio.to_thread(upgrade, settings.resolved_database_url)
    db = Database(settings.resolved_database_url)
    embedder = _CountingEmbedder()
    service = DocumentService(settings, db, embedder)
    service.ingest.piece_chars, service.ingest.embed_batch = 64 * 1024, 16
    await service.start()
    try:
        owner = await add_user(db)
        registered = await service.upload(owner, filename="big.txt", data=data)
        job = await wait_for_job(service, owner, registered.job.id)
        assert job.status == "ready", job.error
        document = (await service.get_document(owner, registered.document.id)).document
        async with db.session() as session:
            ords = list(await session.scalars(
                select(Chunk.ord).where(Chunk.document_id == document.id).order_by(Chunk.ord)))
    finally:
        await service.stop()
        await db.dispose()
    assert document.chunks == len(ords) == sum(embedder.calls) > 200
    assert ords == list(range(len(ords)))
    assert max(embedder.calls) <= 16 and len(embedder.calls) <= len(ords) // 16 + len(seen)
    assert len(seen) >= len(data) // (64 * 1024)  # one chunking call per piece
    assert not any(on_loop for on_loop, _ in seen)
    assert max(size for _, size in seen) <= 64 * 1024
