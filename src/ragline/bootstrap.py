"""The composition root: settings in, started adapters and services out.

`build_container` is the one place that chooses and builds the adapters and services; the
container starts its parts in order and stops them in reverse (`Lifecycle`).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from ragline.adapters.conversation_cache import ConversationCache
from ragline.adapters.db.database import Database
from ragline.adapters.events.bus import LocalBus
from ragline.adapters.events.pg_notify import PgNotifier
from ragline.adapters.events.redis_notify import RedisNotifier
from ragline.adapters.queue import RUN_TASK, JobQueue, build_broker
from ragline.config import Settings
from ragline.services.claims import ClaimChecker
from ragline.services.event_log import EventWriter
from ragline.services.identity import LOCAL_USER_ID as LOCAL_USER_ID
from ragline.services.identity import LOCAL_USER_NAME as LOCAL_USER_NAME
from ragline.services.identity import Identity
from ragline.services.identity import ensure_local_user as ensure_local_user
from ragline.services.pipeline import AnswerPipeline, PipelineConfig, Prompts
from ragline.services.run_manager import RunManager
from ragline.services.run_store import RunStore
from ragline.services.runs import RunContext
from ragline.services.schemas import SchemaRegistry
from ragline.services.verifier import default_model_verifier
from ragline.web.ratelimit import Counter, MemoryCounter, RedisCounter

if TYPE_CHECKING:  # built lazily: the embedder and the model providers are heavy imports
    from ragline.services.documents import DocumentService
    from ragline.services.models import ModelRegistry

log = logging.getLogger(__name__)


@runtime_checkable
class Lifecycle(Protocol):
    """A part the container starts (in order) and stops (in reverse)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class InBackground:
    """Starts a part in a task, so the process serves `/healthz` while it loads (the model);
    a failed start is logged (`/readyz` reports it). `enabled=False`: stop only."""

    def __init__(self, part: Lifecycle, *, enabled: bool = True) -> None:
        self.part = part
        self.enabled = enabled
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self.enabled:
            self._task = asyncio.create_task(self._start())

    async def _start(self) -> None:
        try:
            await self.part.start()
        except Exception:
            log.exception("loading the default model failed; /readyz reports it")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await self.part.stop()


@dataclass
class Container:
    settings: Settings
    db: Database
    bus: LocalBus
    writer: EventWriter
    models: ModelRegistry
    documents: DocumentService
    pipeline: AnswerPipeline
    runs: RunManager
    identity: Identity
    schemas: SchemaRegistry
    notifier: PgNotifier | RedisNotifier | None = None
    conversation_cache: ConversationCache | None = None  # RAGLINE_REDIS_URL: compat seed 003
    rate_counter: Counter | None = None  # RAGLINE_RATE_LIMIT_PER_MINUTE > 0
    run_queue: JobQueue | None = None  # RAGLINE_RUN_EXECUTION=worker
    consume: bool = False  # take runs and jobs off the Redis queues in this process
    serves: bool = True  # False in `ragline worker`: it never admits runs itself
    # Started in this order after the event log, stopped in reverse before it closes.
    parts: list[Lifecycle] = field(default_factory=list)
    _liveness: asyncio.Task[None] | None = None
    _consumers: list[asyncio.Task[None]] = field(default_factory=list)
    _started: list[Lifecycle] = field(default_factory=list)

    @property
    def store(self) -> RunStore:
        return self.runs.store

    @property
    def local_user_id(self) -> str:
        return self.identity.local_user_id

    @property
    def executes_runs(self) -> bool:
        return self.serves if self.run_queue is None else self.consume

    async def start(self) -> None:
        self.writer.start()
        if self.notifier is None:
            await self._recover(None)  # this process owns the database: every active run died
        else:
            await self.notifier.start()
            self._liveness = asyncio.create_task(self._keep_alive(), name="run-liveness")
        for part in self.parts:
            await part.start()
            self._started.append(part)
        if self.run_queue is not None:
            await self.run_queue.start()
        if self.consume:
            self._start_consumers()

    def _start_consumers(self) -> None:
        queues: list[JobQueue] = []
        if not self.documents.queue.in_process:
            queues.append(self.documents.queue)
            self.documents.consuming = True
        if self.run_queue is not None:
            queues.append(self.run_queue)
        for queue in queues:
            self._consumers.append(asyncio.create_task(queue.consume(), name="queue-consumer"))

    async def drain(self, grace: float) -> None:
        """Stop taking work; runs get `grace` seconds, then fail as interrupted, published."""
        for task in self._consumers:
            task.cancel()
        await asyncio.gather(*self._consumers, return_exceptions=True)
        self._consumers.clear()
        await self.runs.drain(grace)

    async def _recover(self, stale_before: datetime | None) -> None:
        recovered = await self.store.fail_interrupted(stale_before)
        if recovered:
            log.warning("marked %d interrupted runs as failed", recovered)

    async def _keep_alive(self) -> None:
        """Several processes share the database: renew our runs' leases, fail the runs whose
        lease ran out (their process died), re-send runs no worker took."""
        lease = self.settings.run_lease_seconds
        while True:
            try:
                await self.runs.renew_leases()
                now = datetime.now(UTC)
                await self._recover(now - timedelta(seconds=lease))
                if self.run_queue is not None:
                    for run_id in await self.store.unclaimed(now - timedelta(seconds=lease)):
                        await self.run_queue.enqueue(run_id)
            except Exception:
                log.exception("run liveness check failed")
            await asyncio.sleep(lease / 4)

    async def stop(self) -> None:
        await self.drain(0)
        if self.run_queue is not None:
            await self.run_queue.stop(0)
        if self._liveness is not None:
            self._liveness.cancel()
            await asyncio.gather(self._liveness, return_exceptions=True)
        await self.runs.shutdown()
        await self.writer.stop()
        while self._started:
            await self._started.pop().stop()
        if self.notifier is not None:
            await self.notifier.stop()
        await self.db.dispose()


def claim_checker(
    settings: Settings, documents: DocumentService, models: ModelRegistry
) -> ClaimChecker | None:
    """Answers are checked with the documents' own embedder (off: no claims), and borderline
    sentences with the default model too when it is a local one (it answers with logprobs)."""
    if not settings.claims_enabled:
        return None
    verifier = default_model_verifier(models) if settings.claims_verifier else None
    return ClaimChecker(documents.embedder, index_vectors=documents.passage_vectors,
                        verifier=verifier)


def build_container(
    settings: Settings,
    *,
    models: ModelRegistry | None = None,
    documents: DocumentService | None = None,
    consume: bool | None = None,
    serves: bool = True,
) -> Container:
    """Choose the concrete adapters from settings; tests pass fakes for `models`/`documents`."""
    db = Database(settings.resolved_database_url)
    bus = LocalBus()
    notifier: PgNotifier | RedisNotifier | None = None
    if settings.is_postgres:
        notifier = PgNotifier(settings.resolved_database_url, bus)
    elif settings.redis_url:
        notifier = RedisNotifier(settings.redis_url, bus)
    writer = EventWriter(db, bus, notifier, max_batch=settings.event_flush_max_batch)
    if models is None:
        from ragline.services.models import ModelRegistry

        models = ModelRegistry(settings)
    if documents is None:
        from ragline.services.documents import build_documents

        documents = build_documents(settings, db)
    schemas = SchemaRegistry(db)
    pipeline = AnswerPipeline(
        models,
        documents,
        Prompts(settings.prompts_dir),
        PipelineConfig(
            top_k=settings.retrieval_top_k,
            min_score=settings.retrieval_min_score,
            min_term_match=settings.retrieval_min_term_match,
            answer_max_tokens=settings.answer_max_tokens,
            target_wait=settings.answer_target_wait_seconds,
            passage_tokens_min=settings.passage_tokens_min,
            passage_tokens_max=settings.passage_tokens_max,
        ),
        schemas=schemas,
    )
    store = RunStore(db, writer, bus)
    runs = RunManager(RunContext(db, store, models, pipeline, settings,
                                 claims=claim_checker(settings, documents, models)))
    if notifier is not None:
        runs.notifier = notifier
        notifier.on_cancel = runs.cancel
    run_queue = None
    if settings.run_execution == "worker":
        run_queue = JobQueue(
            build_broker(settings.redis_url, settings.run_queue), runs.execute,
            concurrency=settings.run_concurrency, task_name=RUN_TASK,
        )
        runs.enqueue = run_queue.enqueue
    identity = Identity(db, settings.auth, settings.jwt_secret)
    cache = ConversationCache.from_url(settings.redis_url) if settings.redis_url else None
    counter: Counter | None = None
    if settings.rate_limit_per_minute > 0:
        counter = RedisCounter(settings.redis_url) if settings.redis_url else MemoryCounter()
    consumes = bool(settings.redis_url) and (
        settings.embedded_worker if consume is None else consume
    )
    container = Container(
        settings=settings,
        db=db,
        bus=bus,
        writer=writer,
        models=models,
        documents=documents,
        pipeline=pipeline,
        runs=runs,
        identity=identity,
        schemas=schemas,
        notifier=notifier,
        conversation_cache=cache,
        rate_counter=counter,
        run_queue=run_queue,
        consume=consumes,
        serves=serves,
    )
    # The model loads in the background where runs execute (it serves /healthz meanwhile).
    container.parts = [identity, InBackground(models, enabled=container.executes_runs), documents]
    if cache is not None:
        container.parts.append(cache)
    return container
