"""`ragline ask`: one question through the full pipeline, streamed to the terminal, no server."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import NamedTuple

import typer
from rich.console import Console

from ragline.config import Settings
from ragline.domain.events import Error, Final, Passage, RunEvent, Token
from ragline.domain.runs import RunState


def register(app: typer.Typer) -> None:
    @app.command()
    def ask(
        question: str = typer.Argument(..., help="The question."),
        collection: str = typer.Option(
            None, "--collection", "-c", help="Answer from this collection."
        ),
        model: str = typer.Option(None, "--model", "-m", help="A model of the registry."),
        thread: str = typer.Option(None, "--thread", "-t", help="Continue this thread."),
    ) -> None:
        """Ask a question and stream the answer (the thread id is printed to continue it)."""
        code = asyncio.run(_ask(Settings(), question, collection, model, thread))
        raise typer.Exit(code)


async def _ask(
    settings: Settings,
    question: str,
    collection: str | None,
    model: str | None,
    thread_id: str | None,
) -> int:
    from ragline.adapters.db.migrate import upgrade
    from ragline.bootstrap import build_container
    from ragline.services import threads as svc
    from ragline.services.event_log import follow

    console = Console()
    await asyncio.to_thread(upgrade, settings.resolved_database_url)
    container = build_container(settings)
    await container.start()
    try:
        owner = container.local_user_id
        if thread_id is None:
            async with container.db.session() as session:
                thread_id = (await svc.create_thread(session, owner, collection=collection)).id
        name = model or container.models.default_model
        container.models.spec(name)
        posted = await svc.post_message(
            container.db,
            container.runs,
            owner_id=owner,
            thread_id=thread_id,
            content=question,
            model=name,
            collection=collection,
            max_bytes=settings.max_message_bytes,
        )
        state = RunState(posted.run_id)
        async for batch in follow(container.db, container.bus, posted.run_id):
            for line in state.apply_batch(batch, terminal_lines):
                if line.plain:
                    console.print(line.text, end="", markup=False, highlight=False)
                else:
                    console.print(line.text)
        status = state.status if state.finished else "failed"
        console.print(f"\n[dim]thread {thread_id} · run {posted.run_id} · {status}[/dim]")
        return 0 if status == "done" else 1
    finally:
        await container.stop()


class Line(NamedTuple):
    """Something to print: plain text as it streams, or a line of console markup."""

    text: str
    plain: bool = False


def terminal_lines(state: RunState, event: RunEvent) -> list[Line]:
    """Tokens as they come, the sources after the answer, an error in red."""
    if isinstance(event, Token):
        return [Line(event.delta, plain=True)]
    if isinstance(event, Final):
        return _source_lines(event.sources)
    if isinstance(event, Error):
        return [Line(f"\n[red]error:[/red] {event.message}")]
    return []


def _source_lines(sources: Sequence[Passage]) -> list[Line]:
    if not sources:
        return []
    lines = [Line("\n")]
    for number, source in enumerate(sources, 1):
        page = f", page {source.page}" if source.page else ""
        lines.append(Line(f"[dim][{number}] {source.source}{page}[/dim]"))
    return lines
