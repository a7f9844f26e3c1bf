"""Ingestion through taskiq: the in-process broker by default, Redis when RAGLINE_REDIS_URL is
set, consumed by `ragline worker` processes (`run_worker`). Jobs themselves live in the
database (services/ingest.py); the queue only carries job ids, and a periodic sweep re-queues
jobs whose worker died, so a lost message or a killed worker never loses a document."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable

from taskiq import AsyncBroker, InMemoryBroker

from ragline.adapters.db.database import Database
from ragline.adapters.embed import Embedder, build_embedder
from ragline.adapters.index.store import check_embedder
from ragline.adapters.uploads import UploadStore
from ragline.config import Settings
from ragline.services.ingest import IngestContext, requeue_stale, run_job

log = logging.getLogger(__name__)
TASK_NAME = "ragline.ingest"
Handler = Callable[[str], Awaitable[str]]


def build_broker(settings: Settings) -> AsyncBroker:
    if settings.redis_url:
        from taskiq_redis import ListQueueBroker

        return ListQueueBroker(settings.redis_url, queue_name=settings.ingest_queue)
    return InMemoryBroker(await_inplace=False, propagate_exceptions=False)


class JobQueue:
    """Carries job ids to `handler`, at most `concurrency` at a time in this process."""

    def __init__(self, broker: AsyncBroker, handler: Handler, *, concurrency: int) -> None:
        self.broker = broker
        self._handler = handler
        self._slots = asyncio.Semaphore(concurrency)
        self._running: set[asyncio.Task[object]] = set()

        async def ingest(job_id: str) -> str:  # taskiq needs a plain function, not a method
            return await self._run(job_id)

        self._task = broker.register_task(ingest, task_name=TASK_NAME)

    @property
    def in_process(self) -> bool:
        return isinstance(self.broker, InMemoryBroker)

    async def _run(self, job_id: str) -> str:
        current = asyncio.current_task()
        if current is not None:
            self._running.add(current)
        try:
            async with self._slots:
                return await self._handler(job_id)
        finally:
            if current is not None:
                self._running.discard(current)

    async def enqueue(self, job_id: str) -> None:
        await self._task.kiq(job_id)

    async def start(self) -> None:
        await self.broker.startup()

    async def stop(self, grace: float = 5.0) -> None:
        """Let running jobs finish for `grace` seconds; the rest go back to pending."""
        running = list(self._running)
        if running:
            _done, pending = await asyncio.wait(running, timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await self.broker.shutdown()


async def sweep_forever(ctx: IngestContext, enqueue: Callable[[str], Awaitable[None]]) -> None:
    """Re-queue stale jobs now and then every half `stale_seconds`."""
    while True:
        try:
            count = await requeue_stale(ctx, enqueue)
            if count:
                log.warning("re-queued %d interrupted ingestion jobs", count)
        except Exception:
            log.warning("stale-job sweep failed", exc_info=True)
        await asyncio.sleep(max(0.5, ctx.stale_seconds / 2))


def ingest_context(settings: Settings, db: Database, embedder: Embedder) -> IngestContext:
    return IngestContext(
        db=db,
        embedder=embedder,
        uploads=UploadStore(settings.data_dir / "uploads"),
        chunk_tokens=settings.chunk_tokens,
        chunk_overlap=settings.chunk_overlap,
        embed_batch=max(settings.embedding_batch_size, 16) * 2,
        stale_seconds=settings.ingest_stale_seconds,
        max_attempts=settings.ingest_max_attempts,
    )


async def serve_worker(settings: Settings) -> None:
    """Consume ingestion jobs from Redis until cancelled."""
    from taskiq.api import run_receiver_task

    if not settings.redis_url:
        raise SystemExit("ragline worker needs RAGLINE_REDIS_URL (without it the server "
                         "ingests in-process and no worker is needed)")
    db = Database(settings.resolved_database_url)
    embedder = build_embedder(settings)
    await check_embedder(db, embedder.name, embedder.dim)
    warmup = getattr(embedder, "warmup", None)
    if warmup is not None:
        await warmup()
    ctx = ingest_context(settings, db, embedder)
    queue = JobQueue(build_broker(settings), lambda job_id: run_job(ctx, job_id),
                     concurrency=settings.ingest_concurrency)
    await queue.start()
    sweeper = asyncio.create_task(sweep_forever(ctx, queue.enqueue))
    log.info("worker consuming %s", settings.ingest_queue)
    try:
        await run_receiver_task(queue.broker, max_async_tasks=settings.ingest_concurrency,
                                run_startup=False, propagate_exceptions=False)
    finally:
        sweeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sweeper
        await queue.stop()
        await db.dispose()


def run_worker(settings: Settings | None = None) -> None:
    """Blocking entry point for `ragline worker`; stops cleanly on SIGINT or SIGTERM."""
    settings = settings or Settings()

    async def main() -> None:
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        if task is not None:
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(signal.SIGTERM, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await serve_worker(settings)

    asyncio.run(main())


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    run_worker()
