"""create_app(): the FastAPI application, its lifespan and its routers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles

from ragline.adapters.db.migrate import upgrade
from ragline.bootstrap import Container, build_container
from ragline.config import Settings
from ragline.domain.errors import NotFound
from ragline.mcp.http import mount_mcp
from ragline.telemetry import metrics as telemetry_metrics
from ragline.telemetry.tracing import configure_tracing, shutdown_tracing
from ragline.web import openai_schema
from ragline.web.errors import error_responses, install_error_handlers
from ragline.web.observability import Metrics, install_observability
from ragline.web.ratelimit import RateLimitMiddleware
from ragline.web.routes import (
    audit,
    documents,
    feedback,
    generate,
    health,
    langgraph,
    models,
    openai,
    responses,
    runs,
    samples,
    shared,
    shares,
    sync,
    threads,
    users,
)
from ragline.web.routes.compat import chat_sessions, conversations, oneshot
from ragline.web.shutdown import drain_on_sigterm

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"
API_PREFIXES = {"api", "v1", "llm", "conversations", "docs", "openapi.json", "mcp",
                "assistants", "threads", "runs"}  # the last three: LangGraph's protocol
# Every router, in one list: the core API, then the compatibility surfaces (docs/api.md).
ROUTERS = (
    health, users, threads, shared, feedback, runs, documents, shares, sync, audit, models,
    generate, samples, openai, responses, oneshot, chat_sessions, conversations, langgraph,
)


def create_app(
    settings: Settings | None = None,
    *,
    container_factory: Callable[[Settings], Container] | None = None,
    migrate: bool = True,
) -> FastAPI:
    settings = settings or Settings()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_tracing(settings.otlp_endpoint)
        if migrate:
            await asyncio.to_thread(upgrade, settings.resolved_database_url)
        container = (container_factory or build_container)(settings)
        await container.start()
        app.state.container = container
        metrics.bind(container)
        restore_sigterm = drain_on_sigterm(lambda: drain(container))
        try:
            async with app.state.mcp.run():
                yield
        finally:
            restore_sigterm()
            await container.stop()
            await asyncio.to_thread(shutdown_tracing)
            telemetry_metrics.process_exited()

    app = FastAPI(
        title="ragline",
        version="0.1.0",
        description="Chat with an LLM over your own documents: runs streamed over SSE and "
        "WebSocket, hybrid retrieval with citations, structured output, OpenAI-compatible API.",
        lifespan=lifespan,
        responses=error_responses(),
    )
    app.state.metrics = metrics
    install_error_handlers(app, {"/v1/": openai_schema.http_error})
    if settings.rate_limit_per_minute > 0:
        app.add_middleware(RateLimitMiddleware, per_minute=settings.rate_limit_per_minute,
                           counter=_ContainerCounter(app))
    install_observability(app, metrics)  # outermost: 429s get a request id and a log line too
    for router_module in ROUTERS:
        app.include_router(router_module.router)
    app.state.mcp = mount_mcp(app, settings)  # /mcp, docs/api.md §7
    _serve_ui(app)
    return app


class _ContainerCounter:
    """The rate-limit counter the composition root built, once the lifespan has started it."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    async def hit(self, key: str, window: int) -> int:
        try:
            counter = self.app.state.container.rate_counter
        except AttributeError:  # the lifespan has not started: nothing to count
            return 0
        return 0 if counter is None else int(await counter.hit(key, window))


async def drain(container: Container, linger: float = 2.0) -> None:
    """Drain the runs, then give their open streams a moment to write `done` and close."""
    await container.drain(container.settings.shutdown_grace_seconds)
    for _ in range(int(linger / 0.05)):
        if not container.bus.subscriber_count:
            break
        await asyncio.sleep(0.05)


def _serve_ui(app: FastAPI) -> None:
    """The built web UI at `/` (index.html for client-side routes) when it has been built."""
    index = STATIC_DIR / "index.html"
    if not index.is_file():
        @app.get("/", include_in_schema=False)
        async def no_ui() -> dict[str, Any]:
            return {"name": "ragline", "docs": "/docs", "ui": "not built: run `make ui`"}
        return
    assets = STATIC_DIR / "assets"
    if assets.is_dir():
        app.mount("/assets", StaticFiles(directory=assets), name="assets")

    @app.get("/{path:path}", include_in_schema=False)
    async def ui(path: str) -> Response:
        if path.split("/", 1)[0] in API_PREFIXES:
            raise NotFound(f"no route for /{path}")
        candidate = (STATIC_DIR / path).resolve()
        if path and candidate.is_file() and STATIC_DIR in candidate.parents:
            return FileResponse(candidate)
        return FileResponse(index)
