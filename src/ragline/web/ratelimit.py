"""Per-caller rate limiting (fixed one-minute windows), shared through Redis when configured."""

from __future__ import annotations

import hashlib
import json
import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Protocol

from starlette.types import ASGIApp, Receive, Scope, Send

from ragline.telemetry import metrics

if TYPE_CHECKING:
    from redis.asyncio import Redis

LIMITED_PREFIXES = ("/api/", "/v1/", "/llm/", "/conversations", "/stream_question", "/ws")


class Counter(Protocol):
    async def hit(self, key: str, window: int) -> int: ...


class MemoryCounter:
    """One process only; bounded so that many callers can't grow it without limit."""

    def __init__(self, max_keys: int = 100_000) -> None:
        self._counts: OrderedDict[str, int] = OrderedDict()
        self._max = max_keys

    async def hit(self, key: str, window: int) -> int:
        count = self._counts.pop(key, 0) + 1
        self._counts[key] = count
        while len(self._counts) > self._max:
            self._counts.popitem(last=False)
        return count


class RedisCounter:
    def __init__(self, url: str) -> None:
        from redis.asyncio import Redis  # only when Redis is configured

        self._redis: Redis = Redis.from_url(url)

    async def hit(self, key: str, window: int) -> int:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, window + 1)
            count, _ = await pipe.execute()
        return int(count)


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, per_minute: int, counter: Counter) -> None:
        self.app = app
        self.per_minute = per_minute
        self.counter = counter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or not scope["path"].startswith(
            LIMITED_PREFIXES
        ):
            await self.app(scope, receive, send)
            return
        window_start = int(time.time()) // 60
        key = f"ragline:rl:{_caller(scope)}:{window_start}"
        try:
            count = await self.counter.hit(key, 60)
        except OSError:  # the limiter's store is down: serve rather than fail every request
            count = 0
        if count > self.per_minute and scope["type"] == "http":
            metrics.RATE_LIMITED.inc()
            retry_after = max(1, 60 - int(time.time()) % 60)
            body = json.dumps({"error": {
                "code": "rate_limited",
                "message": f"more than {self.per_minute} requests a minute; retry later",
                "details": {"retry_after": retry_after},
            }}).encode()
            await send({"type": "http.response.start", "status": 429, "headers": [
                (b"content-type", b"application/json"),
                (b"retry-after", str(retry_after).encode()),
            ]})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)


def _caller(scope: Scope) -> str:
    """The credential when there is one (each API key has its own budget), else the address."""
    headers = dict(scope.get("headers") or [])
    credential = headers.get(b"authorization") or headers.get(b"x-api-key")
    if credential:
        return hashlib.sha256(credential).hexdigest()[:32]
    client = scope.get("client")
    return client[0] if client else "unknown"
