"""`ragline groups create|add|remove`: groups of users that collections are shared with."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import typer

from ragline.config import Settings


def register(app: typer.Typer) -> None:
    groups = typer.Typer(help="Groups of users (collections can be shared with a group).",
                         no_args_is_help=True)
    app.add_typer(groups, name="groups")

    @groups.command("create")
    def create(name: str) -> None:
        """Create a group."""
        from ragline.services.sharing import create_group
        _run(lambda s: create_group(s, name))
        typer.echo(f"group {name} created")

    @groups.command("add")
    def add(group: str, user: str) -> None:
        """Add a user (by name) to a group."""
        from ragline.services.sharing import add_member
        _run(lambda s: add_member(s, group, user))
        typer.echo(f"{user} added to {group}")

    @groups.command("remove")
    def remove(group: str, user: str) -> None:
        """Remove a user from a group: their access through it ends on their next request."""
        from ragline.services.sharing import remove_member
        _run(lambda s: remove_member(s, group, user))
        typer.echo(f"{user} removed from {group}")


def _run(action: Callable[[Any], Awaitable[Any]]) -> None:
    from ragline.domain.errors import RaglineError

    try:
        asyncio.run(_in_session(Settings(), action))
    except RaglineError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from exc


async def _in_session(settings: Settings, action: Callable[[Any], Awaitable[Any]]) -> None:
    from ragline.adapters.db.database import Database
    from ragline.adapters.db.migrate import upgrade

    await asyncio.to_thread(upgrade, settings.resolved_database_url)
    db = Database(settings.resolved_database_url)
    try:
        async with db.session() as session:
            await action(session)
    finally:
        await db.dispose()
