"""`ragline worker`: execute queued runs and ingestion jobs from Redis (RAGLINE_REDIS_URL)."""

from __future__ import annotations

import typer

from ragline.config import Settings


def worker() -> None:
    """Run a worker: ingestion jobs, and runs when RAGLINE_RUN_EXECUTION=worker."""
    from ragline.telemetry.logs import configure_logging
    from ragline.telemetry.tracing import configure_tracing, shutdown_tracing
    from ragline.worker import run_worker

    settings = Settings()
    configure_logging(settings.log_level, settings.log_json)
    if not settings.redis_url:
        typer.echo("ragline worker needs RAGLINE_REDIS_URL; without it `ragline serve` "
                   "ingests in-process.", err=True)
        raise typer.Exit(2)
    configure_tracing(settings.otlp_endpoint, "ragline-worker")
    try:
        run_worker(settings)
    finally:
        shutdown_tracing()


def register(app: typer.Typer) -> None:
    app.command("worker")(worker)
