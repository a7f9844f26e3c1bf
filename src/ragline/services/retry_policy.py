"""How hard the registry tries one model before it moves on: timeouts, retries and backoff."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from ragline.domain.errors import ProviderError
from ragline.domain.llm import ProviderEvent, Queued, TextDelta


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Per-model values come from the registry entry's `options` (same names)."""

    max_retries: int = 2
    backoff_base: float = 0.5  # seconds; attempt n waits up to base * 2**n (full jitter)
    backoff_max: float = 8.0
    max_retry_after: float = 30.0  # a longer Retry-After goes straight to the fallback
    first_token_timeout: float | None = 120.0
    idle_timeout: float | None = 60.0  # between two events once tokens flow
    queue_timeout: float | None = None  # while a local engine reports a queue position

    def with_options(self, options: Mapping[str, Any]) -> RetryPolicy:
        changes: dict[str, Any] = {}
        for f in fields(self):
            value = options.get(f.name, getattr(self, f.name))
            if value is None:
                changes[f.name] = None
            else:
                changes[f.name] = int(value) if f.name == "max_retries" else float(value)
        return replace(self, **changes)

    def delay(
        self, attempt: int, retry_after: float | None, rand: Callable[[], float] = random.random
    ) -> float | None:
        """Seconds to wait before retry number `attempt` (0-based), or None to stop retrying."""
        if attempt >= self.max_retries:
            return None
        if retry_after is not None:
            return retry_after if retry_after <= self.max_retry_after else None
        return rand() * min(self.backoff_max, self.backoff_base * 2.0**attempt)


async def next_event(
    events: AsyncIterator[ProviderEvent], limit: float | None, *, started: bool
) -> ProviderEvent | None:
    """The next event within `limit` seconds, or None at the end of the stream."""
    deadline = asyncio.timeout(limit)
    try:
        async with deadline:
            return await anext(events)
    except StopAsyncIteration:
        return None
    except TimeoutError:
        if not deadline.expired():
            raise
        what = "the next token" if started else "the first token"
        raise ProviderError(
            f"no answer from the model: waited {limit:g}s for {what}",
            code="timeout",
            retryable=not started,
        ) from None


def timeout_after(event: ProviderEvent, policy: RetryPolicy, started: bool) -> float | None:
    """The time allowed for the event that follows `event`."""
    if isinstance(event, Queued):
        return policy.queue_timeout
    if started or isinstance(event, TextDelta):
        return policy.idle_timeout
    return policy.first_token_timeout
