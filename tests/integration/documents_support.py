"""Helpers for the document-service integration tests: a started service on a fresh database."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

from ragline.adapters.db.database import Database
from ragline.adapters.db.migrate import upgrade
from ragline.adapters.db.tables import User
from ragline.config import Settings
from ragline.services.documents import DocumentService, build_documents

TERMINAL = ("ready", "failed")


def settings_for(database_url: str, data_dir: Path, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": data_dir, "database_url": database_url, "redis_url": None,
        "embedder_warmup": False, "log_json": False,
    }
    values.update(extra)
    return Settings(**values)


async def add_user(db: Database, name: str = "alice") -> str:
    async with db.session() as session:
        user = User(name=name)
        session.add(user)
        await session.flush()
        return user.id


@asynccontextmanager
async def running_service(settings: Settings) -> AsyncIterator[DocumentService]:
    await asyncio.to_thread(upgrade, settings.resolved_database_url)
    db = Database(settings.resolved_database_url)
    service = build_documents(settings, db)
    await service.start()
    try:
        yield service
    finally:
        await service.stop()
        await db.dispose()


async def wait_for_job(service: DocumentService, owner: str, job_id: str,
                       within: float = 90.0) -> Any:
    deadline = time.monotonic() + within
    while True:
        job = await service.get_job(owner, job_id)
        if job.status in TERMINAL:
            return job
        if time.monotonic() > deadline:
            raise TimeoutError(f"job {job_id} still {job.status} after {within}s")
        await asyncio.sleep(0.1)


@contextmanager
def keyed_app(backend: str, data: Path) -> Iterator[tuple[Any, Settings]]:
    """The real app (API keys on, scripted model) on a fresh SQLite file or PostgreSQL
    database, in a TestClient, with its settings (for `ragline keys create` and the CLI)."""
    from fastapi.testclient import TestClient

    from ragline.web.app import create_app
    from tests.conftest import create_pg_database, drop_pg_database

    pg = create_pg_database() if backend == "postgres" else None
    url = pg.url if pg else f"sqlite+aiosqlite:///{data / 'ragline.db'}"
    settings = settings_for(url, data, auth="api_key", default_model="scripted")
    try:
        with TestClient(create_app(settings)) as client:
            yield client, settings
    finally:
        if pg is not None:
            drop_pg_database(pg)


def wait_run(client: Any, headers: dict[str, str], run_id: str, within: float = 120.0) -> None:
    """Poll `GET /api/runs/{run_id}` until the run has ended (done, failed or cancelled)."""
    from ragline.domain.runs import TERMINAL

    deadline = time.monotonic() + within
    while client.get(f"/api/runs/{run_id}", headers=headers).json()["status"] not in TERMINAL:
        assert time.monotonic() < deadline
        time.sleep(0.1)
