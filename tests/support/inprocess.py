"""The real app in this process: `create_app(settings)` run with its lifespan, driven by httpx.

`running_app(settings)` starts the app (migrations, container, MCP session manager) and yields
an `InProcessApp` whose `client` is an `httpx.AsyncClient` on a streaming ASGI transport: unlike
httpx's own `ASGITransport`, which buffers a whole response, it hands over body chunks as the
app sends them and tells the app `http.disconnect` when the client closes the response early,
so live SSE streams, cancel-while-streaming and "the client left" all work in-process.
WebSockets go through starlette's `TestClient` (`sync_app`), in sync tests.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterator, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ragline.bootstrap import Container
from ragline.config import Settings
from ragline.web.app import create_app

BASE_URL = "http://127.0.0.1:8000"  # a loopback Host: /mcp refuses others (DNS rebinding)


def app_settings(database_url: str, data_dir: Path, **extra: Any) -> Settings:
    """What `server_env` (tests/support/processes.py) gives a subprocess server, as Settings:
    the scripted model as default, no Redis, no embedder warm-up. `extra` overrides."""
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "database_url": database_url,
        "redis_url": None,
        "default_model": "scripted",
        "log_json": False,
        "log_level": "WARNING",
        "embedder_warmup": False,
        "otlp_endpoint": None,
        "auth": "none",
    }
    values.update(extra)
    return Settings(**values)


def streaming_transport(app: Any, httpx_module: ModuleType = httpx) -> Any:
    """An ASGI transport for `httpx` (or `httpx2`, the MCP client's) that streams responses."""

    class _Body(httpx_module.AsyncByteStream):  # type: ignore[misc,name-defined]
        def __init__(self, queue: asyncio.Queue[Any], disconnected: asyncio.Event,
                     task: asyncio.Task[None]) -> None:
            self.queue, self.disconnected, self.task = queue, disconnected, task

        async def __aiter__(self) -> AsyncIterator[bytes]:
            while True:
                item = await self.queue.get()
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item

        async def aclose(self) -> None:
            self.disconnected.set()
            try:
                await asyncio.wait_for(asyncio.shield(self.task), 10)
            except TimeoutError:
                self.task.cancel()
                await asyncio.gather(self.task, return_exceptions=True)

    class _Transport(httpx_module.AsyncBaseTransport):  # type: ignore[misc,name-defined]
        async def handle_async_request(self, request: Any) -> Any:
            scope = {
                "type": "http",
                "asgi": {"version": "3.0"},
                "http_version": "1.1",
                "method": request.method,
                "headers": [(k.lower(), v) for (k, v) in request.headers.raw],
                "scheme": request.url.scheme,
                "path": request.url.path,
                "raw_path": request.url.raw_path.split(b"?")[0],
                "query_string": request.url.query,
                "server": (request.url.host, request.url.port),
                "client": ("127.0.0.1", 123),
                "root_path": "",
            }
            body_chunks = request.stream.__aiter__()
            request_complete = False
            disconnected = asyncio.Event()
            started: asyncio.Future[tuple[int, list[Any]]] = (
                asyncio.get_running_loop().create_future()
            )
            queue: asyncio.Queue[Any] = asyncio.Queue()

            async def receive() -> dict[str, Any]:
                nonlocal request_complete
                if request_complete:
                    await disconnected.wait()
                    return {"type": "http.disconnect"}
                try:
                    body = await body_chunks.__anext__()
                except StopAsyncIteration:
                    request_complete = True
                    return {"type": "http.request", "body": b"", "more_body": False}
                return {"type": "http.request", "body": body, "more_body": True}

            async def send(message: MutableMapping[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    started.set_result((message["status"], message.get("headers", [])))
                elif message["type"] == "http.response.body" and not disconnected.is_set():
                    body = message.get("body", b"")
                    if body and request.method != "HEAD":
                        queue.put_nowait(body)
                    if not message.get("more_body", False):
                        disconnected.set()  # the response is complete: nothing more to read
                        queue.put_nowait(None)

            async def run() -> None:
                try:
                    await app(scope, receive, send)
                except BaseException as exc:
                    if not started.done():
                        started.set_exception(exc)
                    else:
                        queue.put_nowait(exc)
                    if not isinstance(exc, Exception):
                        raise
                finally:
                    queue.put_nowait(None)

            task = asyncio.create_task(run(), name=f"asgi {request.method} {request.url.path}")
            status, headers = await started
            return httpx_module.Response(status, headers=headers,
                                         stream=_Body(queue, disconnected, task))

    return _Transport()


@dataclass
class InProcessApp:
    app: FastAPI
    settings: Settings
    client: httpx.AsyncClient

    @property
    def container(self) -> Container:
        return self.app.state.container  # type: ignore[no-any-return]

    def http(self, **kwargs: Any) -> httpx.AsyncClient:
        """Another client on the same app (e.g. with other headers); the caller closes it."""
        kwargs.setdefault("base_url", BASE_URL)
        kwargs.setdefault("timeout", 30)
        return httpx.AsyncClient(transport=streaming_transport(self.app), **kwargs)


@contextlib.asynccontextmanager
async def running_app(
    settings: Settings,
    *,
    container_factory: Callable[[Settings], Container] | None = None,
) -> AsyncIterator[InProcessApp]:
    """The app started with its lifespan (as `ragline serve` does), stopped on exit."""
    app = create_app(settings, container_factory=container_factory)
    started, stopping = asyncio.Event(), asyncio.Event()

    async def serve() -> None:
        # One task enters and exits the lifespan (its task groups demand it), whatever task the
        # caller (a pytest-asyncio fixture) sets up and tears down in.
        async with app.router.lifespan_context(app):
            started.set()
            await stopping.wait()

    server = asyncio.create_task(serve(), name="in-process app lifespan")
    waiter = asyncio.create_task(started.wait())
    await asyncio.wait({server, waiter}, return_when=asyncio.FIRST_COMPLETED)
    if not started.is_set():
        waiter.cancel()
        await server  # raises the start-up error
    try:
        async with httpx.AsyncClient(transport=streaming_transport(app), base_url=BASE_URL,
                                     timeout=30) as client:
            yield InProcessApp(app, settings, client)
    finally:
        stopping.set()
        await server


@contextlib.contextmanager
def sync_app(settings: Settings) -> Iterator[TestClient]:
    """The app on starlette's TestClient (its own event loop in a thread): for WebSockets."""
    with TestClient(create_app(settings), base_url=BASE_URL) as client:
        yield client
