"""Operating endpoints: liveness, readiness that tells the truth, metrics, OpenAPI docs. Black-box
only: the rest (readiness, metrics, OpenAPI and the JSON 404) is tested in-process in
tests/integration/test_surfaces.py."""

from __future__ import annotations

import time

import httpx


def test_health_ready_metrics_and_docs(live_server) -> None:
    with httpx.Client(base_url=live_server.base_url, timeout=30) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        deadline = time.monotonic() + 30
        ready = client.get("/readyz")
        while ready.status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
            ready = client.get("/readyz")
        body = ready.json()
        assert ready.status_code == 200 and body["ready"] is True
        assert body["checks"]["database"] == "ok"
        assert body["checks"]["models"]["default_model"] == "scripted"

        client.get("/api/threads")
        metrics = client.get("/metrics")
        assert metrics.headers["content-type"].startswith("text/plain")
        assert 'ragline_http_requests_total{method="GET",route="/api/threads",status="200"}' in (
            metrics.text
        )
        assert "ragline_active_runs" in metrics.text

        spec = client.get("/openapi.json").json()
        for path in ("/api/threads", "/api/runs/{run_id}/events", "/api/documents",
                     "/api/generate", "/v1/chat/completions", "/stream_question"):
            assert path in spec["paths"], path
        assert "swagger" in client.get("/docs").text.lower()
