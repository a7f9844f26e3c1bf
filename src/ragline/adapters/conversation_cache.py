"""A Redis cache of rendered conversations, checked against the thread's last change.

Each entry stores the thread's `updated_at` stamp beside the payload; a reader that sees a
different stamp treats it as a miss, so an entry can never be served after the thread changed,
whatever surface changed it. Redis being down only costs speed: every call falls back to a miss.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from redis import asyncio as aioredis

log = logging.getLogger(__name__)
PREFIX = "ragline:conversation:"


class ConversationCache:
    def __init__(self, client: aioredis.Redis, ttl_seconds: int = 600) -> None:
        from redis.exceptions import RedisError

        self._redis = client
        self._ttl = ttl_seconds
        self._errors = (RedisError, OSError)

    @classmethod
    def from_url(cls, url: str, ttl_seconds: int = 600) -> ConversationCache:
        from redis import asyncio as aioredis  # only when Redis is configured

        client = aioredis.from_url(url, decode_responses=True, socket_timeout=2)
        return cls(client, ttl_seconds)

    async def get_many(self, keys: Sequence[tuple[str, str]]) -> list[dict[str, Any] | None]:
        """For each (conversation id, stamp), the cached payload if it has exactly that stamp."""
        if not keys:
            return []
        try:
            raw = await self._redis.mget([PREFIX + cid for cid, _ in keys])
        except self._errors as exc:
            log.warning("conversation cache read failed: %s", exc)
            return [None] * len(keys)
        out: list[dict[str, Any] | None] = []
        for (_, stamp), value in zip(keys, raw, strict=True):
            entry = json.loads(value) if value else None
            fresh = isinstance(entry, dict) and entry.get("stamp") == stamp
            out.append(entry["data"] if fresh else None)  # type: ignore[index]
        return out

    async def put(self, conversation_id: str, stamp: str, data: dict[str, Any]) -> None:
        value = json.dumps({"stamp": stamp, "data": data}, separators=(",", ":"))
        try:
            await self._redis.set(PREFIX + conversation_id, value, ex=self._ttl)
        except self._errors as exc:
            log.warning("conversation cache write failed: %s", exc)

    async def forget(self, conversation_id: str) -> None:
        try:
            await self._redis.delete(PREFIX + conversation_id)
        except self._errors as exc:
            log.warning("conversation cache invalidation failed: %s", exc)

    async def start(self) -> None:  # connects on first use
        return None

    async def stop(self) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._redis.aclose()
