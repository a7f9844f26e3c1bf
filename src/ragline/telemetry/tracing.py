"""OpenTelemetry traces, exported over OTLP/HTTP when RAGLINE_OTLP_ENDPOINT is set.

Off by default: without an endpoint nothing of the OpenTelemetry SDK is imported and every
helper here returns a shared no-op, so the instrumented code pays one `is None` check.
Spans carry the request-scoped ids of `telemetry.logs` (run, thread, user, job) as attributes.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any

from ragline.telemetry import logs

_tracer: Any = None
_provider: Any = None
_NOOP: AbstractContextManager[Any] = contextlib.nullcontext()
Attributes = Mapping[str, str | int | float | bool]


def traces_url(endpoint: str) -> str:
    """An OTLP/HTTP base URL (`http://collector:4318`) or the full traces URL."""
    endpoint = endpoint.rstrip("/")
    return endpoint if endpoint.endswith("/v1/traces") else f"{endpoint}/v1/traces"


def configure_tracing(endpoint: str | None, service_name: str = "ragline") -> bool:
    """Start exporting spans to `endpoint`; a no-op without one or when already started."""
    global _tracer, _provider
    if not endpoint or _provider is not None:
        return _provider is not None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    name = os.environ.get("OTEL_SERVICE_NAME") or service_name
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=traces_url(endpoint))))
    _provider, _tracer = provider, provider.get_tracer("ragline")
    return True


def shutdown_tracing() -> None:
    """Flush what is buffered and stop (blocking: call it off the event loop)."""
    global _tracer, _provider
    provider, _provider, _tracer = _provider, None, None
    if provider is not None:
        provider.shutdown()


def enabled() -> bool:
    return _tracer is not None


def _attributes(extra: Attributes | None) -> dict[str, Any]:
    attrs: dict[str, Any] = {f"ragline.{k}": v for k, v in logs.current().items()}
    if extra:
        attrs.update(extra)
    return attrs


def span(name: str, attributes: Attributes | None = None) -> AbstractContextManager[Any]:
    """A span that is the current one inside the block (for coroutines, not generators)."""
    if _tracer is None:
        return _NOOP
    return _tracer.start_as_current_span(name, attributes=_attributes(attributes))  # type: ignore[no-any-return]


def start_span(name: str, attributes: Attributes | None = None, parent: Any = None) -> Any:
    """A span that is never made current: safe across `yield`s and tasks. End it with `end`."""
    if _tracer is None:
        return None
    if parent is not None:
        from opentelemetry import trace

        return _tracer.start_span(name, context=trace.set_span_in_context(parent),
                                  attributes=_attributes(attributes))
    return _tracer.start_span(name, attributes=_attributes(attributes))


def end(span_: Any, error: BaseException | str | None = None,
        attributes: Attributes | None = None) -> None:
    if span_ is None:
        return
    if attributes:
        span_.set_attributes(dict(attributes))
    if error is not None:
        from opentelemetry.trace import Status, StatusCode

        if isinstance(error, BaseException):
            span_.record_exception(error)
        span_.set_status(Status(StatusCode.ERROR, str(error)[:200]))
    span_.end()


def annotate(attributes: Attributes) -> None:
    """Add attributes to the current span (when tracing)."""
    if _tracer is None:
        return
    from opentelemetry import trace

    trace.get_current_span().set_attributes(dict(attributes))
