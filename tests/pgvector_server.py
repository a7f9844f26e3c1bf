"""A throwaway PostgreSQL 16 with pgvector, from the `pgserver` wheel (the system server has none).

Used by the pgvector tests and by bench/bench_index.py. It listens on a Unix socket inside its
data directory only, so it never clashes with the PostgreSQL on port 5432.
"""

from __future__ import annotations

import asyncio
import uuid
import warnings
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def _run(coro: Coroutine[Any, Any, None]) -> None:
    """asyncio.run on a thread of its own, so callers may already be inside an event loop."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, coro).result()


class Unavailable(RuntimeError):
    """pgserver is not installed or its server would not start here."""


@dataclass
class PgVectorServer:
    handle: Any
    socket_dir: str

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://postgres@/{database}?host={self.socket_dir}"

    async def _admin(self, sql: str) -> None:
        import asyncpg

        conn = await asyncpg.connect(host=self.socket_dir, user="postgres", database="postgres")
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    def create_database(self) -> str:
        """A fresh database with the extension available (migrations create it); its URL."""
        name = f"ragline_{uuid.uuid4().hex[:12]}"
        _run(self._admin(f'CREATE DATABASE "{name}"'))
        return self.url(name)


@contextmanager
def pgvector_server(root: Path) -> Iterator[PgVectorServer]:
    try:
        with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
            warnings.simplefilter("ignore")
            import pgserver
    except ImportError as exc:
        raise Unavailable(f"the pgserver package is not installed ({exc})") from exc
    root.mkdir(parents=True, exist_ok=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            handle = pgserver.get_server(root / "pgdata", cleanup_mode="delete")
        info = handle.get_postmaster_info()
    except Exception as exc:
        raise Unavailable(f"pgserver could not start PostgreSQL: {exc!r}") from exc
    if info.socket_dir is None:
        handle.cleanup()
        raise Unavailable("pgserver started PostgreSQL without a Unix socket")
    try:
        server = PgVectorServer(handle, str(info.socket_dir))
        _run(server._admin("CREATE EXTENSION IF NOT EXISTS vector"))
        yield server
    finally:
        handle.cleanup()
