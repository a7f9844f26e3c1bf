"""Seed 000: one-shot questions streamed over SSE (`POST /stream_question`) and WebSocket (`/ws`).

Each question becomes a fresh thread (metadata `surface: seed000`) searching the collection
given, else `default` when it holds ready documents, else no collection (a plain answer). The
answer is read from the run-event log; a client that leaves mid-answer cancels the run.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import AbstractAsyncContextManager, aclosing
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, Field
from sse_starlette.sse import EventSourceResponse
from starlette.types import Message
from starlette.websockets import WebSocketState

from ragline.bootstrap import Container
from ragline.domain.errors import InvalidInput, RaglineError
from ragline.domain.events import Error, RunEvent, Token
from ragline.domain.jsonenc import dumps
from ragline.domain.runs import RunEventRecord, RunState
from ragline.services.conversation import answer_batches, collection_for_question
from ragline.services.threads import create_thread, post_message
from ragline.web.deps import ContainerDep, CurrentUser, Principal
from ragline.web.routes.compat.common import websocket_principal
from ragline.web.sse import event_stream, frame
from ragline.web.ws_frames import MAX_FRAME_BYTES, BadFrame, decode_frame

log = logging.getLogger(__name__)
router = APIRouter(tags=["compat: seed 000 (one-shot questions)"])
SURFACE = "seed000"


class QuestionIn(BaseModel):
    question: str = Field(min_length=1, examples=["What is the capital of France?"])
    collection: str | None = Field(default=None, max_length=200)


async def start_question(
    container: Container, user: Principal, question: str, collection: str | None
) -> str:
    """A new thread with the question posted on it; returns the run answering it."""
    if not question.strip():
        raise InvalidInput("the question must not be empty", code="empty_question")
    await container.documents.check_collection(user.user_id, collection)
    model = container.models.default_model
    async with container.db.session() as session:
        chosen = await collection_for_question(session, user.user_id, collection)
        thread = await create_thread(
            session, user.user_id, collection=chosen, model=model, metadata={"surface": SURFACE}
        )
    posted = await post_message(
        container.db,
        container.runs,
        owner_id=user.user_id,
        thread_id=thread.id,
        content=question,
        model=model,
        max_bytes=container.settings.max_message_bytes,
    )
    return posted.run_id


@router.post(
    "/stream_question",
    response_class=EventSourceResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "answer chunks"}},
)
async def stream_question(
    body: QuestionIn, container: ContainerDep, user: CurrentUser
) -> EventSourceResponse:
    """`data: {"chunk"}` frames, then `event: end` with `{"sources"}` (and `"claims"` when the
    answer had sources to check); a failed run sends `event: error` with `{"code","message"}`
    before the end frame."""
    run_id = await start_question(container, user, body.question, body.collection)

    async def frames() -> AsyncIterator[bytes]:
        state = RunState(run_id)
        async with _answer(container, run_id) as batches:
            async for batch in batches:
                out = state.apply_batch(batch, sse_frames)
                if out:
                    yield b"".join(out)
        yield sse_end(state)

    return event_stream(frames(), container.settings.sse_ping_seconds)


@router.websocket("/ws")
async def question_socket(websocket: WebSocket) -> None:
    """`{"type":"question","payload"}` in; `response_chunk`… then `response_end` out."""
    try:
        user = await websocket_principal(websocket)
    except RaglineError as exc:
        await websocket.close(code=4401, reason=exc.message)
        return
    await websocket.accept()
    inbox: asyncio.Queue[Message] = asyncio.Queue()
    answering = asyncio.create_task(_answer_each(websocket, user, inbox))
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
            inbox.put_nowait(message)
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        answering.cancel()
        await asyncio.gather(answering, return_exceptions=True)


async def _answer_each(
    websocket: WebSocket, user: Principal, inbox: asyncio.Queue[Message]
) -> None:
    """Answers questions in turn; a bad frame or a failed answer gets an error frame only."""
    container: Container = websocket.app.state.container
    max_bytes = max(MAX_FRAME_BYTES, 8 * container.settings.max_message_bytes)
    while True:
        received = await inbox.get()
        try:
            question, collection = _parse_question(decode_frame(received, max_bytes=max_bytes))
            run_id = await start_question(container, user, question, collection)
            await _stream_answer(websocket, container, run_id)
        except BadFrame as bad:
            await websocket.send_json({"type": "error", "payload": bad.message})
        except RaglineError as exc:
            await websocket.send_json({"type": "error", "payload": exc.message})
        except WebSocketDisconnect:
            return
        except Exception as exc:
            if _closed(websocket):
                return
            log.exception("answering a /ws question failed", exc_info=exc)
            await websocket.send_json({"type": "error", "payload": "an unexpected error occurred"})


def _closed(websocket: WebSocket) -> bool:
    return WebSocketState.DISCONNECTED in (websocket.client_state, websocket.application_state)


async def _stream_answer(websocket: WebSocket, container: Container, run_id: str) -> None:
    """Chunks, then `response_end` with the sources and claims; a failed run ends with `error`
    instead."""
    state = RunState(run_id)
    async with _answer(container, run_id) as batches:
        async for batch in batches:
            for message in state.apply_batch(batch, socket_frames):
                await websocket.send_text(dumps(message))
    await websocket.send_text(dumps(socket_end(state)))


def sse_frames(state: RunState, event: RunEvent) -> list[bytes]:
    """`data: {"chunk"}` per token; `event: error` with `{"code","message"}` as it happens."""
    if isinstance(event, Token):
        return [frame({"chunk": event.delta})]
    if isinstance(event, Error):
        return [frame(event.payload(), event="error")]
    return []


def sse_end(state: RunState) -> bytes:
    return frame(_with_claims({"sources": state.source_payloads()}, state.claims), event="end")


def socket_frames(state: RunState, event: RunEvent) -> list[dict[str, Any]]:
    return [{"type": "response_chunk", "payload": event.delta}] if isinstance(event, Token) else []


def socket_end(state: RunState) -> dict[str, Any]:
    if state.error is not None:
        return {"type": "error", "payload": state.error.message or "the answer failed"}
    return _with_claims({"type": "response_end", "sources": state.source_payloads()}, state.claims)


def _with_claims(body: dict[str, Any], claims: list[Any] | None) -> dict[str, Any]:
    """`final.claims` next to the sources, when the run had some (docs/api.md §3)."""
    return body if claims is None else {**body, "claims": claims}


def _answer(
    container: Container, run_id: str
) -> AbstractAsyncContextManager[AsyncGenerator[list[RunEventRecord], None]]:
    """The run's event batches; leaving before the end cancels the run (nobody can rejoin)."""
    return aclosing(
        answer_batches(container.db, container.bus, container.runs, run_id, cancel_on_exit=True)
    )


def _parse_question(message: Any) -> tuple[str, str | None]:
    if not isinstance(message, dict) or message.get("type") != "question":
        raise InvalidInput(
            'expected {"type": "question", "payload": "<text>"}', code="bad_message"
        )
    payload, collection = message.get("payload"), message.get("collection")
    if not isinstance(payload, str) or not payload.strip():
        raise InvalidInput("payload must be a non-empty question", code="bad_message")
    if collection is not None and not isinstance(collection, str):
        raise InvalidInput("collection must be a string", code="bad_message")
    return payload, collection
