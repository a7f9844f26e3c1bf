"""Reading WebSocket frames safely: JSON only, bounded in size and nesting, text a database can
store. A bad frame raises `BadFrame`, which names the error code for the error frame and the
close code for endpoints that close on it (1003, 1007, 1008, 1009 of RFC 6455)."""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

from starlette.types import Message

from ragline.web.hygiene import find_bad_text

MAX_FRAME_BYTES = 64 * 1024
MAX_DEPTH = 32
UNSUPPORTED, INVALID_DATA, POLICY, TOO_BIG = 1003, 1007, 1008, 1009
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")


class BadFrame(Exception):
    def __init__(self, code: str, message: str, close_code: int) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.close_code = close_code


def json_depth(text: str) -> int:
    """How deep the brackets of a JSON text nest, counted without parsing it (no recursion)."""
    brackets = _NOT_BRACKETS.sub("", _STRINGS.sub("", text))
    steps = (1 if ch in "[{" else -1 for ch in brackets)
    return max(accumulate(steps, initial=0))


def decode_frame(
    message: Message, *, max_bytes: int = MAX_FRAME_BYTES, max_depth: int = MAX_DEPTH
) -> Any:
    """The JSON value of a received `websocket.receive` message, else `BadFrame`."""
    text: str | None = message.get("text")
    if text is None:
        data: bytes | None = message.get("bytes")
        if data is None:
            raise BadFrame("bad_message", "empty frame", UNSUPPORTED)
        if len(data) > max_bytes:
            raise _too_big(max_bytes)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise BadFrame("bad_message", "frames must be UTF-8 JSON", INVALID_DATA) from None
    if len(text) > max_bytes:
        raise _too_big(max_bytes)
    if json_depth(text) > max_depth:
        raise BadFrame("too_deep", f"frames may nest at most {max_depth} levels", POLICY)
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        raise BadFrame("bad_message", "frames must be JSON", INVALID_DATA) from None
    where = find_bad_text(value)
    if where is not None:
        raise BadFrame(
            "invalid_text",
            f"{'.'.join(map(str, where)) or 'frame'}: text must not contain NUL characters "
            "or unpaired surrogates",
            INVALID_DATA,
        )
    return value


def _too_big(max_bytes: int) -> BadFrame:
    return BadFrame("too_large", f"frames may be at most {max_bytes} bytes", TOO_BIG)
