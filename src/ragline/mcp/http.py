"""`/mcp`: the MCP server over streamable HTTP, inside the FastAPI app, behind its auth.

Stateless mode: every POST carries its own credentials and is served on its own, so any
process or replica can answer any request (there is no in-memory session to lose), and each
tool call acts as the caller that request authenticated, whatever an earlier one did.
Progress still streams: a tool call's response is an SSE stream of notifications, then the result.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from mcp.server.context import ServerRequestContext
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp
from mcp.server.transport_security import TransportSecuritySettings
from starlette.requests import HTTPConnection
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from ragline.bootstrap import Container
from ragline.config import Settings
from ragline.domain.errors import Unavailable
from ragline.mcp.server import build_server
from ragline.mcp.tools import Caller
from ragline.web.deps import resolve_principal

CALLER_KEY = "ragline.caller"
LOCAL_HOSTS = ["127.0.0.1:*", "localhost:*", "[::1]:*"]


class MCPEndpoint:
    """ASGI app: resolve the caller as the REST API does (its errors map to 401), then MCP."""

    def __init__(self, settings: Settings) -> None:
        self.server = build_server(_caller)
        self.security = _security(settings)
        self.handler: StreamableHTTPASGIApp | None = None

    @asynccontextmanager
    async def run(self) -> AsyncIterator[None]:
        """Serve while the app runs (a fresh session manager each time: they run only once)."""
        self.server.streamable_http_app(stateless_http=True, transport_security=self.security)
        sessions = self.server.session_manager
        self.handler = StreamableHTTPASGIApp(sessions)
        try:
            async with sessions.run():
                yield
        finally:
            self.handler = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        connection = HTTPConnection(scope)
        if self.handler is None:
            raise Unavailable("the MCP endpoint is not running")
        container: Container = connection.app.state.container
        principal = await resolve_principal(container, _token(connection))  # or Unauthorized
        scope[CALLER_KEY] = Caller(container, principal)
        await self.handler(scope, receive, send)


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
    return caller


def mount_mcp(app: FastAPI, settings: Settings) -> MCPEndpoint:
    """Route `/mcp` to the MCP server; the app's lifespan runs `endpoint.run()`."""
    endpoint = MCPEndpoint(settings)
    app.router.routes.append(Route("/mcp", endpoint, methods=["GET", "POST", "DELETE"],
                                   include_in_schema=False))
    return endpoint


def _security(settings: Settings) -> TransportSecuritySettings:
    """With auth off, only local pages may call (DNS rebinding); with auth on, credentials do."""
    if settings.auth != "none":
        return TransportSecuritySettings(enable_dns_rebinding_protection=False)
    origins = [f"http://{host}" for host in LOCAL_HOSTS] + [f"https://{h}" for h in LOCAL_HOSTS]
    return TransportSecuritySettings(enable_dns_rebinding_protection=True,
                                     allowed_hosts=LOCAL_HOSTS, allowed_origins=origins)
