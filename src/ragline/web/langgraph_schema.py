"""LangGraph Agent Protocol shapes (docs/api.md §3): requests as `langgraph-sdk` sends them,
answers as LangGraph's server gives them, and errors as `{"detail": "..."}`.

A request field ragline cannot honour is refused with 422, never ignored: unknown fields fail
validation (`extra="forbid"`), known ones ragline has no use for fail in `RunCreate.plan`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from fastapi import Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from ragline.domain.errors import RaglineError, Unprocessable
from ragline.domain.llm import ChatMessage
from ragline.services.langgraph_runs import RunPlan
from ragline.web.errors import (
    HTTP_CODES,
    ShapedErrorRoute,
    domain_headers,
    first_problem,
    status_for,
)

STREAM_MODES = ("values", "messages", "messages-tuple", "updates", "events", "custom")
KNOWN_MODES = (*STREAM_MODES, "tasks", "checkpoints", "debug", "tools", "lifecycle")
SETTINGS = ("collection", "model")  # what config.configurable (or context) may set
Json = dict[str, Any]


class LangGraphError(BaseModel):
    """LangGraph's error shape (the SDK reads `detail`); `code` is ragline's error code."""

    detail: str
    code: str | None = None


def error(status: int, detail: str, code: str | None, headers: Mapping[str, str] | None = None
          ) -> JSONResponse:
    return JSONResponse({"detail": detail, "code": code}, status, headers=dict(headers or {}))


class LangGraphRoute(ShapedErrorRoute):
    """Errors on these routes come back as `{"detail": "..."}`, which the SDK raises."""

    def validation_error(self, exc: RequestValidationError) -> Response:
        where, problem = first_problem(exc, "invalid")
        return error(422, f"{where}: {problem}" if where else problem, "validation_error")

    def domain_error(self, exc: RaglineError) -> Response:
        return error(status_for(exc), exc.message, exc.code, domain_headers(exc))

    def http_error(self, exc: HTTPException) -> Response:
        return error(exc.status_code, str(exc.detail), HTTP_CODES.get(exc.status_code, "error"),
                     exc.headers)


def refuse(field: str, why: str) -> Unprocessable:
    return Unprocessable(f"{field} is not supported by ragline: {why}", code="unsupported_field")


# Requests


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AssistantSearch(_Body):
    metadata: Json | None = None
    graph_id: str | None = Field(default=None, max_length=200)
    name: str | None = Field(default=None, max_length=200)
    limit: int = Field(default=10, ge=1, le=1000)
    offset: int = Field(default=0, ge=0)
    sort_by: Literal["assistant_id", "graph_id", "name", "created_at", "updated_at"] | None = None
    sort_order: Literal["asc", "desc"] | None = None
    select: list[str] | None = None


class AssistantCount(_Body):
    metadata: Json | None = None
    graph_id: str | None = Field(default=None, max_length=200)
    name: str | None = Field(default=None, max_length=200)


class ThreadCreate(_Body):
    metadata: Json | None = None
    thread_id: str | None = Field(default=None, max_length=64)
    if_exists: Literal["raise", "do_nothing"] | None = None
    supersteps: list[Json] | None = None
    graph_id: str | None = Field(default=None, max_length=200)
    ttl: Json | None = None

    def refuse_unsupported(self) -> None:
        if self.thread_id is not None:
            raise refuse("thread_id", "ragline assigns thread ids")
        if self.supersteps:
            raise refuse("supersteps", "a thread's messages come from its runs")
        if self.ttl is not None:
            raise refuse("ttl", "threads are kept until deleted")


class ThreadPatch(_Body):
    metadata: Json
    ttl: Json | None = None


class ThreadSearch(_Body):
    metadata: Json | None = None
    values: Json | None = None
    ids: list[str] | None = Field(default=None, max_length=1000)
    status: Literal["idle", "busy", "interrupted", "error"] | None = None
    limit: int = Field(default=10, ge=1, le=1000)
    offset: int = Field(default=0, ge=0)
    sort_by: Literal["thread_id", "status", "created_at", "updated_at",
                     "state_updated_at"] | None = None
    sort_order: Literal["asc", "desc"] | None = None
    select: list[str] | None = None
    extract: dict[str, str] | None = None

    def refuse_unsupported(self) -> None:
        if self.values:
            raise refuse("values", "threads are searched by metadata, ids and status")
        if self.extract:
            raise refuse("extract", "search returns whole threads")


class ThreadCount(_Body):
    metadata: Json | None = None
    values: Json | None = None
    status: Literal["idle", "busy", "interrupted", "error"] | None = None


class CheckpointIn(BaseModel):
    model_config = ConfigDict(extra="allow")
    checkpoint_id: str | None = Field(default=None, max_length=64)


class HistoryRequest(_Body):
    limit: int = Field(default=10, ge=1, le=1000)
    before: str | CheckpointIn | None = None
    metadata: Json | None = None
    checkpoint: CheckpointIn | None = None
    select: list[str] | None = None

    @property
    def before_id(self) -> str | None:
        return self.before.checkpoint_id if isinstance(self.before, CheckpointIn) else self.before


class StateAtCheckpoint(_Body):
    checkpoint: CheckpointIn
    subgraphs: bool = False
    select: list[str] | None = None


class StateUpdate(_Body):
    values: Json | list[Json] | None = None
    as_node: str | None = None
    checkpoint: CheckpointIn | None = None
    checkpoint_id: str | None = None


class RunCreate(_Body):
    """`runs.create / stream / wait` bodies; `plan` turns them into a ragline run."""

    assistant_id: str = Field(max_length=200)
    input: Json | None = None
    command: Json | None = None
    config: Json | None = None
    context: Json | None = None
    metadata: Json | None = None
    stream_mode: str | list[str] = "values"
    stream_subgraphs: bool = False  # ragline's graphs have no subgraphs: honoured either way
    stream_resumable: bool = False  # every ragline run can be resumed
    interrupt_before: str | list[str] | None = None
    interrupt_after: str | list[str] | None = None
    feedback_keys: list[str] | None = None
    webhook: str | None = None
    checkpoint: Json | None = None
    checkpoint_id: str | None = None
    checkpoint_during: bool | None = None  # every event is durable
    durability: Literal["sync", "async", "exit"] | None = None  # the same
    multitask_strategy: Literal["reject", "enqueue", "interrupt", "rollback"] | None = None
    if_not_exists: Literal["create", "reject"] | None = None
    on_disconnect: Literal["cancel", "continue"] | None = None
    on_completion: Literal["delete", "keep"] | None = None
    after_seconds: float | None = None
    strict_resume: bool | None = None
    langsmith_tracer: Json | None = None

    def plan(self, *, stateless: bool) -> RunPlan:
        self._refuse_unsupported(stateless)
        system, history, question = input_turns(self.input)
        settings = self._settings()
        return RunPlan(
            assistant_id=self.assistant_id, question=question, history=tuple(history),
            system=system, collection=settings.get("collection"), model=settings.get("model"),
            strategy=self.multitask_strategy or "enqueue", metadata=dict(self.metadata or {}),
            stream_modes=self.modes(),
        )

    def modes(self) -> tuple[str, ...]:
        return stream_modes([self.stream_mode] if isinstance(self.stream_mode, str)
                            else self.stream_mode) or ("values",)

    def _refuse_unsupported(self, stateless: bool) -> None:
        why_not = {
            "command": "ragline's graphs never interrupt, so there is nothing to resume",
            "checkpoint": "runs always continue from the thread's latest messages "
                          "(fork with POST /threads/{thread_id}/copy)",
            "checkpoint_id": "runs always continue from the thread's latest messages",
            "interrupt_before": "ragline's graphs have one node and never interrupt",
            "interrupt_after": "ragline's graphs have one node and never interrupt",
            "feedback_keys": "use POST /api/messages/{message_id}/feedback",
            "webhook": "no webhooks; join the run or poll it",
            "after_seconds": "runs start at once",
            "langsmith_tracer": "ragline traces with OpenTelemetry (RAGLINE_OTLP_ENDPOINT)",
        }
        for name, why in why_not.items():
            if getattr(self, name) not in (None, [], 0, 0.0):
                raise refuse(name, why)
        if self.if_not_exists == "create" and not stateless:
            raise refuse("if_not_exists=create", "create the thread with POST /threads first")
        if self.on_completion is not None and not stateless:
            raise refuse("on_completion", "it applies to stateless runs (POST /runs...)")
        if stateless and self.multitask_strategy not in (None, "enqueue", "reject"):
            raise refuse("multitask_strategy", "a stateless run has a thread of its own")

    def _settings(self) -> dict[str, str]:
        config = dict(self.config or {})
        config.pop("recursion_limit", None)  # one step: any limit is honoured
        configurable = config.pop("configurable", None) or {}
        if config:
            raise refuse(f"config.{next(iter(config))}",
                         "config may hold configurable (collection, model) and recursion_limit")
        settings: dict[str, str] = {}
        for where, given in (("config.configurable", configurable),
                             ("context", self.context or {})):
            if not isinstance(given, Mapping):
                raise Unprocessable(f"{where} must be an object", code="validation_error")
            for key, value in given.items():
                if key not in SETTINGS:
                    raise refuse(f"{where}.{key}", "the settings are collection and model")
                if not isinstance(value, str) or not value or len(value) > 200:
                    raise Unprocessable(f"{where}.{key} must be a non-empty string",
                                        code="validation_error")
                settings[key] = value
        return settings


def stream_modes(modes: list[str]) -> tuple[str, ...]:
    """Distinct modes in the order given; an unknown or unsupported one is a 422."""
    chosen: list[str] = []
    for mode in modes:
        if mode not in STREAM_MODES:
            known = "unknown" if mode not in KNOWN_MODES else "not supported by ragline"
            raise Unprocessable(f"stream_mode {mode[:40]!r} is {known} (ragline streams "
                                f"{', '.join(STREAM_MODES)})", code="unsupported_stream_mode")
        if mode not in chosen:
            chosen.append(mode)
    return tuple(chosen)


Role = Literal["system", "user", "assistant"]
ROLES: dict[str, Role] = {"user": "user", "human": "user", "assistant": "assistant",
                          "ai": "assistant", "system": "system", "developer": "system"}


def input_turns(given: Json | None) -> tuple[str | None, list[ChatMessage], str]:
    """(system prompt, earlier turns, the question) of `{"messages": [...]}`; the last message
    must be the user's."""
    if not given or set(given) != {"messages"}:
        raise Unprocessable('input must be {"messages": [{"role": "user", "content": ...}]}',
                            code="invalid_input")
    messages = given["messages"]
    if isinstance(messages, dict | str):
        messages = [messages]
    if not isinstance(messages, list) or not messages:
        raise Unprocessable("input.messages must be a non-empty list", code="invalid_input")
    system: list[str] = []
    turns: list[ChatMessage] = []
    for i, message in enumerate(messages):
        role, text = _message(message, i)
        if role == "system":
            system.append(text)
        else:
            turns.append(ChatMessage(role, text))
    if not turns or turns[-1].role != "user" or not turns[-1].content.strip():
        raise Unprocessable("the last input message must be a non-empty user message",
                            code="invalid_input")
    return ("\n\n".join(system) if system else None), turns[:-1], turns[-1].content


def _message(message: Any, index: int) -> tuple[Role, str]:
    where = f"input.messages[{index}]"
    if isinstance(message, str):
        return "user", message
    if not isinstance(message, dict):
        raise Unprocessable(f"{where} must be an object", code="invalid_input")
    role = ROLES.get(str(message.get("role") or message.get("type") or ""))
    if role is None:
        raise Unprocessable(f"{where}: role must be user, assistant or system (no tools)",
                            code="invalid_input")
    content = message.get("content")
    if isinstance(content, list):
        parts = [p.get("text") if isinstance(p, dict) and p.get("type") == "text" else None
                 for p in content]
        if any(not isinstance(p, str) for p in parts):
            raise Unprocessable(f"{where}: only text content is supported", code="invalid_input")
        content = "".join(str(p) for p in parts)
    if not isinstance(content, str):
        raise Unprocessable(f"{where}.content must be text", code="invalid_input")
    return role, content


# Answers


class AssistantOut(BaseModel):
    assistant_id: str
    graph_id: str
    name: str
    description: str | None
    config: Json
    context: Json
    metadata: Json
    version: int
    created_at: datetime
    updated_at: datetime


class LangGraphThread(BaseModel):
    thread_id: str
    created_at: datetime
    updated_at: datetime
    state_updated_at: datetime
    metadata: Json
    status: Literal["idle", "busy", "interrupted", "error"]
    config: Json
    values: Json | None
    interrupts: Json


class LangGraphRun(BaseModel):
    run_id: str
    thread_id: str
    assistant_id: str
    created_at: datetime
    updated_at: datetime
    status: Literal["pending", "running", "error", "success", "timeout", "interrupted"]
    metadata: Json
    multitask_strategy: str | None


class ThreadStateOut(BaseModel):
    values: Json
    next: list[str]
    tasks: list[Json]
    checkpoint: Json
    parent_checkpoint: Json | None
    metadata: Json
    created_at: str | None
    interrupts: list[Any]
