"""Run lifecycle vocabulary and the run-event record shared by every stream view."""

from __future__ import annotations

import json
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
    data_json: str = ""  # `data` serialised once, shared by the database write and every view

    @property
    def is_last(self) -> bool:
        return self.type == "done"

    def encoded(self) -> str:
        return self.data_json or json.dumps(self.data, ensure_ascii=False, separators=(",", ":"))
