"""Feedback on answers: thumbs up or down with a comment, one per user and answer, and the
JSONL export that grows the eval set from real use (question, answer, sources, claims)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ragline.adapters.db.database import Database
from ragline.adapters.db.tables import Feedback as Feedback
from ragline.adapters.db.tables import Message, Thread, User
from ragline.domain.errors import InvalidInput, NotFound

RATINGS = ("up", "down")


async def readable_answer(session: AsyncSession, user_id: str, message_id: str) -> Message:
    """The message, when it is an answer in one of the user's threads; else 404 as if absent."""
    row = (await session.execute(
        select(Message, Thread.owner_id).join(Thread, Thread.id == Message.thread_id)
        .where(Message.id == message_id)
    )).first()
    if row is None or row[1] != user_id:
        raise NotFound(f"message {message_id} not found", code="message_not_found")
    message: Message = row[0]
    if message.role != "assistant":
        raise InvalidInput("feedback is given on answers (assistant messages)",
                           code="not_an_answer")
    return message


async def give_feedback(
    db: Database, user_id: str, message_id: str, rating: str, comment: str | None
) -> Feedback:
    """Record the user's rating of the answer, replacing an earlier one."""
    if rating not in RATINGS:
        raise InvalidInput("rating must be 'up' or 'down'", code="invalid_rating")
    now = datetime.now(UTC)
    async with db.session() as session:
        await readable_answer(session, user_id, message_id)
        found = await session.scalar(
            select(Feedback).where(Feedback.message_id == message_id,
                                   Feedback.user_id == user_id).with_for_update()
        )
        if found is None:
            found = Feedback(message_id=message_id, user_id=user_id, created_at=now)
            session.add(found)
        found.rating, found.comment, found.updated_at = rating, comment, now
        await session.flush()
        return found


async def get_feedback(db: Database, user_id: str, message_id: str) -> Feedback | None:
    """The caller's rating of an answer they may read, or None when they have not rated it."""
    async with db.session() as session:
        await readable_answer(session, user_id, message_id)
        return await session.scalar(
            select(Feedback).where(Feedback.message_id == message_id,
                                   Feedback.user_id == user_id)
        )


async def feedback_records(db: Database, user_name: str | None = None
                           ) -> AsyncIterator[dict[str, Any]]:
    """Every feedback (or one user's), oldest first, with the question it answered."""
    query = (
        select(Feedback, Message, User.name)
        .join(Message, Message.id == Feedback.message_id)
        .join(User, User.id == Feedback.user_id)
        .order_by(Feedback.created_at, Feedback.id)
    )
    if user_name is not None:
        query = query.where(User.name == user_name)
    async with db.session() as session:
        for feedback, answer, name in (await session.execute(query)).all():
            question = await session.scalar(
                select(Message.content)
                .where(Message.thread_id == answer.thread_id, Message.role == "user",
                       Message.created_at <= answer.created_at)
                .order_by(Message.created_at.desc(), Message.id.desc()).limit(1)
            )
            yield {
                "message_id": answer.id, "thread_id": answer.thread_id, "user": name,
                "rating": feedback.rating, "comment": feedback.comment,
                "question": question, "answer": answer.content,
                "sources": answer.sources or [], "claims": answer.claims or [],
                "created_at": feedback.updated_at.isoformat(),
            }
