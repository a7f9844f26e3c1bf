"""A thread as a file and back: JSON (lossless: messages with sources, claims and data) and
Markdown (for people: the conversation with each answer's numbered sources)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ragline.adapters.db.database import Database
from ragline.adapters.db.tables import Collection, Message, Thread
from ragline.services import audit
from ragline.services.threads import create_thread, get_thread

FORMAT: Literal["ragline.thread"] = "ragline.thread"
VERSION: Literal[1] = 1
MAX_MESSAGES = 10_000


class ExportedMessage(BaseModel):
    role: Literal["user", "assistant", "system"]
    content: str = Field(max_length=1_000_000)
    sources: list[dict[str, Any]] | None = Field(default=None, max_length=100)
    claims: list[dict[str, Any]] | None = Field(default=None, max_length=1000)
    data: Any = None
    state: str = Field(default="complete", max_length=16)
    created_at: datetime


class ExportedThread(BaseModel):
    title: str | None = Field(default=None, max_length=500)
    collection: str | None = Field(default=None, max_length=200)
    model: str | None = Field(default=None, max_length=200)
    metadata: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime | None = None


class ThreadExport(BaseModel):
    """The JSON export; `POST /api/threads/import` takes it back."""

    format: Literal["ragline.thread"] = FORMAT
    version: Literal[1] = VERSION
    thread: ExportedThread
    messages: list[ExportedMessage] = Field(max_length=MAX_MESSAGES)


def _utc(moment: datetime) -> datetime:
    """SQLite hands timestamps back naive; they were written in UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


async def export_thread(db: Database, owner_id: str, thread_id: str, *,
                        format: str = "json") -> ThreadExport:
    """The thread and its messages (the export is in the audit log, with its format)."""
    async with db.session() as session:
        thread = await get_thread(session, owner_id, thread_id)
        exported = await thread_as_export(session, thread)
        await audit.record(session, owner_id, "thread.export", target_id=thread.id,
                           target=thread.title or "", format=format,
                           messages=len(exported.messages))
    return exported


async def thread_as_export(session: AsyncSession, thread: Thread) -> ThreadExport:
    """The thread and its messages, oldest first, as the JSON export holds them."""
    query = (
        select(Message)
        .where(Message.thread_id == thread.id)
        .order_by(Message.created_at, Message.id)
    )
    messages = list(await session.scalars(query))
    return ThreadExport(
        thread=ExportedThread(
            title=thread.title, collection=thread.collection, model=thread.model,
            metadata=thread.meta or {}, created_at=_utc(thread.created_at),
        ),
        messages=[
            ExportedMessage(
                role=m.role,  # written by ragline: one of the three
                content=m.content, sources=m.sources, claims=m.claims, data=m.data,
                state=m.state, created_at=_utc(m.created_at),
            )
            for m in messages
        ],
    )


async def import_thread(db: Database, owner_id: str, exported: ThreadExport) -> Thread:
    """A new thread of `owner_id` with the exported messages, in order, with their timestamps.

    The thread stays bound to its collection when the importer has one of that name; else it
    is unbound and its metadata says which collection it came from."""
    meta = dict(exported.thread.metadata)
    async with db.session() as session:
        collection = exported.thread.collection
        if collection is not None and await session.scalar(
            select(Collection.id).where(Collection.owner_id == owner_id,
                                        Collection.name == collection)
        ) is None:
            meta["imported_from_collection"] = collection
            collection = None
        thread = await create_thread(
            session, owner_id, title=exported.thread.title, collection=collection,
            model=exported.thread.model, metadata=meta,
        )
        for m in exported.messages:
            session.add(Message(
                thread_id=thread.id, role=m.role, content=m.content, sources=m.sources,
                claims=m.claims, data=m.data, state=m.state, created_at=_utc(m.created_at),
            ))
        await audit.record(session, owner_id, "thread.import", target_id=thread.id,
                           target=thread.title or "", messages=len(exported.messages))
        await session.flush()
        return thread


def to_markdown(exported: ThreadExport) -> str:
    """The conversation for people: each question, each answer and its numbered sources."""
    lines = [f"# {exported.thread.title or 'Conversation'}", ""]
    if exported.thread.collection:
        lines += [f"Collection: {exported.thread.collection}", ""]
    for m in exported.messages:
        who = {"user": "You", "assistant": "Assistant"}.get(m.role, m.role.title())
        lines += [f"**{who}** ({m.created_at.isoformat(timespec='seconds')}):", "", m.content, ""]
        if m.sources:
            lines.append("Sources:")
            for n, source in enumerate(m.sources, start=1):
                where = str(source.get("title") or source.get("source") or "")
                if source.get("page"):
                    where += f", page {source['page']}"
                lines.append(f"{n}. {where}")
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"
