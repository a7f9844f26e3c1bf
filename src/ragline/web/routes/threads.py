"""Threads and their messages (docs/api.md §1)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Response
from pydantic import BaseModel, Field

from ragline.domain.errors import InvalidInput
from ragline.services import forks, rewind, thread_export, thread_links
from ragline.services import threads as svc
from ragline.services.threads import Message, Thread
from ragline.web.deps import ContainerDep, CurrentUser
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
    claims: list[dict[str, Any]] | None = None
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
        message_id=m.id, role=m.role, content=m.content, sources=m.sources, claims=m.claims,
        data=m.data,
        run_id=m.run_id, state=m.state, created_at=m.created_at,
    )


@router.post("", status_code=201, response_model=ThreadOut)
async def create_thread(body: ThreadIn, container: ContainerDep, user: CurrentUser) -> ThreadOut:
    if body.model:
        container.models.resolve(body.model)
    await container.documents.check_collection(user.user_id, body.collection)
    thread = await svc.new_thread(
        container.db, user.user_id,
        user_id=str(body.user_id) if body.user_id is not None else None,
        title=body.title, collection=body.collection, model=body.model,
        metadata=body.metadata,
    )
    return thread_out(thread)


@router.get("")
async def list_threads(
    container: ContainerDep, user: CurrentUser, limit: LimitParam = 50, cursor: CursorParam = None
) -> dict[str, Any]:
    before = decode_cursor(cursor) if cursor else None
    threads = await svc.list_threads(container.db, user.user_id, limit=limit, before=before)
    rows = [thread_out(t) for t in threads]
    return page(rows, limit, lambda t: (t.updated_at, t.thread_id))


@router.get("/{thread_id}", response_model=ThreadOut)
async def get_thread(thread_id: str, container: ContainerDep, user: CurrentUser) -> ThreadOut:
    return thread_out(await svc.find_thread(container.db, user.user_id, thread_id))


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
    after = None
    if cursor:  # an unknown thread is a 404 before a malformed cursor is a 400
        await svc.find_thread(container.db, user.user_id, thread_id)
        after = decode_cursor(cursor)
    messages = await svc.list_messages(container.db, user.user_id, thread_id, limit=limit,
                                       after=after)
    rows = [message_out(m) for m in messages]
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
    thread = await svc.find_thread(container.db, user.user_id, thread_id)
    model = container.models.resolve(body.model, thread.model)
    await container.documents.check_collection(user.user_id, body.collection)
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


class CopyIn(BaseModel):
    up_to_message_id: str | None = Field(default=None, max_length=64)


class ThreadIdOut(BaseModel):
    thread_id: str


@router.post("/{thread_id}/copy", status_code=201, response_model=ThreadIdOut)
async def copy_thread(
    thread_id: str, container: ContainerDep, user: CurrentUser, body: CopyIn | None = None
) -> ThreadIdOut:
    """A fork: a new thread with this one's messages up to and including `up_to_message_id`
    (all of them without it); both continue independently."""
    up_to = body.up_to_message_id if body else None
    copy = await forks.copy_thread(container.db, user.user_id, thread_id, up_to)
    return ThreadIdOut(thread_id=copy.id)


@router.get("/{thread_id}/export", response_model=None)
async def export_thread(
    thread_id: str,
    container: ContainerDep,
    user: CurrentUser,
    format: Annotated[Literal["json", "markdown"], Query()] = "json",
) -> Response:
    exported = await thread_export.export_thread(container.db, user.user_id, thread_id,
                                                 format=format)
    if format == "markdown":
        return Response(thread_export.to_markdown(exported), media_type="text/markdown",
                        headers={"Content-Disposition": f'inline; filename="{thread_id}.md"'})
    return Response(exported.model_dump_json(), media_type="application/json")


@router.post("/import", status_code=201, response_model=ThreadIdOut)
async def import_thread(
    body: thread_export.ThreadExport, container: ContainerDep, user: CurrentUser
) -> ThreadIdOut:
    """A new thread of the caller from a JSON export (`GET /api/threads/{id}/export`)."""
    thread = await thread_export.import_thread(container.db, user.user_id, body)
    return ThreadIdOut(thread_id=thread.id)


class LinkIn(BaseModel):
    mode: Literal["snapshot", "live"] = "snapshot"
    public: bool = False


class LinkOut(BaseModel):
    link_id: str
    thread_id: str
    mode: str
    public: bool
    created_at: datetime


class LinksOut(BaseModel):
    items: list[LinkOut]


class NewLinkOut(LinkOut):
    token: str
    path: str


@router.post("/{thread_id}/links", status_code=201, response_model=NewLinkOut)
async def create_link(
    thread_id: str, container: ContainerDep, user: CurrentUser, body: LinkIn | None = None
) -> dict[str, Any]:
    """A read-only link to the thread (`GET /api/shared/{token}`, the UI at `path`): `snapshot`
    keeps the messages as they are now, `live` follows the thread; `public` lets anyone with
    the link read it without an account. The token is in this answer only."""
    body = body or LinkIn()
    return await thread_links.create_link(container.db, user.user_id, thread_id,
                                          mode=body.mode, public=body.public)


@router.get("/{thread_id}/links", response_model=LinksOut)
async def list_links(thread_id: str, container: ContainerDep, user: CurrentUser) -> LinksOut:
    links = await thread_links.list_links(container.db, user.user_id, thread_id)
    return LinksOut(items=[LinkOut(**link) for link in links])


@router.delete("/{thread_id}/links/{link_id}", status_code=204)
async def revoke_link(thread_id: str, link_id: str, container: ContainerDep,
                      user: CurrentUser) -> Response:
    await thread_links.revoke_link(container.db, user.user_id, thread_id, link_id)
    return Response(status_code=204)
