"""The `ragline` command line: serve, worker, db, keys, ask and the document commands."""

from __future__ import annotations

import atexit
import importlib
import logging
import os
import shutil
import sys
import tempfile
from typing import Any

import typer
from pydantic import ValidationError

from ragline.cli.startup import StartupError, one_line
from ragline.config import Settings


class _Ragline(typer.Typer):
    """A configuration mistake is one line on stderr and exit status 2, not a traceback."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except (ValidationError, StartupError) as exc:
            typer.echo(f"ragline: {one_line(exc)}", err=True)
            sys.exit(2)


app = _Ragline(help="ragline: chat with an LLM over your own documents.", no_args_is_help=True)
db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@app.command()
def serve(
    host: str = typer.Option(None, help="Bind address (default from RAGLINE_HOST: 127.0.0.1)."),
    port: int = typer.Option(None, help="Port (default from RAGLINE_PORT: 8000)."),
    workers: int = typer.Option(1, help="Uvicorn worker processes."),
) -> None:
    """Apply pending migrations, then serve the API and the web UI."""
    import uvicorn

    from ragline.cli.startup import check_models, migrate
    from ragline.telemetry.logs import configure_logging

    if host is not None:  # flags win over the environment and are validated like it
        os.environ["RAGLINE_HOST"] = host
    if port is not None:
        os.environ["RAGLINE_PORT"] = str(port)
    settings = Settings()
    configure_logging(settings.log_level, settings.log_json)
    check_models(settings)  # configuration first, then the database
    migrate(settings)
    if workers > 1:
        # Each worker keeps its metrics in files here; any worker's /metrics sums them all.
        if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            folder = tempfile.mkdtemp(prefix="ragline-metrics-")
            atexit.register(shutil.rmtree, folder, ignore_errors=True)
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
        uvicorn.run(
            "ragline.web.main:app",
            host=settings.host,
            port=settings.port,
            workers=workers,
            log_config=None,
            access_log=False,  # the app logs each request itself, with its ids
        )
        return
    from ragline.web.app import create_app

    uvicorn.run(
        create_app(settings, migrate=False),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=5,
    )


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head")) -> None:
    """Apply migrations up to REVISION (default: head)."""
    from ragline.adapters.db.migrate import upgrade

    settings = Settings()
    upgrade(settings.resolved_database_url, revision)
    typer.echo(f"database at {settings.resolved_database_url} is at {revision}")


def _register_optional() -> None:
    """Command groups that live in their own modules register themselves here."""
    for module_name in (
        "ragline.cli.keys",
        "ragline.cli.ask",
        "ragline.cli.documents",
        "ragline.cli.sync",
        "ragline.cli.feedback",
        "ragline.cli.threads",
        "ragline.cli.groups",
        "ragline.cli.audit",
        "ragline.cli.generate",
        "ragline.cli.worker",
        "ragline.cli.mcp",
        "ragline.cli.sample",
    ):
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        module.register(app)
    try:
        from ragline.cli.models import app as models_app
    except ModuleNotFoundError as exc:
        if exc.name != "ragline.cli.models":
            raise
    else:
        app.add_typer(models_app, name="models")


_register_optional()
logging.getLogger("httpx").setLevel(logging.WARNING)
