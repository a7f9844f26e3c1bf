"""PostgreSQL LISTEN/NOTIFY: wakes subscribers in other processes sharing the database."""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from ragline.adapters.events.bus import LocalBus
from ragline.adapters.events.pokes import decode_pokes, encode_pokes

CHANNEL = "ragline_events"
CONTROL = "ragline_control"
log = logging.getLogger(__name__)


class PgNotifier:
    """One NOTIFY per committed batch, naming all its runs (inside the transaction, so it fires
    exactly on commit);
    others' NOTIFYs become bus pokes; cancel requests reach the process running the run."""

    def __init__(self, database_url: str, bus: LocalBus) -> None:
        self._dsn = database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
        self._bus = bus
        self.origin = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.on_cancel: Callable[[str], Coroutine[Any, Any, Any]] | None = None
        self._conn: Any = None
        self._tasks: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        import asyncpg  # only for PostgreSQL

        self._conn = await asyncpg.connect(self._dsn)
        await self._conn.add_listener(CHANNEL, self._on_event)
        await self._conn.add_listener(CONTROL, self._on_control)

    async def stop(self) -> None:
        if self._conn is not None:
            import asyncpg

            conn, self._conn = self._conn, None
            try:
                await asyncio.wait_for(conn.close(), timeout=5)
            except (TimeoutError, OSError, asyncpg.PostgresError):
                conn.terminate()

    async def notify(self, session: AsyncSession, run_ids: set[str]) -> None:
        for payload in encode_pokes(self.origin, run_ids):
            await session.execute(
                text("SELECT pg_notify(:channel, :payload)"),
                {"channel": CHANNEL, "payload": payload},
            )

    async def published(self, run_ids: set[str]) -> None:
        return None

    async def request_cancel(self, run_id: str) -> None:
        if self._conn is not None:
            await self._conn.execute("SELECT pg_notify($1, $2)", CONTROL, f"cancel|{run_id}")

    def _on_event(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        origin, run_ids = decode_pokes(payload)
        if origin != self.origin:
            for run_id in run_ids:
                self._bus.poke(run_id)

    def _on_control(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        command, _, run_id = payload.partition("|")
        if command == "cancel" and self.on_cancel is not None:
            task: asyncio.Task[Any] = asyncio.get_running_loop().create_task(self.on_cancel(run_id))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
