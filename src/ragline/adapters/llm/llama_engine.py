"""The blocking side of the local engine: one in-process llama.cpp server (xllamacpp).

Everything here runs in worker threads, never on the event loop. `generate` feeds parsed events
to a callback and stops decoding at the next token once `cancelled` is set.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ragline.domain.errors import ProviderError
from ragline.domain.llm import Finish, PromptProgress, ProviderEvent, TextDelta, Usage


class ContextOverflow(ProviderError):
    """The engine refused a prompt longer than a slot's context (exact counts attached)."""

    def __init__(self, message: str, *, prompt_tokens: int, n_ctx: int) -> None:
        super().__init__(message, code="context_overflow")
        self.prompt_tokens = prompt_tokens
        self.n_ctx = n_ctx


@dataclass(frozen=True, slots=True)
class EngineConfig:
    model_path: Path
    n_threads: int
    parallel: int
    ctx_per_slot: int
    n_batch: int = 128
    n_threads_batch: int | None = None  # prompt reading; default: n_threads
    cache_ram_mib: int = 1024
    verbosity: int = 0


Emit = Callable[[ProviderEvent | ProviderError], None]


class LlamaEngine:
    """Owns one `xllamacpp.Server`: load once, generate from many threads, close once."""

    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        self._server: Any = None
        self._lock = threading.Lock()
        self._prompt_rate: float | None = None

    @property
    def is_loaded(self) -> bool:
        return self._server is not None

    def load(self) -> None:
        with self._lock:
            if self._server is not None:
                return
            import xllamacpp  # heavy native import: only when a model is really used

            cfg = self.config
            params = xllamacpp.CommonParams()
            params.model.path = str(cfg.model_path)
            params.n_parallel = cfg.parallel
            params.n_ctx = cfg.parallel * cfg.ctx_per_slot
            params.n_batch = cfg.n_batch
            params.n_ubatch = cfg.n_batch
            params.cpuparams.n_threads = cfg.n_threads
            params.cpuparams_batch.n_threads = cfg.n_threads_batch or cfg.n_threads
            params.cache_ram_mib = cfg.cache_ram_mib
            params.verbosity = cfg.verbosity
            params.endpoint_metrics = True
            # xllamacpp always opens an HTTP listener; keep it on loopback and behind a key
            # nobody knows, so only this process (through the Python API) can use the engine.
            params.hostnames = ["127.0.0.1"]
            params.port = 0
            params.api_keys = [secrets.token_urlsafe(24)]
            try:
                self._server = xllamacpp.Server(params)
            except Exception as exc:
                raise ProviderError(
                    f"could not load {cfg.model_path.name}: {exc}", code="model_unavailable"
                ) from exc

    def metrics(self) -> dict[str, float]:
        """The engine's Prometheus counters, e.g. `llamacpp:tokens_predicted_total`."""
        server = self._server
        if server is None:
            return {}
        out: dict[str, float] = {}
        for line in str(server.handle_metrics()).splitlines():
            name, _, value = line.partition(" ")
            if name and not name.startswith("#"):
                try:
                    out[name] = float(value)
                except ValueError:
                    continue
        return out

    @property
    def prompt_rate(self) -> float | None:
        """Prompt tokens read per second, a moving average over real requests (None before)."""
        return self._prompt_rate

    def _observe(self, timings: dict[str, Any]) -> None:
        n, ms = timings.get("prompt_n") or 0, timings.get("prompt_ms") or 0.0
        if n >= 32 and ms > 0:  # a few tokens say little about the rate of a long prompt
            rate = n / (ms / 1000)
            old = self._prompt_rate
            self._prompt_rate = rate if old is None else 0.7 * old + 0.3 * rate

    def close(self) -> None:
        with self._lock:
            server, self._server = self._server, None
        del server  # the native destructor stops the engine loop and joins its thread

    def next_token_logprobs(self, messages: list[dict[str, str]], top: int) -> dict[str, float]:
        """The `top` most likely first tokens of the reply to a chat, with their logprobs: one
        prompt read and no decoding (the model's answer to a yes/no question, as odds)."""
        server = self._server
        if server is None:
            raise ProviderError("the local model is not loaded", code="model_unavailable")
        body = {"messages": messages, "max_tokens": 1, "temperature": 0, "logprobs": True,
                "top_logprobs": top, "stream": False, "cache_prompt": True}
        replies: list[dict[str, Any]] = []

        def on_reply(reply: dict[str, Any]) -> bool:
            replies.append(reply)
            return False

        server.handle_chat_completions(body, on_reply)
        reply = replies[-1] if replies else {}
        if "error" in reply:
            raise _engine_error(reply["error"])
        if reply.get("timings"):
            self._observe(reply["timings"])
        return _first_token_logprobs(reply)

    def generate(
        self, body: dict[str, Any], *, chat: bool, emit: Emit, cancelled: threading.Event
    ) -> None:
        """Stream one request; every outcome (events, an error, the end) goes through `emit`."""
        server = self._server
        if server is None:
            emit(ProviderError("the local model is not loaded", code="model_unavailable"))
            return
        finish: list[str] = []
        usage: list[Usage] = []
        timings: list[dict[str, Any]] = []
        failed: list[ProviderError] = []

        def on_chunk(chunk: dict[str, Any]) -> bool:
            # Returning True stops the request. Progress chunks arrive after every prompt batch,
            # so a cancel also stops the prompt reading, not only the decoding.
            if cancelled.is_set():
                return True
            if "prompt_progress" in chunk:
                p = chunk["prompt_progress"]
                emit(PromptProgress(int(p["processed"]), int(p["total"]), int(p.get("cache", 0))))
                return False
            if "error" in chunk:
                failed.append(_engine_error(chunk["error"]))
                return True
            for choice in chunk.get("choices") or ():
                text = (
                    choice.get("text") if not chat else (choice.get("delta") or {}).get("content")
                )
                if text:
                    emit(TextDelta(text))
                if choice.get("finish_reason"):
                    finish.append(choice["finish_reason"])
            if chunk.get("usage"):
                u = chunk["usage"]
                cached = (u.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
                usage.append(
                    Usage(int(u["prompt_tokens"]), int(u["completion_tokens"]), int(cached))
                )
            if chunk.get("timings"):
                timings.append(chunk["timings"])
            return cancelled.is_set()

        try:
            handler = server.handle_chat_completions if chat else server.handle_completions
            handler(body, on_chunk)
        except Exception as exc:
            failed.append(ProviderError(f"local engine failure: {exc}", retryable=True))
        if timings:
            self._observe(timings[-1])
        if failed:
            emit(failed[0])
        elif not cancelled.is_set():
            if usage:
                emit(usage[-1])
            emit(Finish(finish[-1] if finish else "stop"))


def _first_token_logprobs(response: dict[str, Any]) -> dict[str, float]:
    """{token: logprob} of the first generated token's alternatives (OpenAI's shape)."""
    for choice in response.get("choices") or ():
        for token in (choice.get("logprobs") or {}).get("content") or ():
            return {str(t["token"]): float(t["logprob"]) for t in token.get("top_logprobs") or ()}
    return {}


def _engine_error(error: Any) -> ProviderError:
    if not isinstance(error, dict):
        return ProviderError(f"local engine error: {error}", retryable=True)
    message = str(error.get("message", "local engine error"))
    if error.get("type") == "exceed_context_size_error":
        return ContextOverflow(
            message,
            prompt_tokens=int(error.get("n_prompt_tokens", 0)),
            n_ctx=int(error.get("n_ctx", 0)),
        )
    status = int(error.get("code", 500))
    return ProviderError(message, code="engine_error", retryable=status >= 500)
