"""A run's event log as a LangGraph stream (docs/api.md §3): `metadata` first, then the parts
of the run's stream modes, `error` if it failed, and `end`.

Every frame carries an id, so any stream resumes: the frames rendered from the run's event
`seq` N have ids `N.0`, `N.1`, ... and the last of them plain `N` (`metadata` is `0`). With
`Last-Event-ID` the stream sends only what came after that frame. Each reader folds the log
from its start, so every reader renders the same frames under the same ids.
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

from ragline.domain.errors import InvalidInput
from ragline.domain.jsonenc import dumps
from ragline.domain.runs import DONE, RunEventRecord, RunState
from ragline.services.langgraph_state import NODE, ai_message

Part = tuple[str, Any]
_ID = re.compile(r"(0|[1-9][0-9]{0,17})(?:\.(0|[1-9][0-9]{0,5}))?")


@dataclass(frozen=True)
class Cursor:
    """The last frame a client saw: event `seq`, and within it frame `index` (None: all)."""

    seq: int
    index: int | None = None

    def saw(self, seq: int, index: int) -> bool:
        return seq < self.seq or (seq == self.seq and (self.index is None or index <= self.index))


def parse_cursor(raw: str | None) -> Cursor | None:
    if raw is None or not raw.strip():
        return None
    found = _ID.fullmatch(raw.strip())
    if found is None:
        raise InvalidInput(f"Last-Event-ID {raw[:40]!r} is not an id this stream sent",
                           code="invalid_last_event_id")
    seq, index = found.groups()
    return Cursor(int(seq), None if index is None else int(index))


class RunStream:
    """Folds one run's events into the parts of its stream modes."""

    def __init__(self, *, run_id: str, thread_id: str, assistant_id: str, model: str,
                 modes: Sequence[str], history: list[dict[str, Any]]) -> None:
        self.run_id, self.thread_id, self.modes = run_id, thread_id, set(modes)
        self.history = history  # the question and the messages before it
        self.state = RunState(run_id)
        self.chunk_id = f"run-{run_id}"
        self.info = {"run_id": run_id, "thread_id": thread_id, "assistant_id": assistant_id,
                     "graph_id": assistant_id, "langgraph_node": NODE, "langgraph_step": 1,
                     "ls_provider": "ragline", "ls_model_name": model}

    def opening(self) -> list[Part]:
        return [("metadata", {"run_id": self.run_id, "thread_id": self.thread_id, "attempt": 1})]

    def feed(self, record: RunEventRecord) -> list[Part]:
        self.state.apply(record.event)
        parts = self._start() if record.seq == 1 else []
        data, kind = record.data, record.type
        if kind in ("status", "sources"):
            parts += self._when("custom", {"type": kind, **data})
            parts += self._when("events", self._event("on_custom_event", kind, data, name=kind))
        elif kind == "token":
            parts += self._token(str(data.get("delta", "")))
        elif kind == "final":
            parts += self._final()
        elif kind == "error":
            parts.append(("error", {"error": data.get("code"), "message": data.get("message")}))
        elif kind == "done":
            parts.append(("end", None))
        return parts

    def answer(self) -> dict[str, Any]:
        """The answer so far, as the thread's state will show it."""
        state = self.state
        ending = {"cancelled": "cancelled", "failed": "failed"}.get(state.status, "complete")
        return ai_message(
            run_id=self.run_id, message_id=state.message_id, content=state.content,
            sources=state.source_payloads(), claims=state.claims,
            state=ending if state.finished else "complete")

    def result(self) -> dict[str, Any]:
        """What `wait` and `join` answer: the values at the end, or the error."""
        state = self.state
        if state.error is not None and state.status != DONE:
            return {"__error__": {"error": state.error.code, "message": state.error.message}}
        messages = list(self.history)
        if state.content or state.status == DONE:
            messages.append(self.answer())
        return {"messages": messages}

    def _when(self, mode: str, data: Any, event: str | None = None) -> list[Part]:
        return [(event or mode, data)] if mode in self.modes else []

    def _event(self, kind: str, data: Any, payload: Any = None, *, name: str = NODE
               ) -> dict[str, Any]:
        body = {"chunk": payload} if kind == "on_chat_model_stream" else data
        return {"event": kind, "name": name, "run_id": self.run_id, "data": body,
                "metadata": self.info, "tags": [], "parent_ids": []}

    def _start(self) -> list[Part]:
        values = {"messages": self.history}
        return (self._when("values", values)
                + self._when("events", self._event("on_chain_start", {"input": values})))

    def _chunk(self, content: str, **extra: Any) -> dict[str, Any]:
        return {"type": "AIMessageChunk", "content": content, "id": self.chunk_id,
                "name": None, "example": False, "additional_kwargs": {},
                "response_metadata": {}, "tool_calls": [], "invalid_tool_calls": [],
                "tool_call_chunks": [], "usage_metadata": None, **extra}

    def _token(self, delta: str) -> list[Part]:
        parts: list[Part] = []
        first = self.state.tokens == 1
        if first:
            parts += self._when("messages", {self.chunk_id: {"metadata": self.info}},
                                "messages/metadata")
            parts += self._when("events", self._event("on_chat_model_start", {"input": {
                "messages": [self.history]}}))
        parts += self._when("messages-tuple", [self._chunk(delta), self.info], "messages")
        parts += self._when("messages", [self._chunk(self.state.content)], "messages/partial")
        parts += self._when("events", self._event("on_chat_model_stream", {},
                                                  self._chunk(delta)))
        return parts

    def _final(self) -> list[Part]:
        answer = self.answer()
        usage = self.state.usage
        last = self._chunk("", additional_kwargs=answer["additional_kwargs"],
                           response_metadata={**answer["response_metadata"],
                                              "finish_reason": "stop"},
                           usage_metadata={
                               "input_tokens": usage.get("prompt_tokens", 0),
                               "output_tokens": usage.get("completion_tokens", 0),
                               "total_tokens": usage.get("prompt_tokens", 0)
                               + usage.get("completion_tokens", 0)})
        values = {"messages": [*self.history, answer]}
        return (self._when("messages-tuple", [last, self.info], "messages")
                + self._when("messages", [answer], "messages/complete")
                + self._when("updates", {NODE: {"messages": [answer]}})
                + self._when("values", values)
                + self._when("events", self._event("on_chat_model_end", {"output": answer}))
                + self._when("events", self._event("on_chain_end", {"output": values})))


def frames(parts: Sequence[Part], seq: int, after: Cursor | None) -> list[str]:
    """The parts rendered from event `seq` as SSE frames, less those the client saw."""
    out = []
    for index, (event, data) in enumerate(parts):
        if after is not None and after.saw(seq, index):
            continue
        id_ = str(seq) if index == len(parts) - 1 else f"{seq}.{index}"
        out.append(f"id: {id_}\nevent: {event}\ndata: {dumps(data)}\n\n")
    return out


async def sse(view: RunStream, batches: AsyncGenerator[list[RunEventRecord], None],
              after: Cursor | None) -> AsyncGenerator[bytes, None]:
    """The stream's bytes, one write per batch of the log."""
    pending = frames(view.opening(), 0, after)
    async with aclosing(batches):
        async for batch in batches:
            for record in batch:
                pending += frames(view.feed(record), record.seq, after)
            if pending:
                yield "".join(pending).encode()
                pending = []
