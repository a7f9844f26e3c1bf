"""`make prod-local`'s script: nginx in front of two replicas and a worker serves a streamed
chat, tokens arrive through nginx as they are written, and SIGTERM stops every process."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest
from httpx_sse import connect_sse

from tests.support.isolation import REDIS_URL
from tests.support.processes import free_port

ROOT = Path(__file__).resolve().parents[2]
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.skipif(NGINX is None, reason="nginx is not installed (`make nginx` installs it)"),
]


def _wait_for_banner(proc: subprocess.Popen[str], within: float) -> str:
    assert proc.stdout is not None
    deadline = time.monotonic() + within
    seen = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        if line.startswith("ragline (2 replicas"):
            return line.rsplit(" ", 1)[-1].strip()
    raise AssertionError("prod-local did not come up:\n" + "".join(seen))


def test_prod_local_streams_a_chat_through_nginx_and_stops_everything(
    pg_url: str, tmp_path: Path
) -> None:
    ports = [free_port(), free_port()]
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGLINE_")}
    env.update(
        BIN=str(Path(sys.executable).parent), NGINX=str(NGINX),
        PROD_LOCAL_PORT=str(free_port()), PROD_LOCAL_API_PORTS=" ".join(map(str, ports)),
        PROD_LOCAL_DIR=str(tmp_path / "prod"), PROD_LOCAL_STOP_GRACE="3",
        RAGLINE_DATABASE_URL=pg_url, RAGLINE_REDIS_URL=REDIS_URL,
        RAGLINE_INGEST_QUEUE=f"ragline:test:{uuid.uuid4().hex}",
        RAGLINE_RUN_QUEUE=f"ragline:test-runs:{uuid.uuid4().hex}",
        RAGLINE_DEFAULT_MODEL="scripted", RAGLINE_SCRIPTED_TOKEN_DELAY_MS="5",
        RAGLINE_EMBEDDER_WARMUP="false", RAGLINE_LOAD_MODEL_AT_STARTUP="false",
        RAGLINE_LOG_LEVEL="WARNING", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
    )
    proc = subprocess.Popen([str(ROOT / "deploy" / "prod-local.sh")], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        url = _wait_for_banner(proc, within=120)
        with httpx.Client(base_url=url, timeout=30) as http:
            thread = http.post("/api/threads", json={}).json()["thread_id"]
            posted = http.post(f"/api/threads/{thread}/messages",
                               json={"content": "[[tokens:60]] through nginx"})
            assert posted.status_code == 202, posted.text
            arrivals, kinds = [], []
            with connect_sse(http, "GET", f"/api/runs/{posted.json()['run_id']}/events") as sse:
                assert sse.response.headers["content-type"].startswith("text/event-stream")
                for event in sse.iter_sse():
                    kinds.append(event.event)
                    if event.event == "token":
                        arrivals.append(time.monotonic())
                    if event.event == "done":
                        assert json.loads(event.data) == {"status": "done"}
            assert kinds[-1] == "done" and len(arrivals) == 60
            assert arrivals[-1] - arrivals[0] > 0.05  # streamed as written, not one buffer
            served = {http.get("/healthz").status_code for _ in range(4)}
            assert served == {200}
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
    for port in ports:  # every replica is gone
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
