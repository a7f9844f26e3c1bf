"""Seed 002: chat sessions under `/llm/chat` (a session is a thread; replies wait for the run).

Sessions are threads started here (metadata `surface: seed002`) with the seed's `user_id` as the
thread's user label. `updated_session` in a message reply is the session id. Every path answers
with and without its trailing slash.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from ragline.bootstrap import Container
from ragline.domain.errors import NotFound
from ragline.services.conversation import utc
from ragline.services.threads import (
    Message,
    Thread,
    delete_thread,
    find_thread,
    list_surface_threads,
    new_thread,
)
from ragline.web.deps import ContainerDep, CurrentUser, Principal
from ragline.web.routes.compat.common import ask, slash_tolerant, thread_messages

router = APIRouter(prefix="/llm/chat", tags=["compat: seed 002 (chat sessions)"])
SURFACE = "seed002"


class StartIn(BaseModel):
    user_id: uuid.UUID
    initial_message: str = Field(min_length=1)


class StartOut(BaseModel):
    session_id: str
    message: str = Field(description="the assistant's reply to `initial_message`")


class MessageIn(BaseModel):
    user_message: str = Field(min_length=1)


class MessageOut(BaseModel):
    response_message: str
    updated_session: str = Field(description="the session's id")


class HistoryItem(BaseModel):
    message_id: str
    session_id: str
    sender: Literal["user", "llm"]
    content: str
    timestamp: datetime


class SessionOut(BaseModel):
    session_id: str
    user_id: str | None
    created_at: datetime
    last_active: datetime


class DetailOut(BaseModel):
    detail: str


async def session_thread(container: Container, user: Principal, session_id: str) -> Thread:
    """The caller's session; a malformed or unknown id is a 404 like any other."""
    try:
        uuid.UUID(session_id)
    except ValueError:
        raise NotFound(f"session {session_id} not found", code="session_not_found") from None
    try:
        return await find_thread(container.db, user.user_id, session_id)
    except NotFound:
        raise NotFound(f"session {session_id} not found", code="session_not_found") from None


@slash_tolerant(router, "POST", "", status_code=201, response_model=StartOut)
async def start_session(body: StartIn, container: ContainerDep, user: CurrentUser) -> StartOut:
    """Start a session with a first message; answers once the reply is complete."""
    model = container.models.default_model
    thread = await new_thread(
        container.db, user.user_id, user_id=str(body.user_id), model=model,
        metadata={"surface": SURFACE},
    )
    answer = await ask(container, user, thread.id, body.initial_message, model=model)
    return StartOut(session_id=thread.id, message=answer.content)


@slash_tolerant(router, "POST", "/{session_id}/message", response_model=MessageOut)
async def send_message(
    session_id: str, body: MessageIn, container: ContainerDep, user: CurrentUser
) -> MessageOut:
    thread = await session_thread(container, user, session_id)
    model = thread.model or container.models.default_model
    answer = await ask(container, user, thread.id, body.user_message, model=model)
    return MessageOut(response_message=answer.content, updated_session=thread.id)


@slash_tolerant(router, "GET", "/{session_id}/history", response_model=list[HistoryItem])
async def history(session_id: str, container: ContainerDep, user: CurrentUser) -> list[HistoryItem]:
    thread = await session_thread(container, user, session_id)
    return [_history_item(m) for m in await thread_messages(container, thread.id)]


@slash_tolerant(router, "DELETE", "/{session_id}", response_model=DetailOut)
async def end_session(session_id: str, container: ContainerDep, user: CurrentUser) -> DetailOut:
    """End a session: it and its messages are deleted (a running reply is cancelled)."""
    thread = await session_thread(container, user, session_id)
    await delete_thread(container.db, container.runs, user.user_id, thread.id)
    return DetailOut(detail=f"session {thread.id} ended")


@slash_tolerant(router, "GET", "/sessions", response_model=list[SessionOut])
async def list_sessions(
    container: ContainerDep,
    user: CurrentUser,
    user_id: Annotated[uuid.UUID | None, Query(description="only this user's sessions")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[SessionOut]:
    """The caller's sessions, most recently active first."""
    threads = await list_surface_threads(
        container.db, user.user_id, SURFACE, limit=limit,
        user_label=str(user_id) if user_id is not None else None,
    )
    return [
        SessionOut(
            session_id=t.id, user_id=t.user_id, created_at=utc(t.created_at),
            last_active=utc(t.updated_at),
        )
        for t in threads
    ]


def _history_item(message: Message) -> HistoryItem:
    return HistoryItem(
        message_id=message.id,
        session_id=message.thread_id,
        sender="user" if message.role == "user" else "llm",
        content=message.content,
        timestamp=utc(message.created_at),
    )
