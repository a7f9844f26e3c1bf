"""The ingestion job: parsing → chunking → embedding → indexing → ready/failed (the
document's language is told from its first chunks before they are indexed).

Jobs are claimed with a compare-and-set on the job row and fenced by their attempt number, so a
job re-queued after a crash runs once even if a stray message or a slow worker turns up later.
A live job heartbeats its row; `requeue_stale` hands rows without a heartbeat to the queue again.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import pickle
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import numpy as np
from sqlalchemy import and_, or_, select, update

from ragline.adapters.db.database import Database
from ragline.adapters.db.tables import Document, Job
from ragline.adapters.embed import Embedder
from ragline.adapters.index.languages import SAMPLE_CHARS, detect_language
from ragline.adapters.index.store import (
    INSERT_BATCH,
    bump_version,
    insert_chunks,
    remove_chunks,
    vectors_by_hash,
)
from ragline.adapters.parse.stream import PIECE_CHARS, SectionStream, open_sections
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
    piece_chars: int = PIECE_CHARS
    stale_seconds: float = 60.0
    max_attempts: int = 3
    max_upload_bytes: int = 50 * 1024 * 1024


def _now() -> datetime:
    return datetime.now(UTC)


def embedding_text(title: str | None, draft: ChunkDraft) -> str:
    """What the model sees: where the passage sits (title, headings), then the passage."""
    context = list(draft.heading_path)
    if title and (not context or context[0] != title):
        context.insert(0, title)
    return f"{' > '.join(context)}\n{draft.text}" if context else draft.text


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass
class EmbedTally:
    """Chunks of one job: computed by the embedder, or reused from the document's previous
    version (same text under the same title and headings)."""

    embedded: int = 0
    reused: int = 0


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
async def run_job(
    ctx: IngestContext,
    job_id: str,
    observer: Observer | None = None,
    tally: EmbedTally | None = None,
) -> str:
    """Run one job to its end; returns the final status, or `skipped` if not claimable.

    A document ingested before (an edited file, a retry) keeps its id; the vectors of its
    chunks whose text is unchanged are reused rather than computed again."""
    tally = tally if tally is not None else EmbedTally()
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
        path = ctx.uploads.path_for(document.id)
        try:
            source = await asyncio.to_thread(open_sections, path, document.filename,
                                             document.content_type, piece_chars=ctx.piece_chars)
        except FileNotFoundError as exc:
            raise RuntimeError("the uploaded file is missing from the data directory") from exc
        if source.whole is not None and source.whole.scanned:
            data = await asyncio.to_thread(path.read_bytes)
            source.whole = await read_scanned_pages(
                data, source.whole, lambda done: stage("ocr", 0.05 + 0.15 * done))
            del data
        await stage("chunking", 0.2)
        async with ctx.db.session() as session:
            reuse = await vectors_by_hash(session, document.id)
        with _Spill(ctx.uploads.root) as spill:
            await _embed_pieces(ctx, source, spill,
                                lambda f: stage("embedding", 0.25 + 0.65 * f), reuse, tally)
            language = await asyncio.to_thread(detect_language, spill.sample)
            await stage("indexing", 0.92)
            async with ctx.db.session() as session:
                await _finish(session, job_id, attempt)
                current = await session.get(Document, document.id)
                if current is None:
                    raise Superseded(job_id)
                await remove_chunks(session, document_id=current.id,
                                    collection_id=current.collection_id)
                while rows := await asyncio.to_thread(spill.read, INSERT_BATCH):
                    drafts, vectors, hashes = rows
                    await insert_chunks(session, document_id=current.id,
                                        collection_id=current.collection_id, drafts=drafts,
                                        vectors=vectors, hashes=hashes, language=language)
                await bump_version(session, current.collection_id)
                current.status, current.error, current.updated_at = READY, None, _now()
                current.language = language
                current.title, current.pages = source.title, source.pages
                current.chunks = spill.count
        chunks = spill.count
        hooks.job_counts(source.pages, chunks)
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


class _Spill:
    """Chunks and their vectors on disk (an unlinked temporary file) from embedding to the
    final transaction, so a large document's chunks never sit in memory all at once."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.file: IO[bytes] = tempfile.TemporaryFile(dir=directory)
        self.count = 0
        self.sample = ""  # the first chunks' text: what the document's language is told from
        self._read = False

    def __enter__(self) -> _Spill:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.file.close()

    def add(self, drafts: list[ChunkDraft], vectors: np.ndarray, hashes: list[str]) -> None:
        """Blocking (small: one embedding batch)."""
        pickle.dump((drafts, vectors, hashes), self.file, protocol=pickle.HIGHEST_PROTOCOL)
        self.count += len(drafts)
        for draft in drafts:
            if len(self.sample) >= SAMPLE_CHARS:
                break
            self.sample += draft.text[:SAMPLE_CHARS - len(self.sample)] + "\n"

    def read(self, at_least: int) -> tuple[list[ChunkDraft], np.ndarray, list[str]] | None:
        """Blocking: the next batches, at least `at_least` chunks of them (None at the end)."""
        if not self._read:
            self.file.seek(0)
            self._read = True
        drafts: list[ChunkDraft] = []
        vectors: list[np.ndarray] = []
        hashes: list[str] = []
        while len(drafts) < at_least:
            try:
                more, matrix, keys = pickle.load(self.file)
            except EOFError:
                break
            drafts.extend(more)
            vectors.append(matrix)
            hashes.extend(keys)
        if not drafts:
            return None
        return drafts, np.concatenate(vectors), hashes


async def _embed_pieces(
    ctx: IngestContext,
    source: SectionStream,
    spill: _Spill,
    progress: Callable[[float], Awaitable[None]],
    reuse: dict[str, np.ndarray],
    tally: EmbedTally,
) -> None:
    """Piece by piece: read and chunk the next piece in a worker thread while the current
    chunks are embedded, in batches of at most `embed_batch`, and spilled to disk. A chunk
    whose text hash is in `reuse` takes that vector instead of going to the embedder."""
    pieces = source.pieces()
    made = 0

    def next_drafts() -> list[ChunkDraft] | None:
        piece = next(pieces, None)
        if piece is None:
            return None
        return chunk_sections(piece, target=ctx.chunk_tokens, overlap=ctx.chunk_overlap,
                              first_ord=made)

    pending: list[ChunkDraft] = []
    upcoming = asyncio.create_task(asyncio.to_thread(next_drafts))
    try:
        while True:
            drafts = await upcoming
            done = drafts is None
            if drafts is not None:
                if not made:
                    await progress(0.0)  # the first piece is chunked: embedding starts
                made += len(drafts)
                pending.extend(drafts)
                upcoming = asyncio.create_task(asyncio.to_thread(next_drafts))
            while len(pending) >= ctx.embed_batch or (done and pending):
                batch, pending = pending[:ctx.embed_batch], pending[ctx.embed_batch:]
                texts = [embedding_text(source.title, d) for d in batch]
                hashes = [text_hash(t) for t in texts]
                vectors = await _vectors(ctx.embedder, texts, hashes, reuse, tally)
                await asyncio.to_thread(spill.add, batch, vectors, hashes)
                await progress(source.fraction * (made - len(pending)) / max(made, 1))
            if done:
                return
    finally:
        if not upcoming.done():
            upcoming.cancel()
            with contextlib.suppress(BaseException):
                await upcoming


async def _vectors(
    embedder: Embedder,
    texts: list[str],
    hashes: list[str],
    reuse: dict[str, np.ndarray],
    tally: EmbedTally,
) -> np.ndarray:
    missing = [i for i, h in enumerate(hashes) if h not in reuse]
    tally.embedded += len(missing)
    tally.reused += len(texts) - len(missing)
    computed = await embedder.embed([texts[i] for i in missing]) if missing else None
    rows: list[np.ndarray] = []
    fresh = iter(computed if computed is not None else ())
    for h in hashes:
        rows.append(reuse[h] if h in reuse else next(fresh))
    return np.stack(rows).astype(np.float32, copy=False)


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
