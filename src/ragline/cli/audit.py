"""`ragline audit`: the audit log, newest first (who shared, revoked, deleted, exported what)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import typer

from ragline.config import Settings


def register(app: typer.Typer) -> None:
    @app.command("audit")
    def audit_log(
        actor: str | None = typer.Option(None, "--actor", help="Only this user's actions."),
        action: str | None = typer.Option(None, "--action",
                                          help="Only this action, e.g. collection.share."),
        limit: int = typer.Option(100, "--limit", help="At most this many entries."),
        as_json: bool = typer.Option(False, "--json", help="One JSON object per line."),
    ) -> None:
        """Print the audit log (the operator's view; the API's GET /api/audit is for admins)."""
        from ragline.domain.errors import RaglineError

        try:
            items = asyncio.run(_entries(Settings(), actor, action, limit))
        except RaglineError as exc:
            typer.echo(f"error: {exc.message}", err=True)
            raise typer.Exit(1) from exc
        for item in items:
            if as_json:
                typer.echo(json.dumps(item, ensure_ascii=False))
            else:
                detail = " ".join(f"{k}={v}" for k, v in item["detail"].items())
                typer.echo(f"{item['at']}\t{item['actor']}\t{item['action']}\t"
                           f"{item['target']}\t{detail}")


async def _entries(settings: Settings, actor: str | None, action: str | None,
                   limit: int) -> list[dict[str, Any]]:
    from ragline.adapters.db.database import Database
    from ragline.adapters.db.migrate import upgrade
    from ragline.services import audit

    await asyncio.to_thread(upgrade, settings.resolved_database_url)
    db = Database(settings.resolved_database_url)
    try:
        async with db.session() as session:
            return await audit.entries(session, actor=actor, action=action, limit=limit)
    finally:
        await db.dispose()
