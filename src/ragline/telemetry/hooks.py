"""The few calls the services make to be observed: each moves metrics, spans and log ids.

Runs: `observe_run` wraps the executor (root span, run id in the logs), `describe_run` adds
its thread and user, `stage` times condense/retrieve/prompt/persist, `run_finished` counts the
outcome. Models: `ModelCall` watches one request's events. Ingestion: `observe_job` wraps a
job, `job_stage` marks each stage, `job_counts` records what it produced.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from types import TracebackType
from typing import Any, ParamSpec, TypeVar

from ragline.domain.llm import ProviderEvent, Queued, TextDelta, Usage
from ragline.telemetry import logs, tracing
from ragline.telemetry import metrics as m

log = logging.getLogger("ragline.runs")
P = ParamSpec("P")
R = TypeVar("R")


# Runs

def observe_run(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """For `execute_run(run_id, ...)`: the run's root span and its id on every log line."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        run_id = str(args[0] if args else kwargs["run_id"])
        # thread and user are bound by describe_run; binding them here too scopes that to us
        ids = logs.current()
        scope = logs.bind_scope(None)  # a run outlives the request that started it
        try:
            with logs.bound(run_id=run_id, thread_id=ids.get("thread_id"),
                            user_id=ids.get("user_id")), tracing.span("ragline.run"):
                return await fn(*args, **kwargs)
        finally:
            logs.reset_scope(scope)

    return wrapper


def describe_run(thread_id: str, user_id: str, model: str) -> None:
    """Called once the run's input is loaded: the rest of its lines and spans carry these."""
    logs.bind(thread_id=thread_id, user_id=user_id)  # undone when observe_run ends
    tracing.annotate({"ragline.thread_id": thread_id, "ragline.user_id": user_id,
                      "ragline.model": model})


def stage(name: str) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
    """A span around one stage of a run (`condense`, `retrieve`, `prompt`, `persist`)."""

    def decorate(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        @functools.wraps(fn)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            if not tracing.enabled():
                return await fn(*args, **kwargs)
            with tracing.span(name):
                return await fn(*args, **kwargs)

        return wrapper

    return decorate


def run_finished(
    outcome: str, model: str, error: dict[str, Any] | None, usage: Usage | None = None
) -> None:
    code = str(error.get("code", "error")) if error is not None else None
    m.RUNS.labels(outcome, model).inc()
    if code is not None:
        m.RUN_ERRORS.labels(code).inc()
    tracing.annotate({"ragline.outcome": outcome})
    fields: dict[str, Any] = {"outcome": outcome, "model": model, "error": code}
    if usage is not None:
        fields.update(prompt_tokens=usage.prompt_tokens,
                      completion_tokens=usage.completion_tokens)
    log.info("run %s", outcome, extra={"fields": fields})  # ids come from the context


# Models

class ModelCall:
    """One request to one model: a `generate` span, time to first token, rates and tokens."""

    def __init__(self, model: str) -> None:
        self.model = model
        self._start = time.perf_counter()
        self._first: float | None = None
        self._last = 0.0
        self._queued = False
        self._deltas = 0
        self._usage: Usage | None = None
        self._span = tracing.start_span("generate", {"ragline.model": model},
                                        parent=_current_span())

    def __enter__(self) -> ModelCall:
        m.MODEL_IN_FLIGHT.labels(self.model).inc()
        return self

    def observe(self, event: ProviderEvent) -> None:
        if isinstance(event, TextDelta):
            now = time.perf_counter()
            if self._first is None:
                self._first = now
            self._last = now
            self._deltas += 1
        elif isinstance(event, Usage):
            self._usage = event
        elif isinstance(event, Queued):
            self._queued = True

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        m.MODEL_IN_FLIGHT.labels(self.model).dec()
        attrs: dict[str, Any] = {}
        if self._first is not None:
            ttft = self._first - self._start
            m.TIME_TO_FIRST_TOKEN.labels(self.model).observe(ttft)
            attrs["ragline.time_to_first_token_s"] = round(ttft, 4)
        prompt = self._usage.prompt_tokens if self._usage else 0
        completion = self._usage.completion_tokens if self._usage else self._deltas
        cached = int(getattr(self._usage, "cached_tokens", 0) or 0)
        if completion:
            m.COMPLETION_TOKENS.labels(self.model).inc(completion)
        if prompt:
            m.PROMPT_TOKENS.labels(self.model).inc(prompt)
        if cached:
            m.CACHED_TOKENS.labels(self.model).inc(cached)
        if self._first is not None:
            reading = self._first - self._start
            if prompt > cached and reading > 0 and not self._queued:
                m.PROMPT_RATE.labels(self.model).observe((prompt - cached) / reading)
            decoding = self._last - self._first
            if completion > 1 and decoding > 0:
                m.DECODE_RATE.labels(self.model).observe((completion - 1) / decoding)
        attrs.update({"ragline.prompt_tokens": prompt, "ragline.completion_tokens": completion,
                      "ragline.cached_tokens": cached})
        failed = error if error is not None and kind is not GeneratorExit else None
        tracing.end(self._span, failed, attrs)


def provider_failed(model: str, code: str) -> None:
    m.PROVIDER_ERRORS.labels(model, code).inc()


def provider_retried(model: str) -> None:
    m.PROVIDER_RETRIES.labels(model).inc()


def provider_fell_back(model: str, fallback: str) -> None:
    m.PROVIDER_FALLBACKS.labels(model, fallback).inc()


def _current_span() -> Any:
    if not tracing.enabled():
        return None
    from opentelemetry import trace

    return trace.get_current_span()


# Retrieval

def retrieval_took(mode: str, seconds: float) -> None:
    m.RETRIEVAL_LATENCY.labels(mode).observe(seconds)


# Ingestion

class _Job:
    def __init__(self, job_id: str) -> None:
        self.root = tracing.start_span("ragline.ingest", {"ragline.job_id": job_id})
        self.stage: str | None = None
        self.stage_span: Any = None
        self.stage_start = 0.0

    def enter(self, stage: str | None) -> None:
        if stage == self.stage:
            return
        now = time.perf_counter()
        if self.stage is not None:
            m.INGEST_STAGE.labels(self.stage).observe(now - self.stage_start)
            tracing.end(self.stage_span)
        self.stage, self.stage_start = stage, now
        self.stage_span = tracing.start_span(stage, parent=self.root) if stage else None


_JOB: ContextVar[_Job | None] = ContextVar("ragline_job", default=None)
_STAGES = {"parsing": "parse", "chunking": "chunk", "embedding": "embed", "indexing": "index"}


def observe_job(fn: Callable[P, Awaitable[str]]) -> Callable[P, Awaitable[str]]:
    """For `run_job(ctx, job_id, ...)`: its root span, stage timings and outcome."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> str:
        job_id = str(args[1] if len(args) > 1 else kwargs["job_id"])
        with logs.bound(job_id=job_id):
            job = _Job(job_id)
            token = _JOB.set(job)
            outcome, error = "error", None
            try:
                outcome = await fn(*args, **kwargs)
                return outcome
            except BaseException as exc:
                outcome, error = ("cancelled", None) if _cancelled(exc) else ("error", exc)
                raise
            finally:
                job.enter(None)
                _JOB.reset(token)
                m.INGEST_JOBS.labels(outcome).inc()
                tracing.end(job.root, error if error is not None else
                            ("failed" if outcome == "failed" else None),
                            {"ragline.outcome": outcome})

    return wrapper


def job_stage(status: str) -> None:
    """The job moved to `status` (parsing, chunking, embedding, indexing)."""
    job = _JOB.get()
    if job is not None and status in _STAGES:
        job.enter(_STAGES[status])


def job_counts(pages: int | None, chunks: int) -> None:
    m.INGEST_PAGES.inc(pages or 0)
    m.INGEST_CHUNKS.inc(chunks)
    job = _JOB.get()
    if job is not None and job.root is not None:
        job.root.set_attributes({"ragline.pages": pages or 0, "ragline.chunks": chunks})


def _cancelled(exc: BaseException) -> bool:
    return isinstance(exc, asyncio.CancelledError)
