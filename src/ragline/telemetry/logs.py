"""Request-scoped log fields (request, user, run, thread, job ids) and the log formatters.

The ids live in context variables: the HTTP middleware binds the request id, the auth
dependency the user, the run executor and the ingestion job their own ids. Tasks started
while handling a request inherit them, so a run's log lines carry the request that began it.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar, Token
from typing import Any

FIELDS = ("request_id", "user_id", "thread_id", "run_id", "job_id")
_VARS: dict[str, ContextVar[str | None]] = {
    name: ContextVar(f"ragline_{name}", default=None) for name in FIELDS
}
# The ASGI scope of the request being served: the router fills in its `path_params` in place,
# so lines logged by a handler of /api/threads/{thread_id}/... know the thread without help.
_SCOPE: ContextVar[Mapping[str, Any] | None] = ContextVar("ragline_scope", default=None)
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:+=/-]{1,128}")
_SECRETS = re.compile(r"((?:token|api_key|key|password|secret)=)[^&\s\"']+", re.IGNORECASE)


def request_id_from(header: bytes | None) -> str:
    """The caller's `X-Request-ID` when it is a sane token, else a fresh one."""
    if header:
        candidate = header.decode("latin-1").strip()
        if _REQUEST_ID.fullmatch(candidate):
            return candidate
    return uuid.uuid4().hex


def bind(**fields: str | None) -> list[Token[str | None]]:
    """Set some ids for the current context; `reset` undoes it."""
    return [_VARS[name].set(value) for name, value in fields.items()]


def reset(tokens: list[Token[str | None]]) -> None:
    for token in reversed(tokens):
        token.var.reset(token)


@contextmanager
def bound(**fields: str | None) -> Iterator[None]:
    tokens = bind(**fields)
    try:
        yield
    finally:
        reset(tokens)


def bind_scope(scope: Mapping[str, Any] | None) -> Token[Mapping[str, Any] | None]:
    return _SCOPE.set(scope)


def reset_scope(token: Token[Mapping[str, Any] | None]) -> None:
    _SCOPE.reset(token)


def current() -> dict[str, str]:
    """The ids known here, explicit ones first, then the request's path parameters."""
    fields = {name: value for name, var in _VARS.items() if (value := var.get()) is not None}
    scope = _SCOPE.get()
    if scope is not None:
        params = scope.get("path_params") or {}
        for name in ("thread_id", "run_id"):
            if name not in fields and isinstance(params.get(name), str):
                fields[name] = params[name]
    return fields


class ContextFilter(logging.Filter):
    """Adds the context ids to every record (as `record.ctx`) and masks credentials."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.ctx = current()
        if "=" in str(record.msg) or record.args:
            message = record.getMessage()
            if _SECRETS.search(message):
                record.msg, record.args = _SECRETS.sub(r"\1***", message), None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        payload.update(getattr(record, "ctx", None) or {})
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            payload.update(extra)
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        ctx = getattr(record, "ctx", None)
        if not ctx:
            return text
        head, sep, tail = text.partition("\n")  # ids on the first line, before any traceback
        return head + "".join(f" {k}={v}" for k, v in ctx.items()) + sep + tail


def configure_logging(level: str, as_json: bool) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if as_json else TextFormatter())
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
