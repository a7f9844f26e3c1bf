"""`ragline keys create`: API keys for RAGLINE_AUTH=api_key."""

from __future__ import annotations

import asyncio
import secrets

import typer
from sqlalchemy import select

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
    from ragline.adapters.db.tables import ApiKey, User
    from ragline.web.deps import hash_key

    await asyncio.to_thread(upgrade, settings.resolved_database_url)
    db = Database(settings.resolved_database_url)
    key = "rl_" + secrets.token_urlsafe(32)
    try:
        async with db.session() as session:
            found = await session.scalar(select(User).where(User.name == user_name))
            if found is None:
                found = User(name=user_name, is_admin=admin)
                session.add(found)
                await session.flush()
            session.add(ApiKey(user_id=found.id, key_hash=hash_key(key), prefix=key[:8],
                               is_admin=admin))
    finally:
        await db.dispose()
    return key
