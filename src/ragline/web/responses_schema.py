"""OpenAI Responses shapes over a ragline run: the request, the `response` object, and the
stream events, all rendered from the run's event log.

The stream is a pure function of the log: the same events in the same order, numbered from 0,
whoever reads it and whenever, so `starting_after=N` resumes exactly after event N.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ragline.domain.runs import RunEventRecord, RunState
from ragline.web.openai_schema import ContentPart, MessageIn, RagOptions

STATUS = {"queued": "queued", "running": "in_progress", "done": "completed",
          "failed": "failed", "cancelled": "cancelled"}
TERMINAL_EVENT = {"completed": "response.completed", "failed": "response.failed",
                  "cancelled": "response.incomplete"}


class InputItem(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: Literal["message"] = "message"
    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[ContentPart]


class ResponseRequest(BaseModel):
    """What ragline honours of `POST /v1/responses`; tools and other unknowns are refused."""

    model_config = ConfigDict(extra="forbid")
    model: str = Field(max_length=200)
    input: str | list[InputItem] = Field(min_length=1)
    instructions: str | None = Field(default=None, max_length=100_000)
    stream: bool = False
    background: bool = False
    previous_response_id: str | None = Field(default=None, max_length=100)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    max_output_tokens: int | None = Field(default=None, ge=1)
    store: bool | None = None
    metadata: dict[str, str] | None = None
    user: str | None = None
    rag: RagOptions | None = Field(
        default=None, description="ragline extension: answer from this collection's passages"
    )

    def messages(self) -> list[MessageIn]:
        """The input as chat messages (instructions first), for `split_messages`."""
        out = [MessageIn(role="system", content=self.instructions)] if self.instructions else []
        if isinstance(self.input, str):
            return [*out, MessageIn(role="user", content=self.input)]
        for item in self.input:
            parts = item.content
            if not isinstance(parts, str):
                parts = [ContentPart(type="text", text=p.text)
                         if p.type in ("input_text", "output_text") else p for p in parts]
            out.append(MessageIn(role=item.role, content=parts))
        return out

    def thread_metadata(self, system: str) -> dict[str, Any]:
        sampling = {"max_tokens": self.max_output_tokens, "temperature": self.temperature,
                    "top_p": self.top_p}
        meta: dict[str, Any] = {"surface": "responses", "system": system,
                                "background": self.background,
                                "sampling": {k: v for k, v in sampling.items() if v is not None}}
        if self.metadata:
            meta["response_metadata"] = self.metadata
        if self.rag is not None and self.rag.top_k is not None:
            meta["top_k"] = self.rag.top_k
        return meta


def response_id(run_id: str) -> str:
    return f"resp_{run_id}"


def run_id_of(response_id_: str) -> str:
    return response_id_.removeprefix("resp_")


class ResponseView:
    """One run as a `response` object and as the Responses stream events."""

    def __init__(self, run_id: str, model: str, created_at: int, *, background: bool,
                 rag: bool, instructions: str | None = None) -> None:
        self.run_id, self.model, self.created_at = run_id, model, created_at
        self.background, self.rag, self.instructions = background, rag, instructions
        self.item_id = f"msg_{run_id}"

    def status(self, state: RunState) -> str:
        return STATUS.get(state.status, "in_progress")

    def message(self, state: RunState, status: str) -> dict[str, Any]:
        part = {"type": "output_text", "text": state.content, "annotations": [], "logprobs": []}
        return {"id": self.item_id, "type": "message", "role": "assistant", "status": status,
                "content": [part]}

    def response(self, state: RunState) -> dict[str, Any]:
        status = self.status(state)
        item_status = {"completed": "completed", "in_progress": "in_progress",
                       "queued": "in_progress"}.get(status, "incomplete")
        output = [self.message(state, item_status)] if state.tokens or state.finished else []
        prompt = state.usage.get("prompt_tokens", 0)
        completion = state.usage.get("completion_tokens", 0)
        out: dict[str, Any] = {
            "id": response_id(self.run_id), "object": "response", "created_at": self.created_at,
            "status": status, "background": self.background, "model": state.model or self.model,
            "output": output, "parallel_tool_calls": False, "tool_choice": "none", "tools": [],
            "instructions": self.instructions, "metadata": {},
            "error": ({"code": state.error.code, "message": state.error.message}
                      if status == "failed" and state.error else None),
            "incomplete_details": None,
            "usage": {"input_tokens": prompt, "output_tokens": completion,
                      "total_tokens": prompt + completion,
                      "input_tokens_details": {"cached_tokens": state.usage.get("cached_tokens",
                                                                                0)},
                      "output_tokens_details": {"reasoning_tokens": 0}} if state.finished else None,
        }
        if self.rag:
            out["ragline_sources"] = state.source_payloads()
            out["ragline_claims"] = state.claims or []
        return out


class ResponseEvents:
    """Folds a run's log into Responses stream events, numbered from 0."""

    def __init__(self, view: ResponseView) -> None:
        self.view = view
        self.state = RunState(view.run_id)
        self.sequence = -1
        self.opened = False  # the output item and its text part were announced

    def _event(self, type_: str, **fields: Any) -> dict[str, Any]:
        self.sequence += 1
        return {"type": type_, "sequence_number": self.sequence, **fields}

    def opening(self) -> list[dict[str, Any]]:
        snapshot = self.view.response(self.state)
        snapshot["status"] = "in_progress" if self.state.status == "running" else "queued"
        return [self._event("response.created", response=snapshot),
                self._event("response.in_progress", response=snapshot)]

    def _open(self) -> list[dict[str, Any]]:
        if self.opened:
            return []
        self.opened = True
        item = {**self.view.message(self.state, "in_progress"), "content": []}
        part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
        where = {"item_id": self.view.item_id, "output_index": 0}
        return [self._event("response.output_item.added", output_index=0, item=item),
                self._event("response.content_part.added", content_index=0, part=part, **where)]

    def feed(self, record: RunEventRecord) -> list[dict[str, Any]]:
        self.state.apply(record.event)
        where = {"item_id": self.view.item_id, "output_index": 0, "content_index": 0}
        if record.type == "token":
            delta = record.data.get("delta", "")
            return [*self._open(),
                    self._event("response.output_text.delta", delta=delta, logprobs=[], **where)]
        if record.type != "done":
            return []
        final = self.view.response(self.state)
        status = final["status"]
        item = final["output"][0] if final["output"] else self.view.message(self.state, status)
        out = self._open()
        out += [
            self._event("response.output_text.done", text=self.state.content, logprobs=[],
                        **where),
            self._event("response.content_part.done", part=item["content"][0], **where),
            self._event("response.output_item.done", output_index=0, item=item),
            self._event(TERMINAL_EVENT.get(status, "response.completed"), response=final),
        ]
        return out
