"""The one writer of runs, their messages and their events.

Admission, start, finish, leases and recovery all go through here, so every event written is
committed with its run's state and then published the same way; nothing else writes run SQL.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ragline.adapters.db.database import Database
from ragline.adapters.db.tables import Message, RunEvent, Thread, new_id
from ragline.adapters.db.tables import Run as Run  # handed out by `get`
from ragline.adapters.events.bus import LocalBus
from ragline.domain.errors import Conflict, NotFound
from ragline.domain.runs import ACTIVE, CANCELLED, DONE, FAILED, QUEUED, RUNNING, RunEventRecord
from ragline.services import audit
from ragline.services.event_log import EventWriter, run_is_over

OnActive = Literal["reject", "enqueue", "interrupt"]
INTERRUPTED = {"code": "interrupted", "message": "the process running this run stopped"}


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class PostedMessage:
    run_id: str
    message_id: str
    status: str
    created: bool = True


@dataclass(frozen=True)
class Admitted:
    posted: PostedMessage
    thread_id: str
    interrupt: list[str] = field(default_factory=list)  # active runs the caller must cancel
    behind: bool = False  # other runs of the thread were active: this one waits its turn


@dataclass
class Outcome:
    """How a run ended. `text=None` means: rebuild it from the run's committed tokens."""

    status: str
    text: str | None = ""
    error: dict[str, Any] | None = None
    model: str | None = None
    sources: list[dict[str, Any]] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    data: Any = None
    claims: list[dict[str, Any]] | None = None  # `final.claims` (None: not checked, left out)


class RunStore:
    def __init__(self, db: Database, writer: EventWriter, bus: LocalBus) -> None:
        self.db = db
        self.writer = writer
        self.bus = bus

    # Admission: one transaction that holds the thread's row (PostgreSQL) or the write lock
    # (SQLite), so "is a run active here?" has one answer across every process.

    async def admit(
        self,
        *,
        owner_id: str,
        thread_id: str,
        content: str,
        model: str,
        collection: str | None,
        response_format: Any,
        idempotency_key: str | None,
        on_active: OnActive,
        executor: str | None,
    ) -> Admitted:
        now = _now()
        async with self.db.session() as session:
            locked = await session.execute(
                update(Thread)
                .where(Thread.id == thread_id, Thread.owner_id == owner_id)
                .values(updated_at=now)
            )
            if getattr(locked, "rowcount", 0) == 0:
                raise NotFound(f"thread {thread_id} not found", code="thread_not_found")
            if idempotency_key:
                earlier = await session.scalar(
                    select(Run).where(
                        Run.thread_id == thread_id, Run.idempotency_key == idempotency_key
                    )
                )
                if earlier is not None:
                    posted = PostedMessage(
                        earlier.id, earlier.user_message_id, earlier.status, created=False
                    )
                    return Admitted(posted, thread_id)
            active = list(
                await session.scalars(
                    select(Run.id)
                    .where(Run.thread_id == thread_id, Run.status.in_(ACTIVE))
                    .order_by(Run.created_at, Run.id)
                )
            )
            if active and on_active == "reject":
                raise Conflict(
                    "this thread already has an active run; wait, cancel it, or pass "
                    "on_active=enqueue or on_active=interrupt",
                    code="run_active",
                    details={"active_run_ids": active},
                )
            # Runs of a thread start in created_at order: keep it increasing whatever the clocks.
            latest = await session.scalar(
                select(func.max(Run.created_at)).where(Run.thread_id == thread_id)
            )
            if latest is not None:
                latest = latest if latest.tzinfo else latest.replace(tzinfo=UTC)
                now = max(now, latest + timedelta(microseconds=1))
            message = Message(
                id=new_id(), thread_id=thread_id, role="user", content=content, created_at=now
            )
            run = Run(
                id=new_id(), thread_id=thread_id, owner_id=owner_id, status=QUEUED,
                model=model, collection=collection, user_message_id=message.id,
                response_format=response_format, idempotency_key=idempotency_key,
                created_at=now, executor=executor, heartbeat_at=now,
            )
            message.run_id = run.id
            session.add_all([message, run])
            await session.flush()
            await session.execute(
                update(Thread)
                .where(Thread.id == thread_id, Thread.title.is_(None))
                .values(title=content[:80])
            )
            first = RunEventRecord(run.id, 1, "status", {"status": QUEUED})
            await self.writer.insert(session, [first])
        await self.writer.deliver([first])
        posted = PostedMessage(run.id, message.id, QUEUED)
        return Admitted(
            posted, thread_id, active if on_active == "interrupt" else [], behind=bool(active)
        )

    # Execution

    async def claim(self, run_id: str, executor: str) -> bool:
        """Take a queued run nobody executes yet (a worker picking it off the queue)."""
        async with self.db.session() as session:
            taken = await session.execute(
                update(Run)
                .where(Run.id == run_id, Run.status == QUEUED, Run.executor.is_(None))
                .values(executor=executor, heartbeat_at=_now())
            )
            return bool(getattr(taken, "rowcount", 0))

    async def open(self, run_id: str, last_seq: int | None = None) -> None:
        """Let this process append events to the run, numbering after what is committed."""
        if last_seq is not None:  # just admitted here: its one event is the queued status
            self.writer.open_run(run_id, last_seq)
            return
        async with self.db.session() as session:
            last = await session.scalar(
                select(func.max(RunEvent.seq)).where(RunEvent.run_id == run_id)
            )
        self.writer.open_run(run_id, last or 0)

    def close(self, run_id: str) -> None:
        self.writer.close_run(run_id)

    def append(self, run_id: str, type_: str, data: dict[str, Any]) -> None:
        self.writer.append(run_id, type_, data)

    async def earlier_active(self, run_id: str) -> str | None:
        """The oldest active run of the same thread created before this one, if any."""
        async with self.db.session() as session:
            run = await session.get(Run, run_id)
            if run is None:
                return None
            return await session.scalar(
                select(Run.id)
                .where(
                    Run.thread_id == run.thread_id,
                    Run.status.in_(ACTIVE),
                    or_(
                        Run.created_at < run.created_at,
                        and_(Run.created_at == run.created_at, Run.id < run.id),
                    ),
                )
                .order_by(Run.created_at, Run.id)
                .limit(1)
            )

    async def wait_finished(self, run_id: str, poll_seconds: float = 2.0) -> None:
        """Until the run is over: woken by its events (any process), polling as a safety net."""
        sub = self.bus.subscribe(run_id)
        try:
            while True:
                async with self.db.session() as session:
                    if await run_is_over(session, run_id):
                        return
                try:
                    await asyncio.wait_for(sub.wait(), poll_seconds)
                except TimeoutError:
                    pass
        finally:
            self.bus.unsubscribe(sub)

    async def is_active(self, run_id: str) -> bool:
        async with self.db.session() as session:
            return not await run_is_over(session, run_id)

    async def mark_running(self, run_id: str) -> bool:
        """queued → running with its status event; False when it was finished meanwhile."""
        await self.writer.flush()
        async with self.db.session() as session:
            started = await session.execute(
                update(Run)
                .where(Run.id == run_id, Run.status == QUEUED)
                .values(status=RUNNING, started_at=_now())
            )
            if not getattr(started, "rowcount", 0):
                return False
            record = self.writer.stage(run_id, "status", {"status": RUNNING})
            await self.writer.insert(session, [record])
        await self.writer.deliver([record])
        return True

    async def finish(self, run_id: str, outcome: Outcome) -> bool:
        """The one way a run ends: assistant message, final state and the last events, in one
        transaction, then published. False when the run had already ended."""
        await self.writer.flush()
        known = self.writer.seq_of(run_id)  # flushed: what this process numbered is committed
        for _attempt in range(3):
            try:
                async with self.db.session() as session:
                    records = await self._finish(session, run_id, outcome, known)
                    if records is None:
                        return False
            except IntegrityError:
                # Another process committed more events in between: number after them.
                known = None
                continue
            await self.writer.deliver(records)
            return True
        raise RuntimeError(f"could not finish run {run_id}")

    async def _finish(
        self, session: AsyncSession, run_id: str, outcome: Outcome, last: int | None
    ) -> list[RunEventRecord] | None:
        now = _now()
        values: dict[str, Any] = {
            "status": outcome.status, "finished_at": now, "error": outcome.error,
        }
        if outcome.model:
            values["model"] = outcome.model
        if outcome.text is not None:
            values["prompt_tokens"] = outcome.prompt_tokens
            values["completion_tokens"] = outcome.completion_tokens
        ended = await session.execute(
            update(Run).where(Run.id == run_id, Run.status.in_(ACTIVE)).values(**values)
        )
        if not getattr(ended, "rowcount", 0):
            return None  # already finished, by us or by another process
        run = await session.get(Run, run_id)
        assert run is not None
        text = outcome.text
        if text is None:
            tokens = await session.scalars(
                select(RunEvent.data)
                .where(RunEvent.run_id == run_id, RunEvent.type == "token")
                .order_by(RunEvent.seq)
            )
            deltas = [str(d.get("delta", "")) for d in tokens]
            text = "".join(deltas)
            # Its executor died (SIGKILL): the token events it committed are its usage so far,
            # one completion token per delta, as a live run counts them before the provider's.
            if len(deltas) > (run.completion_tokens or 0):
                run.completion_tokens = len(deltas)
        message_id = None
        if text or outcome.status == DONE:
            state = {DONE: "complete", CANCELLED: "cancelled"}.get(outcome.status, "failed")
            message = Message(
                id=new_id(), thread_id=run.thread_id, role="assistant", content=text,
                sources=outcome.sources or None, data=outcome.data, claims=outcome.claims,
                run_id=run_id,
                state=state, created_at=now,
            )
            message_id = message.id
            session.add(message)
            run.assistant_message_id = message_id
        await session.execute(
            update(Thread).where(Thread.id == run.thread_id).values(updated_at=now)
        )
        if last is None:
            last = await session.scalar(
                select(func.max(RunEvent.seq)).where(RunEvent.run_id == run_id)
            )
        events: list[tuple[str, dict[str, Any]]] = []
        if outcome.status == DONE:
            final: dict[str, Any] = {
                "message_id": message_id, "content": text, "sources": outcome.sources,
                "usage": {"prompt_tokens": outcome.prompt_tokens,
                          "completion_tokens": outcome.completion_tokens,
                          "cached_tokens": outcome.cached_tokens},
                "model": outcome.model or run.model,
            }
            if outcome.data is not None:
                final["data"] = outcome.data
            if outcome.claims is not None:
                final["claims"] = outcome.claims
            events.append(("final", final))
        if outcome.error is not None:
            events.append(("error", outcome.error))
        events.append(("done", {"status": outcome.status}))
        base = last or 0
        records = [RunEventRecord(run_id, base + i + 1, t, d) for i, (t, d) in enumerate(events)]
        await session.flush()
        await self.writer.insert(session, records)
        return records

    # Leases: executors renew them; any process fails the runs whose lease ran out.

    async def renew(self, run_ids: Sequence[str], executor: str) -> None:
        if not run_ids:
            return
        async with self.db.session() as session:
            await session.execute(
                update(Run)
                .where(Run.id.in_(list(run_ids)), Run.executor == executor)
                .values(heartbeat_at=_now())
            )

    async def expired(self, stale_before: datetime | None) -> list[str]:
        """Active runs whose executor stopped renewing (all active runs when None)."""
        query = select(Run.id).where(Run.status.in_(ACTIVE))
        if stale_before is not None:
            query = query.where(
                Run.executor.is_not(None),
                or_(Run.heartbeat_at.is_(None), Run.heartbeat_at < stale_before),
            )
        async with self.db.session() as session:
            return list(await session.scalars(query))

    async def fail_interrupted(self, stale_before: datetime | None) -> int:
        """Fail expired runs as `interrupted`, keeping the text they streamed."""
        failed = 0
        for run_id in await self.expired(stale_before):
            outcome = Outcome(FAILED, text=None, error=dict(INTERRUPTED))
            failed += await self.finish(run_id, outcome)
        return failed

    async def unclaimed(self, older_than: datetime) -> list[str]:
        """Queued runs no worker took (a lost queue message); bumped so each is sent once."""
        async with self.db.session() as session:
            ids = list(
                await session.scalars(
                    select(Run.id).where(
                        Run.status == QUEUED, Run.executor.is_(None),
                        Run.heartbeat_at < older_than,
                    )
                )
            )
            if ids:
                await session.execute(
                    update(Run).where(Run.id.in_(ids)).values(heartbeat_at=_now())
                )
            return ids

    async def count_by_status(self, statuses: Sequence[str]) -> dict[str, int]:
        """How many runs are in each of these states, across every process."""
        async with self.db.session() as session:
            rows = await session.execute(
                select(Run.status, func.count()).where(Run.status.in_(statuses))
                .group_by(Run.status))
        return {status: int(n) for status, n in rows.all()}

    async def get(self, owner_id: str, run_id: str) -> Run:
        """The owner's run (another owner's is as unknown as a missing one)."""
        async with self.db.session() as session:
            run = await session.get(Run, run_id)
        if run is None or run.owner_id != owner_id:
            raise NotFound(f"run {run_id} not found", code="run_not_found")
        return run

    async def executor_of(self, run_id: str) -> str | None:
        async with self.db.session() as session:
            return await session.scalar(select(Run.executor).where(Run.id == run_id))

    # Threads

    async def active_run_ids(self, thread_id: str) -> list[str]:
        async with self.db.session() as session:
            return list(
                await session.scalars(
                    select(Run.id).where(Run.thread_id == thread_id, Run.status.in_(ACTIVE))
                )
            )

    async def rewind(self, owner_id: str, thread_id: str, message_id: str) -> int:
        """Delete `message_id` and every later message of the thread, with their runs and
        events; refused with `run_active` while a run is active. Under the thread's lock, so a
        run admitted meanwhile on another replica can't lose its question."""
        async with self.db.session() as session:
            locked = await session.execute(
                update(Thread)
                .where(Thread.id == thread_id, Thread.owner_id == owner_id)
                .values(updated_at=_now())
            )
            if getattr(locked, "rowcount", 0) == 0:
                raise NotFound(f"thread {thread_id} not found", code="thread_not_found")
            message = await session.get(Message, message_id)
            if message is None or message.thread_id != thread_id:
                raise NotFound(f"message {message_id} not found", code="message_not_found")
            active = list(await session.scalars(
                select(Run.id).where(Run.thread_id == thread_id, Run.status.in_(ACTIVE))))
            if active:
                raise Conflict("this thread has an active run; cancel it before rewinding",
                               code="run_active", details={"active_run_ids": active})
            later = and_(Message.thread_id == thread_id, or_(
                Message.created_at > message.created_at,
                and_(Message.created_at == message.created_at, Message.id >= message.id),
            ))
            gone = list(await session.scalars(select(Message.id).where(later)))
            runs = select(Run.id).where(Run.thread_id == thread_id,
                                        Run.user_message_id.in_(gone))
            await session.execute(delete(RunEvent).where(RunEvent.run_id.in_(runs)))
            await session.execute(delete(Run).where(Run.thread_id == thread_id,
                                                    Run.user_message_id.in_(gone)))
            await session.execute(delete(Message).where(Message.id.in_(gone)))
            return len(gone)

    async def delete_thread(self, thread_id: str, *, actor_id: str, title: str) -> None:
        async with self.db.session() as session:
            run_ids = select(Run.id).where(Run.thread_id == thread_id)
            await session.execute(delete(RunEvent).where(RunEvent.run_id.in_(run_ids)))
            await session.execute(delete(Run).where(Run.thread_id == thread_id))
            await session.execute(delete(Message).where(Message.thread_id == thread_id))
            await session.execute(delete(Thread).where(Thread.id == thread_id))
            await audit.record(session, actor_id, "thread.delete", target_id=thread_id,
                               target=title)


def cancelled_outcome(by_user: bool, **progress: Any) -> Outcome:
    if by_user:
        return Outcome(CANCELLED, **progress)
    return Outcome(FAILED, error=dict(INTERRUPTED), **progress)

