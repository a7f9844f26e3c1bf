"""Task queues over taskiq: in-process by default, a Redis list when RAGLINE_REDIS_URL is set.

The queues only carry ids (ingestion jobs, runs); the state lives in the database, so a lost
message is re-sent by a sweep and a duplicate is ignored by the handler.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from taskiq import AsyncBroker, InMemoryBroker

Handler = Callable[[str], Awaitable[Any]]


def build_broker(redis_url: str | None, queue_name: str) -> AsyncBroker:
    if redis_url:
        from taskiq_redis import ListQueueBroker

        return ListQueueBroker(redis_url, queue_name=queue_name)
    return InMemoryBroker(await_inplace=False, propagate_exceptions=False)


class JobQueue:
    """Carries ids to `handler`, at most `concurrency` at a time in this process."""

    def __init__(
        self, broker: AsyncBroker, handler: Handler, *, concurrency: int, task_name: str
    ) -> None:
        self.broker = broker
        self.concurrency = concurrency
        self._handler = handler
        self._slots = asyncio.Semaphore(concurrency)
        self._running: set[asyncio.Task[object]] = set()

        async def handle(item_id: str) -> Any:  # taskiq needs a plain function, not a method
            return await self._run(item_id)

        self._task = broker.register_task(handle, task_name=task_name)

    @property
    def in_process(self) -> bool:
        return isinstance(self.broker, InMemoryBroker)

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
        await self._task.kiq(item_id)

    async def start(self) -> None:
        await self.broker.startup()

    async def consume(self) -> None:
        """Take messages off the (Redis) queue until cancelled."""
        from taskiq.api import run_receiver_task

        await run_receiver_task(self.broker, max_async_tasks=self.concurrency,
                                run_startup=False, propagate_exceptions=False)

    async def stop(self, grace: float = 5.0) -> None:
        """Let running handlers finish for `grace` seconds, then cancel them."""
        running = list(self._running)
        if running:
            _done, pending = await asyncio.wait(running, timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await self.broker.shutdown()
