"""Server-Sent Events framing shared by every streaming view of the run-event log."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from sse_starlette.event import ServerSentEvent
from sse_starlette.sse import EventSourceResponse

from ragline.domain.jsonenc import dumps
from ragline.domain.runs import RunEventRecord

SSE_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}


def frame(data: Any, *, event: str | None = None, id_: int | None = None) -> bytes:
    head = ""
    if id_ is not None:
        head += f"id: {id_}\n"
    if event is not None:
        head += f"event: {event}\n"
    return f"{head}data: {dumps(data)}\n\n".encode()


def run_event_frames(batch: Sequence[RunEventRecord]) -> bytes:
    """Many frames in one write: a burst of tokens costs one send, not one per token."""
    return "".join(f"id: {e.seq}\nevent: {e.type}\ndata: {e.encoded()}\n\n" for e in batch).encode()


class _Ping(ServerSentEvent):
    """`: ping` as a bare comment line, with no blank line after it.

    A blank line would end an (empty) event: spec-following parsers ignore that, but some
    clients (httpx-sse among them) then report a spurious event carrying the last id.
    """

    def encode(self) -> bytes:
        return b": ping\n"


def event_stream(content: AsyncIterator[bytes], ping_seconds: float) -> EventSourceResponse:
    """Producer, keep-alive ping and disconnect watcher run together; the first to end wins.

    A client that goes away only ends this stream; the run itself goes on.
    """
    return EventSourceResponse(
        content,
        ping=max(1.0, ping_seconds),
        sep="\n",
        headers=SSE_HEADERS,
        ping_message_factory=_Ping,
    )
