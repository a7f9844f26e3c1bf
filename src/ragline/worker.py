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

from ragline.config import Settings

__all__ = ["run_worker", "serve_worker"]
log = logging.getLogger(__name__)


async def serve_worker(settings: Settings, stopping: asyncio.Event) -> None:
    """Consume runs and ingestion jobs until `stopping` is set, then drain within the grace."""
    from ragline.adapters.db.migrate import upgrade
    from ragline.bootstrap import build_container

    if not settings.redis_url:
        raise SystemExit("ragline worker needs RAGLINE_REDIS_URL (without it the server "
                         "ingests in-process and no worker is needed)")
    # a worker started before (or with) the servers migrates the database like they do
    await asyncio.to_thread(upgrade, settings.resolved_database_url)
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
