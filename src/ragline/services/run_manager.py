"""The runs executing in this process: turn-taking per thread, cancel, leases, draining."""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from ragline.domain.errors import Unavailable
from ragline.domain.runs import CANCELLED
from ragline.services.run_store import Outcome, RunStore, cancelled_outcome
from ragline.services.runs import RunContext, execute_run

log = logging.getLogger(__name__)
Enqueue = Callable[[str], Awaitable[None]]


class RunManager:
    """Owns the asyncio tasks of the runs executing in this process.

    Inline execution starts a run here as soon as it is admitted; worker execution puts its
    id on a queue (`enqueue`, set by the composition root) for `ragline worker` to `execute`.
    """

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.store: RunStore = ctx.store
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._user_cancelled: set[str] = set()
        self.notifier: Any = None  # set by bootstrap when another process may run our runs
        self.enqueue: Enqueue | None = None  # set by bootstrap for worker execution
        self.instance_id = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self.accepting = True
        self._cancels: set[asyncio.Task[None]] = set()

    @property
    def executes_inline(self) -> bool:
        return self.enqueue is None

    def check_accepting(self) -> None:
        if not self.accepting:
            raise Unavailable("the server is shutting down; retry on another one",
                              code="shutting_down")

    async def submit(self, run_id: str, *, behind: bool = True) -> None:
        """Have the admitted run executed: here, or by whichever worker takes it."""
        if self.enqueue is None:
            self.start(run_id, fresh=not behind)
            return
        try:
            await self.enqueue(run_id)
        except Exception:  # the run is in the database: the unclaimed-run sweep sends it again
            log.warning("could not queue run %s now; it will be re-sent", run_id, exc_info=True)

    def start(self, run_id: str, *, fresh: bool = False) -> asyncio.Task[None]:
        """Execute here; `fresh`: just admitted with no other run active on its thread."""
        task = asyncio.create_task(self._run(run_id, fresh), name=f"run-{run_id}")
        self._tasks[run_id] = task

        def _done(_: asyncio.Task[None]) -> None:
            self._tasks.pop(run_id, None)
            self._user_cancelled.discard(run_id)

        task.add_done_callback(_done)
        return task

    async def execute(self, run_id: str) -> None:
        """A worker's handler: claim the run off the queue and execute it to the end."""
        if not self.accepting or not await self.store.claim(run_id, self.instance_id):
            return  # taken by another worker, or already finished (cancelled)
        await asyncio.wait([self.start(run_id)])

    async def renew_leases(self) -> None:
        """Tell other processes that the runs we hold are alive."""
        await self.store.renew(list(self._tasks), self.instance_id)

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

    def request_cancel(self, run_id: str) -> None:
        """Cancel without waiting (callers may be inside a cancelled scope themselves)."""
        task = asyncio.get_running_loop().create_task(self.cancel_anywhere(run_id))
        self._cancels.add(task)
        task.add_done_callback(self._cancels.discard)

    async def cancel_anywhere(self, run_id: str, wait_seconds: float = 10.0) -> None:
        """Cancel a run wherever it executes; finish it here if nobody does."""
        if await self.cancel(run_id, wait=True):
            return
        executor = await self.store.executor_of(run_id)
        if executor is not None and self.notifier is not None:
            await self.notifier.request_cancel(run_id)
            try:
                await asyncio.wait_for(self.store.wait_finished(run_id, 0.25), wait_seconds)
                return
            except TimeoutError:
                pass
        # Not claimed yet, or its process died before its lease ran out: finish it here.
        await self.store.finish(run_id, Outcome(CANCELLED))

    async def drain(self, grace: float) -> None:
        """Stop taking runs, let the running ones finish for `grace` seconds, then fail the
        rest as interrupted (their streams get `error` and `done`)."""
        self.accepting = False
        tasks = list(self._tasks.values())
        if tasks and grace > 0:
            log.info("waiting up to %.0f s for %d runs to finish", grace, len(tasks))
            await asyncio.wait(tasks, timeout=grace)
        tasks = [t for t in self._tasks.values() if not t.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.ctx.store.writer.flush()

    async def shutdown(self) -> None:
        await self.drain(0)

    async def _run(self, run_id: str, fresh: bool = False) -> None:
        store = self.store
        try:
            await store.open(run_id, 1 if fresh else None)
            # Runs of one thread take turns in the order they were admitted (on_active=enqueue).
            while not fresh and (earlier := await store.earlier_active(run_id)) is not None:
                await store.wait_finished(earlier)
            await execute_run(run_id, self.ctx, user_cancelled=self._user_cancelled.__contains__)
        except asyncio.CancelledError:
            # Cancelled before it started: a no-op if execute_run already finished it.
            outcome = cancelled_outcome(run_id in self._user_cancelled)
            await asyncio.shield(store.finish(run_id, outcome))
        except Exception as exc:
            log.exception("run %s failed before it started", run_id)
            error = {"code": "internal_error", "message": f"the run failed: {type(exc).__name__}"}
            await store.finish(run_id, Outcome("failed", error=error))
        finally:
            store.close(run_id)
