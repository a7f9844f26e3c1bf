"""The ingestion job: parsing → chunking → embedding → indexing → ready/failed.

Jobs are claimed with a compare-and-set on the job row and fenced by their attempt number, so a
job re-queued after a crash runs once even if a stray message or a slow worker turns up later.
A live job heartbeats its row; `requeue_stale` hands rows without a heartbeat to the queue again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import and_, or_, select, update

from ragline.adapters.db.database import Database
from ragline.adapters.db.tables import Document, Job
from ragline.adapters.embed import Embedder
from ragline.adapters.index.store import replace_chunks
from ragline.adapters.parse import parse
from ragline.adapters.uploads import UploadStore
from ragline.domain.errors import RaglineError
from ragline.services.chunking import ChunkDraft, chunk_sections
from ragline.services.library import FAILED, PENDING, PROCESSING, READY
from ragline.services.ocr import read_scanned_pages
from ragline.telemetry import hooks

log = logging.getLogger(__name__)
ACTIVE = ("parsing", "ocr", "chunking", "embedding", "indexing")
LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)
Observer = Callable[[str, float], None]


class Superseded(Exception):
    """Another attempt owns the job now, or its document was deleted."""


@dataclass
class IngestContext:
    db: Database
    embedder: Embedder
    uploads: UploadStore
    chunk_tokens: int = 220
    chunk_overlap: int = 40
    embed_batch: int = 64
    stale_seconds: float = 60.0
    max_attempts: int = 3


def _now() -> datetime:
    return datetime.now(UTC)


def embedding_text(title: str | None, draft: ChunkDraft) -> str:
    """What the model sees: where the passage sits (title, headings), then the passage."""
    context = list(draft.heading_path)
    if title and (not context or context[0] != title):
        context.insert(0, title)
    return f"{' > '.join(context)}\n{draft.text}" if context else draft.text


async def _update(ctx: IngestContext, job_id: str, attempt: int, **values: Any) -> None:
    async with ctx.db.session() as session:
        result = await session.execute(
            update(Job).where(Job.id == job_id, Job.attempts == attempt,
                              Job.status.not_in((READY, FAILED)))
            .values(updated_at=_now(), **values)
        )
        if result.rowcount == 0:  # type: ignore[attr-defined]
            raise Superseded(job_id)


async def _claim(ctx: IngestContext, job_id: str) -> tuple[int, Document] | None:
    cutoff = _now() - timedelta(seconds=ctx.stale_seconds)
    async with ctx.db.session() as session:
        claimable = or_(Job.status == PENDING,
                        and_(Job.status.in_(ACTIVE), Job.updated_at < cutoff))
        result = await session.execute(
            update(Job).where(Job.id == job_id, claimable)
            .values(status="parsing", progress=0.02, attempts=Job.attempts + 1,
                    error=None, updated_at=_now())
        )
        if result.rowcount == 0:  # type: ignore[attr-defined]
            return None
        job = await session.get(Job, job_id)
        document = await session.get(Document, job.document_id) if job else None
        if job is None or document is None:
            return None
        document.status, document.error, document.updated_at = PROCESSING, None, _now()
        return job.attempts, document


async def _heartbeat(ctx: IngestContext, job_id: str, attempt: int) -> None:
    while True:
        await asyncio.sleep(max(0.2, ctx.stale_seconds / 4))
        try:
            async with ctx.db.session() as session:
                await session.execute(update(Job).where(Job.id == job_id, Job.attempts == attempt)
                                      .values(updated_at=_now()))
        except Exception:
            log.warning("job %s: heartbeat failed", job_id, exc_info=True)


@hooks.observe_job
async def run_job(ctx: IngestContext, job_id: str, observer: Observer | None = None) -> str:
    """Run one job to its end; returns the final status, or `skipped` if not claimable."""
    claimed = await _claim(ctx, job_id)
    if claimed is None:
        return "skipped"
    attempt, document = claimed
    beat = asyncio.create_task(_heartbeat(ctx, job_id, attempt))

    async def stage(status: str, progress: float) -> None:
        await _update(ctx, job_id, attempt, status=status, progress=round(progress, 3))
        hooks.job_stage(status)
        if observer is not None:
            observer(status, progress)

    try:
        if attempt > ctx.max_attempts:
            raise RuntimeError(f"gave up after {ctx.max_attempts} interrupted attempts")
        await stage("parsing", 0.05)
        try:
            data = await asyncio.to_thread(ctx.uploads.read, document.id)
        except FileNotFoundError as exc:
            raise RuntimeError("the uploaded file is missing from the data directory") from exc
        parsed = await asyncio.to_thread(parse, document.filename, data, document.content_type,
                                         ocr=False)
        parsed = await read_scanned_pages(
            data, parsed, lambda done: stage("ocr", 0.05 + 0.15 * done))
        await stage("chunking", 0.2)
        drafts = await asyncio.to_thread(chunk_sections, parsed.sections,
                                         target=ctx.chunk_tokens, overlap=ctx.chunk_overlap)
        await stage("embedding", 0.25)
        texts = [embedding_text(parsed.title, d) for d in drafts]
        parts: list[np.ndarray] = []
        for start in range(0, len(texts), ctx.embed_batch):
            parts.append(await ctx.embedder.embed(texts[start:start + ctx.embed_batch]))
            await stage("embedding", 0.25 + 0.65 * min(1.0, (start + ctx.embed_batch) / len(texts)))
        await stage("indexing", 0.92)
        vectors = np.concatenate(parts) if parts else np.zeros((0, ctx.embedder.dim), np.float32)
        async with ctx.db.session() as session:
            await _finish(session, job_id, attempt)
            current = await session.get(Document, document.id)
            if current is None:
                raise Superseded(job_id)
            await replace_chunks(session, document_id=current.id,
                                 collection_id=current.collection_id, drafts=drafts,
                                 vectors=vectors)
            current.status, current.error, current.updated_at = READY, None, _now()
            current.title, current.pages, current.chunks = parsed.title, parsed.pages, len(drafts)
        hooks.job_counts(parsed.pages, len(drafts))
        if observer is not None:
            observer(READY, 1.0)
        return READY
    except Superseded:
        log.info("job %s: superseded by another attempt or deleted", job_id)
        return "superseded"
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await _release(ctx, job_id, attempt, document.id)
        raise
    except Exception as exc:
        reason = exc.message if isinstance(exc, RaglineError) else str(exc) or type(exc).__name__
        if not isinstance(exc, RaglineError):
            log.exception("job %s failed", job_id)
        await _fail(ctx, job_id, attempt, document.id, reason)
        if observer is not None:
            observer(FAILED, 1.0)
        return FAILED
    finally:
        beat.cancel()


async def _finish(session: Any, job_id: str, attempt: int) -> None:
    result = await session.execute(
        update(Job).where(Job.id == job_id, Job.attempts == attempt,
                          Job.status.not_in((READY, FAILED)))
        .values(status=READY, progress=1.0, error=None, updated_at=_now())
    )
    if result.rowcount == 0:
        raise Superseded(job_id)


async def _fail(
    ctx: IngestContext, job_id: str, attempt: int, document_id: str, reason: str
) -> None:
    try:
        await _update(ctx, job_id, attempt, status=FAILED, error=reason)
    except Superseded:
        return
    async with ctx.db.session() as session:
        await session.execute(update(Document).where(Document.id == document_id)
                              .values(status=FAILED, error=reason, updated_at=_now()))


async def _release(ctx: IngestContext, job_id: str, attempt: int, document_id: str) -> None:
    """Stopped mid-way (shutdown): back to pending, old enough for the next sweep to re-queue."""
    async with ctx.db.session() as session:
        await session.execute(update(Job).where(Job.id == job_id, Job.attempts == attempt)
                              .values(status=PENDING, updated_at=LONG_AGO))
        await session.execute(update(Document).where(Document.id == document_id)
                              .values(status=PENDING))


async def requeue_stale(ctx: IngestContext, enqueue: Callable[[str], Awaitable[None]]) -> int:
    """Re-queue jobs nobody is working on (crashed worker, lost message); give up after N tries."""
    cutoff = _now() - timedelta(seconds=ctx.stale_seconds)
    async with ctx.db.session() as session:
        rows = (await session.execute(
            select(Job.id, Job.status, Job.attempts, Job.updated_at, Job.document_id)
            .where(Job.status.in_((PENDING, *ACTIVE)), Job.updated_at < cutoff).limit(200)
        )).all()
    requeued = 0
    for job_id, status, attempts, stamp, document_id in rows:
        if status in ACTIVE and attempts >= ctx.max_attempts:
            reason = f"ingestion was interrupted {attempts} times (worker crashed or stopped)"
            await _fail(ctx, job_id, attempts, document_id, reason)
            continue
        async with ctx.db.session() as session:
            result = await session.execute(
                update(Job).where(Job.id == job_id, Job.status == status, Job.updated_at == stamp)
                .values(status=PENDING, updated_at=_now())
            )
        if result.rowcount:  # type: ignore[attr-defined]
            await enqueue(job_id)
            requeued += 1
    return requeued
