"""What a scoped API key may do (`ragline keys create --read-only --collection NAME`), in one place.

`Identity` puts a key's scope on its `Principal`. The web edge calls `check_method` on every
HTTP request: a read-only key may use GET and HEAD, and POST only on `READ_ONLY_POSTS`, the
routes that ask or search without changing anything but the caller's own conversations.
`enter` makes the key's collections the scope of the rest of the request (and of the runs it
starts in this process); `sharing` consults `allows` wherever a collection name is resolved,
so a collection outside the scope is not found, the same as one that does not exist.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING

from ragline.domain.errors import Forbidden

if TYPE_CHECKING:
    from ragline.services.identity import Principal

READ_ONLY_POSTS = frozenset({
    # ask: threads and their messages, the OpenAI-compatible and seed surfaces
    "/api/threads", "/api/threads/{thread_id}/messages", "/api/runs/{run_id}/cancel",
    "/v1/chat/completions", "/v1/responses", "/v1/responses/{response_id}/cancel",
    "/stream_question", "/llm/chat/", "/llm/chat/{session_id}/message/",
    "/conversations/start", "/conversations/chat",
    # search and structured output
    "/api/search", "/api/generate",
    # the LangGraph protocol's searches and runs
    "/assistants/search", "/assistants/count", "/threads", "/threads/search", "/threads/count",
    "/threads/{thread_id}/history", "/threads/{thread_id}/runs",
    "/threads/{thread_id}/runs/stream", "/threads/{thread_id}/runs/wait",
    "/threads/{thread_id}/runs/{run_id}/cancel", "/runs", "/runs/stream", "/runs/wait",
    # MCP: every tool only searches, asks or reads
    "/mcp",
})
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

_collections: ContextVar[frozenset[str] | None] = ContextVar("ragline_key_collections",
                                                              default=None)


def check_method(principal: Principal, method: str, route: str | None) -> None:
    """A read-only key's request that would change something: 403 `read_only_key`."""
    if not principal.read_only or method.upper() in READ_METHODS:
        return
    if method.upper() == "POST" and route in READ_ONLY_POSTS:
        return
    raise Forbidden("this API key is read-only: it may read, search and ask, not change data",
                    code="read_only_key")


def enter(principal: Principal) -> None:
    """The principal's collection scope for the rest of this task (None: every collection)."""
    _collections.set(None if principal.collections is None
                     else frozenset(principal.collections))


def scoped() -> bool:
    """Whether this task's key is limited to some collections."""
    return _collections.get() is not None


def allows(name: str) -> bool:
    scope = _collections.get()
    return scope is None or name in scope


def allowed() -> frozenset[str]:
    """The names a scoped key allows (check `scoped` first)."""
    return _collections.get() or frozenset()
