"""Runs: status, the event stream over SSE and WebSocket, cancel (docs/api.md §1)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, WebSocket, WebSocketDisconnect
from pydantic import BaseModel
from sse_starlette.sse import EventSourceResponse

from ragline.bootstrap import Container
from ragline.domain.errors import RaglineError
from ragline.domain.jsonenc import dumps
from ragline.domain.runs import RunEventRecord
from ragline.services import threads as svc
from ragline.services.event_log import follow
from ragline.services.run_store import Run
from ragline.web.deps import ContainerDep, CurrentUser, Principal, resolve_principal
from ragline.web.pagination import parse_seq
from ragline.web.sse import event_stream, run_event_frames
from ragline.web.ws_frames import POLICY, BadFrame, decode_frame

router = APIRouter(prefix="/api/runs", tags=["runs"])


class RunOut(BaseModel):
    run_id: str
    thread_id: str
    status: str
    model: str
    usage: dict[str, int]
    error: dict[str, Any] | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class CancelOut(BaseModel):
    run_id: str
    status: str


def run_out(run: Run) -> RunOut:
    return RunOut(
        run_id=run.id,
        thread_id=run.thread_id,
        status=run.status,
        model=run.model,
        usage={"prompt_tokens": run.prompt_tokens, "completion_tokens": run.completion_tokens},
        error=run.error,
        created_at=run.created_at,
        started_at=run.started_at,
        finished_at=run.finished_at,
    )


def parse_cursor(last_event_id: str | None, after: str | None) -> int:
    return parse_seq(last_event_id if last_event_id is not None else after)


async def check_run(container: Container, user: Principal, run_id: str) -> Run:
    return await container.store.get(user.user_id, run_id)


@router.get("/{run_id}", response_model=RunOut)
async def get_run(run_id: str, container: ContainerDep, user: CurrentUser) -> RunOut:
    return run_out(await check_run(container, user, run_id))


@router.get(
    "/{run_id}/events",
    response_class=EventSourceResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "run events"}},
)
async def stream_events(
    run_id: str,
    container: ContainerDep,
    user: CurrentUser,
    last_event_id: Annotated[str | None, Header()] = None,
    after: Annotated[str | None, Query()] = None,
) -> EventSourceResponse:
    cursor = parse_cursor(last_event_id, after)
    await check_run(container, user, run_id)

    async def frames() -> AsyncIterator[bytes]:
        async for batch in follow(container.db, container.bus, run_id, cursor):
            yield run_event_frames(batch)

    return event_stream(frames(), container.settings.sse_ping_seconds)


@router.post("/{run_id}/cancel", status_code=202, response_model=CancelOut)
async def cancel_run(run_id: str, container: ContainerDep, user: CurrentUser) -> CancelOut:
    status = await svc.cancel_run(container.db, container.runs, user.user_id, run_id)
    return CancelOut(run_id=run_id, status=status)


@router.websocket("/{run_id}/ws")
async def run_socket(websocket: WebSocket, run_id: str, after: str | None = None) -> None:
    """Frames `{"seq","type","data"}`; the client may send resume and cancel commands.

    A frame that is not a JSON command gets an error frame, then the socket closes with 1007
    (not JSON), 1008 (nested too deep) or 1009 (too big); a bad command only gets the error."""
    container: Container = websocket.app.state.container
    token = websocket.headers.get("x-api-key") or _bearer(websocket.headers.get("authorization"))
    token = token or websocket.query_params.get("token")
    try:
        user = await resolve_principal(container, token)
        await check_run(container, user, run_id)
    except RaglineError as exc:
        await websocket.close(code=4401 if exc.code == "unauthorized" else 4404, reason=exc.message)
        return
    await websocket.accept()
    try:
        cursor = parse_seq(after, "after")
    except RaglineError as exc:
        await _refuse(websocket, exc.code, exc.message, POLICY)
        return
    pump: asyncio.Task[None] | None = None

    async def send_from(cursor: int) -> None:
        async for batch in follow(container.db, container.bus, run_id, cursor):
            for record in batch:
                await websocket.send_text(socket_frame(record))
        await websocket.close()

    try:
        pump = asyncio.create_task(send_from(cursor))
        while True:
            received = await websocket.receive()
            if received["type"] == "websocket.disconnect":
                break
            try:
                message = decode_frame(received)
            except BadFrame as bad:
                await _refuse(websocket, bad.code, bad.message, bad.close_code)
                break
            kind = message.get("type") if isinstance(message, dict) else None
            if kind == "resume":
                try:
                    cursor = parse_seq(message.get("after"), "after")
                except RaglineError as exc:
                    await _send_error(websocket, exc.code, exc.message)
                    continue
                pump.cancel()
                await asyncio.gather(pump, return_exceptions=True)
                pump = asyncio.create_task(send_from(cursor))
            elif kind == "cancel":
                with contextlib.suppress(RaglineError):
                    await svc.cancel_run(container.db, container.runs, user.user_id, run_id)
            else:
                await _send_error(websocket, "bad_message", "unknown command")
    except (WebSocketDisconnect, RuntimeError, ValueError):
        pass
    finally:
        if pump is not None:
            pump.cancel()
            await asyncio.gather(pump, return_exceptions=True)


def socket_frame(record: RunEventRecord) -> str:
    """`{"seq","type","data"}`, reusing the payload's one encoding (the log passes through)."""
    return f'{{"seq":{record.seq},"type":{dumps(record.type)},"data":{record.encoded()}}}'


async def _send_error(websocket: WebSocket, code: str, message: str) -> None:
    await websocket.send_text(dumps({"type": "error", "data": {"code": code, "message": message}}))


async def _refuse(websocket: WebSocket, code: str, message: str, close_code: int) -> None:
    """An error frame, then the close; the client may already be gone."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        await _send_error(websocket, code, message)
        await websocket.close(code=close_code, reason=message[:120])


def _bearer(header: str | None) -> str | None:
    if header and header.lower().startswith("bearer "):
        return header[7:].strip()
    return None
