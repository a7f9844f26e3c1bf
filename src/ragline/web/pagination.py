"""Keyset pagination: `?limit=&cursor=` → `{"items": [...], "next_cursor": ...}`."""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import datetime
from typing import Annotated, Any

from fastapi import Query

from ragline.domain.errors import InvalidInput

DIGITS = re.compile(r"[0-9]{1,19}")
MAX_SEQ = 2**63 - 1  # a run-event seq is a BIGINT on every database
LimitParam = Annotated[int, Query(ge=1, le=200)]
CursorParam = Annotated[str | None, Query(max_length=500)]


def encode_cursor(created_at: datetime, id_: str) -> str:
    raw = json.dumps([created_at.isoformat(), id_]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        stamp, id_ = json.loads(base64.urlsafe_b64decode(padded))
        return datetime.fromisoformat(stamp), str(id_)
    except (ValueError, TypeError, binascii.Error) as exc:
        raise InvalidInput("malformed cursor", code="invalid_cursor") from exc


def page(items: list[Any], limit: int, key: Any) -> dict[str, Any]:
    """`items` was fetched with limit+1 rows; `key(item)` gives (created_at, id)."""
    more = len(items) > limit
    items = items[:limit]
    next_cursor = encode_cursor(*key(items[-1])) if more and items else None
    return {"items": items, "next_cursor": next_cursor}


def parse_seq(raw: str | int | None, name: str = "Last-Event-ID / after") -> int:
    """A run-event cursor: a non-negative integer that fits in 63 bits (0 when absent), else 400."""
    text = "" if raw is None else str(raw).strip()
    if raw is None or text == "":
        return 0
    if not DIGITS.fullmatch(text) or int(text) > MAX_SEQ:
        raise InvalidInput(
            f"{name} must be a non-negative integer seq below 2^63, got {text[:40]!r}",
            code="invalid_last_event_id",
        )
    return int(text)
