"""OpenAI Chat Completions shapes: the request, its mapping onto a thread, replies and errors."""

from __future__ import annotations

import time
from typing import Any, Literal

from fastapi import Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from ragline.domain.errors import InvalidInput, RaglineError, RateLimited
from ragline.domain.events import Error, RunEvent, Token
from ragline.domain.llm import ChatMessage
from ragline.domain.runs import RunState
from ragline.web.errors import HTTP_CODES, ShapedErrorRoute, first_problem, status_for
from ragline.web.sse import frame


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None
    name: str | None = None


class StreamOptions(BaseModel):
    include_usage: bool = False


class RagOptions(BaseModel):
    collection: str = Field(default="default", max_length=200)
    top_k: int | None = Field(default=None, ge=1, le=50)


class ChatCompletionRequest(BaseModel):
    """The standard request; unknown OpenAI parameters are accepted and ignored."""

    model_config = ConfigDict(extra="allow")
    model: str = Field(max_length=200)
    messages: list[MessageIn] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    stop: str | list[str] | None = None
    n: int | None = Field(default=None, ge=1)
    seed: int | None = None
    user: str | None = None
    rag: RagOptions | None = Field(
        default=None, description="ragline extension: answer from this collection's passages"
    )

    @property
    def token_limit(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens

    def thread_metadata(self, system: str) -> dict[str, Any]:
        """The run options the pipeline reads (see services/run_options.py)."""
        stop = [self.stop] if isinstance(self.stop, str) else list(self.stop or [])
        sampling = {
            "max_tokens": self.token_limit,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "stop": stop,
            "seed": self.seed,
        }
        meta: dict[str, Any] = {"surface": "openai", "system": system}
        meta["sampling"] = {k: v for k, v in sampling.items() if v not in (None, [])}
        if self.rag is not None and self.rag.top_k is not None:
            meta["top_k"] = self.rag.top_k
        return meta


def split_messages(messages: list[MessageIn]) -> tuple[str, list[ChatMessage], str]:
    """(system prompt, earlier turns, the final user message) of a request's `messages`."""
    system: list[str] = []
    turns: list[ChatMessage] = []
    for i, message in enumerate(messages):
        text = _text(message, i)
        if message.role in ("system", "developer"):
            system.append(text)
        elif message.role in ("user", "assistant"):
            turns.append(ChatMessage(message.role, text))
        else:
            raise _bad(f"messages[{i}]: role {message.role!r} is not supported", f"messages.{i}")
    if not turns or turns[-1].role != "user" or not turns[-1].content.strip():
        raise _bad("the last message must be a non-empty user message", "messages")
    return "\n\n".join(s for s in system if s), turns[:-1], turns[-1].content


def _text(message: MessageIn, index: int) -> str:
    if message.content is None or isinstance(message.content, str):
        return message.content or ""
    parts = []
    for part in message.content:
        if part.type != "text" or part.text is None:
            raise _bad(f"messages[{index}]: only text content is supported", f"messages.{index}")
        parts.append(part.text)
    return "".join(parts)


def _bad(message: str, param: str) -> InvalidInput:
    return InvalidInput(message, code="invalid_request", details={"param": param})


class OpenAIErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class OpenAIErrorOut(BaseModel):
    """OpenAI's error shape, which the SDKs turn into exceptions."""

    error: OpenAIErrorDetail


def error_body(message: str, type_: str, code: str | None, param: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def _error_type(status: int) -> str:
    if status == 401:
        return "authentication_error"
    if status == 403:
        return "permission_error"
    if status == 429:
        return "rate_limit_error"
    return "api_error" if status >= 500 else "invalid_request_error"


def domain_error(exc: RaglineError) -> JSONResponse:
    status, code = status_for(exc), exc.code
    param = exc.details.get("param") if isinstance(exc.details, dict) else None
    if code == "unknown_model":
        status, code, param = 404, "model_not_found", "model"
    headers = {"Retry-After": str(max(1, round(exc.retry_after)))} if isinstance(
        exc, RateLimited
    ) else None
    body = error_body(exc.message, _error_type(status), code, param)
    return JSONResponse(body, status, headers=headers)


class OpenAIRoute(ShapedErrorRoute):
    """Errors on these routes come back in OpenAI's shape, which the SDKs turn into exceptions."""

    def validation_error(self, exc: RequestValidationError) -> Response:
        where, problem = first_problem(exc, "invalid request")
        message = f"{where}: {problem}" if where else problem
        return JSONResponse(error_body(message, "invalid_request_error", "invalid_value", where),
                            422)

    def domain_error(self, exc: RaglineError) -> Response:
        return domain_error(exc)

    def http_error(self, exc: HTTPException) -> Response:
        return http_error(exc)


def http_error(exc: HTTPException) -> JSONResponse:
    """A framework error (a bad body, or a /v1 path no route matches) in OpenAI's shape."""
    code = HTTP_CODES.get(exc.status_code, "error")
    body = error_body(str(exc.detail), _error_type(exc.status_code), code, None)
    return JSONResponse(body, exc.status_code, headers=exc.headers)


class ChatReply:
    """The completion, or its chunks, for one run: rendered from the run's `RunState`."""

    def __init__(self, run_id: str, model: str, request: ChatCompletionRequest) -> None:
        self.run_id = run_id
        self.id = f"chatcmpl-{run_id}"
        self.created = int(time.time())
        self.model = model
        self.request = request

    def finish_reason(self, state: RunState) -> str:
        limit = self.request.token_limit
        completion_tokens = state.usage.get("completion_tokens", 0)
        return "length" if limit is not None and completion_tokens >= limit else "stop"

    def usage(self, state: RunState) -> dict[str, Any]:
        prompt = state.usage.get("prompt_tokens", 0)
        completion = state.usage.get("completion_tokens", 0)
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": state.usage.get("cached_tokens", 0)},
        }

    def completion(self, state: RunState) -> dict[str, Any]:
        message = {"role": "assistant", "content": state.content, "refusal": None}
        out: dict[str, Any] = {
            "id": self.id, "object": "chat.completion", "created": self.created,
            "model": state.model or self.model, "system_fingerprint": None,
            "choices": [{"index": 0, "message": message, "logprobs": None,
                         "finish_reason": self.finish_reason(state)}],
            "usage": self.usage(state),
        }
        return {**out, **self._rag(state)}

    def chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id, "object": "chat.completion.chunk", "created": self.created,
            "model": self.model, "system_fingerprint": None,
            "choices": [{"index": 0, "delta": delta, "logprobs": None,
                         "finish_reason": finish_reason}],
        }
        if self.include_usage:
            out["usage"] = None
        return out

    @property
    def include_usage(self) -> bool:
        options = self.request.stream_options
        return bool(options and options.include_usage)

    def opening(self) -> bytes:
        """The role chunk, sent before the run has produced anything."""
        return frame(self.chunk({"role": "assistant", "content": ""}))

    def frames(self, state: RunState, event: RunEvent) -> list[bytes]:
        """One chunk per token."""
        return [frame(self.chunk({"content": event.delta}))] if isinstance(event, Token) else []

    def closing(self, state: RunState) -> bytes:
        """The finishing chunk (with the sources and claims under `rag`), usage if asked, then
        `[DONE]`; a failed or cancelled run sends an error object instead of the chunks."""
        out = []
        if state.unsuccessful:
            error = state.error or Error("run_cancelled", "the run was cancelled")
            out.append(frame(error_body(error.message, "api_error", error.code, None)))
        else:
            last = self.chunk({}, self.finish_reason(state))
            last["model"] = state.model or self.model
            out.append(frame({**last, **self._rag(state)}))
            if self.include_usage:
                out.append(frame({**self.chunk({}), "choices": [], "usage": self.usage(state)}))
        out.append(b"data: [DONE]\n\n")
        return b"".join(out)

    def _rag(self, state: RunState) -> dict[str, Any]:
        if self.request.rag is None:
            return {}
        return {"ragline_sources": state.source_payloads(), "ragline_claims": state.claims or []}
