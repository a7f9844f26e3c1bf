"""Threads and their messages (docs/api.md §1)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Response
from pydantic import BaseModel, Field
from sqlalchemy import and_, or_, select

from ragline.adapters.db.tables import Message, Thread
from ragline.bootstrap import Container
from ragline.domain.errors import InvalidInput, NotFound
from ragline.services import rewind
from ragline.services import threads as svc
from ragline.web.deps import ContainerDep, CurrentUser, Principal
from ragline.web.pagination import CursorParam, LimitParam, decode_cursor, page

router = APIRouter(prefix="/api/threads", tags=["threads"])


class ThreadIn(BaseModel):
    user_id: str | int | None = None
    title: str | None = Field(default=None, max_length=500)
    collection: str | None = Field(default=None, max_length=200)
    model: str | None = Field(default=None, max_length=200)
    metadata: dict[str, Any] | None = None


class ThreadOut(BaseModel):
    thread_id: str
    user_id: str | None
    title: str | None
    collection: str | None
    model: str | None
    metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class MessageIn(BaseModel):
    content: str
    model: str | None = Field(default=None, max_length=200)
    collection: str | None = Field(default=None, max_length=200)
    response_format: dict[str, Any] | str | None = None


class PostedOut(BaseModel):
    run_id: str
    message_id: str
    status: str


class MessageOut(BaseModel):
    message_id: str
    role: str
    content: str
    sources: list[dict[str, Any]] | None = None
    data: Any = None
    run_id: str | None = None
    state: str
    created_at: datetime


def thread_out(t: Thread) -> ThreadOut:
    return ThreadOut(
        thread_id=t.id, user_id=t.user_id, title=t.title, collection=t.collection,
        model=t.model, metadata=t.meta or {}, created_at=t.created_at, updated_at=t.updated_at,
    )


def message_out(m: Message) -> MessageOut:
    return MessageOut(
        message_id=m.id, role=m.role, content=m.content, sources=m.sources, data=m.data,
        run_id=m.run_id, state=m.state, created_at=m.created_at,
    )


def resolve_model(container: Container, *names: str | None) -> str:
    """The first name given, else the default; unknown names are a 400."""
    name = next((n for n in names if n), None) or container.models.default_model
    container.models.spec(name)
    return str(name)


async def check_collection(container: Container, user: Principal, name: str | None) -> None:
    if name is None or name == "default" or container.documents is None:
        return
    if await container.documents.collection_version(user.user_id, name) is None:
        raise NotFound(f"collection {name!r} not found", code="collection_not_found")


@router.post("", status_code=201, response_model=ThreadOut)
async def create_thread(body: ThreadIn, container: ContainerDep, user: CurrentUser) -> ThreadOut:
    if body.model:
        resolve_model(container, body.model)
    await check_collection(container, user, body.collection)
    async with container.db.session() as session:
        thread = await svc.create_thread(
            session, user.user_id,
            user_id=str(body.user_id) if body.user_id is not None else None,
            title=body.title, collection=body.collection, model=body.model,
            metadata=body.metadata,
        )
        return thread_out(thread)


@router.get("")
async def list_threads(
    container: ContainerDep, user: CurrentUser, limit: LimitParam = 50, cursor: CursorParam = None
) -> dict[str, Any]:
    query = select(Thread).where(Thread.owner_id == user.user_id)
    if cursor:
        stamp, id_ = decode_cursor(cursor)
        query = query.where(
            or_(Thread.updated_at < stamp, and_(Thread.updated_at == stamp, Thread.id < id_))
        )
    query = query.order_by(Thread.updated_at.desc(), Thread.id.desc()).limit(limit + 1)
    async with container.db.session() as session:
        rows = [thread_out(t) for t in await session.scalars(query)]
    return page(rows, limit, lambda t: (t.updated_at, t.thread_id))


@router.get("/{thread_id}", response_model=ThreadOut)
async def get_thread(thread_id: str, container: ContainerDep, user: CurrentUser) -> ThreadOut:
    async with container.db.session() as session:
        return thread_out(await svc.get_thread(session, user.user_id, thread_id))


@router.delete("/{thread_id}", status_code=204)
async def delete_thread(thread_id: str, container: ContainerDep, user: CurrentUser) -> Response:
    await svc.delete_thread(container.db, container.runs, user.user_id, thread_id)
    return Response(status_code=204)


@router.get("/{thread_id}/messages")
async def list_messages(
    thread_id: str,
    container: ContainerDep,
    user: CurrentUser,
    limit: LimitParam = 100,
    cursor: CursorParam = None,
) -> dict[str, Any]:
    async with container.db.session() as session:
        await svc.get_thread(session, user.user_id, thread_id)
        query = select(Message).where(Message.thread_id == thread_id)
        if cursor:
            stamp, id_ = decode_cursor(cursor)
            query = query.where(
                or_(Message.created_at > stamp, and_(Message.created_at == stamp, Message.id > id_))
            )
        query = query.order_by(Message.created_at, Message.id).limit(limit + 1)
        rows = [message_out(m) for m in await session.scalars(query)]
    return page(rows, limit, lambda m: (m.created_at, m.message_id))


@router.post("/{thread_id}/messages", status_code=202, response_model=PostedOut)
async def post_message(
    thread_id: str,
    body: MessageIn,
    container: ContainerDep,
    user: CurrentUser,
    response: Response,
    on_active: Annotated[Literal["reject", "enqueue", "interrupt"], Query()] = "reject",
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> PostedOut:
    async with container.db.session() as session:
        thread = await svc.get_thread(session, user.user_id, thread_id)
    model = resolve_model(container, body.model, thread.model)
    await check_collection(container, user, body.collection)
    response_format = body.response_format
    if response_format is not None and not isinstance(response_format, (dict, str)):
        raise InvalidInput("response_format must be a schema name or a JSON schema")
    posted = await svc.post_message(
        container.db, container.runs,
        owner_id=user.user_id, thread_id=thread_id, content=body.content, model=model,
        collection=body.collection, response_format=response_format,
        idempotency_key=idempotency_key, on_active=on_active,
        max_bytes=container.settings.max_message_bytes,
    )
    if not posted.created:
        response.headers["Idempotent-Replayed"] = "true"
    return PostedOut(run_id=posted.run_id, message_id=posted.message_id, status=posted.status)


@router.delete("/{thread_id}/messages/{message_id}", status_code=204,
               responses={409: {"description": "the thread has an active run (`run_active`)"}})
async def rewind_thread(
    thread_id: str, message_id: str, container: ContainerDep, user: CurrentUser
) -> Response:
    """Delete this message and every later one of the thread, with their runs and events
    (regenerate an answer, or edit and resend a question, by posting again afterwards)."""
    await rewind.rewind_thread(container.store, user.user_id, thread_id, message_id)
    return Response(status_code=204)
