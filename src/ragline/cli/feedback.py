"""`ragline feedback export`: ratings of answers as JSONL, to grow the eval set from real use."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import TextIO

import typer

from ragline.config import Settings


def register(app: typer.Typer) -> None:
    feedback = typer.Typer(help="Feedback on answers.", no_args_is_help=True)
    app.add_typer(feedback, name="feedback")

    @feedback.command("export")
    def export(
        out: Path | None = typer.Option(None, "--out", help="JSONL file (default: stdout)."),
        user: str | None = typer.Option(None, "--user", help="Only this user's feedback."),
    ) -> None:
        """One JSON line per rating: question, answer, sources, claims, rating, comment."""
        if out is None:
            count = asyncio.run(_export(Settings(), sys.stdout, user))
        else:
            with out.open("w", encoding="utf-8") as stream:
                count = asyncio.run(_export(Settings(), stream, user))
        typer.echo(f"exported {count} feedback records", err=True)


async def _export(settings: Settings, stream: TextIO, user: str | None) -> int:
    from ragline.adapters.db.database import Database
    from ragline.adapters.db.migrate import upgrade
    from ragline.services.feedback import feedback_records

    await asyncio.to_thread(upgrade, settings.resolved_database_url)
    db = Database(settings.resolved_database_url)
    count = 0
    try:
        async for record in feedback_records(db, user):
            stream.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    finally:
        await db.dispose()
    return count
