"""Every Prometheus metric ragline exports, in one place.

One process (the default): the families below live in `REGISTRY` and `/metrics` renders it.
Several processes on one host (`ragline serve --workers N`, a `ragline worker` beside the
server): with `PROMETHEUS_MULTIPROC_DIR` pointing at a folder they share (empty at start),
prometheus-client keeps the values in files there and any process's `/metrics` reports the
sum over all of them. `ragline serve --workers N` creates such a folder when none is set.
Replicas on different hosts are scraped one by one; sum them in PromQL.

Values read at scrape time (queue depths from the database, the local engine's slots) are
added by `web/observability.py`.
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.process_collector import ProcessCollector

MULTIPROC_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None
REGISTRY = CollectorRegistry()
if MULTIPROC_DIR is None:
    ProcessCollector(registry=REGISTRY)

_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_TTFT = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0, 120.0, 300.0)
_RATE = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)

# HTTP
HTTP_REQUESTS = Counter("ragline_http_requests", "HTTP requests",
                        ["method", "route", "status"], registry=REGISTRY)
HTTP_LATENCY = Histogram("ragline_http_request_seconds", "Time to response start",
                         ["method", "route"], buckets=_SECONDS, registry=REGISTRY)
OPEN_STREAMS = Gauge("ragline_open_streams", "Open SSE responses and WebSocket connections",
                     ["transport", "route"], multiprocess_mode="livesum", registry=REGISTRY)
RATE_LIMITED = Counter("ragline_rate_limited_requests", "Requests refused with 429",
                       registry=REGISTRY)

# Feedback on answers
FEEDBACK = Counter("ragline_feedback", "Ratings given to answers (a replaced rating counts again)",
                   ["rating"], registry=REGISTRY)

# Runs
RUNS = Counter("ragline_runs", "Runs finished, by outcome (done/failed/cancelled) and model",
               ["outcome", "model"], registry=REGISTRY)
RUN_ERRORS = Counter("ragline_run_errors", "Failed runs by error code", ["code"],
                     registry=REGISTRY)

# Models (every request to a model, runs and condensing and /api/generate alike)
MODEL_IN_FLIGHT = Gauge("ragline_model_requests_in_flight",
                        "Model requests started and not finished (queued or generating)",
                        ["model"], multiprocess_mode="livesum", registry=REGISTRY)
PROMPT_TOKENS = Counter("ragline_model_prompt_tokens", "Prompt tokens read", ["model"],
                        registry=REGISTRY)
COMPLETION_TOKENS = Counter("ragline_model_completion_tokens", "Tokens generated", ["model"],
                            registry=REGISTRY)
CACHED_TOKENS = Counter("ragline_model_cached_tokens",
                        "Prompt tokens served from the engine's prompt cache", ["model"],
                        registry=REGISTRY)
TIME_TO_FIRST_TOKEN = Histogram("ragline_model_time_to_first_token_seconds",
                                "From the request to the model's first token (queue included)",
                                ["model"], buckets=_TTFT, registry=REGISTRY)
PROMPT_RATE = Histogram("ragline_model_prompt_tokens_per_second",
                        "Prompt reading rate: uncached prompt tokens / time to first token "
                        "(requests that waited in the engine's queue are left out)",
                        ["model"], buckets=_RATE, registry=REGISTRY)
DECODE_RATE = Histogram("ragline_model_decode_tokens_per_second",
                        "Generation rate after the first token", ["model"], buckets=_RATE,
                        registry=REGISTRY)
PROVIDER_ERRORS = Counter("ragline_provider_errors", "Failed model requests by error code",
                          ["model", "code"], registry=REGISTRY)
PROVIDER_RETRIES = Counter("ragline_provider_retries", "Model requests retried", ["model"],
                           registry=REGISTRY)
PROVIDER_FALLBACKS = Counter("ragline_provider_fallbacks",
                             "Switches to a fallback model before the first token",
                             ["model", "fallback"], registry=REGISTRY)

# Retrieval and ingestion
RETRIEVAL_LATENCY = Histogram("ragline_retrieval_seconds", "Search latency by mode", ["mode"],
                              buckets=_SECONDS, registry=REGISTRY)
INGEST_JOBS = Counter("ragline_ingest_jobs",
                      "Ingestion jobs ended, by outcome (ready/failed/superseded/skipped/...)",
                      ["outcome"], registry=REGISTRY)
INGEST_PAGES = Counter("ragline_ingest_pages", "Pages ingested", registry=REGISTRY)
INGEST_CHUNKS = Counter("ragline_ingest_chunks", "Chunks indexed", registry=REGISTRY)
INGEST_STAGE = Histogram("ragline_ingest_stage_seconds", "Time per ingestion stage", ["stage"],
                         buckets=(*_SECONDS, 60.0, 120.0, 300.0), registry=REGISTRY)


def render() -> bytes:
    """The text exposition of every family above (summed over processes in multiprocess mode)."""
    if MULTIPROC_DIR is None:
        return generate_latest(REGISTRY)
    from prometheus_client import multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, MULTIPROC_DIR)  # type: ignore[no-untyped-call]
    return generate_latest(registry)


def process_exited() -> None:
    """In multiprocess mode, drop this process's live gauges (streams, requests in flight)."""
    if MULTIPROC_DIR is not None:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(os.getpid(), MULTIPROC_DIR)  # type: ignore[no-untyped-call]
