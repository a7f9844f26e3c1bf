"""Run execution: history → pipeline → streamed answer, every step an event in the run log."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ragline.adapters.db.database import Database
from ragline.adapters.db.tables import Message, Run, Thread
from ragline.config import Settings
from ragline.domain.errors import RaglineError
from ragline.domain.llm import (
    ChatMessage,
    Finish,
    GenerationParams,
    ModelSwitched,
    PromptProgress,
    ProviderEvent,
    Queued,
    TextDelta,
    Usage,
)
from ragline.domain.runs import DONE, FAILED, RUNNING
from ragline.services.citations import CitationPlacer
from ragline.services.claims import ClaimChecker
from ragline.services.conflicts import Disagreement, disagreement_note
from ragline.services.run_store import Outcome, RunStore, cancelled_outcome
from ragline.telemetry.hooks import describe_run, observe_run, run_finished, stage

log = logging.getLogger(__name__)


class Models(Protocol):
    """What the executor needs from the model registry."""

    def stream(
        self, name: str, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> AsyncIterator[ProviderEvent]: ...


@dataclass
class RunInput:
    run_id: str
    thread_id: str
    owner_id: str
    model: str
    question: str
    history: list[ChatMessage]
    collection: str | None
    response_format: Any | None
    # The thread's metadata: `system` (replaces the default system prompt), `sampling`
    # (max_tokens, temperature, top_p, stop, seed) and `top_k`; see pipeline.run_params.
    options: dict[str, Any] = field(default_factory=dict)
    # The stored `sources` of each history message (assistant answers), index for index.
    history_sources: list[list[dict[str, Any]] | None] = field(default_factory=list)


@dataclass
class Prepared:
    """What the pipeline hands the model: the prompt, its sources, the sampling parameters."""

    messages: list[ChatMessage]
    sources: list[dict[str, Any]] | None = None
    params: GenerationParams = field(default_factory=GenerationParams)
    finish: Any = None  # optional callable(text) -> structured data for `final.data`
    # The answer, when it needs no model: a grounded question that no passage matched declines.
    fixed_answer: str | None = None
    # Passages that give the question different values: the answer ends by saying so.
    disagreements: list[Disagreement] = field(default_factory=list)
    # What retrieval searched for (a follow-up: joined with the question before it); the claim
    # check does not count an answer's echo of it as the answer's own words.
    query: str = ""


class Pipeline(Protocol):
    async def prepare(
        self, run: RunInput, report: Callable[[str], Awaitable[None]]
    ) -> Prepared: ...


@dataclass
class RunContext:
    db: Database
    store: RunStore
    models: Models
    pipeline: Pipeline
    settings: Settings
    claims: ClaimChecker | None = None  # checks answers against their sources (`final.claims`)


async def load_run_input(session: AsyncSession, run_id: str) -> RunInput:
    run = await session.get(Run, run_id)
    if run is None:
        raise RaglineError(f"run {run_id} vanished")
    thread = await session.get(Thread, run.thread_id)
    question_msg = await session.get(Message, run.user_message_id)
    if thread is None or question_msg is None:
        raise RaglineError(f"run {run_id} lost its thread or question")
    rows = await session.scalars(
        select(Message)
        .where(Message.thread_id == run.thread_id, Message.id != run.user_message_id)
        .where(Message.created_at <= question_msg.created_at)
        .order_by(Message.created_at, Message.id)
    )
    stored = [m for m in rows if m.content]
    history = [ChatMessage("user" if m.role == "user" else "assistant", m.content) for m in stored]
    return RunInput(
        run_id=run.id,
        thread_id=run.thread_id,
        owner_id=run.owner_id,
        model=run.model,
        question=question_msg.content,
        history=history,
        collection=run.collection if run.collection is not None else thread.collection,
        response_format=run.response_format,
        options=dict(thread.meta or {}),
        history_sources=[m.sources if m.role != "user" else None for m in stored],
    )


class _Progress:
    """What a run has produced so far; kept so a failure or cancel never loses it."""

    def __init__(self, model: str) -> None:
        self.parts: list[str] = []
        self.usage = Usage(0, 0)
        self.model = model
        self.sources: list[dict[str, Any]] = []

    @property
    def text(self) -> str:
        return "".join(self.parts)

    @property
    def usage_so_far(self) -> Usage:
        """The provider's usage; before it reports (a run stopped mid-answer), one completion
        token per streamed delta."""
        if self.usage.completion_tokens or not self.parts:
            return self.usage
        return replace(self.usage, completion_tokens=len(self.parts))

    def fields(self) -> dict[str, Any]:
        usage = self.usage_so_far
        return {
            "text": self.text, "model": self.model, "sources": self.sources,
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "cached_tokens": usage.cached_tokens,
        }


@observe_run
async def execute_run(
    run_id: str, ctx: RunContext, *, user_cancelled: Callable[[str], bool] = lambda _: False
) -> None:
    """Answer one run; every ending (done, failure, cancel, shutdown) goes through `finish`."""
    store = ctx.store
    async with ctx.db.session() as session:
        run_input = await load_run_input(session, run_id)
    describe_run(run_input.thread_id, run_input.owner_id, run_input.model)
    progress = _Progress(run_input.model)
    if not await store.mark_running(run_id):
        return  # cancelled while it waited for its turn

    async def report(stage: str) -> None:
        store.append(run_id, "status", {"status": RUNNING, "stage": stage})

    placer: CitationPlacer | None = None

    async def emit(text: str) -> None:
        if text:
            if not progress.parts:
                await report("generating")
            progress.parts.append(text)
            store.append(run_id, "token", {"delta": text})

    def keep_held_text() -> None:
        """A stopped run keeps what the placer still held back (unchecked)."""
        if placer is not None and (tail := placer.flush_raw()):
            progress.parts.append(tail)
            store.append(run_id, "token", {"delta": tail})

    try:
        prepared = await ctx.pipeline.prepare(run_input, report)
        if prepared.sources is not None:
            progress.sources = prepared.sources
            store.append(run_id, "sources", {"sources": prepared.sources})
        if ctx.claims is not None and prepared.sources and prepared.finish is None:
            placer = CitationPlacer(
                ctx.claims.sentence_checker(prepared.sources, prepared.query or run_input.question))
        if prepared.fixed_answer is not None:
            await emit(prepared.fixed_answer)
        stream = _no_stream() if prepared.fixed_answer is not None else ctx.models.stream(
            run_input.model, prepared.messages, prepared.params)
        try:
            async for event in stream:
                if isinstance(event, TextDelta):
                    if event.text:
                        await emit(await placer.feed(event.text) if placer else event.text)
                elif isinstance(event, PromptProgress):
                    store.append(run_id, "status", {
                        "status": RUNNING, "stage": "reading",
                        "progress": round(event.fraction, 3),
                    })
                elif isinstance(event, Usage):
                    progress.usage = event
                elif isinstance(event, Queued):
                    store.append(run_id, "status", {
                        "status": "queued", "stage": "queued", "position": event.position,
                    })
                elif isinstance(event, ModelSwitched):
                    progress.model = event.model
                elif isinstance(event, Finish) and event.reason == "length":
                    log.info("run %s stopped at the token limit", run_id)
        finally:
            await stream.aclose()  # type: ignore[attr-defined]
        data = prepared.finish(progress.text) if prepared.finish is not None else None
        claims: list[dict[str, Any]] | None = [] if prepared.fixed_answer is not None else None
        if placer is not None:
            await emit(await placer.close())
            claims = placer.claims_out()
        if prepared.disagreements and prepared.sources:
            note = disagreement_note(prepared.disagreements, prepared.sources, progress.text)
            if note is not None:
                start = len(progress.text) + len(note.lead)
                await emit(note.lead + note.text)
                if claims is not None:
                    claims.append({"text": note.text, "start": start,
                                   "end": start + len(note.text), "sources": note.sources,
                                   "supported": True, "score": 1.0})
    except asyncio.CancelledError:
        keep_held_text()
        outcome = cancelled_outcome(user_cancelled(run_id), **progress.fields())
        await asyncio.shield(_finish(store, run_id, outcome, progress.usage))
        raise
    except RaglineError as exc:
        keep_held_text()
        error = {"code": exc.code, "message": exc.message}
        await _finish(store, run_id, Outcome(FAILED, error=error, **progress.fields()),
                      progress.usage)
        return
    except Exception as exc:
        keep_held_text()
        log.exception("run %s failed", run_id)
        error = {"code": "internal_error", "message": f"the run failed: {type(exc).__name__}"}
        await _finish(store, run_id, Outcome(FAILED, error=error, **progress.fields()),
                      progress.usage)
        return
    await _finish(store, run_id, Outcome(DONE, data=data, claims=claims, **progress.fields()),
                  progress.usage)


async def _no_stream() -> AsyncIterator[ProviderEvent]:
    return
    yield  # an async generator that yields nothing


@stage("persist")
async def _finish(store: RunStore, run_id: str, outcome: Outcome, usage: Usage) -> None:
    if await store.finish(run_id, outcome):
        run_finished(outcome.status, outcome.model or "", outcome.error, usage)
