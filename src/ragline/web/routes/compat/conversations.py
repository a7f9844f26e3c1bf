"""Seed 003: conversations with a named registry model under `/conversations`.

A conversation is a thread (metadata `surface: seed003`) whose model is `model_name`; its
history lives in the database. With `RAGLINE_REDIS_URL` set, rendered conversations are cached
in Redis, keyed by the thread's last change (so a stale entry is never served) and dropped on chat.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, FastAPI, Query
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ragline.adapters.conversation_cache import ConversationCache
from ragline.adapters.db.tables import Thread
from ragline.bootstrap import Container
from ragline.domain.errors import NotFound
from ragline.services.conversation import utc
from ragline.services.threads import create_thread, get_thread
from ragline.web.deps import ContainerDep, CurrentUser, Principal
from ragline.web.routes.compat.common import ask, slash_tolerant, surface_filter, thread_messages
from ragline.web.routes.threads import resolve_model

SURFACE = "seed003"
CACHE = "conversation_cache"


@asynccontextmanager
async def cache_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Open the Redis cache for the server's lifetime when Redis is configured."""
    container: Container = app.state.container
    url = container.settings.redis_url
    cache = ConversationCache.from_url(url) if url else None
    container.extras[CACHE] = cache
    try:
        yield
    finally:
        if cache is not None:
            await cache.aclose()


router = APIRouter(
    prefix="/conversations", tags=["compat: seed 003 (conversations)"], lifespan=cache_lifespan
)


class StartIn(BaseModel):
    model_name: str = Field(max_length=200, examples=["scripted"])


class ChatIn(BaseModel):
    model_name: str = Field(max_length=200)
    message: str = Field(min_length=1)
    conversation_id: str | None = Field(default=None, description="omit to start a new one")


class Turn(BaseModel):
    role: Literal["user", "ai"]
    content: str
    timestamp: datetime


class Conversation(BaseModel):
    conversation_id: str
    model_name: str
    messages: list[Turn]
    timestamp: datetime = Field(description="when the conversation started")


class ConversationOut(BaseModel):
    conversation: Conversation


class ConversationsOut(BaseModel):
    conversations: list[Conversation]


@router.post("/start", response_model=ConversationOut)
async def start(body: StartIn, container: ContainerDep, user: CurrentUser) -> ConversationOut:
    model = resolve_model(container, body.model_name)
    async with container.db.session() as session:
        thread = await create_thread(
            session, user.user_id, model=model, metadata={"surface": SURFACE}
        )
    return ConversationOut(conversation=await _render(container, thread))


@router.post("/chat", status_code=201, response_model=ConversationOut)
async def chat(body: ChatIn, container: ContainerDep, user: CurrentUser) -> ConversationOut:
    """Send a message with `model_name`; answers with the whole conversation once replied."""
    model = resolve_model(container, body.model_name)
    async with container.db.session() as session:
        if body.conversation_id:
            thread = await _conversation(session, user, body.conversation_id)
        else:
            thread = await create_thread(
                session, user.user_id, model=model, metadata={"surface": SURFACE}
            )
    cache: ConversationCache | None = container.extras.get(CACHE)
    try:
        await ask(container, user, thread.id, body.message, model=model)
    finally:
        if cache is not None:
            await cache.forget(thread.id)
    async with container.db.session() as session:
        thread = await get_thread(session, user.user_id, thread.id)
    return ConversationOut(conversation=await _render(container, thread))


@slash_tolerant(router, "GET", "", response_model=ConversationsOut)
async def list_conversations(
    container: ContainerDep,
    user: CurrentUser,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> ConversationsOut:
    """The caller's conversations, most recently active first."""
    query = (
        select(Thread)
        .where(Thread.owner_id == user.user_id, surface_filter(SURFACE))
        .order_by(Thread.updated_at.desc(), Thread.id.desc())
        .limit(limit)
    )
    async with container.db.session() as session:
        threads = list(await session.scalars(query))
    return ConversationsOut(conversations=await _render_many(container, threads))


@router.get("/{conversation_id}", response_model=ConversationOut)
async def get_conversation(
    conversation_id: str, container: ContainerDep, user: CurrentUser
) -> ConversationOut:
    async with container.db.session() as session:
        thread = await _conversation(session, user, conversation_id)
    return ConversationOut(conversation=await _render(container, thread))


async def _conversation(session: AsyncSession, user: Principal, conversation_id: str) -> Thread:
    try:
        return await get_thread(session, user.user_id, conversation_id)
    except NotFound:
        raise NotFound(
            f"conversation {conversation_id} not found", code="conversation_not_found"
        ) from None


async def _render(container: Container, thread: Thread) -> Conversation:
    (conversation,) = await _render_many(container, [thread])
    return conversation


async def _render_many(container: Container, threads: list[Thread]) -> list[Conversation]:
    """Conversations from the cache where fresh, else from the database (then cached)."""
    cache: ConversationCache | None = container.extras.get(CACHE)
    stamps = [(t.id, utc(t.updated_at).isoformat()) for t in threads]
    cached = await cache.get_many(stamps) if cache is not None else [None] * len(threads)
    out = []
    for thread, (_, stamp), hit in zip(threads, stamps, cached, strict=True):
        if hit is not None:
            out.append(Conversation.model_validate(hit))
            continue
        conversation = await _load(container, thread)
        if cache is not None:
            await cache.put(thread.id, stamp, conversation.model_dump(mode="json"))
        out.append(conversation)
    return out


async def _load(container: Container, thread: Thread) -> Conversation:
    messages = await thread_messages(container, thread.id)
    return Conversation(
        conversation_id=thread.id,
        model_name=thread.model or container.models.default_model,
        messages=[
            Turn(
                role="user" if m.role == "user" else "ai",
                content=m.content,
                timestamp=utc(m.created_at),
            )
            for m in messages
        ],
        timestamp=utc(thread.created_at),
    )
