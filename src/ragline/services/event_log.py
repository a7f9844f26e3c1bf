"""The run-event log: group-committed appends and gap-free replay-then-follow reads."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ragline.adapters.db.database import Database
from ragline.adapters.db.tables import Run, RunEvent
from ragline.adapters.events.bus import LocalBus
from ragline.domain.jsonenc import dumps
from ragline.domain.runs import TERMINAL, RunEventRecord

log = logging.getLogger(__name__)
INSERT_SQL = (
    "INSERT INTO run_events (run_id, seq, type, data, created_at) VALUES ({}, {}, {}, {}, {})"
)


class Notifier(Protocol):
    """Tells other processes about committed events: inside the transaction, or after it."""

    async def notify(self, session: AsyncSession, run_ids: set[str]) -> None: ...

    async def published(self, run_ids: set[str]) -> None: ...


class EventWriter:
    """Appends events for runs owned by this process.

    `append` assigns the next `seq` and queues the event; one background task commits
    whatever has queued up in a single transaction (group commit) and only then delivers
    it to live subscribers, so nothing is ever seen that is not durable.
    """

    def __init__(
        self, db: Database, bus: LocalBus, notifier: Notifier | None = None, max_batch: int = 2000
    ) -> None:
        self._db = db
        self._bus = bus
        self._notifier = notifier
        self._max_batch = max_batch
        self._seq: dict[str, int] = {}
        self._pending: list[RunEventRecord] = []
        self._work = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self.batches = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._flusher(), name="event-writer")

    async def stop(self) -> None:
        await self.flush()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def open_run(self, run_id: str, last_seq: int) -> None:
        self._seq[run_id] = last_seq

    def close_run(self, run_id: str) -> None:
        self._seq.pop(run_id, None)

    def stage(self, run_id: str, type_: str, data: dict[str, Any]) -> RunEventRecord:
        """Number an event without queueing it (for `commit_with`)."""
        seq = self._seq[run_id] + 1
        self._seq[run_id] = seq
        return RunEventRecord(run_id, seq, type_, data, dumps(data))

    def append(self, run_id: str, type_: str, data: dict[str, Any]) -> RunEventRecord:
        record = self.stage(run_id, type_, data)
        self._pending.append(record)
        self._idle.clear()
        self._work.set()
        return record

    async def flush(self) -> None:
        """Wait until everything appended so far is committed and delivered."""
        await self._idle.wait()

    async def commit_with(
        self,
        records: Sequence[RunEventRecord],
        work: Callable[[AsyncSession], Awaitable[None]] | None = None,
    ) -> None:
        """Commit staged events together with other writes in one transaction, then deliver."""
        await self.flush()
        async with self._lock, self._db.session() as session:
            if work is not None:
                await work(session)
            await self.insert(session, records)
        await self.deliver(records)

    @property
    def lock(self) -> asyncio.Lock:
        """Held while this process commits events, so its transactions never interleave."""
        return self._lock

    def seq_of(self, run_id: str) -> int | None:
        return self._seq.get(run_id)

    async def deliver(self, records: Sequence[RunEventRecord]) -> None:
        """Wake subscribers here and in other processes; call only after the commit."""
        self._bus.publish(records)
        if self._notifier is not None and records:
            await self._notifier.published({r.run_id for r in records})

    async def insert(self, session: AsyncSession, records: Sequence[RunEventRecord]) -> None:
        """One driver-level executemany: the per-token hot path skips ORM bookkeeping."""
        if not records:
            return
        now = datetime.now(UTC)
        conn = await session.connection()
        if self._db.is_sqlite:
            stamp: Any = now.replace(tzinfo=None).isoformat(sep=" ")
            sql = INSERT_SQL.format("?", "?", "?", "?", "?")
        else:
            stamp = now
            sql = INSERT_SQL.format("$1", "$2", "$3", "$4", "$5")
        await conn.exec_driver_sql(
            sql, [(r.run_id, r.seq, r.type, r.encoded(), stamp) for r in records]
        )
        if self._notifier is not None:
            await self._notifier.notify(session, {r.run_id for r in records})

    async def _flusher(self) -> None:
        while True:
            await self._work.wait()
            self._work.clear()
            while self._pending:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                try:
                    async with self._lock, self._db.session() as session:
                        await self.insert(session, batch)
                except IntegrityError:
                    # Another process already wrote these seqs (it declared the run dead):
                    # retrying can never succeed, and its log is the one that stands.
                    log.error("dropping %d run events: their seqs are already taken", len(batch))
                    continue
                except Exception:
                    log.exception("committing %d run events failed; retrying", len(batch))
                    self._pending[:0] = batch
                    await asyncio.sleep(0.5)
                    continue
                self.batches += 1
                await self.deliver(batch)
            if not self._pending:
                self._idle.set()


async def read_events(
    session: AsyncSession, run_id: str, after: int = 0, limit: int | None = None
) -> list[RunEventRecord]:
    query = (
        select(RunEvent.run_id, RunEvent.seq, RunEvent.type, RunEvent.data)
        # seq is an INTEGER column: nothing lies past 2^31-1, and PostgreSQL can't bind more
        .where(RunEvent.run_id == run_id, RunEvent.seq > min(after, 2**31 - 1))
        .order_by(RunEvent.seq)
    )
    if limit is not None:
        query = query.limit(limit)
    rows = (await session.execute(query)).all()
    return [RunEventRecord(r.run_id, r.seq, r.type, r.data) for r in rows]


async def run_is_over(session: AsyncSession, run_id: str) -> bool:
    """The run has finished (its `done` is committed) or no longer exists."""
    status = await session.scalar(select(Run.status).where(Run.id == run_id))
    return status is None or status in TERMINAL


async def follow(
    db: Database, bus: LocalBus, run_id: str, after: int = 0
) -> AsyncIterator[list[RunEventRecord]]:
    """Replay events after `after` from the database, then follow live; batches in seq order.

    The subscription is taken before the replay query, so an event committed in between is
    seen at least once; duplicates at the seam are dropped by seq. Ends after `done`, and at
    once when `after` is at or past `done`.
    """
    sub = bus.subscribe(run_id)
    cursor = after
    try:
        need_read = True
        while True:
            if need_read:
                async with db.session() as session:
                    batch = await read_events(session, run_id, cursor)
                    # Nothing new: if the run is over, `done` is at or before the cursor (read
                    # again, as it may have been committed between the two queries).
                    if not batch and await run_is_over(session, run_id):
                        batch = await read_events(session, run_id, cursor)
                        if not batch:
                            return
                need_read = False
            else:
                live, stale = await sub.wait()
                batch = [e for e in live if e.seq > cursor]
                if not batch and any(e.is_last for e in live):
                    return  # `done` is at or before the cursor
                if stale or (batch and batch[0].seq != cursor + 1):
                    need_read = True  # another process wrote, or we missed something
                    continue
            if batch:
                cursor = batch[-1].seq
                yield batch
                if batch[-1].is_last:
                    return
    finally:
        bus.unsubscribe(sub)
