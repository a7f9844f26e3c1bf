"""Run lifecycle vocabulary and the run-event record shared by every stream view."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

QUEUED: Final = "queued"
RUNNING: Final = "running"
DONE: Final = "done"
FAILED: Final = "failed"
CANCELLED: Final = "cancelled"

ACTIVE = frozenset({QUEUED, RUNNING})
TERMINAL = frozenset({DONE, FAILED, CANCELLED})

EVENT_TYPES = frozenset({"status", "sources", "token", "final", "error", "done"})


@dataclass(frozen=True, slots=True)
class RunEventRecord:
    run_id: str
    seq: int
    type: str
    data: dict[str, Any]

    @property
    def is_last(self) -> bool:
        return self.type == "done"
