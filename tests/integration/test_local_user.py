"""With auth off, every process sharing a database acts as the same local user."""

from __future__ import annotations

import asyncio

from ragline.adapters.db.database import Database
from ragline.adapters.db.migrate import upgrade
from ragline.bootstrap import ensure_local_user


async def test_replicas_starting_together_share_one_local_user(database_url: str) -> None:
    """Regression: two replicas started at once on a fresh database each created a `local`
    user, so a thread created through one was `thread_not_found` through the other."""
    await asyncio.to_thread(upgrade, database_url)
    replicas = [Database(database_url) for _ in range(4)]
    try:
        ids = await asyncio.gather(*(ensure_local_user(db) for db in replicas))
        assert len(set(ids)) == 1
        assert await ensure_local_user(replicas[0]) == ids[0]
    finally:
        for db in replicas:
            await db.dispose()
