"""Request-scoped logs, request ids, rate-limit metrics and multiprocess metrics (issue 16),
through the real app in-process."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ragline.config import Settings
from ragline.telemetry import metrics, tracing
from ragline.telemetry.logs import ContextFilter, JsonFormatter
from ragline.web.app import create_app
from tests.support.runs import wait_finished

MARKER = "PRIVATE-QUESTION-7f3a"


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.setFormatter(JsonFormatter())
        self.addFilter(ContextFilter())
        self.lines: list[dict] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture
def captured() -> Iterator[_Lines]:
    handler = _Lines()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield handler
    root.removeHandler(handler)
    root.setLevel(level)


def _app(tmp_path: Path, **extra: object) -> TestClient:
    settings = Settings(data_dir=tmp_path, default_model="scripted", embedder_warmup=False,
                        **extra)  # type: ignore[arg-type]
    return TestClient(create_app(settings))


def test_every_log_line_of_a_request_and_its_run_carries_the_ids(
    tmp_path: Path, captured: _Lines
) -> None:
    with _app(tmp_path) as client:
        assert client.get("/healthz", headers={"X-Request-ID": "req-given.1"}
                          ).headers["x-request-id"] == "req-given.1"
        generated = client.get("/healthz").headers["x-request-id"]
        refused = client.get("/healthz", headers={"X-Request-ID": "x" * 300}
                             ).headers["x-request-id"]
        assert len(generated) == 32 and len(refused) == 32 and refused != generated

        thread_id = client.post("/api/threads", json={}).json()["thread_id"]
        posted = client.post(f"/api/threads/{thread_id}/messages",
                             json={"content": f"[[say:fine thanks]] {MARKER}"},
                             headers={"X-Request-ID": "req-run"})
        assert posted.status_code == 202 and posted.headers["x-request-id"] == "req-run"
        run_id = posted.json()["run_id"]
        assert wait_finished(client, run_id)["status"] == "done"

    access = next(line for line in captured.lines if line.get("request_id") == "req-run"
                  and line["logger"] == "ragline.http")
    assert access["thread_id"] == thread_id and access["user_id"] and access["status"] == 202
    finished = next(line for line in captured.lines
                    if line["logger"] == "ragline.runs" and line.get("run_id") == run_id)
    assert finished["outcome"] == "done" and finished["model"] == "scripted"
    assert finished["thread_id"] == thread_id and finished["user_id"] == access["user_id"]
    assert finished["request_id"] == "req-run"  # the request that started the run
    assert finished["completion_tokens"] == 2
    assert not [line for line in captured.lines if MARKER in json.dumps(line)]
    assert not [line for line in captured.lines if "fine thanks" in json.dumps(line)]


def test_credentials_in_logged_urls_are_masked(captured: _Lines) -> None:
    logging.getLogger("uvicorn.error").info('%s - "WebSocket %s" [accepted]', "127.0.0.1",
                                            "/api/runs/r/ws?token=sk-live-123&x=1")
    logging.getLogger("ragline.test").info("GET /x?access_token=abc")
    text = json.dumps(captured.lines)
    assert "sk-live-123" not in text and "access_token=***" in text and "token=***&x=1" in text


def test_rate_limit_rejections_are_counted_and_answered_with_a_request_id(
    tmp_path: Path,
) -> None:
    before = metrics.RATE_LIMITED._value.get()
    with _app(tmp_path, rate_limit_per_minute=2) as client:
        answers = [client.get("/api/threads") for _ in range(5)]
    refused = [a for a in answers if a.status_code == 429]
    assert refused and all(a.headers["x-request-id"] for a in refused)
    assert metrics.RATE_LIMITED._value.get() - before == len(refused)


def test_unexpected_errors_answer_500_with_the_request_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a route (the inner error middleware answers) and in a middleware outside it (the
    rate limiter's store failing in an unexpected way): both 500s carry the request id."""
    from ragline.web.ratelimit import MemoryCounter
    from ragline.web.routes import threads

    def page_broken(*_args: object) -> object:
        raise RuntimeError("boom")

    async def hit_broken(*_args: object) -> int:
        raise RuntimeError("boom")

    monkeypatch.setattr(threads, "page", page_broken)
    monkeypatch.setattr(MemoryCounter, "hit", hit_broken)
    with _app(tmp_path) as client:
        in_route = client.get("/api/threads", headers={"X-Request-ID": "req-500-route"})
    with _app(tmp_path, rate_limit_per_minute=100) as client:
        outside = client.get("/api/threads", headers={"X-Request-ID": "req-500-edge"})
        after = client.get("/healthz")
    for answer, given in ((in_route, "req-500-route"), (outside, "req-500-edge")):
        assert answer.status_code == 500, answer.text
        assert answer.headers["x-request-id"] == given
        assert answer.json()["error"]["code"] == "internal_error"
    assert after.status_code == 200


def test_tracing_is_off_without_an_endpoint_and_loads_no_sdk(tmp_path: Path) -> None:
    """(FastAPI and redis import parts of OpenTelemetry themselves; ragline adds no tracer.)"""
    assert not tracing.enabled()
    assert tracing.start_span("x") is None
    with tracing.span("x") as span:
        assert span is None
    probe = textwrap.dedent(f"""
        import sys
        from fastapi.testclient import TestClient
        from ragline.config import Settings
        from ragline.web.app import create_app
        app = create_app(Settings(data_dir={str(tmp_path)!r}, default_model="scripted",
                                  embedder_warmup=False))
        with TestClient(app) as client:
            thread = client.post("/api/threads", json={{}}).json()["thread_id"]
            client.post(f"/api/threads/{{thread}}/messages", json={{"content": "hi"}})
        print(sorted(m for m in sys.modules if m.startswith(("opentelemetry.sdk.trace",
                                                             "opentelemetry.exporter"))))
    """)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAGLINE_", "OTEL_"))}
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_metrics_of_several_processes_are_summed_in_multiprocess_mode(tmp_path: Path) -> None:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    worker = textwrap.dedent("""
        import sys
        from ragline.telemetry import metrics as m
        m.RUNS.labels("done", "scripted").inc()
        m.OPEN_STREAMS.labels("sse", "/x").inc()
        if sys.argv[1] == "exit-cleanly":
            m.process_exited()
    """)
    for how in ("crash", "exit-cleanly"):
        subprocess.run([sys.executable, "-c", worker, how], env=env, check=True, timeout=60)
    render = "from ragline.telemetry import metrics as m; print(m.render().decode())"
    text = subprocess.run([sys.executable, "-c", render], env=env, check=True, timeout=60,
                          capture_output=True, text=True).stdout
    assert 'ragline_runs_total{model="scripted",outcome="done"} 2.0' in text
    # live gauges of a process that exited cleanly are dropped; a crashed one's linger
    assert 'ragline_open_streams{route="/x",transport="sse"} 1.0' in text


async def test_local_engine_slots_are_read_at_scrape_time() -> None:
    from types import SimpleNamespace

    from ragline.web.observability import Metrics

    class _Models:
        def readiness(self) -> dict:
            return {"models": {"local": {"loaded": True, "running": 2, "waiting": 5},
                               "remote": {"loaded": True}}}

    class _NoDatabase:
        def session(self) -> object:
            raise OSError("database down")

    container = SimpleNamespace(
        db=_NoDatabase(), models=_Models(), runs=SimpleNamespace(active_count=2),
        writer=SimpleNamespace(batches=7), bus=SimpleNamespace(subscriber_count=1))
    scraper = Metrics()
    scraper.bind(container)
    text = (await scraper.render()).body.decode()
    assert 'ragline_model_slots{model="local",state="busy"} 2.0' in text
    assert 'ragline_model_slots{model="local",state="waiting"} 5.0' in text
    assert 'model="remote"' not in text and "ragline_active_runs 2.0" in text
