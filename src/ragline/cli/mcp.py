"""`ragline mcp`: the MCP tools over stdio, for clients that start a local process."""

from __future__ import annotations

import asyncio

import typer

from ragline.config import Settings


def register(app: typer.Typer) -> None:
    @app.command("mcp")
    def mcp_stdio(
        api_key: str = typer.Option(
            None, "--api-key", envvar="RAGLINE_MCP_API_KEY",
            help="Act as this key's user (a JWT when RAGLINE_AUTH=jwt); default: the local user.",
        ),
    ) -> None:
        """Serve the MCP tools (search, ask, list_collections, get_document) over stdio."""
        raise typer.Exit(asyncio.run(_serve(Settings(), api_key)))


async def _serve(settings: Settings, api_key: str | None) -> int:
    from ragline.adapters.db.migrate import upgrade
    from ragline.bootstrap import build_container
    from ragline.domain.errors import Unauthorized
    from ragline.mcp.server import build_server
    from ragline.mcp.tools import Caller
    from ragline.web.deps import Principal, api_key_principal, resolve_principal
    from ragline.web.observability import configure_logging

    configure_logging(settings.log_level, settings.log_json)  # to stderr: stdout is the wire
    await asyncio.to_thread(upgrade, settings.resolved_database_url)
    container = build_container(settings)
    await container.start()
    try:
        if not api_key:
            principal = Principal(container.local_user_id, is_admin=True)
        elif settings.auth == "jwt":
            principal = await resolve_principal(container, api_key)
        else:
            principal = await api_key_principal(container, api_key)
        caller = Caller(container, principal)
        await build_server(lambda _ctx: caller).run_stdio_async()
        return 0
    except Unauthorized as exc:
        typer.echo(f"ragline mcp: {exc.message}", err=True)
        return 2
    finally:
        await container.stop()
