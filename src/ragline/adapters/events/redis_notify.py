"""Redis pub/sub: cross-process wake-ups and cancel requests when the database can't push."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from ragline.adapters.events.bus import LocalBus
from ragline.adapters.events.pokes import decode_pokes, encode_pokes

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from sqlalchemy.ext.asyncio import AsyncSession

CHANNEL = "ragline:events"
CONTROL = "ragline:control"
log = logging.getLogger(__name__)


class RedisNotifier:
    """Publishes after commit (a subscriber woken early would read nothing and go back to sleep)."""

    def __init__(self, url: str, bus: LocalBus) -> None:
        from redis.asyncio import Redis  # only when Redis is configured

        self._redis: Redis = Redis.from_url(url)
        self._bus = bus
        self.origin = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.on_cancel: Callable[[str], Awaitable[Any]] | None = None
        self._listener: asyncio.Task[None] | None = None

    async def start(self) -> None:
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(CHANNEL, CONTROL)
        self._listener = asyncio.create_task(self._listen(pubsub), name="redis-notifier")

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        await self._redis.aclose()

    async def notify(self, session: AsyncSession, run_ids: set[str]) -> None:
        return None

    async def published(self, run_ids: set[str]) -> None:
        try:
            for payload in encode_pokes(self.origin, run_ids):
                await self._redis.publish(CHANNEL, payload)
        except OSError:
            log.warning("redis publish failed; other processes will catch up on their next wake")

    async def request_cancel(self, run_id: str) -> None:
        await self._redis.publish(CONTROL, f"cancel|{run_id}")

    async def _listen(self, pubsub: Any) -> None:
        async for message in pubsub.listen():
            channel = message["channel"].decode()
            payload = message["data"].decode()
            if channel == CHANNEL:
                origin, run_ids = decode_pokes(payload)
                if origin != self.origin:
                    for run_id in run_ids:
                        self._bus.poke(run_id)
            elif channel == CONTROL and self.on_cancel is not None:
                command, _, run_id = payload.partition("|")
                if command == "cancel":
                    await self.on_cancel(run_id)
