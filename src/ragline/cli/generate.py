"""`ragline generate SCHEMA PROMPT`: structured output from the command line, no server needed."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import typer

from ragline.config import Settings
from ragline.domain.errors import OutputInvalid, RaglineError


def register(app: typer.Typer) -> None:
    @app.command("generate")
    def generate_command(
        schema: str = typer.Argument(
            ..., help="A schema name (block, edge, pipeline or a registered one), inline JSON "
            "Schema, or @FILE holding one."
        ),
        prompt: str = typer.Argument(..., help="What to generate."),
        context: str = typer.Option(
            None, "--context", help="Context for the model: JSON or text, or @FILE."
        ),
        model: str = typer.Option(None, "--model", help="Model name (default: the default)."),
        max_attempts: int = typer.Option(3, "--max-attempts", min=1, max=10),
        strategy: str = typer.Option("auto", "--strategy", help="auto, constrained or prompt."),
        max_tokens: int = typer.Option(None, "--max-tokens", min=1),
    ) -> None:
        """Generate a JSON value that validates against SCHEMA and print it."""
        if strategy not in ("auto", "constrained", "prompt"):
            raise typer.BadParameter("use auto, constrained or prompt", param_hint="--strategy")
        try:
            data = asyncio.run(
                _generate(
                    Settings(), _schema_ref(schema), prompt, _context(context), model,
                    max_attempts, strategy, max_tokens,
                )
            )
        except OutputInvalid as exc:
            typer.echo(f"error: {exc.message}", err=True)
            typer.echo(json.dumps(exc.details, indent=2, ensure_ascii=False), err=True)
            raise typer.Exit(1) from None
        except RaglineError as exc:
            typer.echo(f"error: {exc.message}", err=True)
            raise typer.Exit(2) from None
        typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


async def _generate(
    settings: Settings,
    schema_ref: str | dict[str, Any],
    prompt: str,
    context: Any,
    model: str | None,
    max_attempts: int,
    strategy: Any,
    max_tokens: int | None,
) -> Any:
    from ragline.services.generate import generate
    from ragline.services.models import ModelRegistry
    from ragline.services.schemas import BUILTINS, inline_schema

    if isinstance(schema_ref, dict):
        schema = inline_schema(schema_ref)
    elif schema_ref in BUILTINS:
        schema = BUILTINS[schema_ref]
    else:
        schema = await _registered(settings, schema_ref)
    models = ModelRegistry(settings)
    try:
        result = await generate(
            models, schema, prompt, context=context, model=model or models.default_model,
            max_attempts=max_attempts, strategy=strategy, max_tokens=max_tokens,
        )
    finally:
        await models.aclose()
    return result.data


async def _registered(settings: Settings, name: str) -> Any:
    """A schema registered by the local user (the one every request acts as with auth off)."""
    from ragline.adapters.db.database import Database
    from ragline.adapters.db.migrate import upgrade
    from ragline.bootstrap import ensure_local_user
    from ragline.services.schemas import SchemaRegistry

    await asyncio.to_thread(upgrade, settings.resolved_database_url)
    db = Database(settings.resolved_database_url)
    try:
        return await SchemaRegistry(db).get(await ensure_local_user(db), name)
    finally:
        await db.dispose()


def _read(value: str) -> str:
    if value == "@-":
        return sys.stdin.read()
    return Path(value[1:]).read_text(encoding="utf-8") if value.startswith("@") else value


def _schema_ref(value: str) -> str | dict[str, Any]:
    text = _read(value).strip()
    if not text.startswith("{"):
        return text
    try:
        parsed = json.loads(text)
    except ValueError as exc:
        raise typer.BadParameter(f"not valid JSON: {exc}", param_hint="SCHEMA") from None
    return parsed if isinstance(parsed, dict) else text


def _context(value: str | None) -> Any:
    if value is None:
        return None
    text = _read(value)
    try:
        return json.loads(text)
    except ValueError:
        return text
