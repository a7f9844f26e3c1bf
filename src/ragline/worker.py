"""`ragline worker`: executes queued runs and ingestion jobs taken off Redis (taskiq).

A thin entry point: the composition root builds a container that consumes the queues
(adapters/queue.py); the services it wires do the work. Jobs and runs live in the database
(services/ingest.py, services/run_store.py); the queues only carry ids. A periodic sweep re-queues
jobs whose worker died; a run whose worker died loses its lease and is failed as `interrupted` by
any process, so a killed worker never loses anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
<<<<<<< HEAD
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from ragline.adapters.db.database import Database
from ragline.adapters.embed import Embedder
from ragline.adapters.queue import JobQueue
from ragline.adapters.queue import build_broker as _build_broker
from ragline.adapters.uploads import UploadStore
=======

>>>>>>> bb066a3 (Typed container built in one place (Lifecycle parts, identity, schemas, conversation cache, rate counter); routers call services, no tables; services/identity.py; queue adapter; thin worker; tests/unit/test_layers.py)
from ragline.config import Settings

<<<<<<< HEAD
if TYPE_CHECKING:
    from taskiq import AsyncBroker

__all__ = ["JobQueue", "build_broker", "ingest_context", "run_worker", "sweep_forever"]
log = logging.getLogger(__name__)
TASK_NAME = "ragline.ingest"
Handler = Callable[[str], Awaitable[str]]


def build_broker(settings: Settings) -> AsyncBroker | None:
    return _build_broker(settings.redis_url, settings.ingest_queue)


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
=======
__all__ = ["run_worker", "serve_worker"]
log = logging.getLogger(__name__)
>>>>>>> bb066a3 (Typed container built in one place (Lifecycle parts, identity, schemas, conversation cache, rate counter); routers call services, no tables; services/identity.py; queue adapter; thin worker; tests/unit/test_layers.py)


async def serve_worker(settings: Settings, stopping: asyncio.Event) -> None:
    """Consume runs and ingestion jobs until `stopping` is set, then drain within the grace."""
    from ragline.bootstrap import build_container

    if not settings.redis_url:
        raise SystemExit("ragline worker needs RAGLINE_REDIS_URL (without it the server "
                         "ingests in-process and no worker is needed)")
    container = build_container(settings, consume=True, serves=False)
    await container.start()
    log.info("worker consuming %s%s", settings.ingest_queue,
             f" and {settings.run_queue}" if settings.run_execution == "worker" else "")
    try:
        await stopping.wait()
        await container.drain(settings.shutdown_grace_seconds)
    finally:
        await container.stop()


def run_worker(settings: Settings | None = None) -> None:
    """Blocking entry point for `ragline worker`; drains on SIGINT or SIGTERM."""
    settings = settings or Settings()

    async def main() -> None:
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stopping.set)
        await serve_worker(settings, stopping)

    asyncio.run(main())


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    run_worker()
