"""Sync jobs: the lock (one pending or running per collection: a partial unique index on
`sync_jobs`, so a second sync from any process is refused with `sync_running`), a collection's
binding to a server-side folder under RAGLINE_SYNC_ROOT, and the sweep of stale jobs.

A job without a heartbeat for `stale_seconds` is re-queued (started by the server) or failed
(started by the CLI: only that command could read its folder). Re-running a sync is what
resuming it means: it is a diff, so the files done before a crash now count as unchanged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import and_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ragline.adapters.db.database import Database
from ragline.adapters.db.tables import Collection, SyncJob
from ragline.domain.errors import Conflict, Forbidden, InvalidInput
from ragline.services import sharing

PENDING, RUNNING, READY, FAILED = "pending", "running", "ready", "failed"
ACTIVE = (PENDING, RUNNING)


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class SyncCounts:
    files_seen: int = 0
    added: int = 0
    changed: int = 0
    deleted: int = 0
    unchanged: int = 0
    renamed: int = 0
    duplicates: int = 0
    missing: int = 0  # documents whose file is gone, kept without `delete`
    failed: int = 0
    chunks_embedded: int = 0
    chunks_reused: int = 0
    failures: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


async def begin_sync(
    db: Database, collection: Collection, *, path: str, delete: bool, origin: str,
    stale_seconds: float,
) -> SyncJob:
    """A pending sync job for the collection, or `Conflict(sync_running)` while one is active
    (one whose heartbeat stopped `stale_seconds` ago no longer counts: it is failed)."""
    cutoff = _now() - timedelta(seconds=stale_seconds)
    async with db.session() as session:
        await session.execute(
            update(SyncJob)
            .where(SyncJob.collection_id == collection.id, SyncJob.status.in_(ACTIVE),
                   SyncJob.updated_at < cutoff)
            .values(status=FAILED, error="interrupted: no heartbeat", finished_at=_now()))
        job = SyncJob(collection_id=collection.id, owner_id=collection.owner_id, path=path,
                      delete=delete, origin=origin, status=PENDING, progress=0.0,
                      counts=SyncCounts().as_dict(), attempts=0)
        try:
            async with session.begin_nested():
                session.add(job)
        except IntegrityError:
            active = await session.scalar(select(SyncJob.id).where(
                SyncJob.collection_id == collection.id, SyncJob.status.in_(ACTIVE)))
            raise Conflict(f"a sync of collection {collection.name!r} is already running",
                           code="sync_running", details={"job_id": active}) from None
        return job


async def get_sync_job(session: AsyncSession, user_id: str, job_id: str) -> SyncJob | None:
    """The job, for its collection's owner or an editor (who may start one)."""
    job = await session.get(SyncJob, job_id)
    if job is None:
        return None
    found = await sharing.role(session, user_id, owner_id=job.owner_id,
                               collection_id=job.collection_id)
    return job if found in ("owner", "editor") else None


async def last_sync(session: AsyncSession, collection_id: str) -> SyncJob | None:
    job: SyncJob | None = await session.scalar(
        select(SyncJob).where(SyncJob.collection_id == collection_id)
        .order_by(SyncJob.created_at.desc(), SyncJob.id.desc()).limit(1))
    return job


async def requeue_stale_syncs(
    db: Database, stale_seconds: float, enqueue: Callable[[str], Awaitable[None]],
    max_attempts: int = 3,
) -> int:
    """Sync jobs nobody works on: the server's go back on the queue (up to `max_attempts`);
    the CLI's are failed (only that command could read its folder)."""
    cutoff = _now() - timedelta(seconds=stale_seconds)
    stale = and_(SyncJob.status.in_(ACTIVE), SyncJob.updated_at < cutoff)
    async with db.session() as session:
        await session.execute(
            update(SyncJob).where(stale, (SyncJob.origin != "server")
                                  | (SyncJob.attempts >= max_attempts))
            .values(status=FAILED, error="interrupted: no heartbeat", finished_at=_now()))
        rows = list(await session.scalars(select(SyncJob.id).where(stale).limit(100)))
        if rows:
            await session.execute(update(SyncJob).where(SyncJob.id.in_(rows))
                                  .values(status=PENDING, updated_at=_now()))
    for job_id in rows:
        await enqueue(job_id)
    return len(rows)


def _inside(root: Path, path: str) -> Path:
    """Blocking: `path` (relative: to `root`) resolved, links included; refused outside."""
    base = root.resolve()
    candidate = Path(path).expanduser()
    resolved = (candidate if candidate.is_absolute() else base / candidate).resolve()
    if not resolved.is_relative_to(base):
        raise Forbidden(f"{path!r} is outside the sync root", code="path_outside_sync_root")
    if not resolved.is_dir():
        raise InvalidInput(f"{path!r} is not a folder under the sync root",
                           code="sync_path_not_found")
    return resolved


async def bind_folder(
    session: AsyncSession, owner_id: str, name: str, *, path: str | None, delete: bool | None,
    root: Path | None,
) -> Collection:
    """The collection, bound to `path` if given (created then); an unbound one is refused."""
    if root is None:
        raise Forbidden("server-side sync is off: the server has no RAGLINE_SYNC_ROOT",
                        code="sync_disabled")
    if path is not None:
        if not path.strip() or "\x00" in path:
            raise InvalidInput("path must name a folder", code="invalid_sync_path")
        folder = await asyncio.to_thread(_inside, root, path)
        target = await sharing.writable_collection(session, owner_id, name, create=True)
        target.sync_path = str(folder)
    else:
        target = await sharing.writable_collection(session, owner_id, name)
        if target.sync_path is None:
            raise Conflict(f"collection {name!r} is not bound to a folder: pass a path once",
                           code="collection_not_bound")
        await asyncio.to_thread(_inside, root, target.sync_path)  # the root may have moved
    if delete is not None:
        target.sync_delete = delete
    await session.flush()
    return target
