"""The composition root: settings in, started adapters and services out."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ragline.adapters.db.database import Database
from ragline.adapters.db.tables import User
from ragline.adapters.events.bus import LocalBus
from ragline.adapters.events.pg_notify import PgNotifier
from ragline.adapters.events.redis_notify import RedisNotifier
from ragline.adapters.queue import JobQueue, build_broker
from ragline.config import Settings
from ragline.services.claims import ClaimChecker
from ragline.services.event_log import EventWriter
from ragline.services.pipeline import AnswerPipeline, PipelineConfig, Prompts
from ragline.services.run_manager import RunManager
from ragline.services.run_store import RunStore
from ragline.services.runs import RunContext
from ragline.services.schemas import SchemaRegistry

log = logging.getLogger(__name__)
LOCAL_USER_NAME = "local"
LOCAL_USER_ID = "00000000-0000-4000-8000-000000000001"
RUN_TASK = "ragline.run"


@dataclass
class Container:
    settings: Settings
    db: Database
    bus: LocalBus
    writer: EventWriter
    models: Any
    pipeline: AnswerPipeline
    runs: RunManager
    local_user_id: str = ""
    notifier: PgNotifier | RedisNotifier | None = None
    documents: Any = None  # the document service (ingestion, search), see services/documents.py
    run_queue: JobQueue | None = None  # RAGLINE_RUN_EXECUTION=worker
    consume: bool = False  # take runs and jobs off the Redis queues in this process
    serves: bool = True  # False in `ragline worker`: it never admits runs itself
    extras: dict[str, Any] = field(default_factory=dict)
    _liveness: asyncio.Task[None] | None = None
    _model_load: asyncio.Task[None] | None = None
    _consumers: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def store(self) -> RunStore:
        return self.runs.store

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
        self.local_user_id = await ensure_local_user(self.db)
        model_start = getattr(self.models, "start", None)
        if model_start is not None and self.executes_runs:  # serve /healthz while it loads
            self._model_load = asyncio.create_task(self._load_models(model_start))
        if self.documents is not None:
            await self.documents.start()
        if self.run_queue is not None:
            await self.run_queue.start()
        if self.consume:
            self._start_consumers()

    def _start_consumers(self) -> None:
        queues: list[JobQueue] = []
        doc_queue = getattr(self.documents, "queue", None)
        if isinstance(doc_queue, JobQueue) and not doc_queue.in_process:
            queues.append(doc_queue)
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

    async def _load_models(self, start: Any) -> None:
        try:
            await start()
        except Exception:
            log.exception("loading the default model failed; /readyz reports it")

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
        for task in (self._liveness, self._model_load):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        await self.runs.shutdown()
        await self.writer.stop()
        if self.documents is not None:
            await self.documents.stop()
        if self.notifier is not None:
            await self.notifier.stop()
        aclose = getattr(self.models, "aclose", None)
        if aclose is not None:
            await aclose()
        await self.db.dispose()


async def ensure_local_user(db: Database) -> str:
    """The user every request acts as while auth is off: one for every process sharing the
    database. It has a fixed id, so replicas starting together on a fresh database create it
    once; a database from before that keeps its oldest local user."""
    for _attempt in range(2):
        try:
            async with db.session() as session:
                user = await session.scalar(
                    select(User).where(User.name == LOCAL_USER_NAME, User.is_admin.is_(True))
                    .order_by(User.created_at, User.id).limit(1)
                )
                if user is None:
                    user = User(id=LOCAL_USER_ID, name=LOCAL_USER_NAME, is_admin=True)
                    session.add(user)
                    await session.flush()
                return user.id
        except IntegrityError:  # another process inserted it first: read theirs
            continue
    raise RuntimeError("could not create the local user")


def claim_checker(settings: Settings, documents: Any) -> ClaimChecker | None:
    """Answers are checked with the documents' own embedder (none: no claims)."""
    embedder = getattr(documents, "embedder", None)
    if not settings.claims_enabled or embedder is None:
        return None
    return ClaimChecker(embedder, index_vectors=getattr(documents, "passage_vectors", None))


def build_container(
    settings: Settings,
    *,
    models: Any = None,
    documents: Any = None,
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
    pipeline = AnswerPipeline(
        models,
        documents,
        Prompts(settings.prompts_dir),
        PipelineConfig(
            top_k=settings.retrieval_top_k,
            min_score=settings.retrieval_min_score,
            answer_max_tokens=settings.answer_max_tokens,
            target_wait=settings.answer_target_wait_seconds,
            passage_tokens_min=settings.passage_tokens_min,
            passage_tokens_max=settings.passage_tokens_max,
        ),
        schemas=SchemaRegistry(db),
    )
    store = RunStore(db, writer, bus)
    runs = RunManager(RunContext(db, store, models, pipeline, settings,
                                 claims=claim_checker(settings, documents)))
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
    return Container(
        settings=settings,
        db=db,
        bus=bus,
        writer=writer,
        models=models,
        pipeline=pipeline,
        runs=runs,
        notifier=notifier,
        documents=documents,
        run_queue=run_queue,
        consume=bool(settings.redis_url)
        and (settings.embedded_worker if consume is None else consume),
        serves=serves,
    )
