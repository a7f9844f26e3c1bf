"""SIGTERM, the careful way: drain runs and let open streams get their `done` first.

uvicorn (and sse-starlette, which ends every stream the moment uvicorn sees the signal) would
cut streams before the lifespan's shutdown fails the runs still going. So the first SIGTERM
runs `drain` (stop taking runs, a grace period, then fail the rest as interrupted, which ends
their streams with `error` and `done`) and only then hands the signal to uvicorn.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger(__name__)


def drain_on_sigterm(drain: Callable[[], Awaitable[None]]) -> Callable[[], None]:
    """Install the handler; returns a function that puts the previous one back."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    loop = asyncio.get_running_loop()
    previous: Any = signal.getsignal(signal.SIGTERM)
    draining: list[asyncio.Task[None]] = []

    def forward() -> None:
        if callable(previous):
            previous(signal.SIGTERM, None)
        else:  # not under uvicorn: the default action
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.raise_signal(signal.SIGTERM)

    async def drain_then_forward() -> None:
        try:
            await drain()
        except Exception:
            log.exception("draining runs on SIGTERM failed")
        finally:
            forward()

    def handler(_signum: int, _frame: Any) -> None:
        if draining:  # a second SIGTERM: stop now
            loop.call_soon_threadsafe(forward)
            return
        log.info("SIGTERM: draining runs before shutting down")
        draining.append(loop.create_task(drain_then_forward()))

    def start(_signum: int, frame: Any) -> None:
        loop.call_soon_threadsafe(handler, _signum, frame)

    signal.signal(signal.SIGTERM, start)

    def restore() -> None:
        if signal.getsignal(signal.SIGTERM) is start:
            signal.signal(signal.SIGTERM, previous)

    return restore
