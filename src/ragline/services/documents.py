"""The document service: collections, uploads, background ingestion, hybrid search.

`build_documents` wires it from settings; the composition root starts and stops it, the web
routes and the CLI call its use cases, and the answer pipeline uses it as its `Retriever`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ragline.adapters.db.database import Database
from ragline.adapters.db.tables import Collection, Document
from ragline.adapters.db.tables import Job as Job  # handed out by get_job
from ragline.adapters.db.tables import SyncJob as SyncJob  # handed out by get_any_job
from ragline.adapters.embed import Embedder, build_embedder
from ragline.adapters.index import MODES, HybridIndex, Mode, Scope, check_embedder
from ragline.adapters.queue import INGEST_TASK, JobQueue, build_broker
from ragline.adapters.uploads import UploadStore
from ragline.config import Settings
from ragline.domain.errors import InvalidInput, NotFound
from ragline.services import collections as coll
from ragline.services import key_scopes, library, sharing, sync, sync_jobs
from ragline.services.ingest import IngestContext, Observer, requeue_stale, run_job
from ragline.telemetry import hooks

log = logging.getLogger(__name__)
SYNC_PREFIX = "sync:"  # sync jobs share the ingestion queue


@dataclass(frozen=True)
class DocumentView:
    document: Document
    collection: str
    job_id: str | None


class DocumentService:
    def __init__(self, settings: Settings, db: Database, embedder: Embedder) -> None:
        self.settings = settings
        self.db = db
        self.embedder = embedder
        self.index = HybridIndex(db, embedder, candidates=settings.search_candidates,
                                 rrf_k=settings.rrf_k,
                                 vector_weight=settings.search_vector_weight,
                                 term_boost=settings.search_term_boost)
        self.ingest = ingest_context(settings, db, embedder)
        self.uploads = self.ingest.uploads
        self.queue = JobQueue(build_broker(settings.redis_url, settings.ingest_queue), self._run,
                              concurrency=settings.ingest_concurrency, task_name=INGEST_TASK)
        self.consuming = False  # set when this process takes jobs off the Redis queue
        self._background: list[asyncio.Task[None]] = []
        self._started = False

    async def _run(self, job_id: str) -> str:
        if job_id.startswith(SYNC_PREFIX):
            return await sync.run_sync(self.ingest, job_id.removeprefix(SYNC_PREFIX),
                                       files_at_once=self.settings.ingest_concurrency)
        return await run_job(self.ingest, job_id)

    async def prepare(self) -> None:
        """Check the index was built by this embedder and choose where vectors are searched
        (enough for the CLI, which has no queue)."""
        await check_embedder(self.db, self.embedder.name, self.embedder.dim)
        await self.index.prepare()

    async def start(self) -> None:
        await self.prepare()
        await self.queue.start()
        self._background.append(asyncio.create_task(self._sweep_forever()))
        if self.settings.embedder_warmup:
            self._background.append(asyncio.create_task(self._warm()))
        self._started = True

    async def _sweep_forever(self) -> None:
        """Re-queue stale jobs now and then every half `stale_seconds`."""
        while True:
            try:
                count = await requeue_stale(self.ingest, self.queue.enqueue)
                if count:
                    log.warning("re-queued %d interrupted ingestion jobs", count)
                count = await sync_jobs.requeue_stale_syncs(
                    self.db, self.ingest.stale_seconds, self._enqueue_sync)
                if count:
                    log.warning("re-queued %d interrupted sync jobs", count)
            except Exception:
                log.warning("stale-job sweep failed", exc_info=True)
            await asyncio.sleep(max(0.5, self.ingest.stale_seconds / 2))

    async def _warm(self) -> None:
        """Load the model and the vector matrices in the background, before the first search."""
        try:
            await self.embedder.warmup()
            await self.index.warm()
        except Exception:
            log.warning("warming the index failed; it loads on first use instead", exc_info=True)

    async def stop(self) -> None:
        for task in self._background:
            task.cancel()
        for task in self._background:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._background.clear()
        if self._started:
            await self.queue.stop()
        await self.embedder.aclose()
        self._started = False

    def readiness(self) -> dict[str, Any]:
        return {
            "ready": self._started,
            "embedder": self.embedder.name,
            "dimension": self.embedder.dim,
            "embedder_loaded": self.embedder.loaded,
            "queue": "redis" if self.settings.redis_url else "in-process",
            "vectors": self.index.vectors.kind,
            # Who ingests: this process, or `ragline worker` processes (not checked from here).
            "consumer": "this process" if self.consuming or not self.settings.redis_url
            else "ragline worker",
        }

    # The Retriever protocol (services/pipeline.py)

    async def search(
        self,
        owner_id: str,
        query: str,
        collection: str | None,
        top_k: int,
        mode: str = "hybrid",
        *,
        document_ids: list[str] | None = None,
    ) -> list[dict[str, Any]]:
        if mode not in MODES:
            raise InvalidInput(f"mode must be one of {', '.join(MODES)}", code="invalid_mode")
        top_k = max(1, min(top_k, self.settings.search_max_top_k))

        async def resolve(session: AsyncSession) -> Scope:
            if collection is None:
                targets = [c for c in await coll.owned_collections(session, owner_id)
                           if key_scopes.allows(c.name)]
            else:
                targets = [await sharing.require_readable(session, owner_id, collection)]
            return Scope(tuple((c.id, c.version) for c in targets),
                         tuple(document_ids) if document_ids else None)

        started = time.perf_counter()
        hits = await self.index.search(query, resolve, top_k=top_k, mode=_mode(mode))
        hooks.retrieval_took(mode, time.perf_counter() - started)
        return [
            {"chunk_id": str(h.chunk_id), "document_id": h.document_id, "source": h.source,
             "title": h.title, "page": h.page, "heading": h.heading, "text": h.text,
             "score": h.score, "relevance": h.relevance, "term_match": h.term_match}
            for h in hits
        ]

    def passage_vectors(self, chunk_ids: list[str]) -> dict[str, Any]:
        """The index's vectors of these chunks (their text under title and heading) where the
        in-process matrix holds them: the claim check reuses them instead of encoding the
        passages again (pgvector keeps none in memory: the check encodes them then)."""
        cache = getattr(self.index.vectors, "cache", None)
        if cache is None:
            return {}
        numeric = [int(c) for c in chunk_ids if str(c).isdigit()]
        return {str(k): v for k, v in cache.cached_vectors(numeric).items()}

    async def check_collection(self, owner_id: str, name: str | None) -> None:
        """A named collection must exist (`default` always does): else 404."""
        if name is None:
            return
        if await self.collection_version(owner_id, name) is None:
            raise NotFound(f"collection {name!r} not found", code="collection_not_found")

    async def collection_version(self, owner_id: str, collection: str) -> int | None:
        async with self.db.session() as session:
            try:
                return (await sharing.require_readable(session, owner_id, collection)).version
            except NotFound:
                return None

    # Use cases

    async def create_collection(self, owner_id: str, name: str) -> coll.CollectionInfo:
        async with self.db.session() as session:
            created = await coll.create_collection(session, owner_id, name)
            return coll.CollectionInfo(created.id, created.name, 0, 0, created.created_at)

    async def list_collections(
        self, owner_id: str, *, limit: int, after: tuple[datetime, str] | None = None
    ) -> list[coll.CollectionInfo]:
        async with self.db.session() as session:
            owned = await coll.list_collections(session, owner_id, limit=limit, after=after)
            if len(owned) > limit:
                return owned
            # the last page of the caller's own, then those shared with them, as OWNER/NAME
            shared = await sharing.shared_with(session, owner_id)
            counts = await coll.collection_counts(session, [c.id for c, _ in shared])
        return owned + [
            coll.CollectionInfo(c.id, name, *counts.get(c.id, (0, 0)), c.created_at)
            for c, name in shared
        ][: limit + 1 - len(owned)]

    async def upload(
        self,
        owner_id: str,
        *,
        filename: str | None,
        data: bytes,
        content_type: str | None = None,
        collection: str | None = None,
        source: str | None = None,
    ) -> library.Registered:
        """Register the bytes and queue their ingestion (identical bytes: the existing one)."""
        registered = await library.register_upload(
            self.db, self.uploads, owner_id, collection or coll.DEFAULT_COLLECTION,
            filename=filename, data=data, content_type=content_type, source=source,
            max_bytes=self.settings.max_upload_bytes,
        )
        if registered.created:
            try:
                await self.queue.enqueue(registered.job.id)
            except Exception:  # the job row is durable: the stale-job sweep queues it later
                log.warning("could not queue job %s now; it will be retried",
                            registered.job.id, exc_info=True)
        return registered

    async def ingest_now(
        self,
        owner_id: str,
        *,
        filename: str,
        data: bytes,
        collection: str,
        source: str,
        observer: Observer | None = None,
    ) -> tuple[library.Registered, str]:
        """Register and ingest in this process, without the queue (the CLI)."""
        registered = await library.register_upload(
            self.db, self.uploads, owner_id, collection, filename=filename, data=data,
            content_type=None, source=source, max_bytes=self.settings.max_upload_bytes,
        )
        if not registered.created:
            return registered, "skipped"
        return registered, await run_job(self.ingest, registered.job.id, observer)

    async def list_documents(
        self, owner_id: str, collection: str | None, *, limit: int,
        after: tuple[datetime, str] | None = None,
    ) -> list[DocumentView]:
        async with self.db.session() as session:
            rows = await library.list_documents(session, owner_id, collection, limit=limit,
                                                after=after)
            jobs = await library.latest_jobs(session, [d.id for d, _ in rows])
        return [DocumentView(d, name, jobs.get(d.id)) for d, name in rows]

    async def get_document(self, owner_id: str, document_id: str) -> DocumentView:
        async with self.db.session() as session:
            document = await library.readable_document(session, owner_id, document_id)
            name = await coll.collection_name(session, document.collection_id)
            job = await library.latest_job(session, document.id)
        return DocumentView(document, name, job.id if job else None)

    async def delete_document(self, owner_id: str, document_id: str) -> None:
        await library.delete_document(self.db, self.uploads, owner_id, document_id)

    async def delete_collection(self, owner_id: str, name: str) -> None:
        await library.delete_collection(self.db, self.uploads, owner_id, name)

    async def count_jobs_by_status(self) -> dict[str, int]:
        """Ingestion jobs by state, across every process."""
        async with self.db.session() as session:
            rows = await session.execute(select(Job.status, func.count()).group_by(Job.status))
        return {status: int(n) for status, n in rows.all()}

    async def get_job(self, owner_id: str, job_id: str) -> Job:
        async with self.db.session() as session:
            return await library.get_job(session, owner_id, job_id)

    async def get_any_job(self, owner_id: str, job_id: str) -> Job | SyncJob:
        """An ingestion job or a sync job (`GET /api/jobs/{id}` serves both)."""
        async with self.db.session() as session:
            found = await sync_jobs.get_sync_job(session, owner_id, job_id)
            return found if found is not None else await library.get_job(session, owner_id,
                                                                         job_id)

    # Folder sync (services/sync.py)

    async def start_sync(
        self, owner_id: str, name: str, *, path: str | None, delete: bool | None
    ) -> SyncJob:
        """Queue a sync of the collection with its server-side folder; a `path` (under
        RAGLINE_SYNC_ROOT) binds the collection to it first, `delete` is remembered too."""
        async with self.db.session() as session:
            target = await sync_jobs.bind_folder(
                session, owner_id, name, path=path, delete=delete, root=self.settings.sync_root)
        job = await sync_jobs.begin_sync(
            self.db, target, path=str(target.sync_path), delete=target.sync_delete,
            origin="server", stale_seconds=self.ingest.stale_seconds)
        try:
            await self._enqueue_sync(job.id)
        except Exception:  # the row is durable: the stale-job sweep queues it later
            log.warning("could not queue sync %s now; it will be retried", job.id, exc_info=True)
        return job

    async def _enqueue_sync(self, job_id: str) -> None:
        await self.queue.enqueue(SYNC_PREFIX + job_id)

    async def sync_now(
        self, owner_id: str, name: str, folder: Path, *, delete: bool,
        observer: Callable[[sync_jobs.SyncCounts], None] | None = None,
    ) -> SyncJob:
        """Sync a folder of this machine (an absolute path) in this process (the CLI); the
        finished job."""
        async with self.db.session() as session:
            target = await coll.get_or_create_collection(session, owner_id, name)
        job = await sync_jobs.begin_sync(
            self.db, target, path=str(folder), delete=delete, origin="cli",
            stale_seconds=self.ingest.stale_seconds)
        await sync.run_sync(self.ingest, job.id, files_at_once=max(
            self.settings.ingest_concurrency, 8), observer=observer)
        async with self.db.session() as session:
            return await session.get_one(SyncJob, job.id)

    async def sync_state(self, owner_id: str, name: str) -> tuple[Collection, SyncJob | None]:
        async with self.db.session() as session:
            target = await sharing.writable_collection(session, owner_id, name)
            return target, await sync_jobs.last_sync(session, target.id)


def _mode(mode: str) -> Mode:
    return next(m for m in MODES if m == mode)


def ingest_context(settings: Settings, db: Database, embedder: Embedder) -> IngestContext:
    return IngestContext(
        db=db,
        embedder=embedder,
        uploads=UploadStore(settings.data_dir / "uploads"),
        chunk_tokens=settings.chunk_tokens,
        chunk_overlap=settings.chunk_overlap,
        embed_batch=max(settings.embedding_batch_size, 16) * 2,
        stale_seconds=settings.ingest_stale_seconds,
        max_attempts=settings.ingest_max_attempts,
        max_upload_bytes=settings.max_upload_bytes,
    )


def build_documents(settings: Settings, db: Database) -> DocumentService:
    return DocumentService(settings, db, build_embedder(settings))
