"""`ragline models`: list the model registry and prepare local model files ahead of time."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from ragline.config import Settings
from ragline.domain.errors import RaglineError

app = typer.Typer(help="Models: the registry and local model files.", no_args_is_help=True)
console = Console()


def _local_model(settings: Settings, name: str) -> str | None:
    """The packaged model name or GGUF path behind a registry name (None: not a local model)."""
    from ragline.services.models import ModelRegistry

    registry = ModelRegistry(settings)
    if name not in registry.names():
        return name  # a packaged model name or a path given directly
    spec = registry.spec(name)
    return spec.model or spec.name if spec.provider == "llamacpp" else None


@app.command()
def prepare(
    name: str = typer.Argument(None, help="Registry name, packaged model or GGUF path."),
    all_models: bool = typer.Option(False, "--all", help="Every installed packaged model."),
) -> None:
    """Assemble and verify local model files now, so the first answer does not wait for it."""
    from ragline.adapters.llm.local_models import PACKAGED_MODELS, ensure_model_file, is_installed

    settings = Settings()
    if all_models:
        targets = [m for m in PACKAGED_MODELS if is_installed(m)]
    else:
        target = _local_model(settings, name or settings.default_model)
        if target is None:
            console.print(f"[yellow]{name or settings.default_model} is a remote model[/]")
        targets = [] if target is None else [target]
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    for target in targets:
        with Progress(*columns, console=console, transient=True) as progress:
            task = progress.add_task(f"preparing {target}", total=None)

            def report(
                done: int, total: int, task: TaskID = task, bar: Progress = progress
            ) -> None:
                bar.update(task, completed=done, total=total)

            try:
                path = ensure_model_file(target, settings, report)
            except RaglineError as exc:
                console.print(f"[red]{target}: {exc.message}[/]")
                raise typer.Exit(1) from exc
        console.print(f"[green]ready[/] {target}: {path}")
    if settings.embedder == "local":
        _prepare_embedder(settings)


def _prepare_embedder(settings: Settings) -> None:
    """Build the int8 ONNX embedder from the packaged weights (seconds; once per model dir)."""
    from ragline.adapters.embed.local import default_model_path
    from ragline.adapters.embed.local_onnx import build_int8_model, onnx_path

    target = onnx_path(settings.model_dir)
    if not target.exists():
        with console.status("building the int8 embedder"):
            build_int8_model(default_model_path(), target)
    console.print(f"[green]ready[/] embedder: {target}")


@app.command("list")
def list_models() -> None:
    """The models a request can name, with their provider and local file state."""
    from ragline.adapters.llm.local_models import PACKAGED_MODELS, is_installed
    from ragline.services.models import ModelRegistry

    settings = Settings()
    registry = ModelRegistry(settings)
    table = Table("name", "provider", "model", "context", "local file")
    for name in registry.names():
        spec = registry.spec(name)
        state = ""
        packaged = PACKAGED_MODELS.get(spec.model) if spec.provider == "llamacpp" else None
        if packaged is not None:
            assembled = (settings.model_dir / packaged.file_name).exists()
            installed = "installed" if is_installed(packaged.name) else "not installed"
            state = "assembled" if assembled else installed
        label = f"{name} (default)" if name == registry.default_model else name
        table.add_row(label, spec.provider, spec.model, str(spec.context_window), state)
    console.print(table)
