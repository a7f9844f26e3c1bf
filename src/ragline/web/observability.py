"""Prometheus metrics and structured (JSON) request logs."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request, Response
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

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
    @app.middleware("http")
    async def _observe(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        start = time.perf_counter()
        response = await call_next(request)
        elapsed = time.perf_counter() - start
        route = getattr(request.scope.get("route"), "path", "unmatched")
        metrics.requests.labels(request.method, route, str(response.status_code)).inc()
        metrics.latency.labels(request.method, route).observe(elapsed)
        if route != "/metrics":
            log.info(
                "%s %s %s", request.method, request.url.path, response.status_code,
                extra={"fields": {
                    "method": request.method, "path": request.url.path, "route": route,
                    "status": response.status_code, "ms": round(elapsed * 1000, 2),
                }},
            )
        return response
