"""The run store on real databases: admission decided by the database, one finish path."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from ragline.adapters.db.database import Database
from ragline.adapters.db.migrate import upgrade
from ragline.adapters.events.bus import LocalBus
from ragline.domain.errors import Conflict
from ragline.domain.runs import RunEventRecord
from ragline.services.event_log import EventWriter, follow
from ragline.services.run_store import Outcome, RunStore
from ragline.services.threads import create_thread, create_user


class Process:
    """What one server process holds: its own engine, bus, writer and store."""

    def __init__(self, url: str) -> None:
        self.db = Database(url)
        self.bus = LocalBus()
        self.writer = EventWriter(self.db, self.bus)
        self.store = RunStore(self.db, self.writer, self.bus)
        self.writer.start()

    async def close(self) -> None:
        await self.writer.stop()
        await self.db.dispose()


@pytest.fixture
async def processes(database_url: str) -> AsyncIterator[list[Process]]:
    await asyncio.to_thread(upgrade, database_url)
    procs = [Process(database_url), Process(database_url)]
    yield procs
    for proc in procs:
        await proc.close()


async def _thread(db: Database) -> tuple[str, str]:
    async with db.session() as session:
        user = await create_user(session, "u")
        thread = await create_thread(session, user.id)
        return user.id, thread.id


async def _admit(store: RunStore, owner: str, thread: str, **options: object) -> str:
    defaults: dict[str, object] = dict(
        owner_id=owner, thread_id=thread, content="q", model="scripted", collection=None,
        response_format=None, idempotency_key=None, on_active="reject", executor="p",
    )
    defaults.update(options)
    admitted = await store.admit(**defaults)  # type: ignore[arg-type]
    return admitted.posted.run_id


async def test_simultaneous_admissions_from_two_processes_admit_exactly_one(
    processes: list[Process],
) -> None:
    a, b = processes
    owner, _ = await _thread(a.db)
    for _ in range(8):
        async with a.db.session() as session:
            thread = (await create_thread(session, owner)).id
        results = await asyncio.gather(
            _admit(a.store, owner, thread), _admit(b.store, owner, thread),
            return_exceptions=True,
        )
        assert sorted(type(r).__name__ for r in results) == ["Conflict", "str"], results
        assert all(isinstance(r, (str, Conflict)) for r in results)


async def test_recovered_run_events_are_published(processes: list[Process]) -> None:
    """A run whose executor died is failed by another process: its subscribers there get
    `error` and `done` at once (recovery used to write them without publishing)."""
    dead, alive = processes
    owner, thread = await _thread(dead.db)
    run_id = await _admit(dead.store, owner, thread, executor="dead-process")
    await dead.store.open(run_id)
    dead.store.append(run_id, "token", {"delta": "partial"})
    await dead.writer.flush()

    async def watch() -> list[RunEventRecord]:
        seen: list[RunEventRecord] = []
        async for batch in follow(alive.db, alive.bus, run_id, 0):
            seen.extend(batch)
        return seen

    watcher = asyncio.create_task(watch())
    await asyncio.sleep(0.2)
    assert not watcher.done()
    assert await alive.store.fail_interrupted(datetime.now(UTC) + timedelta(seconds=1)) == 1
    seen = await asyncio.wait_for(watcher, 5)  # woken by the publish, not by a poll
    assert [e.type for e in seen] == ["status", "token", "error", "done"]
    assert [e.seq for e in seen] == [1, 2, 3, 4]
    assert seen[2].data["code"] == "interrupted" and seen[3].data == {"status": "failed"}
    assert not await alive.store.finish(run_id, Outcome("cancelled")), "a run ends once"


async def test_reconnect_at_done_closes_at_once(processes: list[Process]) -> None:
    a, _ = processes
    owner, thread = await _thread(a.db)
    run_id = await _admit(a.store, owner, thread)
    await a.store.finish(run_id, Outcome("done", text="hi"))

    async def events_after(cursor: int) -> list[int]:
        return [e.seq async for batch in follow(a.db, a.bus, run_id, cursor) for e in batch]

    assert await asyncio.wait_for(events_after(0), 5) == [1, 2, 3]
    assert await asyncio.wait_for(events_after(3), 5) == []
    assert await asyncio.wait_for(events_after(99), 5) == []


async def test_a_run_whose_executor_died_keeps_the_tokens_it_streamed(
    processes: list[Process],
) -> None:
    """Issue 16: a SIGKILLed run reported usage 0/0; its committed token events count."""
    from ragline.adapters.db.tables import Run

    dead, alive = processes
    owner, thread = await _thread(dead.db)
    run_id = await _admit(dead.store, owner, thread, executor="dead-process")
    await dead.store.open(run_id)
    for piece in ("one", " two", " three"):
        dead.store.append(run_id, "token", {"delta": piece})
    await dead.writer.flush()
    assert await alive.store.fail_interrupted(datetime.now(UTC) + timedelta(seconds=1)) == 1
    async with alive.db.session() as session:
        run = await session.get(Run, run_id)
        assert run is not None and run.status == "failed"
        assert run.completion_tokens == 3
