"""Shared fixtures: real databases (SQLite file, fresh PostgreSQL database) and live servers."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

PG_ADMIN_DSN = os.environ.get("RAGLINE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
BACKENDS = [b for b in os.environ.get("RAGLINE_TEST_BACKENDS", "sqlite,postgres").split(",") if b]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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


def create_pg_database() -> PgDatabase:
    name = f"ragline_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    return PgDatabase(name)


def drop_pg_database(db: PgDatabase) -> None:
    asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{db.name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def model_dir() -> Path:
    """Assembled local models are shared by every test (and by `make serve`)."""
    from ragline.config import Settings

    return Settings().model_dir


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


@dataclass
class LiveServer:
    """A real `ragline serve` process on a free port."""

    env: dict[str, str]
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> None:
        assert self.log_path is not None
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ragline", "serve", "--port", str(self.port)],
            env=self.env, stdout=log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server did not start: {self.log_path.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL: the process dies without any chance to clean up."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def server_env(tmp_path: Path, database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGLINE_")}
    env.update(
        RAGLINE_DATA_DIR=str(tmp_path / "data"),
        RAGLINE_DATABASE_URL=database_url,
        RAGLINE_DEFAULT_MODEL="scripted",
        RAGLINE_LOG_JSON="false",
        RAGLINE_LOG_LEVEL="WARNING",
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
    )
    env.update(extra)
    return env


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[object]:
    servers: list[LiveServer] = []

    def _make(database_url: str, **extra: str) -> LiveServer:
        server = LiveServer(server_env(tmp_path, database_url, **extra))
        server.log_path = tmp_path / f"server-{len(servers)}.log"
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
