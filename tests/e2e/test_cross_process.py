"""Two server processes on one database: the other's streams are woken by push, not polling.

PostgreSQL pushes with LISTEN/NOTIFY; SQLite with Redis pub/sub when RAGLINE_REDIS_URL is set.
Cancelling through the process that does not run the run reaches the one that does.
"""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from httpx_sse import connect_sse

from tests.support.isolation import REDIS_URL


@pytest.fixture(params=["postgres-notify", "sqlite-redis"])
def shared_setup(request: pytest.FixtureRequest, pg_url: str, tmp_path) -> tuple[str, dict]:
    if request.param == "postgres-notify":
        return pg_url, {}
    return f"sqlite+aiosqlite:///{tmp_path / f'shared-{uuid.uuid4().hex}.db'}", {
        "RAGLINE_REDIS_URL": REDIS_URL
    }


def test_subscriber_on_another_process_follows_live(make_server, shared_setup) -> None:
    url, env = shared_setup
    writer = make_server(url, RAGLINE_SCRIPTED_TOKEN_DELAY_MS="10", **env)
    reader = make_server(url, **env)
    with httpx.Client(base_url=writer.base_url, timeout=30) as a, \
         httpx.Client(base_url=reader.base_url, timeout=30) as b:
        thread = a.post("/api/threads", json={}).json()["thread_id"]
        run_id = a.post(f"/api/threads/{thread}/messages",
                        json={"content": "[[tokens:150]] hi"}).json()["run_id"]
        seen = []
        with connect_sse(b, "GET", f"/api/runs/{run_id}/events") as source:
            for sse in source.iter_sse():
                seen.append((int(sse.id), sse.event, json.loads(sse.data)))
        assert [s[0] for s in seen] == list(range(1, len(seen) + 1))
        assert seen[-1][1] == "done" and sum(s[1] == "token" for s in seen) == 150


def test_cancel_through_another_process_stops_the_run(make_server, shared_setup) -> None:
    url, env = shared_setup
    writer = make_server(url, RAGLINE_SCRIPTED_TOKEN_DELAY_MS="20", **env)
    other = make_server(url, **env)
    with httpx.Client(base_url=writer.base_url, timeout=30) as a, \
         httpx.Client(base_url=other.base_url, timeout=30) as b:
        thread = a.post("/api/threads", json={}).json()["thread_id"]
        run_id = a.post(f"/api/threads/{thread}/messages",
                        json={"content": "[[tokens:1000]] long"}).json()["run_id"]
        with connect_sse(a, "GET", f"/api/runs/{run_id}/events") as source:
            for sse in source.iter_sse():
                if sse.event == "token":
                    break
        cancelled = b.post(f"/api/runs/{run_id}/cancel")
        assert cancelled.status_code == 202 and cancelled.json()["status"] == "cancelled"
        assert a.get(f"/api/runs/{run_id}").json()["status"] == "cancelled"
