"""`ragline ingest`, `ragline search` and `ragline eval`: the index without a running server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from ragline.adapters.parse import EXTENSIONS
from ragline.config import Settings
from ragline.domain.errors import RaglineError

if TYPE_CHECKING:
    from ragline.services.documents import DocumentService  # imported when a command runs

console = Console()
MODES = ("hybrid", "bm25", "vector")
CLI_FILES_AT_ONCE = 8


@dataclass
class Outcome:
    source: str
    status: str
    chunks: int = 0
    pages: int = 0
    seconds: float = 0.0
    error: str | None = None


def collect(paths: list[Path], pattern: str | None) -> list[tuple[Path, str]]:
    """(file, source) pairs: folders are recursed, `source` is relative to the folder given."""
    found: list[tuple[Path, str]] = []
    for path in paths:
        if path.is_file():
            found.append((path, path.name))
        elif path.is_dir():
            for file in sorted(path.rglob(pattern or "*")):
                relative = file.relative_to(path)
                if not file.is_file() or any(p.startswith(".") for p in relative.parts):
                    continue
                if pattern or file.suffix.lower() in EXTENSIONS:
                    found.append((file, relative.as_posix()))
        else:
            raise typer.BadParameter(f"{path} does not exist")
    return found


@asynccontextmanager
async def open_service(settings: Settings) -> AsyncIterator[tuple[DocumentService, str]]:
    from ragline.adapters.db.database import Database
    from ragline.bootstrap import ensure_local_user
    from ragline.services.documents import build_documents

    db = Database(settings.resolved_database_url)
    try:
        service = build_documents(settings, db)
        await service.prepare()
        yield service, await ensure_local_user(db)
    finally:
        await db.dispose()


async def _ingest_one(
    service: DocumentService, owner: str, file: Path, source: str, collection: str,
    progress: Progress, overall: TaskID,
) -> Outcome:
    task = progress.add_task(source, total=1.0)
    started = time.perf_counter()
    try:
        data = await asyncio.to_thread(file.read_bytes)
        registered, status = await service.ingest_now(
            owner, filename=file.name, data=data, collection=collection, source=source,
            observer=lambda _stage, fraction: progress.update(task, completed=fraction),
        )
        document = await service.get_document(owner, registered.document.id)
        d = document.document
        return Outcome(source, status, d.chunks, d.pages, time.perf_counter() - started, d.error)
    except (RaglineError, OSError) as exc:
        message = exc.message if isinstance(exc, RaglineError) else str(exc)
        return Outcome(source, "failed", seconds=time.perf_counter() - started, error=message)
    finally:
        progress.remove_task(task)
        progress.advance(overall)


async def _ingest(
    files: list[tuple[Path, str]], collection: str, settings: Settings
) -> list[Outcome]:
    async with open_service(settings) as (service, owner):
        # Several files at once: their chunks meet in the embedder's merged encoder calls,
        # and one file's parsing and writing overlap another's encoding.
        slots = asyncio.Semaphore(max(settings.ingest_concurrency, CLI_FILES_AT_ONCE))
        columns = (TextColumn("{task.description}"), BarColumn(),
                   TextColumn("{task.percentage:>3.0f}%"), TimeElapsedColumn())
        with Progress(*columns, console=console) as progress:
            overall = progress.add_task(f"[bold]{len(files)} files", total=len(files))

            async def one(file: Path, source: str) -> Outcome:
                async with slots:
                    return await _ingest_one(service, owner, file, source, collection,
                                             progress, overall)

            return list(await asyncio.gather(*(one(f, s) for f, s in files)))


def _summary(outcomes: list[Outcome], elapsed: float) -> Table:
    table = Table(title=f"ingested in {elapsed:.1f}s")
    for column in ("source", "status", "pages", "chunks", "seconds", "error"):
        numeric = column in ("pages", "chunks", "seconds")
        table.add_column(column, justify="right" if numeric else "left")
    shown = outcomes if len(outcomes) <= 50 else [o for o in outcomes if o.status == "failed"]
    for o in shown:
        style = {"failed": "red", "skipped": "yellow"}.get(o.status, "green")
        table.add_row(o.source, f"[{style}]{o.status}", str(o.pages), str(o.chunks),
                      f"{o.seconds:.1f}", o.error or "")
    counts = {s: sum(o.status == s for o in outcomes) for s in ("ready", "skipped", "failed")}
    new_chunks = sum(o.chunks for o in outcomes if o.status == "ready")
    table.caption = ", ".join(f"{n} {s}" for s, n in counts.items()) + f"; {new_chunks} new chunks"
    return table


def ingest(
    paths: list[Path] = typer.Argument(..., help="Files or folders (folders are recursed)."),
    collection: str = typer.Option("default", "--collection", "-c", help="Target collection."),
    glob: str | None = typer.Option(None, "--glob", "-g", help="Only files matching, e.g. '*.md'."),
) -> None:
    """Ingest files into the index directly (no server needed); identical files are skipped."""
    from ragline.adapters.db.migrate import upgrade

    settings = Settings()
    files = collect(paths, glob)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url)
    if not files:
        console.print("[yellow]no supported files found")
        raise typer.Exit(1)
    started = time.perf_counter()
    outcomes = asyncio.run(_ingest(files, collection, settings))
    console.print(_summary(outcomes, time.perf_counter() - started))
    if any(o.status == "failed" for o in outcomes):
        raise typer.Exit(1)


async def _search(query: str, collection: str | None, mode: str, top_k: int,
                  settings: Settings) -> list[dict[str, object]]:
    async with open_service(settings) as (service, owner):
        return await service.search(owner, query, collection, top_k, mode)


def search(
    query: str = typer.Argument(..., help="What to look for."),
    collection: str | None = typer.Option(None, "--collection", "-c", help="Default: all."),
    mode: str = typer.Option("hybrid", "--mode", "-m", help="hybrid, bm25 or vector."),
    top_k: int = typer.Option(5, "--top-k", "-k", min=1, max=50),
) -> None:
    """Search the index and show the best passages."""
    if mode not in MODES:
        raise typer.BadParameter(f"mode must be one of {', '.join(MODES)}")
    try:
        hits = asyncio.run(_search(query, collection, mode, top_k, Settings()))
    except RaglineError as exc:
        console.print(f"[red]{exc.message}")
        raise typer.Exit(1) from exc
    table = Table(title=f"{mode}: {query}")
    for column in ("#", "score", "relevance", "source", "page", "passage"):
        table.add_column(column)
    for rank, hit in enumerate(hits, start=1):
        text = " ".join(str(hit["text"]).split())
        table.add_row(str(rank), f"{hit['score']:.4f}", f"{hit['relevance']:.2f}",
                      str(hit["source"]), str(hit["page"] or ""),
                      text[:160] + ("…" if len(text) > 160 else ""))
    console.print(table)


async def _evaluate(path: Path, collection: str | None, settings: Settings) -> Table:
    from ragline.services.evaluation import CUTOFFS, Scores, load_questions

    questions = load_questions(path)
    table = Table(title=f"{len(questions)} questions from {path.name}")
    table.add_column("mode")
    for k in CUTOFFS:
        table.add_column(f"Recall@{k}", justify="right")
    table.add_column("MRR@10", justify="right")
    table.add_column("ms/query", justify="right")
    async with open_service(settings) as (service, owner):
        await service.embedder.warmup()
        for mode in MODES:
            scores = Scores()
            started = time.perf_counter()
            for q in questions:
                hits = await service.search(owner, q.question, collection,
                                            settings.search_max_top_k, mode)
                scores.add([str(h["source"]) for h in hits], q.relevant)
            per_query = (time.perf_counter() - started) * 1000 / len(questions)
            table.add_row(mode, *(f"{scores.recall(k):.3f}" for k in CUTOFFS),
                          f"{scores.mrr:.3f}", f"{per_query:.1f}")
    return table


def evaluate(
    questions: Path = typer.Argument(..., exists=True, dir_okay=False,
                                     help='JSON lines {"question", "relevant": [source, ...]}.'),
    collection: str | None = typer.Option(None, "--collection", "-c", help="Default: all."),
) -> None:
    """Recall@1/5/10 and MRR@10 at the document level, for each search mode."""
    try:
        table = asyncio.run(_evaluate(questions, collection, Settings()))
    except RaglineError as exc:
        console.print(f"[red]{exc.message}")
        raise typer.Exit(1) from exc
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest)
    app.command("search")(search)
    app.command("eval")(evaluate)
