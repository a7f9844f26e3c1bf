"""Run a message and read its answer from the run-event log: the helpers every compat view uses.

Each surface (seed 000/002/003, the OpenAI-compatible API) posts a message with
`threads.post_message` and then either streams `answer_batches` or awaits `collect`; both read
the one `event_log.follow` stream, so none of them has streaming or persistence of its own.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ragline.adapters.db.database import Database
from ragline.adapters.db.tables import Collection, Document, Message, Thread
from ragline.adapters.events.bus import LocalBus
from ragline.domain.errors import Conflict, ProviderError
from ragline.domain.llm import ChatMessage
from ragline.domain.runs import CANCELLED, DONE, RunEventRecord
from ragline.services.event_log import follow
from ragline.services.run_manager import RunManager
from ragline.services.threads import create_thread

DEFAULT_COLLECTION = "default"


@dataclass
class Answer:
    """What a finished run produced, gathered from its events."""

    run_id: str
    status: str = DONE
    content: str = ""
    message_id: str | None = None
    sources: list[dict[str, Any]] = field(default_factory=list)
    claims: list[dict[str, Any]] = field(default_factory=list)  # `final.claims`, when checked
    usage: dict[str, int] = field(default_factory=dict)
    model: str | None = None
    error: dict[str, Any] | None = None

    def take(self, event: RunEventRecord) -> None:
        data = event.data
        if event.type == "token":
            self.content += str(data.get("delta", ""))
        elif event.type == "sources":
            self.sources = list(data.get("sources") or [])
        elif event.type == "final":
            self.content = str(data.get("content", self.content))
            self.message_id = data.get("message_id")
            self.sources = list(data.get("sources") or self.sources)
            self.claims = list(data.get("claims") or [])
            self.usage = dict(data.get("usage") or self.usage)
            self.model = data.get("model")
        elif event.type == "error":
            self.error = {"code": data.get("code", "error"), "message": data.get("message", "")}
        elif event.type == "done":
            self.status = str(data.get("status", DONE))

    def raise_for_status(self) -> None:
        """A failed or cancelled run becomes a domain error for views that wait for a reply."""
        if self.status == DONE:
            return
        if self.status == CANCELLED:
            raise Conflict(f"run {self.run_id} was cancelled", code="run_cancelled")
        error = self.error or {"code": "run_failed", "message": "the run failed"}
        raise ProviderError(str(error["message"]), code=str(error["code"]))


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


async def collect(db: Database, bus: LocalBus, runs: RunManager, run_id: str) -> Answer:
    """Wait for a run to finish and return what it produced (partial text kept on failure)."""
    answer = Answer(run_id)
    async for batch in answer_batches(db, bus, runs, run_id):
        for event in batch:
            answer.take(event)
    return answer


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
