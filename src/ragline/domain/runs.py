"""Run lifecycle vocabulary, the run-event record, and the one fold of a run's events."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

from ragline.domain import events as ev
from ragline.domain.errors import Conflict, ProviderError
from ragline.domain.events import EVENT_TYPES, RunEvent, parse_event
from ragline.domain.jsonenc import dumps

QUEUED: Final = "queued"
RUNNING: Final = "running"
DONE: Final = "done"
FAILED: Final = "failed"
CANCELLED: Final = "cancelled"

ACTIVE = frozenset({QUEUED, RUNNING})
TERMINAL = frozenset({DONE, FAILED, CANCELLED})

__all__ = ["EVENT_TYPES", "RunEventRecord", "RunState"]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RunEventRecord:
    run_id: str
    seq: int
    type: str
    data: dict[str, Any]
    data_json: str = ""  # `data` serialised once, shared by the database write and every view

    @property
    def is_last(self) -> bool:
        return self.type == "done"

    @property
    def event(self) -> RunEvent:
        return parse_event(self.type, self.data)

    def encoded(self) -> str:
        return self.data_json or dumps(self.data)


@dataclass
class RunState:
    """What a run has produced so far, folded from its events in order (`apply`).

    Every view of a run (streams, waiting replies, the CLI, MCP) keeps one and renders from it.
    `status` is the run's latest state; it is terminal once `finished` (after `done`)."""

    run_id: str
    status: str = QUEUED
    stage: str | None = None
    content: str = ""
    tokens: int = 0  # `token` events seen
    message_id: str | None = None
    sources: list[ev.Passage] = field(default_factory=list)
    claims: list[dict[str, Any]] | None = None  # `final.claims`, when the answer was checked
    usage: dict[str, int] = field(default_factory=dict)
    model: str | None = None
    data: Any = None  # `final.data` (structured output)
    error: ev.Error | None = None
    finished: bool = False

    def apply(self, event: RunEvent) -> None:
        if isinstance(event, ev.Token):
            self.content += event.delta
            self.tokens += 1
        elif isinstance(event, ev.Status):
            self.status, self.stage = event.status, event.stage
        elif isinstance(event, ev.Sources):
            self.sources = list(event.sources)
        elif isinstance(event, ev.Final):
            self.content = event.content
            self.message_id = event.message_id
            self.sources = list(event.sources) or self.sources
            self.claims = None if event.claims is None else [dict(c) for c in event.claims]
            self.usage = dict(event.usage) or self.usage
            self.model = event.model
            self.data = event.data
        elif isinstance(event, ev.Error):
            self.error = event
        elif isinstance(event, ev.Done):
            self.status, self.finished = event.status, True

    def apply_batch(
        self, batch: Iterable[RunEventRecord], view: Callable[[RunState, RunEvent], Iterable[T]]
    ) -> list[T]:
        """Fold a batch of records, gathering what `view` renders after each event."""
        out: list[T] = []
        for record in batch:
            event = record.event
            self.apply(event)
            out.extend(view(self, event))
        return out

    @property
    def unsuccessful(self) -> bool:
        """The run ended failed or cancelled."""
        return self.finished and self.status != DONE

    def source_payloads(self) -> list[dict[str, Any]]:
        return ev.passage_payloads(self.sources)

    def raise_for_status(self) -> None:
        """A failed or cancelled run becomes a domain error for views that wait for a reply."""
        if not self.unsuccessful:
            return
        if self.status == CANCELLED:
            raise Conflict(f"run {self.run_id} was cancelled", code="run_cancelled")
        error = self.error or ev.Error("run_failed", "the run failed")
        raise ProviderError(error.message, code=error.code)
