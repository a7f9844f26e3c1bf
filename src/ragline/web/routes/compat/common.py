"""What the seed-compatible views share: ask-and-wait, thread listings per surface, WS auth."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, WebSocket

from ragline.bootstrap import Container
from ragline.domain.runs import RunState
from ragline.services.conversation import collect
from ragline.services.threads import Message, post_message
from ragline.services.threads import thread_messages as _thread_messages
from ragline.web.deps import Principal, resolve_principal


async def ask(
    container: Container,
    user: Principal,
    thread_id: str,
    content: str,
    *,
    model: str,
    collection: str | None = None,
) -> RunState:
    """Post a message and wait for the answer; a failed run raises its domain error.

    A message sent while the thread's previous answer is still running waits its turn.
    """
    posted = await post_message(
        container.db,
        container.runs,
        owner_id=user.user_id,
        thread_id=thread_id,
        content=content,
        model=model,
        collection=collection,
        on_active="enqueue",
        max_bytes=container.settings.max_message_bytes,
    )
    answer = await collect(container.db, container.bus, container.runs, posted.run_id)
    answer.raise_for_status()
    return answer


async def thread_messages(container: Container, thread_id: str) -> list[Message]:
    """A thread's messages oldest first (the caller has checked the thread is theirs)."""
    return await _thread_messages(container.db, thread_id)


async def websocket_principal(websocket: WebSocket) -> Principal:
    """The caller of a WebSocket: `Authorization: Bearer`, `X-API-Key` or `?token=`."""
    container: Container = websocket.app.state.container
    header = websocket.headers.get("authorization") or ""
    token = header[7:].strip() if header.lower().startswith("bearer ") else None
    token = token or websocket.headers.get("x-api-key") or websocket.query_params.get("token")
    return await resolve_principal(container, token)


def slash_tolerant(
    router: APIRouter, method: str, path: str, **options: Any
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Serve `path/` (documented) and `path` (hidden) alike, without a redirect."""

    def register(endpoint: Callable[..., Any]) -> Callable[..., Any]:
        router.add_api_route(f"{path}/", endpoint, methods=[method], **options)
        router.add_api_route(path, endpoint, methods=[method], include_in_schema=False, **options)
        return endpoint

    return register
