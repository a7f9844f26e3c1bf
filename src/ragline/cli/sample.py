"""`ragline sample cvs`: seed 001's synthetic CVs (JSON, HTML, PDF, manifest), and ingestion."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ragline.config import Settings
from ragline.domain.errors import ProviderError, RaglineError

if TYPE_CHECKING:
    from ragline.samples.generator import Made

console = Console()
sample_app = typer.Typer(help="Sample data to try ragline with.", no_args_is_help=True)


def _fail(message: str, code: int) -> typer.Exit:
    console.print(f"[red]error:[/red] {message}")
    return typer.Exit(code)


@sample_app.command("cvs")
def cvs(
    count: int = typer.Option(30, "--count", "-n", help="How many CVs."),
    seed: int = typer.Option(7, "--seed", help="The same seed gives the same people and facts."),
    out: Path = typer.Option(Path("data/cvs"), "--out", "-o", help="Output folder."),
    ingest: bool = typer.Option(False, "--ingest", help="Ingest the PDFs afterwards."),
    collection: str = typer.Option("cvs", "--collection", "-c", help="Target of --ingest."),
    force: bool = typer.Option(False, "--force", help="Regenerate CVs that already exist."),
    no_llm: bool = typer.Option(False, "--no-llm", help="Template prose only (fast, no model)."),
    model: str = typer.Option(None, "--model", help="Model writing the prose (default: the "
                              "default model)."),
    concurrency: int = typer.Option(None, "--concurrency", "-j", help="CVs made at once "
                                    "(default: the local engine's parallel slots, "
                                    "RAGLINE_LLAMA_PARALLEL)."),
) -> None:
    """Generate synthetic CVs as NNN-name.json/.html/.pdf plus manifest.jsonl in --out."""
    from ragline.samples.generator import check_writable

    if count < 1:
        raise _fail(f"--count must be at least 1 (got {count})", 2)
    if concurrency is not None and concurrency < 1:
        raise _fail(f"--concurrency must be at least 1 (got {concurrency})", 2)
    try:
        check_writable(out)
    except OSError as exc:
        raise _fail(f"cannot write to {out}: {exc.strerror or exc}", 2) from None
    settings = Settings()
    workers = concurrency or max(1, settings.llama_parallel)
    try:
        started = time.perf_counter()
        made = asyncio.run(_generate(settings, count, seed, out, force, no_llm, model, workers))
    except ProviderError as exc:
        raise _fail(f"the model is unavailable: {exc.message}\n"
                    "use --no-llm for template-only prose", 1) from None
    except RaglineError as exc:
        raise _fail(exc.message, 1) from None
    elapsed = time.perf_counter() - started
    generated = [m for m in made if m.status == "generated"]
    console.print(f"{len(made)} CVs: {len(generated)} generated, "
                  f"{len(made) - len(generated)} kept")
    console.print(_prose_counts(made))
    console.print(f"folder {out}, manifest {out / 'manifest.jsonl'}", soft_wrap=True)
    if generated:
        each = sum(m.seconds for m in generated) / len(generated)
        console.print(f"time per generated CV: {each:.1f}s each, "
                      f"{elapsed / len(generated):.1f}s of wall time with {workers} at once")
    if ingest:
        _ingest(settings, out, [m.files["pdf"] for m in made], collection)


def _prose_counts(made: list[Made]) -> str:
    """`prose: 7 model, 2 mixed, 1 template-fallback (parts: 38 by the model, 3 templates)`."""
    labels = Counter(m.prose for m in made)
    line = "prose: " + ", ".join(f"{n} {label}" for label, n in labels.most_common())
    parts = Counter(p for m in made for p in m.parts)
    if parts:
        line += f" (parts of the generated: {parts['model']} by the model, " \
                f"{parts['template']} from templates)"
    return line


async def _generate(settings: Settings, count: int, seed: int, out: Path, force: bool,
                    no_llm: bool, model: str | None, concurrency: int) -> list[Made]:
    from ragline.samples.generator import ModelProse, ProseSource, TemplateProse, make_cvs

    registry = None
    prose: ProseSource = TemplateProse()
    if not no_llm:
        from ragline.services.models import ModelRegistry

        registry = ModelRegistry(settings)
        name = model or registry.default_model
        registry.spec(name)
        prose = ModelProse(registry, name)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    try:
        with Progress(*columns, console=console) as progress:
            task = progress.add_task(f"[bold]CVs (seed {seed}, prose: {prose.name})",
                                     total=count)

            def done(made: Made) -> None:
                style = "green" if made.status == "generated" else "yellow"
                note = f", {made.attempts} model attempts" if made.attempts else ""
                progress.console.print(
                    f"[{style}]{made.status}[/] {made.files['pdf']} ({made.facts.layout}, "
                    f"{made.pages} p., prose {made.prose}{note}) {made.seconds:.1f}s")
                progress.advance(task)

            return await make_cvs(count, seed, out, prose, force=force,
                                  concurrency=concurrency, on_done=done)
    finally:
        if registry is not None:
            await registry.aclose()


def _ingest(settings: Settings, out: Path, pdfs: list[str], collection: str) -> None:
    from ragline.adapters.db.migrate import upgrade
    from ragline.cli.documents import _ingest as ingest_files
    from ragline.cli.documents import _summary

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url)
    started = time.perf_counter()
    outcomes = asyncio.run(ingest_files([(out / p, p) for p in pdfs], collection, settings))
    console.print(_summary(outcomes, time.perf_counter() - started))
    if any(o.status == "failed" for o in outcomes):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(sample_app, name="sample")
