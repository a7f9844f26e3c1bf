"""The cross-process wake-up message: one per commit batch, naming every run it touched.

`origin|run1,run2,...`, split so that each payload stays under PostgreSQL's 8,000-byte NOTIFY
limit. A thousand runs committed together cost five notifications, not a thousand.
"""

from __future__ import annotations

from collections.abc import Iterable

MAX_PAYLOAD = 7900  # bytes; PostgreSQL refuses a NOTIFY payload of 8,000 bytes or more


def encode_pokes(origin: str, run_ids: Iterable[str], limit: int = MAX_PAYLOAD) -> list[str]:
    """The payloads announcing `run_ids` (sorted, so a batch always encodes the same way)."""
    payloads: list[str] = []
    head = f"{origin}|"
    current: list[str] = []
    size = len(head)
    for run_id in sorted(set(run_ids)):
        extra = len(run_id) + (1 if current else 0)
        if current and size + extra > limit:
            payloads.append(head + ",".join(current))
            current, size, extra = [], len(head), len(run_id)
        current.append(run_id)
        size += extra
    if current:
        payloads.append(head + ",".join(current))
    return payloads


def decode_pokes(payload: str) -> tuple[str, list[str]]:
    """(origin, run ids) of one payload; an empty list for a malformed one."""
    origin, sep, ids = payload.partition("|")
    if not sep:
        return origin, []
    return origin, [run_id for run_id in ids.split(",") if run_id]
