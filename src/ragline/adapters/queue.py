"""Task queues: in-process by default, a Redis list (taskiq) when RAGLINE_REDIS_URL is set.

The queues only carry ids (ingestion jobs, runs); the state lives in the database, so a lost
message is re-sent by a sweep and a duplicate is ignored by the handler.

In-process, an id sent is handled at once in a task of its own (taskiq, which takes seconds to
import, is imported only for Redis).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from taskiq import AsyncBroker

Handler = Callable[[str], Awaitable[Any]]
log = logging.getLogger(__name__)
INGEST_TASK = "ragline.ingest"  # ingestion job ids (services/documents.py)
RUN_TASK = "ragline.run"  # run ids, RAGLINE_RUN_EXECUTION=worker (services/run_manager.py)


def build_broker(redis_url: str | None, queue_name: str) -> AsyncBroker | None:
    """The Redis broker, or None: ids are handled in this process as they are sent."""
    if redis_url:
        from taskiq_redis import ListQueueBroker

        # No read timeout: the consumer blocks on BRPOP while the queue is idle. redis-py 8's
        # default (5 s) made it fail there, and taskiq's restart cancelled the running jobs.
        return ListQueueBroker(redis_url, queue_name=queue_name, socket_timeout=None)
    return None


class JobQueue:
    """Carries ids to `handler`, at most `concurrency` at a time in this process."""

    def __init__(
        self, broker: AsyncBroker | None, handler: Handler, *, concurrency: int, task_name: str
    ) -> None:
        self.broker = broker
        self.concurrency = concurrency
        self._handler = handler
        self._slots = asyncio.Semaphore(concurrency)
        self._running: set[asyncio.Task[object]] = set()
        self._sent: set[asyncio.Task[Any]] = set()  # in-process: handled, not yet done

        async def handle(item_id: str) -> Any:  # taskiq needs a plain function, not a method
            return await self._run(item_id)

        self._task = broker.register_task(handle, task_name=task_name) if broker else None

    @property
    def in_process(self) -> bool:
        return self.broker is None

    async def _run(self, item_id: str) -> Any:
        current = asyncio.current_task()
        if current is not None:
            self._running.add(current)
        try:
            async with self._slots:
                return await self._handler(item_id)
        finally:
            if current is not None:
                self._running.discard(current)

    async def enqueue(self, item_id: str) -> None:
        if self._task is not None:
            await self._task.kiq(item_id)
            return
        task = asyncio.create_task(self._handle_here(item_id))
        self._sent.add(task)
        task.add_done_callback(self._sent.discard)

    async def _handle_here(self, item_id: str) -> None:
        try:
            await self._run(item_id)
        except Exception:  # as taskiq's receiver does: logged, never raised to the sender
            log.exception("handling %s failed", item_id)

    async def start(self) -> None:
        if self.broker is not None:
            await self.broker.startup()

    async def consume(self) -> None:
        """Take messages off the (Redis) queue until cancelled."""
        from taskiq.api import run_receiver_task

        if self.broker is None:
            raise RuntimeError("an in-process queue has nothing to consume")
        await run_receiver_task(self.broker, max_async_tasks=self.concurrency,
                                run_startup=False, propagate_exceptions=False)

    async def stop(self, grace: float = 5.0) -> None:
        """Let running handlers finish for `grace` seconds, then cancel them."""
        running = list({*self._running, *self._sent})
        if running:
            _done, pending = await asyncio.wait(running, timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        if self.broker is not None:
            await self.broker.shutdown()
