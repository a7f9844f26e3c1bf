"""The run-event log on real databases: group commit, replay-then-follow, no gaps or dupes."""

from __future__ import annotations

import asyncio

from ragline.adapters.db.database import Database
from ragline.adapters.db.migrate import upgrade
from ragline.adapters.db.tables import Message, Run, Thread, User
from ragline.adapters.events.bus import LocalBus
from ragline.services.event_log import EventWriter, follow


async def _setup_run(db: Database) -> str:
    async with db.session() as session:
        user = User(name="u")
        session.add(user)
        await session.flush()
        thread = Thread(owner_id=user.id)
        session.add(thread)
        await session.flush()
        message = Message(thread_id=thread.id, role="user", content="q")
        session.add(message)
        await session.flush()
        run = Run(thread_id=thread.id, owner_id=user.id, model="scripted",
                  user_message_id=message.id)
        session.add(run)
        await session.flush()
        return run.id


async def test_follow_joins_mid_stream_without_gap_or_duplicate(database_url: str) -> None:
    await asyncio.to_thread(upgrade, database_url)
    db = Database(database_url)
    bus = LocalBus()
    writer = EventWriter(db, bus)
    writer.start()
    try:
        run_id = await _setup_run(db)
        writer.open_run(run_id, 0)
        for i in range(300):
            writer.append(run_id, "token", {"delta": str(i)})
        await writer.flush()

        async def reader(after: int) -> list[int]:
            seen: list[int] = []
            async for batch in follow(db, bus, run_id, after):
                seen.extend(e.seq for e in batch)
            return seen

        late = asyncio.create_task(reader(0))
        resumed = asyncio.create_task(reader(250))
        for i in range(300, 2000):
            writer.append(run_id, "token", {"delta": str(i)})
            if i % 100 == 0:
                await asyncio.sleep(0)
        done = writer.stage(run_id, "done", {"status": "done"})
        await writer.commit_with([done])
        assert await late == list(range(1, 2002))
        assert await resumed == list(range(251, 2002))
        assert writer.batches < 2000, "tokens are committed in groups, not one by one"
    finally:
        await writer.stop()
        await db.dispose()
