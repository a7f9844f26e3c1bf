"""Use cases for users, threads and messages: create, post (starting a run), cancel, delete."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ragline.adapters.db.database import Database
from ragline.adapters.db.tables import Message, Run, RunEvent, Thread, User, new_id
from ragline.domain.errors import Conflict, NotFound, Unprocessable
from ragline.domain.runs import ACTIVE, FAILED, QUEUED, TERMINAL
from ragline.services.run_manager import RunManager

OnActive = Literal["reject", "enqueue", "interrupt"]


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


@dataclass(frozen=True)
class PostedMessage:
    run_id: str
    message_id: str
    status: str
    created: bool = True


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
    """Store the user's message and start a run answering it."""
    if not content.strip():
        raise Unprocessable("content must not be empty", code="empty_content")
    if len(content.encode()) > max_bytes:
        raise Unprocessable(f"content is larger than {max_bytes} bytes", code="content_too_large")
    async with runs.thread_lock(thread_id):
        async with db.session() as session:
            thread = await get_thread(session, owner_id, thread_id)
            if idempotency_key:
                earlier = await _run_for_key(session, thread_id, idempotency_key)
                if earlier is not None:
                    return earlier
            active = list(
                await session.scalars(
                    select(Run.id).where(Run.thread_id == thread_id, Run.status.in_(ACTIVE))
                )
            )
        if active and on_active == "reject":
            raise Conflict(
                "this thread already has an active run; wait, cancel it, or pass "
                "on_active=enqueue or on_active=interrupt",
                code="run_active",
                details={"active_run_ids": active},
            )
        if active and on_active == "interrupt":
            for run_id in active:
                await runs.cancel(run_id, wait=True)
        try:
            posted = await _insert_run(
                db, thread, content, model, collection, response_format, idempotency_key,
                executor=runs.instance_id,
            )
        except IntegrityError:  # the same Idempotency-Key raced us from another process
            async with db.session() as session:
                earlier = await _run_for_key(session, thread_id, idempotency_key or "")
            if earlier is None:
                raise
            return earlier
        runs.start(posted.run_id, thread_id, last_seq=1)
        return posted


async def _run_for_key(session: AsyncSession, thread_id: str, key: str) -> PostedMessage | None:
    run = await session.scalar(
        select(Run).where(Run.thread_id == thread_id, Run.idempotency_key == key)
    )
    if run is None:
        return None
    return PostedMessage(run.id, run.user_message_id, run.status, created=False)


async def _insert_run(
    db: Database,
    thread: Thread,
    content: str,
    model: str,
    collection: str | None,
    response_format: Any,
    idempotency_key: str | None,
    *,
    executor: str,
) -> PostedMessage:
    now = _now()
    message = Message(
        id=new_id(), thread_id=thread.id, role="user", content=content, created_at=now
    )
    run = Run(
        id=new_id(),
        thread_id=thread.id,
        owner_id=thread.owner_id,
        status=QUEUED,
        model=model,
        collection=collection,
        user_message_id=message.id,
        response_format=response_format,
        idempotency_key=idempotency_key,
        created_at=now,
        executor=executor,
        heartbeat_at=now,
    )
    message.run_id = run.id
    async with db.session() as session:
        session.add_all([message, run])
        await session.flush()
        session.add(RunEvent(run_id=run.id, seq=1, type="status", data={"status": QUEUED}))
        await session.execute(update(Thread).where(Thread.id == thread.id).values(updated_at=now))
        if not thread.title:
            await session.execute(
                update(Thread).where(Thread.id == thread.id).values(title=content[:80])
            )
    return PostedMessage(run.id, message.id, QUEUED)


async def cancel_run(db: Database, runs: RunManager, owner_id: str, run_id: str) -> str:
    async with db.session() as session:
        run = await get_run(session, owner_id, run_id)
        status = run.status
    if status in TERMINAL:
        raise Conflict(f"run {run_id} already finished ({status})", code="run_finished")
    if not await runs.cancel(run_id, wait=True):
        await runs.cancel_elsewhere(run_id)
    async with db.session() as session:
        run = await get_run(session, owner_id, run_id)
        return run.status


async def delete_thread(db: Database, runs: RunManager, owner_id: str, thread_id: str) -> None:
    async with db.session() as session:
        await get_thread(session, owner_id, thread_id)
        active = list(
            await session.scalars(
                select(Run.id).where(Run.thread_id == thread_id, Run.status.in_(ACTIVE))
            )
        )
    for run_id in active:
        await runs.cancel(run_id, wait=True)
    async with db.session() as session:
        run_ids = select(Run.id).where(Run.thread_id == thread_id)
        await session.execute(delete(RunEvent).where(RunEvent.run_id.in_(run_ids)))
        await session.execute(delete(Run).where(Run.thread_id == thread_id))
        await session.execute(delete(Message).where(Message.thread_id == thread_id))
        await session.execute(delete(Thread).where(Thread.id == thread_id))


async def recover_interrupted(db: Database, stale_before: datetime | None = None) -> int:
    """Fail runs left queued/running by a process that died; keep the text they produced.

    Without `stale_before` every active run is taken as dead (one process owns the database);
    with it, only runs whose executor has not sent a heartbeat since then.
    """
    query = select(Run).where(Run.status.in_(ACTIVE))
    if stale_before is not None:
        query = query.where(
            or_(Run.heartbeat_at.is_(None), Run.heartbeat_at < stale_before)
        )
    async with db.session() as session:
        stale = list(await session.scalars(query.with_for_update(skip_locked=True)))
        for run in stale:
            last = await session.scalar(
                select(func.max(RunEvent.seq)).where(RunEvent.run_id == run.id)
            )
            tokens = await session.scalars(
                select(RunEvent.data)
                .where(RunEvent.run_id == run.id, RunEvent.type == "token")
                .order_by(RunEvent.seq)
            )
            text = "".join(str(d.get("delta", "")) for d in tokens)
            error = {"code": "interrupted", "message": "the server stopped during this run"}
            if text:
                msg = Message(
                    thread_id=run.thread_id,
                    role="assistant",
                    content=text,
                    run_id=run.id,
                    state="failed",
                    created_at=_now(),
                )
                session.add(msg)
                await session.flush()
                run.assistant_message_id = msg.id
            seq = (last or 0) + 1
            session.add(RunEvent(run_id=run.id, seq=seq, type="error", data=error))
            session.add(RunEvent(run_id=run.id, seq=seq + 1, type="done", data={"status": FAILED}))
            run.status, run.error, run.finished_at = FAILED, error, _now()
    return len(stale)
