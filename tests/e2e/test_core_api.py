"""Seed 001's walk-through against a real server, on SQLite and PostgreSQL (API.md §1). Black-box
only: the rest (admission, idempotency, cancel, recovery, replay, pings and bad input) is tested
in-process in tests/integration/test_run_core.py."""

from __future__ import annotations

import json
from typing import Any

import httpx
from httpx_sse import connect_sse

from tests.support.runs import wait_finished


def events(client: httpx.Client, run_id: str, **headers: str) -> list[dict[str, Any]]:
    out = []
    with connect_sse(client, "GET", f"/api/runs/{run_id}/events", headers=headers) as source:
        assert source.response.headers["content-type"].startswith("text/event-stream")
        assert source.response.headers["cache-control"] == "no-store"
        assert source.response.headers["x-accel-buffering"] == "no"
        for sse in source.iter_sse():
            out.append({"id": int(sse.id), "type": sse.event, "data": json.loads(sse.data)})
    return out


def start_thread(client: httpx.Client, **body: Any) -> str:
    response = client.post("/api/threads", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["thread_id"])


def post(client: httpx.Client, thread_id: str, content: str, **params: Any) -> httpx.Response:
    return client.post(f"/api/threads/{thread_id}/messages", json={"content": content}, **params)


def test_seed_001_walkthrough_streams_resumes_and_persists(live_server) -> None:
    with httpx.Client(base_url=live_server.base_url, timeout=30) as client:
        user = client.post("/api/users", json={"name": "smoke-user"})
        assert user.status_code == 201 and user.json()["name"] == "smoke-user"
        thread_id = start_thread(client, user_id=user.json()["user_id"])

        posted = post(client, thread_id, "hello")
        assert posted.status_code == 202
        body = posted.json()
        assert set(body) >= {"run_id", "message_id", "status"}
        run_id = body["run_id"]

        log = events(client, run_id)
        seqs = [e["id"] for e in log]
        assert seqs == list(range(1, len(log) + 1)), "seq is 1, 2, 3 ... without gaps"
        types = [e["type"] for e in log]
        assert types[0] == "status" and log[0]["data"] == {"status": "queued"}
        assert {"status": "running"} in [e["data"] for e in log if e["type"] == "status"]
        assert types[-2:] == ["final", "done"] and log[-1]["data"] == {"status": "done"}
        tokens = "".join(e["data"]["delta"] for e in log if e["type"] == "token")
        final = log[-2]["data"]
        assert tokens == final["content"] and len(tokens.split()) >= 50
        assert final["usage"]["completion_tokens"] >= 50 and final["model"] == "scripted"

        resumed = events(client, run_id, **{"Last-Event-ID": "10"})
        assert [e["id"] for e in resumed] == seqs[10:]
        via_query = client.get(f"/api/runs/{run_id}/events", params={"after": len(log) - 1})
        assert "event: done" in via_query.text and "event: final" not in via_query.text

        run = client.get(f"/api/runs/{run_id}").json()
        assert run["status"] == "done" and run["usage"]["completion_tokens"] >= 50
        assert run["started_at"] and run["finished_at"]

        messages = client.get(f"/api/threads/{thread_id}/messages").json()["items"]
        assert [m["role"] for m in messages] == ["user", "assistant"]
        assert messages[1]["content"] == final["content"]
        assert messages[1]["message_id"] == final["message_id"]

        late_cancel = client.post(f"/api/runs/{run_id}/cancel")
        assert late_cancel.status_code == 409
        assert late_cancel.json()["error"]["code"] == "run_finished"

        threads = client.get("/api/threads").json()
        assert thread_id in [t["thread_id"] for t in threads["items"]]


def test_killed_server_leaves_run_failed_interrupted_with_events_kept(
    make_server, database_url
) -> None:
    server = make_server(database_url, RAGLINE_SCRIPTED_TOKEN_DELAY_MS="20")
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        thread_id = start_thread(client)
        run_id = post(client, thread_id, "[[tokens:1000]] long answer").json()["run_id"]
        before: list[str] = []
        with connect_sse(client, "GET", f"/api/runs/{run_id}/events") as source:
            for sse in source.iter_sse():
                if sse.event == "token":
                    before.append(json.loads(sse.data)["delta"])
                    if len(before) == 20:
                        break
        server.kill()
    server.start()
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        # One process (SQLite): failed at start-up. Shared PostgreSQL: once its heartbeat is stale.
        run = wait_finished(client, run_id, timeout=60)
        assert run["status"] == "failed" and run["error"]["code"] == "interrupted"
        log = events(client, run_id)
        assert [e["id"] for e in log] == list(range(1, len(log) + 1))
        assert [e["type"] for e in log][-2:] == ["error", "done"]
        tokens = [e["data"]["delta"] for e in log if e["type"] == "token"]
        assert tokens[:20] == before
        messages = client.get(f"/api/threads/{thread_id}/messages").json()["items"]
        assert messages[-1]["role"] == "assistant" and messages[-1]["state"] == "failed"
