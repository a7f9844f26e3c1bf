"""Shared fixtures: real databases (SQLite file, fresh PostgreSQL database) and live servers."""

from __future__ import annotations

import asyncio
import os
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from _pytest.assertion import rewrite as _assertion_rewrite

from tests.support.isolation import REDIS_URL
from tests.support.processes import ServerProcess as LiveServer
from tests.support.processes import free_port, server_env

__all__ = ["REDIS_URL", "LiveServer", "free_port", "server_env"]

PG_ADMIN_DSN = os.environ.get("RAGLINE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def _serialize_assertion_rewrite() -> None:
    """Rewrite one module at a time.

    pytest rewrites the asserts of every pytest-plugin package (faker, anyio, hypothesis, ...)
    with `ast.parse` when a module is first imported. On CPython 3.11.7, two threads parsing at
    once can fail with "SystemError: AST constructor recursion depth mismatch" (CPython issue
    gh-106905, fixed in 3.11.8). Our servers import lazily from worker threads (Faker's locale
    providers, say), so in CI a sample-CV request once failed with a 500 that way.
    """
    original = _assertion_rewrite._rewrite_test
    lock = threading.Lock()

    def rewrite_one_at_a_time(fn: Path, config: pytest.Config) -> Any:
        with lock:
            return original(fn, config)

    _assertion_rewrite._rewrite_test = rewrite_one_at_a_time  # type: ignore[assignment]


_serialize_assertion_rewrite()

BACKENDS = [b for b in os.environ.get("RAGLINE_TEST_BACKENDS", "sqlite,postgres").split(",") if b]


async def _pg_admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@dataclass
class PgDatabase:
    name: str

    @property
    def url(self) -> str:
        base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
        return f"{base}/{self.name}"


def _run_sync(coro: Any) -> None:
    """asyncio.run in a thread of its own: a sync test (Playwright) may hold this thread's loop."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, coro).result()


def create_pg_database() -> PgDatabase:
    name = f"ragline_test_{uuid.uuid4().hex[:12]}"
    _run_sync(_pg_admin(f'CREATE DATABASE "{name}"'))
    return PgDatabase(name)


def drop_pg_database(db: PgDatabase) -> None:
    _run_sync(_pg_admin(f'DROP DATABASE IF EXISTS "{db.name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def model_dir() -> Path:
    """Assembled local models are shared by every test (and by `make serve`)."""
    from ragline.config import Settings

    return Settings().model_dir


@pytest.fixture(scope="session")
def redis_url() -> str:
    """This test process's own Redis database (one per xdist worker): see support/isolation.py."""
    return REDIS_URL


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database on each backend: a SQLite file or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'ragline.db'}"
        return
    db = create_pg_database()
    try:
        yield db.url
    finally:
        drop_pg_database(db)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database, for behaviour that only PostgreSQL has."""
    db = create_pg_database()
    try:
        yield db.url
    finally:
        drop_pg_database(db)


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[object]:
    servers: list[LiveServer] = []

    def _make(database_url: str, **extra: str) -> LiveServer:
        n = len(servers)
        env = server_env(tmp_path / f"data{n}", database_url, **extra)
        server = LiveServer(env, log_path=tmp_path / f"server-{n}.log")
        servers.append(server)
        server.start()
        return server

    yield _make
    for server in servers:
        server.stop()


@pytest.fixture
def live_server(make_server, database_url: str) -> LiveServer:  # type: ignore[no-untyped-def]
    """A real server with the scripted model as default, on each database backend."""
    return make_server(database_url)  # type: ignore[no-any-return]


# In-process app (tests/support/inprocess.py): the real app and its lifespan, no subprocess.


@pytest.fixture
async def make_app(database_url: str, tmp_path: Path) -> Any:
    """Start the app in this process on the test's database; `extra` are Settings fields."""
    import contextlib

    from tests.support.inprocess import InProcessApp, app_settings, running_app

    async with contextlib.AsyncExitStack() as stack:
        count = 0

        async def _make(**extra: Any) -> InProcessApp:
            nonlocal count
            count += 1
            settings = app_settings(database_url, tmp_path / f"app{count}", **extra)
            return await stack.enter_async_context(running_app(settings))

        yield _make


@pytest.fixture
async def inproc(make_app: Any) -> Any:
    """The app in this process with the scripted model as default, on each database backend."""
    return await make_app()


@pytest.fixture
def app_client(inproc: Any) -> Any:
    """An `httpx.AsyncClient` on the in-process app (streaming ASGI transport)."""
    return inproc.client


@pytest.fixture
def make_sync_app(database_url: str, tmp_path: Path) -> Iterator[Any]:
    """The app on starlette's TestClient (for WebSockets), on the test's database."""
    import contextlib

    from tests.support.inprocess import app_settings, sync_app

    with contextlib.ExitStack() as stack:
        count = 0

        def _make(**extra: Any) -> Any:
            nonlocal count
            count += 1
            settings = app_settings(database_url, tmp_path / f"sync{count}", **extra)
            return stack.enter_context(sync_app(settings))

        yield _make
