"""`/mcp`: the MCP server over streamable HTTP, inside the FastAPI app, behind its auth.

Stateless mode: every POST carries its own credentials and is served on its own, so any
process or replica can answer any request (there is no in-memory session to lose), and each
tool call acts as the caller that request authenticated, whatever an earlier one did.
Progress still streams: a tool call's response is an SSE stream of notifications, then the result.

The `mcp` package takes seconds to import, so the MCP server is built on the first request to
`/mcp` (the import runs off the event loop), not when the app starts.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from starlette.requests import HTTPConnection
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from ragline.bootstrap import Container
from ragline.config import Settings
from ragline.domain.errors import Unavailable
from ragline.mcp.tools import Caller
from ragline.services import key_scopes
from ragline.web.deps import resolve_principal

if TYPE_CHECKING:
    from mcp.server.context import ServerRequestContext
    from mcp.server.streamable_http_manager import StreamableHTTPASGIApp
    from mcp.server.transport_security import TransportSecuritySettings


CALLER_KEY = "ragline.caller"
LOCAL_HOSTS = ["127.0.0.1:*", "localhost:*", "[::1]:*"]


class MCPEndpoint:
    """ASGI app: resolve the caller as the REST API does (its errors map to 401), then MCP."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.handler: StreamableHTTPASGIApp | None = None
        self._running = False
        self._lock = asyncio.Lock()
        self._stop = asyncio.Event()
        self._serving: asyncio.Task[None] | None = None

    @asynccontextmanager
    async def run(self) -> AsyncIterator[None]:
        """Serve while the app runs; the session manager starts with the first request (a
        fresh one each time the app runs: they run only once) and stops with the app."""
        self._running = True
        self._lock, self._stop = asyncio.Lock(), asyncio.Event()  # this loop's
        try:
            yield
        finally:
            self._running = False
            self._stop.set()
            if self._serving is not None:
                await asyncio.gather(self._serving, return_exceptions=True)
            self._serving = None
            self.handler = None

    async def _start(self) -> StreamableHTTPASGIApp:
        async with self._lock:
            if self.handler is not None:
                return self.handler
            for module in ("mcp.server.streamable_http_manager", "ragline.mcp.server"):
                await asyncio.to_thread(importlib.import_module, module)
            from mcp.server.streamable_http_manager import StreamableHTTPASGIApp

            from ragline.mcp.server import build_server

            server = build_server(_caller)
            server.streamable_http_app(stateless_http=True,
                                       transport_security=_security(self.settings))
            sessions = server.session_manager
            started = asyncio.Event()

            async def serve() -> None:
                async with sessions.run():
                    started.set()
                    await self._stop.wait()

            self._serving = asyncio.create_task(serve(), name="mcp-sessions")
            waiter = asyncio.create_task(started.wait())
            await asyncio.wait([self._serving, waiter], return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            if self._serving.done():
                self._serving.result()  # it failed to start: raise why
            self.handler = StreamableHTTPASGIApp(sessions)
            return self.handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        connection = HTTPConnection(scope)
        if not self._running:
            raise Unavailable("the MCP endpoint is not running")
        container: Container = connection.app.state.container
        principal = await resolve_principal(container, _token(connection))  # or Unauthorized
        handler = self.handler or await self._start()
        scope[CALLER_KEY] = Caller(container, principal)
        await handler(scope, receive, send)


def _token(connection: HTTPConnection) -> str | None:
    header = connection.headers.get("authorization") or ""
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return connection.headers.get("x-api-key")


def _caller(ctx: ServerRequestContext[Any, Any] | None) -> Caller:
    request = ctx.request if ctx is not None else None
    caller = getattr(request, "scope", {}).get(CALLER_KEY)
    if not isinstance(caller, Caller):  # only MCPEndpoint hands requests to this server
        raise RuntimeError("an MCP request reached the server without an authenticated caller")
    # tools run in the session manager's tasks, not the request's: its key's scope holds here
    key_scopes.enter(caller.principal)
    return caller


def mount_mcp(app: FastAPI, settings: Settings) -> MCPEndpoint:
    """Route `/mcp` to the MCP server; the app's lifespan runs `endpoint.run()`."""
    endpoint = MCPEndpoint(settings)
    app.router.routes.append(Route("/mcp", endpoint, methods=["GET", "POST", "DELETE"],
                                   include_in_schema=False))
    return endpoint


def _security(settings: Settings) -> TransportSecuritySettings:
    """With auth off, only local pages may call (DNS rebinding); with auth on, credentials do."""
    from mcp.server.transport_security import TransportSecuritySettings

    if settings.auth != "none":
        return TransportSecuritySettings(enable_dns_rebinding_protection=False)
    origins = [f"http://{host}" for host in LOCAL_HOSTS] + [f"https://{h}" for h in LOCAL_HOSTS]
    return TransportSecuritySettings(enable_dns_rebinding_protection=True,
                                     allowed_hosts=LOCAL_HOSTS, allowed_origins=origins)
