"""Operators' view of a live server: /metrics families move while runs stream, a grounded
answer's trace reaches a real OTLP receiver, startup mistakes are one line (issue 16)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from httpx_sse import connect_sse
from prometheus_client.parser import text_string_to_metric_families
from websockets.sync.client import connect as ws_connect

from tests.otlp_receiver import OtlpReceiver, ReceivedSpan
from tests.support.processes import ServerProcess, free_port, server_env

COLLECTION = "ops"
DOCUMENT = (b"# Facilities\n\nThe office coffee machine is descaled every Friday by the "
            b"facilities team. Visitors sign in at the front desk.")
QUESTION = "Who descales the office coffee machine?"


@pytest.fixture(scope="module")
def receiver() -> Iterator[OtlpReceiver]:
    otlp = OtlpReceiver().start()
    yield otlp
    otlp.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, receiver: OtlpReceiver
           ) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("telemetry")
    models = root / "models.toml"
    models.write_text(  # unreachable, retried once, then the scripted model takes over
        f'[flaky]\nprovider = "openai"\nbase_url = "http://127.0.0.1:{free_port()}/v1"\n'
        'fallbacks = ["scripted"]\noptions = { max_retries = 1, backoff_base = 0.01 }\n'
    )
    env = server_env(root / "data", f"sqlite+aiosqlite:///{root / 'ragline.db'}",
                     RAGLINE_OTLP_ENDPOINT=receiver.endpoint, OTEL_BSP_SCHEDULE_DELAY="100",
                     RAGLINE_MODELS_FILE=str(models))
    process = ServerProcess(env, log_path=root / "server.log")
    process.start()
    with httpx.Client(base_url=process.base_url, timeout=30) as client:
        upload = client.post("/api/documents", files={"file": ("facilities.md", DOCUMENT)},
                             data={"collection": COLLECTION})
        assert upload.status_code == 202, upload.text
        _wait_job(client, upload.json()["job_id"])
    yield process
    process.stop()


FAMILIES = (
    "ragline_runs_total", "ragline_run_errors_total", "ragline_runs_in_state",
    "ragline_model_completion_tokens_total", "ragline_model_prompt_tokens_total",
    "ragline_model_cached_tokens_total", "ragline_model_time_to_first_token_seconds",
    "ragline_model_prompt_tokens_per_second", "ragline_model_decode_tokens_per_second",
    "ragline_model_requests_in_flight", "ragline_model_slots", "ragline_retrieval_seconds",
    "ragline_ingest_jobs_total", "ragline_ingest_jobs_in_state", "ragline_ingest_pages_total",
    "ragline_ingest_chunks_total", "ragline_ingest_stage_seconds", "ragline_open_streams",
    "ragline_provider_errors_total", "ragline_provider_retries_total",
    "ragline_provider_fallbacks_total", "ragline_rate_limited_requests_total",
    "ragline_http_requests_total", "ragline_active_runs",
)


def _wait_job(client: httpx.Client, job_id: str) -> None:
    deadline = time.monotonic() + 120
    while (job := client.get(f"/api/jobs/{job_id}").json())["status"] != "ready":
        assert job["status"] != "failed" and time.monotonic() < deadline, job
        time.sleep(0.1)


def scrape(client: httpx.Client) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    """The sum of `name` over the samples whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(v for (n, lbls), v in samples.items() if n == name and wanted <= lbls)


def ask(client: httpx.Client, thread_id: str, content: str) -> tuple[str, list[tuple[str, Any]]]:
    posted = client.post(f"/api/threads/{thread_id}/messages", json={"content": content})
    assert posted.status_code == 202, posted.text
    run_id = posted.json()["run_id"]
    events = []
    with connect_sse(client, "GET", f"/api/runs/{run_id}/events") as source:
        for sse in source.iter_sse():
            if sse.data:
                events.append((sse.event, json.loads(sse.data)))
    return run_id, events


def test_metrics_families_move_while_runs_stream(server: ServerProcess) -> None:
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        before = scrape(client)
        assert value(before, "ragline_ingest_jobs_total", outcome="ready") >= 1
        assert value(before, "ragline_ingest_chunks_total") >= 1
        assert value(before, "ragline_ingest_pages_total") >= 1
        assert value(before, "ragline_ingest_stage_seconds_count", stage="embed") >= 1
        assert value(before, "ragline_ingest_jobs_in_state", state="ready") == 1

        thread = client.post("/api/threads", json={"collection": COLLECTION}).json()["thread_id"]
        stalled = client.post(f"/api/threads/{thread}/messages",
                              json={"content": f"[[stall]] {QUESTION}"}).json()["run_id"]
        events_url = f"/api/runs/{stalled}/events"
        with connect_sse(client, "GET", events_url) as source, \
                ws_connect(f"{server.ws_url}/api/runs/{stalled}/ws") as socket:
            events = source.iter_sse()  # one iterator: dropping it would close the stream
            for sse in events:
                if sse.event == "token":
                    break
            assert json.loads(socket.recv(timeout=10))["type"] == "status"
            during = scrape(client)
            assert value(during, "ragline_open_streams", transport="sse",
                         route="/api/runs/{run_id}/events") >= 1
            assert value(during, "ragline_open_streams", transport="websocket") >= 1
            assert value(during, "ragline_model_requests_in_flight", model="scripted") >= 1
            assert value(during, "ragline_runs_in_state", status="running") >= 1
            assert value(during, "ragline_active_runs") >= 1
            assert client.post(f"/api/runs/{stalled}/cancel").status_code == 202
            for sse in events:
                if sse.event == "done":
                    break

        # fresh threads: a follow-up's condensing step would read the directives above
        grounded = client.post("/api/threads", json={"collection": COLLECTION}).json()
        _run_id, events = ask(client, grounded["thread_id"], QUESTION)
        assert events[-1] == ("done", {"status": "done"})
        plain = client.post("/api/threads", json={}).json()["thread_id"]
        _run_id, failed = ask(client, plain, "[[fail-after:3]] and then?")
        assert failed[-1] == ("done", {"status": "failed"})
        completion = client.post("/v1/chat/completions", json={
            "model": "flaky", "messages": [{"role": "user", "content": "hello"}]})
        assert completion.status_code == 200, completion.text

        after = scrape(client)
        exposition = client.get("/metrics").text
    for family in FAMILIES:
        assert f"# TYPE {family} " in exposition, family

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert value(after, "ragline_open_streams", transport="sse",
                 route="/api/runs/{run_id}/events") == 0
    assert value(after, "ragline_model_requests_in_flight") == 0
    assert moved("ragline_runs_total", outcome="done", model="scripted") >= 2  # + /v1 run
    assert moved("ragline_runs_total", outcome="cancelled", model="scripted") == 1
    assert moved("ragline_runs_total", outcome="failed", model="scripted") == 1
    assert moved("ragline_run_errors_total", code="provider_error") == 1
    assert moved("ragline_model_completion_tokens_total", model="scripted") >= 50
    assert moved("ragline_model_prompt_tokens_total", model="scripted") > 0
    assert moved("ragline_model_time_to_first_token_seconds_count", model="scripted") >= 3
    assert moved("ragline_model_decode_tokens_per_second_count", model="scripted") >= 1
    assert moved("ragline_model_prompt_tokens_per_second_count", model="scripted") >= 1
    assert moved("ragline_model_cached_tokens_total") == 0  # the scripted model caches nothing
    assert moved("ragline_retrieval_seconds_count", mode="hybrid") >= 1
    assert moved("ragline_provider_errors_total", model="flaky", code="unreachable") == 2
    assert moved("ragline_provider_retries_total", model="flaky") == 1
    assert moved("ragline_provider_fallbacks_total", model="flaky", fallback="scripted") == 1
    assert moved("ragline_http_requests_total", route="/api/threads/{thread_id}/messages",
                 status="202") == 3
    assert value(after, "ragline_runs_in_state", status="running") == 0
    assert value(after, "ragline_rate_limited_requests_total") == 0  # see test_observability


def _spans_of_trace(spans: list[ReceivedSpan], root: ReceivedSpan) -> dict[str, ReceivedSpan]:
    return {s.name: s for s in spans if s.trace_id == root.trace_id}


def test_trace_of_a_grounded_answer_reaches_the_otlp_receiver(
    server: ServerProcess, receiver: OtlpReceiver
) -> None:
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        thread = client.post("/api/threads", json={"collection": COLLECTION}).json()["thread_id"]
        first, events = ask(client, thread, QUESTION)
        assert any(kind == "sources" and data["sources"] for kind, data in events), events[:3]
        follow_up, _ = ask(client, thread, "And on which day?")

    def run_root(run_id: str, spans: list[ReceivedSpan]) -> ReceivedSpan | None:
        return next((s for s in spans if s.name == "ragline.run"
                     and s.attributes.get("ragline.run_id") == run_id), None)

    def complete(spans: list[ReceivedSpan]) -> bool:
        root = run_root(follow_up, spans)
        return root is not None and "persist" in _spans_of_trace(spans, root)

    spans = receiver.wait_for(complete)
    for run_id, stages in ((first, {"retrieve", "prompt", "generate", "persist"}),
                           (follow_up, {"condense", "retrieve", "prompt", "generate", "persist"})):
        root = run_root(run_id, spans)
        assert root is not None, sorted({s.name for s in spans})
        assert root.service == "ragline" and not root.error
        assert root.attributes["ragline.thread_id"] == thread
        assert root.attributes["ragline.user_id"]
        trace = _spans_of_trace(spans, root)
        assert stages <= set(trace), sorted(trace)
        for name in stages:
            assert trace[name].attributes["ragline.run_id"] == run_id, name
            assert trace[name].attributes["ragline.thread_id"] == thread, name
        assert trace["retrieve"].parent_id == root.span_id
        assert trace["generate"].attributes["ragline.model"] == "scripted"
        assert trace["generate"].attributes["ragline.completion_tokens"] > 0

    ingest = [s for s in spans if s.name == "ragline.ingest"]
    assert ingest and ingest[0].attributes["ragline.outcome"] == "ready"
    ingest_stages = {s.name for s in spans if s.trace_id == ingest[0].trace_id}
    assert {"parse", "chunk", "embed", "index"} <= ingest_stages


@pytest.mark.parametrize(("settings", "first_words"), [
    ({"RAGLINE_AUTH": "none", "RAGLINE_HOST": "0.0.0.0"}, "ragline: auth is off but host"),
    ({"RAGLINE_PORT": "eighty"}, "ragline: RAGLINE_PORT: Input should be a valid integer"),
    ({"RAGLINE_MODELS_FILE": "{models}"}, "ragline: model 'odd': unknown provider 'nope'"),
])
def test_startup_mistakes_are_one_line_and_exit_2(
    tmp_path: Path, settings: dict[str, str], first_words: str
) -> None:
    models = tmp_path / "models.toml"
    models.write_text('[odd]\nprovider = "nope"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGLINE_")}
    env.update({k: v.format(models=models) for k, v in settings.items()},
               RAGLINE_DATA_DIR=str(tmp_path), RAGLINE_DEFAULT_MODEL="scripted")
    done = subprocess.run([sys.executable, "-m", "ragline", "serve"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(first_words), done.stderr[-2000:]
    assert "Traceback" not in done.stdout + done.stderr
