"""`ragline keys create` and `ragline keys list`: API keys for RAGLINE_AUTH=api_key."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

import typer

from ragline.config import Settings

if TYPE_CHECKING:
    from ragline.services.identity import KeyScope

T = TypeVar("T")


def register(app: typer.Typer) -> None:
    keys = typer.Typer(help="API keys.", no_args_is_help=True)
    app.add_typer(keys, name="keys")

    @keys.command("create")
    def create(
        user: str = typer.Option(..., "--user", help="User name (created if missing)."),
        admin: bool = typer.Option(False, "--admin", help="Key may act on every user's data."),
        read_only: bool = typer.Option(False, "--read-only",
                                       help="Key may read, search and ask, not change data."),
        collection: list[str] = typer.Option(
            [], "--collection", help="Limit the key to this collection (repeatable)."),
        expires_in: float | None = typer.Option(None, "--expires-in",
                                                help="Days until the key expires."),
    ) -> None:
        """Create an API key and print it once."""
        from ragline.services.identity import KeyScope

        scope = KeyScope(read_only, tuple(collection) or None, expires_in)
        key = asyncio.run(_create(Settings(), user, admin, scope))
        typer.echo(key)

    @keys.command("list")
    def list_keys(user: str | None = typer.Option(None, "--user", help="Only this user's.")
                  ) -> None:
        """Each key's prefix, user, scope, expiry and last use (never the key)."""
        from ragline.services.identity import list_api_keys

        rows = asyncio.run(_with_db(Settings(), lambda db: list_api_keys(db, user)))
        typer.echo("prefix\tuser\tscope\texpires\tlast used")
        for k in rows:
            scope = ["admin"] if k.is_admin else []
            scope.append("read-only" if k.read_only else "read-write")
            scope.append("collections: " + ", ".join(k.collections) if k.collections
                         else "all collections")
            typer.echo("\t".join([k.prefix, k.user, "; ".join(scope),
                                  k.expires_at.isoformat() if k.expires_at else "never",
                                  k.last_used_at.isoformat() if k.last_used_at else "never"]))


async def _with_db(settings: Settings, use: Callable[..., Awaitable[T]]) -> T:
    from ragline.adapters.db.database import Database
    from ragline.adapters.db.migrate import upgrade

    await asyncio.to_thread(upgrade, settings.resolved_database_url)
    db = Database(settings.resolved_database_url)
    try:
        return await use(db)
    finally:
        await db.dispose()


async def _create(settings: Settings, user_name: str, admin: bool,
                  scope: KeyScope | None = None) -> str:
    from ragline.services.identity import create_api_key

    return await _with_db(settings, lambda db: create_api_key(db, user_name, admin=admin,
                                                              scope=scope))
