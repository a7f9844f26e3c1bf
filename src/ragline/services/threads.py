"""Use cases for users, threads and messages: create, post (starting a run), cancel, delete.

They hand out the records (`Thread`, `Message`, `Run`): the web layer reads them, never
queries them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Select, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ragline.adapters.db.database import Database
from ragline.adapters.db.tables import Message as Message
from ragline.adapters.db.tables import Run as Run
from ragline.adapters.db.tables import Thread as Thread
from ragline.domain.errors import Conflict, NotFound, Unprocessable
from ragline.domain.runs import TERMINAL
from ragline.services import key_scopes
from ragline.services.identity import create_user as create_user
from ragline.services.run_manager import RunManager
from ragline.services.run_store import OnActive, PostedMessage

Cursor = tuple[datetime, str]


def _now() -> datetime:
    return datetime.now(UTC)


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
    """The owner's thread; one bound to a collection outside the caller key's scope is not found."""
    thread = await session.get(Thread, thread_id)
    if (thread is None or thread.owner_id != owner_id
            or (thread.collection is not None and not key_scopes.allows(thread.collection))):
        raise NotFound(f"thread {thread_id} not found", code="thread_not_found")
    return thread


async def new_thread(db: Database, owner_id: str, **fields: Any) -> Thread:
    """`create_thread` in its own transaction."""
    async with db.session() as session:
        return await create_thread(session, owner_id, **fields)


async def find_thread(db: Database, owner_id: str, thread_id: str) -> Thread:
    """`get_thread` in its own transaction."""
    async with db.session() as session:
        return await get_thread(session, owner_id, thread_id)


async def list_threads(
    db: Database, owner_id: str, *, limit: int, before: Cursor | None = None
) -> list[Thread]:
    """The owner's threads, most recently updated first, `limit + 1` of them at most (the extra
    one tells the caller there is a next page), after the (updated_at, id) cursor `before`.
    A collection-scoped key lists what `get_thread` would open: no thread bound elsewhere."""
    query = select(Thread).where(Thread.owner_id == owner_id)
    if key_scopes.scoped():
        query = query.where(or_(Thread.collection.is_(None),
                                Thread.collection.in_(sorted(key_scopes.allowed()))))
    if before:
        stamp, id_ = before
        query = query.where(
            or_(Thread.updated_at < stamp, and_(Thread.updated_at == stamp, Thread.id < id_))
        )
    query = query.order_by(Thread.updated_at.desc(), Thread.id.desc()).limit(limit + 1)
    async with db.session() as session:
        return list(await session.scalars(query))


async def list_messages(
    db: Database, owner_id: str, thread_id: str, *, limit: int, after: Cursor | None = None
) -> list[Message]:
    """A thread of the owner's messages oldest first, `limit + 1` at most, after the
    (created_at, id) cursor `after`."""
    async with db.session() as session:
        await get_thread(session, owner_id, thread_id)
        query = select(Message).where(Message.thread_id == thread_id)
        if after:
            stamp, id_ = after
            query = query.where(
                or_(Message.created_at > stamp, and_(Message.created_at == stamp, Message.id > id_))
            )
        query = query.order_by(Message.created_at, Message.id).limit(limit + 1)
        return list(await session.scalars(query))


async def thread_messages(db: Database, thread_id: str) -> list[Message]:
    """A thread's messages oldest first (the caller has checked the thread is theirs)."""
    query = (
        select(Message)
        .where(Message.thread_id == thread_id)
        .order_by(Message.created_at, Message.id)
    )
    async with db.session() as session:
        return list(await session.scalars(query))


def _surface(surface: str) -> ColumnElement[bool]:
    """Threads started through one compat surface (their metadata says which)."""
    return cast(ColumnElement[bool], Thread.meta["surface"].as_string() == surface)


async def list_surface_threads(
    db: Database, owner_id: str, surface: str, *, limit: int, user_label: str | None = None
) -> list[Thread]:
    """The owner's threads started through a compat surface, most recently updated first
    (only those labelled `user_label`, when given)."""
    query: Select[Thread] = select(Thread).where(
        Thread.owner_id == owner_id, _surface(surface)
    )
    if user_label is not None:
        query = query.where(Thread.user_id == user_label)
    query = query.order_by(Thread.updated_at.desc(), Thread.id.desc()).limit(limit)
    async with db.session() as session:
        return list(await session.scalars(query))


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
        thread = await get_thread(session, owner_id, thread_id)
        title = thread.title or ""
    for run_id in await runs.store.active_run_ids(thread_id):
        await runs.cancel_anywhere(run_id)
    await runs.store.delete_thread(thread_id, actor_id=owner_id, title=title)
