"""The HTTP edge of telemetry: request ids, access logs, HTTP and stream metrics, `/metrics`.

One pure ASGI middleware (unlike BaseHTTPMiddleware it adds nothing per streamed chunk) binds
the request id (the caller's `X-Request-ID`, else a new one, echoed in the response), counts
requests and keeps the open-stream gauges: an SSE response counts from its first byte to its
end, a WebSocket from its accept to its close.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import Any

from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ragline.telemetry import logs
from ragline.telemetry import metrics as m
from ragline.telemetry.logs import JsonFormatter, configure_logging
from ragline.web.errors import error_body

__all__ = ["JsonFormatter", "Metrics", "configure_logging", "install_observability"]

log = logging.getLogger("ragline.http")
SNAPSHOT_TIMEOUT = 2.0


class Metrics:
    """`/metrics`: the shared families plus values read at scrape time from this process and
    from the database (the same from every process, so never summed)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._live = _LiveCollector()
        self.registry.register(self._live)

    def bind(self, container: Any) -> None:
        self._live.container = container

    async def render(self) -> Response:
        await self._live.refresh()
        body = m.render() + generate_latest(self.registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)


class _LiveCollector(Collector):
    def __init__(self) -> None:
        self.container: Any = None
        self._runs: dict[str, int] = {}
        self._jobs: dict[str, int] = {}

    async def refresh(self) -> None:
        """Count runs and ingestion jobs by state (one grouped query each)."""
        if self.container is None:
            return
        from ragline.domain.runs import ACTIVE

        try:
            async with asyncio.timeout(SNAPSHOT_TIMEOUT):
                runs = await self.container.store.count_by_status(ACTIVE)
                jobs = await self.container.documents.count_jobs_by_status()
            self._runs = {status: 0 for status in ACTIVE} | runs
            self._jobs = jobs
        except Exception:  # /metrics stays up when the database is not
            log.warning("metrics: counting runs and jobs failed", exc_info=True)
            self._runs, self._jobs = {}, {}

    def collect(self) -> Any:
        runs = GaugeMetricFamily("ragline_runs_in_state",
                                 "Runs queued or running, across every process", labels=["status"])
        for status, count in self._runs.items():
            runs.add_metric([status], count)
        jobs = GaugeMetricFamily("ragline_ingest_jobs_in_state",
                                 "Ingestion jobs by state, across every process", labels=["state"])
        for state, count in self._jobs.items():
            jobs.add_metric([state], count)
        yield runs
        yield jobs
        container = self.container
        if container is None:
            return
        pid = [str(os.getpid())] if m.MULTIPROC_DIR else []
        labels = ["pid"] if pid else []
        for name, value, text in (
            ("ragline_active_runs", container.runs.active_count, "Runs executing in this process"),
            ("ragline_run_event_batches", container.writer.batches, "Run-event batches committed"),
            ("ragline_stream_subscribers", container.bus.subscriber_count,
             "Run-event subscriptions open in this process"),
        ):
            family = GaugeMetricFamily(name, text, labels=labels)
            family.add_metric(pid, value)
            yield family
        slots = GaugeMetricFamily("ragline_model_slots",
                                  "The local engine's parallel slots busy and requests waiting "
                                  "for one, in this process", labels=["model", "state", *labels])
        for model, (busy, waiting) in _engine_queues(container.models):
            slots.add_metric([model, "busy", *pid], busy)
            slots.add_metric([model, "waiting", *pid], waiting)
        yield slots


def _engine_queues(models: Any) -> list[tuple[str, tuple[int, int]]]:
    """(model, (slots busy, requests waiting)) of each loaded local engine."""
    entries = models.readiness().get("models", {})
    return [(name, (int(e["running"]), int(e["waiting"]))) for name, e in entries.items()
            if isinstance(e, dict) and "running" in e]


def install_observability(app: FastAPI, metrics: Metrics) -> None:
    app.add_middleware(_ObserveMiddleware, metrics=metrics)


class _ObserveMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        request_id = logs.request_id_from(headers.get(b"x-request-id"))
        tokens = logs.bind(request_id=request_id, user_id=None, thread_id=None, run_id=None)
        scope_token = logs.bind_scope(scope)
        try:
            if scope["type"] == "http":
                await self._http(scope, receive, send, request_id)
            else:
                await self._websocket(scope, receive, send, request_id)
        finally:
            logs.reset_scope(scope_token)
            logs.reset(tokens)

    async def _http(self, scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
        start = time.perf_counter()
        stream: Any = None
        started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal stream, started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", []),
                                      (b"x-request-id", request_id.encode())]
                status = message["status"]
                self._record(scope, status, time.perf_counter() - start)
                if _is_event_stream(message):
                    stream = m.OPEN_STREAMS.labels("sse", _route(scope))
                    stream.inc()
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception as exc:
            if started:
                if stream is None:
                    self._record(scope, 500, time.perf_counter() - start)
                raise
            # An error outside the inner error middleware (a middleware between the two):
            # answered here, so the 500 carries the request id like every other answer.
            log.error("unhandled error", exc_info=exc)
            await JSONResponse(error_body("internal_error", "an unexpected error occurred"),
                               500)(scope, receive, send_wrapper)
        finally:
            if stream is not None:
                stream.dec()

    async def _websocket(
        self, scope: Scope, receive: Receive, send: Send, request_id: str
    ) -> None:
        start = time.perf_counter()
        opened: Any = None

        async def send_wrapper(message: Message) -> None:
            nonlocal opened
            if message["type"] == "websocket.accept" and opened is None:
                message["headers"] = [*message.get("headers", []),
                                      (b"x-request-id", request_id.encode())]
                opened = m.OPEN_STREAMS.labels("websocket", _route(scope))
                opened.inc()
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            if opened is not None:
                opened.dec()
                log.info("websocket %s closed", scope["path"], extra={"fields": {
                    "path": scope["path"], "route": _route(scope),
                    "ms": round((time.perf_counter() - start) * 1000, 2)}})

    def _record(self, scope: Scope, status: int, elapsed: float) -> None:
        method = scope["method"]
        route = _route(scope)
        m.HTTP_REQUESTS.labels(method, route, str(status)).inc()
        m.HTTP_LATENCY.labels(method, route).observe(elapsed)
        if route != "/metrics":
            log.info(
                "%s %s %s", method, scope["path"], status,
                extra={"fields": {
                    "method": method, "path": scope["path"], "route": route,
                    "status": status, "ms": round(elapsed * 1000, 2),
                }},
            )


def _route(scope: Scope) -> str:
    return getattr(scope.get("route"), "path", "unmatched")


def _is_event_stream(message: Message) -> bool:
    for name, value in message.get("headers", []):
        if name.lower() == b"content-type":
            return bytes(value).startswith(b"text/event-stream")
    return False
