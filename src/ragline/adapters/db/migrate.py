"""Run Alembic migrations programmatically (`ragline serve`, `ragline worker`, `ragline db
upgrade`).

A database already at head is recognised with one query on `alembic_version`, without
importing Alembic (which takes a while), so a restart on a migrated database starts sooner.
Processes that start together on a fresh database migrate one at a time: PostgreSQL under an
advisory lock (migrations/env.py), a SQLite file under a lock on a file beside it; the ones that
waited find the database at head and change nothing.
"""

from __future__ import annotations

import asyncio
import fcntl
import re
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.engine.url import URL, make_url

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
_REVISION = re.compile(r"^(down_revision|revision)\b[^=]*=(.*)$", re.MULTILINE)
_ID = re.compile(r"""["']([^"']+)["']""")


def alembic_config(database_url: str) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return cfg


def upgrade(database_url: str, revision: str = "head") -> None:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    if revision == "head" and current_revisions(url) == head_revisions():
        return
    from alembic import command

    with _file_lock(url):
        command.upgrade(alembic_config(database_url), revision)


@contextmanager
def _file_lock(url: URL) -> Iterator[None]:
    """For a SQLite file: an exclusive lock on `FILE.migrate-lock` (released if we die)."""
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        yield
        return
    with open(f"{url.database}.migrate-lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def head_revisions() -> set[str]:
    """The revisions in migrations/versions that no other revision follows."""
    revisions: set[str] = set()
    followed: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        for name, value in _REVISION.findall(path.read_text(encoding="utf-8")):
            ids = set(_ID.findall(value))
            (revisions if name == "revision" else followed).update(ids)
    return revisions - followed


def current_revisions(url: URL) -> set[str] | None:
    """The database's `alembic_version` rows; None when unknown (Alembic then decides)."""
    try:
        if url.get_backend_name() == "sqlite":
            if not url.database or url.database == ":memory:" or not Path(url.database).exists():
                return None
            with closing(sqlite3.connect(f"file:{url.database}?mode=ro", uri=True)) as conn:
                return {row[0] for row in conn.execute("SELECT version_num FROM alembic_version")}
        if url.get_backend_name() == "postgresql" and not _in_event_loop():
            return asyncio.run(_pg_revisions(url))
    except Exception:  # no table yet, an unusual URL: let Alembic look
        return None
    return None


def _in_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


async def _pg_revisions(url: URL) -> set[str]:
    import asyncpg

    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        return {row[0] for row in await conn.fetch("SELECT version_num FROM alembic_version")}
    finally:
        await conn.close()
