"""Input hygiene at the edge: text no database can store is refused before any route runs.

NUL characters and unpaired UTF-16 surrogates (`"\\ud800"` in JSON) are valid Python strings but
cannot be encoded for PostgreSQL (or as UTF-8 at all). One ASGI middleware checks the path, the
query, the header values and every string (keys included) of a JSON body; the multipart upload
route and the WebSocket frames call `check_text` on what they read. The answer is a 422 in the
contract's error shape (the OpenAI shape under `/v1`, LangGraph's on the LangGraph protocol).
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ragline.domain.errors import Unprocessable

BAD_TEXT = re.compile("[\x00\ud800-\udfff]")
# JSON escapes that may decode to a bad character; only bodies holding one are parsed here.
SUSPECT_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")
CODE = "invalid_text"


def is_bad_text(value: str) -> bool:
    """A NUL or a surrogate code point (json.loads joins valid pairs, so any left is unpaired)."""
    return BAD_TEXT.search(value) is not None


def find_bad_text(value: Any) -> list[str | int] | None:
    """The location of the first bad string (or key) in a JSON value, else None."""
    stack: list[tuple[Any, list[str | int]]] = [(value, [])]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            if is_bad_text(item):
                return where
        elif isinstance(item, dict):
            for key, child in item.items():
                if isinstance(key, str) and is_bad_text(key):
                    return where
                stack.append((child, [*where, key]))
        elif isinstance(item, list):
            stack.extend((child, [*where, i]) for i, child in enumerate(item))
    return None


def bad_text_error(where: str) -> Unprocessable:
    return Unprocessable(
        f"{where}: text must not contain NUL characters or unpaired surrogates",
        code=CODE, details={"loc": where},
    )


def check_text(value: str | None, where: str) -> str | None:
    """`value` unchanged, or `Unprocessable` when it holds text no database can store."""
    if value is not None and is_bad_text(value):
        raise bad_text_error(where)
    return value


def _scope_problem(scope: Scope) -> str | None:
    if is_bad_text(scope.get("path", "")):
        return "path"
    query = scope.get("query_string", b"").decode("latin-1")
    for key, value in parse_qsl(query, keep_blank_values=True):
        if is_bad_text(key) or is_bad_text(value):
            return f"query.{key}"
    for name, value in scope.get("headers", []):
        if b"\x00" in value:
            return f"header.{name.decode('latin-1')}"
    return None


def _is_json(scope: Scope) -> bool:
    """FastAPI reads a body as JSON when it says so, or says nothing at all."""
    for name, value in scope.get("headers", []):
        if name == b"content-type":
            kind: bytes = value.split(b";", 1)[0].strip().lower()
            return kind == b"application/json" or kind.endswith(b"+json")
    return True


def _body_problem(body: bytes) -> str | None:
    if not SUSPECT_ESCAPE.search(body):
        return None
    try:
        where = find_bad_text(json.loads(body))
    except (ValueError, RecursionError):
        return None  # the route answers malformed JSON itself
    if where is None:
        return None
    return ".".join(["body", *(str(p) for p in where)])


def _refusal(scope: Scope, where: str) -> JSONResponse:
    error = bad_text_error(where)
    path = scope.get("path", "")
    body: dict[str, Any]
    if path.startswith("/v1/"):
        body = {"error": {"message": error.message, "type": "invalid_request_error",
                          "param": where, "code": CODE}}
    elif path.split("/", 2)[1:2] in (["assistants"], ["threads"], ["runs"]):
        body = {"detail": error.message, "code": CODE}
    else:
        body = {"error": {"code": CODE, "message": error.message, "details": error.details}}
    return JSONResponse(body, status_code=422)


class InputHygieneMiddleware:
    """Refuses requests whose path, query, headers or JSON body carry text no database stores."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        problem = _scope_problem(scope)
        if problem is not None and scope["type"] == "websocket":
            reason = f"bad text in {problem}"
            await send({"type": "websocket.close", "code": 1008, "reason": reason})
            return
        if problem is not None:
            await _refusal(scope, problem)(scope, receive, send)
            return
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "DELETE", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        if not _is_json(scope):
            await self.app(scope, receive, send)
            return
        messages, body = await _read_body(receive)
        problem = _body_problem(body)
        if problem is not None:
            await _refusal(scope, problem)(scope, receive, send)
            return
        await self.app(scope, _replay(messages, receive), send)


async def _read_body(receive: Receive) -> tuple[list[Message], bytes]:
    messages: list[Message] = []
    chunks: list[bytes] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return messages, b"".join(chunks)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay
