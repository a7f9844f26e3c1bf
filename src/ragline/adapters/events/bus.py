"""In-process event bus: wakes stream subscribers the moment run events are committed."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterable

from ragline.domain.runs import RunEventRecord

# Events a subscriber may hold unread. A slower reader (a client on a slow link) loses its
# mailbox instead and reads the rest from the durable log at its own pace: nothing is lost,
# and a stuck client costs the server at most this many references, never a growing list.
MAX_PENDING = 512


class Subscription:
    """A subscriber's mailbox for one run: committed events plus a 'look in the database' flag."""

    __slots__ = ("_wakeup", "max_pending", "overflows", "pending", "run_id", "stale")

    def __init__(self, run_id: str, max_pending: int = MAX_PENDING) -> None:
        self.run_id = run_id
        self.pending: list[RunEventRecord] = []
        self.stale = False
        self.max_pending = max_pending
        self.overflows = 0
        self._wakeup = asyncio.Event()

    def deliver(self, events: list[RunEventRecord]) -> None:
        if self.stale:
            return  # it will read the database anyway
        if len(self.pending) + len(events) > self.max_pending:
            self.pending = []
            self.overflows += 1
            self.mark_stale()
            return
        self.pending.extend(events)
        self._wakeup.set()

    def mark_stale(self) -> None:
        self.stale = True
        self._wakeup.set()

    async def wait(self) -> tuple[list[RunEventRecord], bool]:
        """Wait for news; returns (events, stale) and resets the mailbox."""
        await self._wakeup.wait()
        self._wakeup.clear()
        events, self.pending = self.pending, []
        stale, self.stale = self.stale, False
        return events, stale


class LocalBus:
    def __init__(self) -> None:
        self._subs: dict[str, set[Subscription]] = defaultdict(set)

    def subscribe(self, run_id: str) -> Subscription:
        sub = Subscription(run_id)
        self._subs[run_id].add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        subs = self._subs.get(sub.run_id)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._subs[sub.run_id]

    def publish(self, events: Iterable[RunEventRecord]) -> None:
        by_run: dict[str, list[RunEventRecord]] = defaultdict(list)
        for event in events:
            if event.run_id in self._subs:
                by_run[event.run_id].append(event)
        for run_id, batch in by_run.items():
            for sub in self._subs.get(run_id, ()):
                sub.deliver(batch)

    def poke(self, run_id: str) -> None:
        """Another process committed events for this run: subscribers re-read the database."""
        for sub in self._subs.get(run_id, ()):
            sub.mark_stale()

    @property
    def subscriber_count(self) -> int:
        return sum(len(s) for s in self._subs.values())
