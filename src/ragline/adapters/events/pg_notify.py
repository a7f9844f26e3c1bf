"""PostgreSQL LISTEN/NOTIFY: wakes subscribers in other processes sharing the database."""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from ragline.adapters.events.bus import LocalBus

CHANNEL = "ragline_events"
log = logging.getLogger(__name__)


class PgNotifier:
    """Sends a NOTIFY per committed batch and turns others' NOTIFYs into bus pokes."""

    def __init__(self, database_url: str, bus: LocalBus) -> None:
        self._dsn = database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
        self._bus = bus
        self.origin = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._conn: Any = None

    async def start(self) -> None:
        self._conn = await asyncpg.connect(self._dsn)
        await self._conn.add_listener(CHANNEL, self._on_notify)

    async def stop(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            try:
                await asyncio.wait_for(conn.close(), timeout=5)
            except (TimeoutError, OSError, asyncpg.PostgresError):
                conn.terminate()

    async def notify(self, session: AsyncSession, run_ids: set[str]) -> None:
        """Queue NOTIFYs in the caller's transaction: delivered exactly when it commits."""
        for run_id in run_ids:
            await session.execute(
                text("SELECT pg_notify(:channel, :payload)"),
                {"channel": CHANNEL, "payload": f"{self.origin}|{run_id}"},
            )

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        origin, _, run_id = payload.partition("|")
        if origin != self.origin:
            self._bus.poke(run_id)
