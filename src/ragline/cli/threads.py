"""`ragline threads export|import`: a conversation as a file (JSON, lossless; or Markdown), the
same documents as `GET /api/threads/{id}/export` and `POST /api/threads/import`."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import typer

from ragline.config import Settings

if TYPE_CHECKING:
    from ragline.adapters.db.database import Database

T = TypeVar("T")

USER_HELP = "The thread's owner, by name (default: the local user of RAGLINE_AUTH=none)."


def register(app: typer.Typer) -> None:
    threads = typer.Typer(help="Conversations as files: export and import.", no_args_is_help=True)
    app.add_typer(threads, name="threads")

    @threads.command("export")
    def export(
        thread_id: str,
        format: str = typer.Option("json", "--format", help="json (importable) or markdown."),
        out: Path | None = typer.Option(None, "--out", help="File to write (default: stdout)."),
        user: str | None = typer.Option(None, "--user", help=USER_HELP),
    ) -> None:
        """Write a thread: its messages with their sources and claims."""
        if format not in ("json", "markdown"):
            typer.echo("error: --format must be json or markdown", err=True)
            raise typer.Exit(2)
        text = _run(_export(Settings(), user, thread_id, format))  # type: ignore[arg-type]  # checked above
        if out is None:
            sys.stdout.write(text + ("" if text.endswith("\n") else "\n"))
        else:
            out.write_text(text, encoding="utf-8")
            typer.echo(f"thread {thread_id} written to {out}", err=True)

    @threads.command("import")
    def import_(
        file: Path = typer.Argument(..., exists=True, dir_okay=False, help="A JSON export."),
        user: str | None = typer.Option(None, "--user", help=USER_HELP),
    ) -> None:
        """Create a new thread from a JSON export; prints its id."""
        typer.echo(_run(_import(Settings(), user, file.read_text(encoding="utf-8"))))


def _run(work: Coroutine[Any, Any, T]) -> T:
    from pydantic import ValidationError

    from ragline.domain.errors import RaglineError

    try:
        return asyncio.run(work)
    except RaglineError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from exc
    except ValidationError as exc:
        typer.echo(f"error: not a ragline thread export: {exc.errors()[0]['msg']}", err=True)
        raise typer.Exit(1) from exc


async def _owner(db: Database, user: str | None) -> str:
    from sqlalchemy import select

    from ragline.adapters.db.tables import User
    from ragline.domain.errors import NotFound
    from ragline.services.identity import ensure_local_user

    if user is None:
        return await ensure_local_user(db)
    async with db.session() as session:
        found = await session.scalar(select(User.id).where(User.name == user).limit(1))
    if found is None:
        raise NotFound(f"no user named {user!r}")
    return str(found)


async def _export(settings: Settings, user: str | None, thread_id: str,
                  format: Literal["json", "markdown"]) -> str:
    from ragline.adapters.db.database import Database
    from ragline.adapters.db.migrate import upgrade
    from ragline.services.thread_export import export_thread, to_markdown

    await asyncio.to_thread(upgrade, settings.resolved_database_url)
    db = Database(settings.resolved_database_url)
    try:
        exported = await export_thread(db, await _owner(db, user), thread_id, format=format)
    finally:
        await db.dispose()
    return to_markdown(exported) if format == "markdown" else exported.model_dump_json(indent=2)


async def _import(settings: Settings, user: str | None, text: str) -> str:
    from ragline.adapters.db.database import Database
    from ragline.adapters.db.migrate import upgrade
    from ragline.services.thread_export import ThreadExport, import_thread

    exported = ThreadExport.model_validate_json(text)
    await asyncio.to_thread(upgrade, settings.resolved_database_url)
    db = Database(settings.resolved_database_url)
    try:
        thread = await import_thread(db, await _owner(db, user), exported)
    finally:
        await db.dispose()
    return thread.id
