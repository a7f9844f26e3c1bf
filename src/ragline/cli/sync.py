"""`ragline sync DIR --collection NAME [--delete] [--watch]`: keep a collection matching a folder.

No server needed: the sync runs in this process (services/sync.py) on the configured database,
as one sync job that a second sync of the same collection, here or on a server, is refused by.
"""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from ragline.config import Settings
from ragline.domain.errors import RaglineError

if TYPE_CHECKING:
    from ragline.adapters.db.tables import SyncJob
    from ragline.services.documents import DocumentService

console = Console()
WATCH_DEBOUNCE_MS = 500


def summary(collection: str, job: SyncJob, seconds: float) -> str:
    """One line with the counts (`added`, `changed`, `deleted`, `unchanged` always there)."""
    c = job.counts
    line = (f"sync {collection}: added {c['added']}, changed {c['changed']}, "
            f"deleted {c['deleted']}, unchanged {c['unchanged']}, renamed {c['renamed']}, "
            f"failed {c['failed']}; {c['files_seen']} files, {c['chunks_embedded']} chunks "
            f"embedded, {c['chunks_reused']} reused, in {seconds:.1f}s")
    if c["missing"]:
        line += f"; {c['missing']} documents whose file is gone kept (pass --delete)"
    if c["duplicates"]:
        line += f"; {c['duplicates']} files skipped as copies of others"
    return line


async def _once(service: DocumentService, owner: str, folder: Path, collection: str,
                delete: bool) -> bool:
    """One sync, its summary printed; False when it failed or a file did."""
    started = time.perf_counter()
    job = await service.sync_now(owner, collection, folder, delete=delete)
    if job.status != "ready":
        console.print(f"[red]sync {collection} failed: {job.error}")
        return False
    typer.echo(summary(collection, job, time.perf_counter() - started))
    for failure in job.counts.get("failures", []):
        console.print(f"[red]  {failure['source']}: {failure['error']}")
    return not job.counts["failed"]


async def _sync(folder: Path, collection: str, delete: bool, watch: bool,
                settings: Settings) -> bool:
    from ragline.cli.documents import open_service

    async with open_service(settings) as (service, owner):
        ok = await _once(service, owner, folder, collection, delete)
        if not watch:
            return ok
        import watchfiles

        # Ctrl-C (or SIGTERM) ends the watch between syncs, so the service closes as usual: a
        # KeyboardInterrupt raised anywhere in the loop could leave the database's thread
        # running and the process hanging at exit.
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        console.print(f"watching {folder} (Ctrl-C stops)", highlight=False)
        async for _changes in watchfiles.awatch(folder, debounce=WATCH_DEBOUNCE_MS,
                                                stop_event=stop):
            try:
                await _once(service, owner, folder, collection, delete)
            except RaglineError as exc:  # e.g. a server's sync of it is running: next change
                console.print(f"[yellow]{exc.message}")
        return ok


def sync(
    folder: Path = typer.Argument(..., help="The folder; a document's source is its path "
                                  "relative to it."),
    collection: str = typer.Option(..., "--collection", "-c", help="The collection to sync."),
    delete: bool = typer.Option(False, "--delete", help="Remove documents whose file is gone."),
    watch: bool = typer.Option(False, "--watch", help="Then sync again on every change."),
) -> None:
    """Make a collection match a folder: new files added, edited ones re-embedded where their
    text changed, renamed ones moved, deleted ones removed with --delete."""
    from ragline.adapters.db.migrate import upgrade

    if not folder.is_dir():
        raise typer.BadParameter(f"{folder} is not a folder")
    settings = Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url)
    try:
        ok = asyncio.run(_sync(folder.resolve(), collection, delete, watch, settings))
    except RaglineError as exc:
        console.print(f"[red]{exc.message}")
        raise typer.Exit(1) from exc
    except KeyboardInterrupt:
        ok = True
    if not ok:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("sync")(sync)
