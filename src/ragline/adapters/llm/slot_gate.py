"""A bounded, first-come-first-served queue in front of the engine's parallel slots.

Slots may be released from any thread (a generation thread gives its slot back when decoding
has really stopped) and waiters may live on different event loops (tests, the CLI), so the
counters sit behind a lock and each waiter is woken on its own loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import AsyncGenerator

from ragline.domain.errors import ProviderError


class _Waiter:
    __slots__ = ("granted", "loop", "wake")

    def __init__(self) -> None:
        self.granted = False
        self.loop = asyncio.get_running_loop()
        self.wake = asyncio.Event()

    def notify(self) -> bool:
        """Wake the waiter on its loop; False when that loop is gone."""
        try:
            self.loop.call_soon_threadsafe(self.wake.set)
        except RuntimeError:
            return False
        return True


class SlotGate:
    def __init__(self, slots: int, queue_limit: int) -> None:
        if slots < 1:
            raise ValueError("slots must be at least 1")
        self.slots = slots
        self.queue_limit = queue_limit
        self._free = slots
        self._waiters: deque[_Waiter] = deque()
        self._lock = threading.Lock()

    @property
    def busy(self) -> int:
        return self.slots - self._free

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    def try_acquire(self) -> bool:
        """Take a slot only if one is free and nobody waits for it (work that may be skipped,
        such as a second opinion on a claim, never delays a run)."""
        with self._lock:
            if self._free > 0 and not self._waiters:
                self._free -= 1
                return True
            return False

    async def acquire(self) -> AsyncGenerator[int, None]:
        """Take a slot. Yields the queue position (1 = next) each time it changes while waiting.

        Ends once the slot is held; the caller must `release()` it. Closing the iterator while
        it waits leaves the queue (or gives back a slot granted in the meantime).
        """
        with self._lock:
            if self._free > 0 and not self._waiters:
                self._free -= 1
                return
            if len(self._waiters) >= self.queue_limit:
                raise ProviderError(
                    f"the local model is busy ({self.busy} running, {self.waiting} waiting)",
                    code="overloaded",
                    retryable=True,
                    retry_after=1.0,
                )
            waiter = _Waiter()
            self._waiters.append(waiter)
        try:
            last = 0
            while not waiter.granted:
                waiter.wake.clear()
                with self._lock:
                    position = self._waiters.index(waiter) + 1 if not waiter.granted else 0
                if position and position != last:
                    last = position
                    yield position
                if not waiter.granted:
                    await waiter.wake.wait()
        except BaseException:
            with self._lock:
                granted = waiter.granted
                if not granted:
                    self._waiters.remove(waiter)
            if granted:
                self.release()
            else:
                self._notify_all()
            raise

    def release(self) -> None:
        """Give a slot back (from any thread): to the first live waiter, else to the pool."""
        with self._lock:
            while self._waiters:
                waiter = self._waiters.popleft()
                waiter.granted = True
                if waiter.notify():
                    break
            else:
                self._free = min(self.slots, self._free + 1)
        self._notify_all()

    def _notify_all(self) -> None:
        with self._lock:
            waiters = list(self._waiters)
        for waiter in waiters:
            waiter.notify()


class SlotLease:
    """One held slot, shared by a stream and the generation threads it starts: the slot goes
    back to the gate when the last holder lets go, so a cancelled stream can return at once
    while its thread finishes the current decoding step."""

    def __init__(self, gate: SlotGate) -> None:
        self._gate = gate
        self._holders = 1
        self._lock = threading.Lock()

    def share(self) -> None:
        with self._lock:
            self._holders += 1

    def drop(self) -> None:
        with self._lock:
            self._holders -= 1
            last = self._holders == 0
        if last:
            self._gate.release()
