"""Run a message and read its answer from the run-event log: the helpers every compat view uses.

Each surface (seed 000/002/003, the OpenAI-compatible API) posts a message with
`threads.post_message` and then either streams `answer_batches` or awaits `collect`; both read
the one `event_log.follow` stream, so none of them has streaming or persistence of its own, and
each folds it with the one `RunState`.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ragline.adapters.db.database import Database
from ragline.adapters.db.tables import Collection, Document, Message, Thread
from ragline.adapters.events.bus import LocalBus
from ragline.domain.llm import ChatMessage
from ragline.domain.runs import RunEventRecord, RunState
from ragline.services.event_log import follow
from ragline.services.run_manager import RunManager
from ragline.services.threads import create_thread

DEFAULT_COLLECTION = "default"


async def answer_batches(
    db: Database, bus: LocalBus, runs: RunManager, run_id: str, *, cancel_on_exit: bool = False
) -> AsyncGenerator[list[RunEventRecord], None]:
    """A run's events from the start, in `follow`'s batches (a view writes one per batch).

    Views whose client cannot rejoin the run (a one-shot stream) set `cancel_on_exit`, so a
    client that goes away stops the generation instead of leaving it running for nobody.
    """
    finished = False
    try:
        events = cast(AsyncGenerator[list[RunEventRecord], None], follow(db, bus, run_id, 0))
        async with aclosing(events) as batches:
            async for batch in batches:
                finished = batch[-1].is_last
                yield batch
    finally:
        if cancel_on_exit and not finished:
            runs.request_cancel(run_id)  # no waiting: we may be inside a cancelled scope


async def collect(db: Database, bus: LocalBus, runs: RunManager, run_id: str) -> RunState:
    """Wait for a run to finish and return what it produced (partial text kept on failure)."""
    state = RunState(run_id)
    async for batch in answer_batches(db, bus, runs, run_id):
        for record in batch:
            state.apply(record.event)
    return state


async def collection_for_question(
    session: AsyncSession, owner_id: str, collection: str | None
) -> str | None:
    """The collection a one-shot question searches: the one given, else `default` if it has
    ready documents, else none (then the model answers without retrieval)."""
    if collection:
        return collection
    has_documents = await session.scalar(
        select(Document.id)
        .join(Collection, Collection.id == Document.collection_id)
        .where(
            Collection.owner_id == owner_id,
            Collection.name == DEFAULT_COLLECTION,
            Document.status == "ready",
        )
        .limit(1)
    )
    return DEFAULT_COLLECTION if has_documents else None


async def start_thread_with_history(
    session: AsyncSession,
    owner_id: str,
    history: Sequence[ChatMessage],
    *,
    model: str,
    collection: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> Thread:
    """A fresh thread whose earlier turns are `history` (user/assistant messages, oldest first).

    Their timestamps lie just before now, so the next posted message follows them.
    """
    thread = await create_thread(
        session, owner_id, collection=collection, model=model, metadata=metadata
    )
    start = datetime.now(UTC) - timedelta(milliseconds=len(history) + 1)
    for i, turn in enumerate(history):
        session.add(
            Message(
                thread_id=thread.id,
                role="user" if turn.role == "user" else "assistant",
                content=turn.content,
                created_at=start + timedelta(milliseconds=i),
            )
        )
    await session.flush()
    return thread


def utc(moment: datetime) -> datetime:
    """Timestamps read back from SQLite are naive; they were written in UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
