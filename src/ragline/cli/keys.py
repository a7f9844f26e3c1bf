"""`ragline keys create`: API keys for RAGLINE_AUTH=api_key."""

from __future__ import annotations

import asyncio

import typer

from ragline.config import Settings


def register(app: typer.Typer) -> None:
    keys = typer.Typer(help="API keys.", no_args_is_help=True)
    app.add_typer(keys, name="keys")

    @keys.command("create")
    def create(
        user: str = typer.Option(..., "--user", help="User name (created if missing)."),
        admin: bool = typer.Option(False, "--admin", help="Key may act on every user's data."),
    ) -> None:
        """Create an API key and print it once."""
        key = asyncio.run(_create(Settings(), user, admin))
        typer.echo(key)


async def _create(settings: Settings, user_name: str, admin: bool) -> str:
    from ragline.adapters.db.database import Database
    from ragline.adapters.db.migrate import upgrade
    from ragline.services.identity import create_api_key

    await asyncio.to_thread(upgrade, settings.resolved_database_url)
    db = Database(settings.resolved_database_url)
    try:
        return await create_api_key(db, user_name, admin=admin)
    finally:
        await db.dispose()
