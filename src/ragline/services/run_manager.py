"""The runs executing in this process: scheduling per thread, cancel, heartbeats."""

from __future__ import annotations

import asyncio
import os
import uuid
import weakref
from typing import Any

from sqlalchemy import func, select, update

from ragline.adapters.db.tables import Run, RunEvent
from ragline.domain.runs import ACTIVE, CANCELLED
from ragline.services.runs import RunContext, _cancel_outcome, _now, execute_run, finish_run


class RunManager:
    """Owns the asyncio tasks of the runs executing in this process."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._thread_tail: dict[str, asyncio.Task[None]] = {}
        self._user_cancelled: set[str] = set()
        self.notifier: Any = None  # set by bootstrap when another process may run our runs
        self.instance_id = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def thread_lock(self, thread_id: str) -> asyncio.Lock:
        """Serialises 'is a run active? then start one' per thread within this process."""
        lock = self._locks.get(thread_id)
        if lock is None:
            lock = self._locks[thread_id] = asyncio.Lock()
        return lock

    def start(self, run_id: str, thread_id: str, last_seq: int) -> None:
        """Schedule a run; runs of one thread execute one after another (on_active=enqueue)."""
        self.ctx.writer.open_run(run_id, last_seq)
        previous = self._thread_tail.get(thread_id)
        task = asyncio.create_task(self._run(run_id, previous), name=f"run-{run_id}")
        self._tasks[run_id] = task
        self._thread_tail[thread_id] = task

        def _done(t: asyncio.Task[None]) -> None:
            self._tasks.pop(run_id, None)
            self._user_cancelled.discard(run_id)
            if self._thread_tail.get(thread_id) is t:
                del self._thread_tail[thread_id]

        task.add_done_callback(_done)

    async def heartbeat(self) -> None:
        """Tell other processes that the runs we hold are alive."""
        if not self._tasks:
            return
        async with self.ctx.db.session() as session:
            await session.execute(
                update(Run)
                .where(Run.id.in_(list(self._tasks)))
                .values(executor=self.instance_id, heartbeat_at=_now())
            )

    @property
    def active_count(self) -> int:
        return len(self._tasks)

    def is_local(self, run_id: str) -> bool:
        return run_id in self._tasks

    async def cancel(self, run_id: str, *, wait: bool = False) -> bool:
        task = self._tasks.get(run_id)
        if task is None:
            return False
        self._user_cancelled.add(run_id)
        task.cancel()
        if wait:
            await asyncio.wait([task])
        return True

    async def cancel_elsewhere(self, run_id: str, wait_seconds: float = 10.0) -> None:
        """Cancel a run this process isn't executing: ask its process, or finish an orphan."""
        if self.notifier is not None:
            await self.notifier.request_cancel(run_id)
            if await self._finished_within(run_id, wait_seconds):
                return
        # Nobody is executing it (its process died before recovery ran): finish it here.
        async with self.ctx.db.session() as session:
            last = await session.scalar(
                select(func.max(RunEvent.seq)).where(RunEvent.run_id == run_id)
            )
        self.ctx.writer.open_run(run_id, last or 0)
        try:
            await finish_run(self.ctx, run_id, "", CANCELLED, None)
        finally:
            self.ctx.writer.close_run(run_id)

    async def _finished_within(self, run_id: str, seconds: float) -> bool:
        deadline = asyncio.get_running_loop().time() + seconds
        while asyncio.get_running_loop().time() < deadline:
            async with self.ctx.db.session() as session:
                run = await session.get(Run, run_id)
                if run is None or run.status not in ACTIVE:
                    return True
            await asyncio.sleep(0.05)
        return False

    async def shutdown(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _run(self, run_id: str, previous: asyncio.Task[None] | None) -> None:
        try:
            if previous is not None:
                await asyncio.wait([previous])  # gather() would cancel it along with us
            await execute_run(run_id, self.ctx, user_cancelled=self._user_cancelled.__contains__)
        except asyncio.CancelledError:
            # Cancelled before it started: finish_run is a no-op if execute_run already finished it.
            status, error = _cancel_outcome(run_id in self._user_cancelled)
            await finish_run(self.ctx, run_id, "", status, error)
        finally:
            self.ctx.writer.close_run(run_id)
