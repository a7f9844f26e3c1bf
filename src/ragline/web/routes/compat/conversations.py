"""Seed 003: conversations with a named registry model under `/conversations`.

A conversation is a thread (metadata `surface: seed003`) whose model is `model_name`; its
history lives in the database. With `RAGLINE_REDIS_URL` set, rendered conversations are cached
in Redis, keyed by the thread's last change (so a stale entry is never served) and dropped on chat.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from ragline.bootstrap import Container
from ragline.domain.errors import NotFound
from ragline.services.conversation import utc
from ragline.services.threads import Thread, find_thread, list_surface_threads, new_thread
from ragline.web.deps import ContainerDep, CurrentUser, Principal
from ragline.web.routes.compat.common import ask, slash_tolerant, thread_messages

SURFACE = "seed003"

# The Redis cache of rendered conversations is the container's (`conversation_cache`).
router = APIRouter(prefix="/conversations", tags=["compat: seed 003 (conversations)"])


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
    model = container.models.resolve(body.model_name)
    thread = await new_thread(container.db, user.user_id, model=model,
                              metadata={"surface": SURFACE})
    return ConversationOut(conversation=await _render(container, thread))


@router.post("/chat", status_code=201, response_model=ConversationOut)
async def chat(body: ChatIn, container: ContainerDep, user: CurrentUser) -> ConversationOut:
    """Send a message with `model_name`; answers with the whole conversation once replied."""
    model = container.models.resolve(body.model_name)
    if body.conversation_id:
        thread = await _conversation(container, user, body.conversation_id)
    else:
        thread = await new_thread(container.db, user.user_id, model=model,
                                  metadata={"surface": SURFACE})
    cache = container.conversation_cache
    try:
        await ask(container, user, thread.id, body.message, model=model)
    finally:
        if cache is not None:
            await cache.forget(thread.id)
    thread = await find_thread(container.db, user.user_id, thread.id)
    return ConversationOut(conversation=await _render(container, thread))


@slash_tolerant(router, "GET", "", response_model=ConversationsOut)
async def list_conversations(
    container: ContainerDep,
    user: CurrentUser,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> ConversationsOut:
    """The caller's conversations, most recently active first."""
    threads = await list_surface_threads(container.db, user.user_id, SURFACE, limit=limit)
    return ConversationsOut(conversations=await _render_many(container, threads))


@router.get("/{conversation_id}", response_model=ConversationOut)
async def get_conversation(
    conversation_id: str, container: ContainerDep, user: CurrentUser
) -> ConversationOut:
    thread = await _conversation(container, user, conversation_id)
    return ConversationOut(conversation=await _render(container, thread))


async def _conversation(container: Container, user: Principal, conversation_id: str) -> Thread:
    try:
        return await find_thread(container.db, user.user_id, conversation_id)
    except NotFound:
        raise NotFound(
            f"conversation {conversation_id} not found", code="conversation_not_found"
        ) from None


async def _render(container: Container, thread: Thread) -> Conversation:
    (conversation,) = await _render_many(container, [thread])
    return conversation


async def _render_many(container: Container, threads: list[Thread]) -> list[Conversation]:
    """Conversations from the cache where fresh, else from the database (then cached)."""
    cache = container.conversation_cache
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
