"""Folder sync on SQLite and PostgreSQL: edits re-embed only changed chunks (counted at the
embedder), renames embed nothing, deleted files never come back from search, one sync at a time."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select, update

from ragline.adapters.db.tables import Chunk, Document, SyncJob
from ragline.domain.errors import Conflict
from ragline.services import collections as coll
from ragline.services import sync_jobs
from ragline.services.documents import DocumentService
from tests.integration.documents_support import add_user, running_service, settings_for
from tests.pgvector_server import PgVectorServer, Unavailable, pgvector_server

SECTIONS = {
    "Boats": "Sailing boats need a keel to stay upright in strong wind.",
    "Trains": "Night trains leave the central station at eleven in the evening.",
    "Bikes": "A tandem bicycle carries two riders on one frame.",
}


def _markdown(sections: dict[str, str]) -> str:
    return "# Transport\n\n" + "".join(f"## {h}\n\n{t}\n\n" for h, t in sections.items())


class CountingEmbedder:
    """The service's embedder, recording every text it is asked to embed."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.texts: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.texts.extend(texts)
        return await self.inner.embed(texts)

    def take(self) -> list[str]:
        taken, self.texts = self.texts, []
        return taken


@pytest.fixture(scope="module")
def pg16(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PgVectorServer]:
    try:
        with pgvector_server(tmp_path_factory.mktemp("pgvector")) as server:
            yield server
    except Unavailable as exc:
        pytest.skip(f"no PostgreSQL with pgvector to test against: {exc}")


@pytest.fixture
async def service(database_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    async with running_service(settings_for(database_url, tmp_path / "data")) as svc:
        svc.ingest.embedder = CountingEmbedder(svc.ingest.embedder)
        yield svc


async def _documents(service: DocumentService, owner: str) -> dict[str, Document]:
    return {v.document.source: v.document
            for v in await service.list_documents(owner, "transport", limit=100)}


async def _sources(service: DocumentService, owner: str, query: str) -> set[str]:
    found: set[str] = set()
    for mode in ("hybrid", "bm25", "vector"):
        found |= {h["source"] for h in await service.search(owner, query, "transport", 10, mode)}
    return found


async def test_edit_rename_and_delete_embed_only_what_changed_and_the_deleted_file_is_gone(
    service: DocumentService, tmp_path: Path
) -> None:
    await _edit_rename_and_delete(service, tmp_path)


async def test_vectors_are_reused_from_pgvector_too(
    pg16: PgVectorServer, tmp_path: Path
) -> None:
    settings = settings_for(pg16.create_database(), tmp_path / "data")
    async with running_service(settings) as svc:
        assert svc.index.vectors.kind == "pgvector"
        svc.ingest.embedder = CountingEmbedder(svc.ingest.embedder)
        await _edit_rename_and_delete(svc, tmp_path)


async def _edit_rename_and_delete(service: DocumentService, tmp_path: Path) -> None:
    owner = await add_user(service.db)
    counter: CountingEmbedder = service.ingest.embedder  # type: ignore[assignment]
    folder = tmp_path / "folder"
    (folder / "notes").mkdir(parents=True)
    (folder / "transport.md").write_text(_markdown(SECTIONS))
    (folder / "notes" / "kitchen.txt").write_text("Boil the spaghetti for nine minutes.")
    (folder / "volcano.txt").write_text("The obsidian volcano erupted with purple basalt.")

    first = await service.sync_now(owner, "transport", folder, delete=True)
    assert first.status == "ready", first.error
    assert {k: first.counts[k] for k in ("added", "changed", "deleted", "unchanged")} == {
        "added": 3, "changed": 0, "deleted": 0, "unchanged": 0}
    initial = counter.take()
    assert len(initial) == first.counts["chunks_embedded"] >= 5
    before = await _documents(service, owner)
    assert set(before) == {"transport.md", "notes/kitchen.txt", "volcano.txt"}
    assert "volcano.txt" in await _sources(service, owner, "obsidian volcano purple basalt")

    edited = dict(SECTIONS, Trains="Night trains now leave the harbour station at midnight.")
    (folder / "transport.md").write_text(_markdown(edited))
    (folder / "notes" / "kitchen.txt").rename(folder / "pasta.txt")
    (folder / "volcano.txt").unlink()
    second = await service.sync_now(owner, "transport", folder, delete=True)
    assert second.status == "ready", second.error
    counts = second.counts
    assert {k: counts[k] for k in ("added", "changed", "deleted", "unchanged", "renamed")} == {
        "added": 0, "changed": 1, "deleted": 1, "unchanged": 0, "renamed": 1}
    embedded = counter.take()  # exactly the edited section, under its title and heading
    assert embedded == ["Transport > Trains\n" + edited["Trains"]]
    assert (counts["chunks_embedded"], counts["chunks_reused"]) == (1, len(SECTIONS) - 1)

    after = await _documents(service, owner)
    assert set(after) == {"transport.md", "pasta.txt"}
    assert after["transport.md"].id == before["transport.md"].id
    assert after["pasta.txt"].id == before["notes/kitchen.txt"].id
    assert after["pasta.txt"].filename == "pasta.txt"
    async with service.db.session() as session:
        texts = list(await session.scalars(select(Chunk.text).where(
            Chunk.document_id == after["transport.md"].id).order_by(Chunk.ord)))
        left = await session.scalar(select(Chunk.id).where(
            Chunk.document_id == before["volcano.txt"].id))
    assert [t for t in texts if "trains" in t.lower()] == [edited["Trains"]]
    assert left is None
    assert "volcano.txt" not in await _sources(service, owner, "obsidian volcano purple basalt")
    assert "transport.md" in await _sources(service, owner, "harbour station midnight")
    assert "pasta.txt" in await _sources(service, owner, "how long to boil spaghetti")

    third = await service.sync_now(owner, "transport", folder, delete=True)
    assert (third.counts["unchanged"], third.counts["chunks_embedded"]) == (2, 0)
    assert counter.take() == []


async def test_without_delete_a_gone_file_is_kept_and_counted_missing(
    service: DocumentService, tmp_path: Path
) -> None:
    owner = await add_user(service.db)
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "a.txt").write_text("Apples grow on trees in the orchard.")
    (folder / "b.txt").write_text("Bees make honey in the hive.")
    await service.sync_now(owner, "transport", folder, delete=False)
    (folder / "b.txt").unlink()
    job = await service.sync_now(owner, "transport", folder, delete=False)
    assert (job.counts["deleted"], job.counts["missing"], job.counts["unchanged"]) == (0, 1, 1)
    job = await service.sync_now(owner, "transport", folder, delete=True)
    assert (job.counts["deleted"], job.counts["missing"]) == (1, 0)
    assert set(await _documents(service, owner)) == {"a.txt"}


async def test_a_second_sync_of_a_collection_is_refused_while_one_runs(
    service: DocumentService, tmp_path: Path
) -> None:
    owner = await add_user(service.db)
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "a.txt").write_text("Apples grow on trees in the orchard.")
    async with service.db.session() as session:
        collection = await coll.get_or_create_collection(session, owner, "transport")
    running = await sync_jobs.begin_sync(service.db, collection, path=str(folder), delete=False,
                                         origin="cli", stale_seconds=60)
    with pytest.raises(Conflict) as refused:
        await service.sync_now(owner, "transport", folder, delete=False)
    assert refused.value.code == "sync_running"
    assert refused.value.details == {"job_id": running.id}

    async with service.db.session() as session:  # its process died: no heartbeat for long
        await session.execute(update(SyncJob).where(SyncJob.id == running.id).values(
            updated_at=datetime.now(UTC) - timedelta(hours=1)))
    job = await service.sync_now(owner, "transport", folder, delete=False)
    assert (job.status, job.counts["added"]) == ("ready", 1)
    async with service.db.session() as session:
        stale = await session.get_one(SyncJob, running.id)
    assert (stale.status, stale.error) == ("failed", "interrupted: no heartbeat")


async def test_a_stale_server_sync_is_requeued_and_a_stale_cli_sync_is_failed(
    service: DocumentService, tmp_path: Path
) -> None:
    owner = await add_user(service.db)
    async with service.db.session() as session:
        served = await coll.get_or_create_collection(session, owner, "served")
        local = await coll.get_or_create_collection(session, owner, "local")
    jobs = {}
    for collection, origin in ((served, "server"), (local, "cli")):
        jobs[origin] = await sync_jobs.begin_sync(service.db, collection, path=str(tmp_path),
                                                  delete=False, origin=origin, stale_seconds=60)
    async with service.db.session() as session:
        await session.execute(update(SyncJob).values(
            status="running", attempts=1, updated_at=datetime.now(UTC) - timedelta(hours=1)))
    queued: list[str] = []

    async def enqueue(job_id: str) -> None:
        queued.append(job_id)

    assert await sync_jobs.requeue_stale_syncs(service.db, 60, enqueue) == 1
    assert queued == [jobs["server"].id]
    async with service.db.session() as session:
        server_job = await session.get_one(SyncJob, jobs["server"].id)
        cli_job = await session.get_one(SyncJob, jobs["cli"].id)
    assert (server_job.status, cli_job.status) == ("pending", "failed")
