"""The one JSON encoding of the wire: compact and UTF-8 as is (every stream, the event log)."""

from __future__ import annotations

import json
from typing import Any


def dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))
