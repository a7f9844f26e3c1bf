"""Prometheus metrics and structured (JSON) request logs."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from fastapi import FastAPI, Response
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("ragline.http")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            payload.update(extra)
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


def configure_logging(level: str, as_json: bool) -> None:
    handler = logging.StreamHandler()
    if as_json:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "ragline_http_requests_total", "HTTP requests", ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "ragline_http_request_seconds", "Time to response start", ["method", "route"],
            registry=self.registry,
        )
        self.event_batches = Gauge(
            "ragline_run_event_batches", "Run-event batches committed", registry=self.registry
        )
        self.active_runs = Gauge(
            "ragline_active_runs", "Runs executing in this process", registry=self.registry
        )
        self.stream_subscribers = Gauge(
            "ragline_stream_subscribers", "Open run-event streams", registry=self.registry
        )

    def bind(self, container: Any) -> None:
        self.event_batches.set_function(lambda: container.writer.batches)
        self.active_runs.set_function(lambda: container.runs.active_count)
        self.stream_subscribers.set_function(lambda: container.bus.subscriber_count)

    def render(self) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


def install_observability(app: FastAPI, metrics: Metrics) -> None:
    """A pure ASGI middleware: unlike BaseHTTPMiddleware it adds nothing per streamed chunk."""
    app.add_middleware(_ObserveMiddleware, metrics=metrics)


class _ObserveMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                self._record(scope, status, time.perf_counter() - start)
            await send(message)

        await self.app(scope, receive, send_wrapper)

    def _record(self, scope: Scope, status: int, elapsed: float) -> None:
        method = scope["method"]
        route = getattr(scope.get("route"), "path", "unmatched")
        self.metrics.requests.labels(method, route, str(status)).inc()
        self.metrics.latency.labels(method, route).observe(elapsed)
        if route != "/metrics":
            log.info(
                "%s %s %s", method, scope["path"], status,
                extra={"fields": {
                    "method": method, "path": scope["path"], "route": route,
                    "status": status, "ms": round(elapsed * 1000, 2),
                }},
            )
