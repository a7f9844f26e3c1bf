"""The sync job: make a collection match a folder (services/sync_plan.py decides what to do).

A claimed job writes its counts and progress every second (its heartbeat, fenced by its
attempt); renamed files move, deleted ones go, then new and edited files are ingested here, a
few at a time, each as its document's own ingestion job (services/ingest.py), which reuses the
vectors of an edited document's unchanged chunks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from ragline.adapters.db.database import Database
from ragline.adapters.db.tables import Collection, Document, SyncJob
from ragline.domain.errors import NotFound, RaglineError
from ragline.services import library
from ragline.services.ingest import EmbedTally, IngestContext, run_job
from ragline.services.sync_jobs import FAILED, PENDING, READY, RUNNING, SyncCounts
from ragline.services.sync_plan import Known, Plan, folder_files, hash_files, plan_sync

log = logging.getLogger(__name__)
LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)
MAX_FAILURES_KEPT = 20


def _now() -> datetime:
    return datetime.now(UTC)


class _Job:
    """A claimed job's state, written to its row (fenced by the attempt) every `every` s."""

    def __init__(self, db: Database, row: SyncJob, attempt: int) -> None:
        self.db, self.row, self.attempt = db, row, attempt
        self.counts = SyncCounts()
        self.progress = 0.0
        self.alive = True  # False once another attempt took the job or it was deleted

    async def write(self, **values: Any) -> bool:
        async with self.db.session() as session:
            result = await session.execute(
                update(SyncJob).where(SyncJob.id == self.row.id, SyncJob.attempts == self.attempt,
                                      SyncJob.status == RUNNING)
                .values(progress=round(self.progress, 3), counts=self.counts.as_dict(),
                        updated_at=_now(), **values))
        self.alive = bool(result.rowcount)  # type: ignore[attr-defined]
        return self.alive

    async def beat(self, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            try:
                await self.write()
            except Exception:
                log.warning("sync %s: progress write failed", self.row.id, exc_info=True)


async def _claim(db: Database, job_id: str) -> _Job | None:
    async with db.session() as session:
        result = await session.execute(
            update(SyncJob).where(SyncJob.id == job_id, SyncJob.status == PENDING)
            .values(status=RUNNING, attempts=SyncJob.attempts + 1, updated_at=_now()))
        if not result.rowcount:  # type: ignore[attr-defined]
            return None
        row = await session.get(SyncJob, job_id)
        return None if row is None else _Job(db, row, row.attempts)


async def run_sync(
    ctx: IngestContext, job_id: str, *, files_at_once: int = 2,
    observer: Callable[[SyncCounts], None] | None = None,
) -> str:
    """Run one sync job to its end: `ready` (with counts, some files may have failed),
    `failed`, or `skipped` when another attempt has it."""
    job = await _claim(ctx.db, job_id)
    if job is None:
        return "skipped"
    beat = asyncio.create_task(job.beat(min(1.0, ctx.stale_seconds / 4)))
    try:
        await _sync(ctx, job, files_at_once, observer)
        job.progress = 1.0
        written = await job.write(status=READY, finished_at=_now())
        return READY if written else "superseded"
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):  # back to pending: the sweep re-queues it
            async with ctx.db.session() as session:
                await session.execute(update(SyncJob).where(
                    SyncJob.id == job_id, SyncJob.attempts == job.attempt)
                    .values(status=PENDING, updated_at=LONG_AGO))
        raise
    except Exception as exc:
        reason = exc.message if isinstance(exc, RaglineError) else str(exc) or type(exc).__name__
        if not isinstance(exc, RaglineError):
            log.exception("sync %s failed", job_id)
        await job.write(status=FAILED, error=reason, finished_at=_now())
        return FAILED
    finally:
        beat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beat


async def _sync(
    ctx: IngestContext, job: _Job, files_at_once: int,
    observer: Callable[[SyncCounts], None] | None,
) -> None:
    counts, row = job.counts, job.row
    folder = Path(row.path)
    if not await asyncio.to_thread(folder.is_dir):
        raise NotFound(f"the folder {row.path} does not exist", code="sync_path_not_found")
    files = await asyncio.to_thread(folder_files, folder)
    paths = dict(files)

    def seen(count: int) -> None:
        counts.files_seen = count
        job.progress = 0.2 * count / max(len(files), 1)

    hashes = await asyncio.to_thread(hash_files, files, seen)
    counts.files_seen = len(hashes)
    async with ctx.db.session() as session:
        name = await session.scalar(select(Collection.name)
                                    .where(Collection.id == row.collection_id))
        documents = [Known(d.id, d.source, d.content_hash, d.status == library.FAILED)
                     for d in await session.scalars(
                         select(Document).where(Document.collection_id == row.collection_id))]
    plan = plan_sync(hashes, documents, delete=row.delete)
    counts.unchanged, counts.duplicates = len(plan.unchanged), len(plan.duplicates)
    counts.missing = len(plan.missing)
    await _move_and_delete(ctx, row.owner_id, plan, counts)
    await job.write()
    work: list[tuple[str, str | None]] = [(source, doc_id) for doc_id, source in plan.changed]
    work += [(source, None) for source in plan.added]
    slots = asyncio.Semaphore(max(1, files_at_once))
    done = 0

    async def one(source: str, document_id: str | None) -> None:
        nonlocal done
        async with slots:
            if not job.alive:  # e.g. its collection was deleted: don't bring it back
                return
            status, error = await _ingest_file(ctx, row.owner_id, str(name), paths[source],
                                               source, document_id, counts)
        done += 1
        job.progress = 0.2 + 0.8 * done / len(work)
        if status == READY:
            if document_id is None:
                counts.added += 1
            else:
                counts.changed += 1
        elif status != "skipped":
            counts.failed += 1
            if len(counts.failures) < MAX_FAILURES_KEPT:
                counts.failures.append({"source": source, "error": error or status})
        if observer is not None:
            observer(counts)

    await asyncio.gather(*(one(source, doc_id) for source, doc_id in work))


async def _move_and_delete(
    ctx: IngestContext, owner_id: str, plan: Plan, counts: SyncCounts
) -> None:
    if plan.renamed:
        async with ctx.db.session() as session:
            for document_id, source in plan.renamed:
                await library.move_document(session, owner_id, document_id, source)
        counts.renamed = len(plan.renamed)
    for document_id in plan.deleted:
        with contextlib.suppress(NotFound):  # deleted meanwhile
            await library.delete_document(ctx.db, ctx.uploads, owner_id, document_id)
            counts.deleted += 1


async def _ingest_file(
    ctx: IngestContext, owner_id: str, collection: str, path: Path, source: str,
    document_id: str | None, counts: SyncCounts,
) -> tuple[str, str | None]:
    """Register the file's bytes (new document, or new content for `document_id`) and ingest
    them here; returns the job's final status and error."""
    try:
        data = await asyncio.to_thread(path.read_bytes)
        if document_id is None:
            registered = await library.register_upload(
                ctx.db, ctx.uploads, owner_id, collection, filename=path.name, data=data,
                content_type=None, source=source, max_bytes=ctx.max_upload_bytes)
            if not registered.created:
                return "skipped", None
            job_id = registered.job.id
        else:
            job_id = (await library.replace_content(
                ctx.db, ctx.uploads, owner_id, document_id, filename=path.name, data=data,
                max_bytes=ctx.max_upload_bytes)).id
    except (RaglineError, OSError) as exc:
        return FAILED, exc.message if isinstance(exc, RaglineError) else str(exc)
    tally = EmbedTally()
    status = await run_job(ctx, job_id, tally=tally)
    counts.chunks_embedded += tally.embedded
    counts.chunks_reused += tally.reused
    if status == FAILED:
        async with ctx.db.session() as session:
            job = await library.get_job(session, owner_id, job_id)
            return status, job.error
    return status, None
