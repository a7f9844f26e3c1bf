"""Fork a thread: a new thread of the same owner with its messages up to one of them.

"Edit an earlier question" forks before it and posts the new wording, so the original branch
stays as it was. The copy names its parent in its metadata (`forked_from`, `forked_at`), which
is how the UI shows branches. Messages keep their content, sources, claims and data; they get
new ids, and their runs stay with the original (a copied answer has no run of its own).
"""

from __future__ import annotations

from sqlalchemy import select

from ragline.adapters.db.database import Database
from ragline.adapters.db.tables import Message, Thread
from ragline.domain.errors import NotFound
from ragline.services.threads import create_thread, get_thread


async def copy_thread(
    db: Database, owner_id: str, thread_id: str, up_to_message_id: str | None = None
) -> Thread:
    """The copy, owned by `owner_id`: every message, or those up to and including
    `up_to_message_id` (a message of this thread, else `message_not_found`)."""
    async with db.session() as session:
        original = await get_thread(session, owner_id, thread_id)
        query = (
            select(Message)
            .where(Message.thread_id == thread_id)
            .order_by(Message.created_at, Message.id)
        )
        messages = list(await session.scalars(query))
        if up_to_message_id is not None:
            ids = [m.id for m in messages]
            if up_to_message_id not in ids:
                raise NotFound(f"message {up_to_message_id} is not in thread {thread_id}",
                               code="message_not_found")
            messages = messages[: ids.index(up_to_message_id) + 1]
        meta = {**(original.meta or {}), "forked_from": original.id}
        if messages:
            meta["forked_at"] = messages[-1].id
        copy = await create_thread(
            session, owner_id, user_id=original.user_id, title=original.title,
            collection=original.collection, model=original.model, metadata=meta,
        )
        for m in messages:
            session.add(Message(
                thread_id=copy.id, role=m.role, content=m.content, sources=m.sources,
                data=m.data, claims=m.claims, state=m.state, created_at=m.created_at,
            ))
        await session.flush()
        return copy
