"""Rewind a thread to before one of its messages (regenerate, or edit and resend)."""

from __future__ import annotations

from sqlalchemy import and_, delete, or_, select

from ragline.adapters.db.database import Database
from ragline.adapters.db.tables import Message, Run, RunEvent
from ragline.domain.errors import Conflict, NotFound
from ragline.domain.runs import ACTIVE
from ragline.services.threads import get_thread


async def rewind_thread(db: Database, owner_id: str, thread_id: str, message_id: str) -> int:
    """Delete `message_id` and every later message of the thread, with their runs and events.

    Refused with `run_active` while a run of the thread is queued or running (cancel it first).
    Returns how many messages went.
    """
    async with db.session() as session:
        await get_thread(session, owner_id, thread_id)
        message = await session.get(Message, message_id)
        if message is None or message.thread_id != thread_id:
            raise NotFound(f"message {message_id} not found", code="message_not_found")
        active = list(await session.scalars(
            select(Run.id).where(Run.thread_id == thread_id, Run.status.in_(ACTIVE))))
        if active:
            raise Conflict("this thread has an active run; cancel it before rewinding",
                           code="run_active", details={"active_run_ids": active})
        later = and_(Message.thread_id == thread_id, or_(
            Message.created_at > message.created_at,
            and_(Message.created_at == message.created_at, Message.id >= message.id),
        ))
        gone = list(await session.scalars(select(Message.id).where(later)))
        runs = select(Run.id).where(Run.thread_id == thread_id, Run.user_message_id.in_(gone))
        await session.execute(delete(RunEvent).where(RunEvent.run_id.in_(runs)))
        await session.execute(delete(Run).where(Run.thread_id == thread_id,
                                                Run.user_message_id.in_(gone)))
        await session.execute(delete(Message).where(Message.id.in_(gone)))
        return len(gone)
