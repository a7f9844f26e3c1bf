"""Use cases for users, threads and messages: create, post (starting a run), cancel, delete."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ragline.adapters.db.database import Database
from ragline.adapters.db.tables import Run, Thread, User
from ragline.domain.errors import Conflict, NotFound, Unprocessable
from ragline.domain.runs import TERMINAL
from ragline.services.run_manager import RunManager
from ragline.services.run_store import OnActive, PostedMessage


def _now() -> datetime:
    return datetime.now(UTC)


async def create_user(session: AsyncSession, name: str, *, is_admin: bool = False) -> User:
    user = User(name=name, is_admin=is_admin)
    session.add(user)
    await session.flush()
    return user


async def create_thread(
    session: AsyncSession,
    owner_id: str,
    *,
    user_id: str | None = None,
    title: str | None = None,
    collection: str | None = None,
    model: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> Thread:
    now = _now()
    thread = Thread(
        owner_id=owner_id,
        user_id=user_id,
        title=title,
        collection=collection,
        model=model,
        meta=metadata or {},
        created_at=now,
        updated_at=now,
    )
    session.add(thread)
    await session.flush()
    return thread


async def get_thread(session: AsyncSession, owner_id: str, thread_id: str) -> Thread:
    thread = await session.get(Thread, thread_id)
    if thread is None or thread.owner_id != owner_id:
        raise NotFound(f"thread {thread_id} not found", code="thread_not_found")
    return thread


async def get_run(session: AsyncSession, owner_id: str, run_id: str) -> Run:
    run = await session.get(Run, run_id)
    if run is None or run.owner_id != owner_id:
        raise NotFound(f"run {run_id} not found", code="run_not_found")
    return run


async def post_message(
    db: Database,
    runs: RunManager,
    *,
    owner_id: str,
    thread_id: str,
    content: str,
    model: str,
    collection: str | None = None,
    response_format: Any = None,
    idempotency_key: str | None = None,
    on_active: OnActive = "reject",
    max_bytes: int = 32 * 1024,
) -> PostedMessage:
    """Store the user's message and have a run answer it (admission is the database's call)."""
    if not content.strip():
        raise Unprocessable("content must not be empty", code="empty_content")
    if len(content.encode()) > max_bytes:
        raise Unprocessable(f"content is larger than {max_bytes} bytes", code="content_too_large")
    runs.check_accepting()
    admitted = await runs.store.admit(
        owner_id=owner_id, thread_id=thread_id, content=content, model=model,
        collection=collection, response_format=response_format,
        idempotency_key=idempotency_key, on_active=on_active,
        executor=runs.instance_id if runs.executes_inline else None,
    )
    if not admitted.posted.created:
        return admitted.posted
    # It waits for the runs admitted before it, whichever process executes them.
    await runs.submit(admitted.posted.run_id, behind=admitted.behind)
    for run_id in admitted.interrupt:
        await runs.cancel_anywhere(run_id)
    return admitted.posted


async def cancel_run(db: Database, runs: RunManager, owner_id: str, run_id: str) -> str:
    async with db.session() as session:
        run = await get_run(session, owner_id, run_id)
        status = run.status
    if status in TERMINAL:
        raise Conflict(f"run {run_id} already finished ({status})", code="run_finished")
    await runs.cancel_anywhere(run_id)
    async with db.session() as session:
        run = await get_run(session, owner_id, run_id)
        return run.status


async def delete_thread(db: Database, runs: RunManager, owner_id: str, thread_id: str) -> None:
    async with db.session() as session:
        await get_thread(session, owner_id, thread_id)
    for run_id in await runs.store.active_run_ids(thread_id):
        await runs.cancel_anywhere(run_id)
    await runs.store.delete_thread(thread_id)
