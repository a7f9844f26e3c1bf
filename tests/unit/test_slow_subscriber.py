"""A subscriber that does not read holds at most MAX_PENDING events; it reads the rest from the
durable log (nothing lost), so a stuck client cannot grow the server's memory."""

from __future__ import annotations

import asyncio

from ragline.adapters.events.bus import MAX_PENDING, LocalBus
from ragline.domain.runs import RunEventRecord


def test_a_slow_subscriber_is_bounded_and_told_to_read_the_log() -> None:
    async def scenario() -> None:
        bus = LocalBus()
        slow = bus.subscribe("run-1")
        fast = bus.subscribe("run-1")
        received = 0
        for seq in range(1, 1001):
            bus.publish([RunEventRecord("run-1", seq, "token", {"delta": "x"}, '{"delta":"x"}')])
            assert len(slow.pending) <= MAX_PENDING
            events, stale = await fast.wait()  # a reader that keeps up gets every event live
            assert not stale
            received += len(events)
        assert received == 1000
        assert slow.overflows == 1 and slow.pending == []
        events, stale = await slow.wait()
        assert stale and events == []  # follow() re-reads from its cursor: nothing is lost

    asyncio.run(scenario())
