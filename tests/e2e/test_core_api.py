"""Seed 001's walk-through against a real server, on SQLite and PostgreSQL (API.md §1)."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
from httpx_sse import connect_sse


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


def wait_finished(client: httpx.Client, run_id: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = client.get(f"/api/runs/{run_id}").json()
        if run["status"] in ("done", "failed", "cancelled"):
            return dict(run)
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} did not finish")


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


def test_follow_up_sees_thread_history(live_server) -> None:
    with httpx.Client(base_url=live_server.base_url, timeout=30) as client:
        thread_id = start_thread(client)
        first = post(client, thread_id, "what is ragline?").json()["run_id"]
        wait_finished(client, first)
        second = post(client, thread_id, "and its default?").json()["run_id"]
        follow_up = events(client, second)[-2]["data"]

        fresh = start_thread(client)
        alone = post(client, fresh, "and its default?").json()["run_id"]
        alone_final = events(client, alone)[-2]["data"]
        assert follow_up["usage"]["prompt_tokens"] > alone_final["usage"]["prompt_tokens"]
        assert follow_up["content"] != alone_final["content"]


def test_cancel_keeps_partial_text_and_ends_stream(make_server, database_url) -> None:
    server = make_server(database_url, RAGLINE_SCRIPTED_TOKEN_DELAY_MS="20")
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        thread_id = start_thread(client)
        run_id = post(client, thread_id, "[[tokens:500]] tell me everything").json()["run_id"]
        seen = 0
        with connect_sse(client, "GET", f"/api/runs/{run_id}/events") as source:
            for sse in source.iter_sse():
                if sse.event == "token":
                    seen += 1
                    if seen == 5:
                        cancelled = client.post(f"/api/runs/{run_id}/cancel")
                        assert cancelled.status_code == 202
                        assert cancelled.json() == {"run_id": run_id, "status": "cancelled"}
                last = sse
        assert last.event == "done" and json.loads(last.data) == {"status": "cancelled"}
        messages = client.get(f"/api/threads/{thread_id}/messages").json()["items"]
        assert messages[-1]["role"] == "assistant" and messages[-1]["state"] == "cancelled"
        assert len(messages[-1]["content"].split()) >= 5


def test_client_disconnect_does_not_cancel_the_run(make_server, database_url) -> None:
    server = make_server(database_url, RAGLINE_SCRIPTED_TOKEN_DELAY_MS="5")
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        thread_id = start_thread(client)
        run_id = post(client, thread_id, "[[tokens:100]] go").json()["run_id"]
        with connect_sse(client, "GET", f"/api/runs/{run_id}/events") as source:
            for sse in source.iter_sse():
                if sse.event == "token":
                    break
        assert wait_finished(client, run_id)["status"] == "done"
        log = events(client, run_id)
        assert sum(1 for e in log if e["type"] == "token") == 100


def test_active_run_conflict_enqueue_and_interrupt(make_server, database_url) -> None:
    server = make_server(database_url, RAGLINE_SCRIPTED_TOKEN_DELAY_MS="10")
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        thread_id = start_thread(client)
        first = post(client, thread_id, "[[tokens:200]] one").json()["run_id"]
        conflict = post(client, thread_id, "two")
        assert conflict.status_code == 409
        assert conflict.json()["error"]["code"] == "run_active"

        queued = post(client, thread_id, "[[tokens:10]] two", params={"on_active": "enqueue"})
        assert queued.status_code == 202 and queued.json()["status"] == "queued"
        interrupting = post(
            client, thread_id, "[[tokens:10]] three", params={"on_active": "interrupt"}
        )
        assert interrupting.status_code == 202
        assert wait_finished(client, first)["status"] == "cancelled"
        assert wait_finished(client, queued.json()["run_id"])["status"] == "cancelled"
        assert wait_finished(client, interrupting.json()["run_id"])["status"] == "done"


def test_idempotency_key_returns_first_answer(live_server) -> None:
    with httpx.Client(base_url=live_server.base_url, timeout=30) as client:
        thread_id = start_thread(client)
        headers = {"Idempotency-Key": "abc-123"}
        first = post(client, thread_id, "hello", headers=headers)
        again = post(client, thread_id, "hello", headers=headers)
        assert first.status_code == again.status_code == 202
        assert first.json()["run_id"] == again.json()["run_id"]
        assert first.json()["message_id"] == again.json()["message_id"]
        wait_finished(client, first.json()["run_id"])
        messages = client.get(f"/api/threads/{thread_id}/messages").json()["items"]
        assert [m["role"] for m in messages] == ["user", "assistant"]


def test_error_before_first_token_ends_stream_with_error_and_done(live_server) -> None:
    with httpx.Client(base_url=live_server.base_url, timeout=60) as client:
        thread_id = start_thread(client)
        run_id = post(client, thread_id, "[[fail]] please").json()["run_id"]
        log = events(client, run_id)
        assert [e["type"] for e in log][-2:] == ["error", "done"]
        assert log[-1]["data"] == {"status": "failed"}
        assert log[-2]["data"]["code"] and log[-2]["data"]["message"]
        assert client.get(f"/api/runs/{run_id}").json()["status"] == "failed"


def test_bad_input_gets_contract_errors_never_500(live_server) -> None:
    with httpx.Client(base_url=live_server.base_url, timeout=30) as client:
        missing = client.get("/api/threads/nope")
        assert missing.status_code == 404
        assert set(missing.json()["error"]) == {"code", "message", "details"}
        assert client.get("/api/runs/nope").status_code == 404
        assert client.get("/api/runs/nope/events").status_code == 404
        assert client.post("/api/runs/nope/cancel").status_code == 404
        assert post(client, "nope", "hi").status_code == 404

        thread_id = start_thread(client)
        assert post(client, thread_id, "   ").status_code == 422
        assert post(client, thread_id, "x" * (32 * 1024 + 1)).status_code == 422
        bad_json = client.post(
            f"/api/threads/{thread_id}/messages",
            content=b"{not json",
            headers={"content-type": "application/json"},
        )
        assert bad_json.status_code == 422 and "error" in bad_json.json()
        unknown_model = client.post(
            f"/api/threads/{thread_id}/messages", json={"content": "hi", "model": "no-such-model"}
        )
        assert unknown_model.status_code == 400
        assert unknown_model.json()["error"]["code"] == "unknown_model"

        run_id = post(client, thread_id, "hi").json()["run_id"]
        bad_cursor = client.get(f"/api/runs/{run_id}/events", headers={"Last-Event-ID": "abc"})
        assert bad_cursor.status_code == 400
        assert bad_cursor.json()["error"]["code"] == "invalid_last_event_id"
        assert client.get("/api/threads", params={"cursor": "!!"}).status_code == 400
        assert client.get("/api/threads", params={"limit": 0}).status_code == 422


def test_delete_thread_removes_messages_and_runs(live_server) -> None:
    with httpx.Client(base_url=live_server.base_url, timeout=30) as client:
        thread_id = start_thread(client)
        run_id = post(client, thread_id, "hello").json()["run_id"]
        wait_finished(client, run_id)
        assert client.delete(f"/api/threads/{thread_id}").status_code == 204
        assert client.get(f"/api/threads/{thread_id}").status_code == 404
        assert client.get(f"/api/runs/{run_id}").status_code == 404


def test_threads_paginate_newest_first(live_server) -> None:
    with httpx.Client(base_url=live_server.base_url, timeout=30) as client:
        made = [start_thread(client, title=f"t{i}") for i in range(5)]
        first = client.get("/api/threads", params={"limit": 2}).json()
        assert len(first["items"]) == 2 and first["next_cursor"]
        seen = [t["thread_id"] for t in first["items"]]
        cursor = first["next_cursor"]
        while cursor:
            page = client.get("/api/threads", params={"limit": 2, "cursor": cursor}).json()
            seen += [t["thread_id"] for t in page["items"]]
            cursor = page["next_cursor"]
        assert seen == list(reversed(made))


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


def test_keepalive_ping_is_a_bare_comment_that_clients_do_not_see_as_an_event(
    make_server, database_url
) -> None:
    """Regression: a ping ending in a blank line made httpx-sse report empty events."""
    server = make_server(database_url, RAGLINE_SSE_PING_SECONDS="1")
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        thread_id = start_thread(client)
        run_id = post(client, thread_id, "[[delay:1300]] [[say:slow tokens here]]").json()["run_id"]
        log = events(client, run_id)
        assert all(e["type"] != "message" for e in log)
        assert (
            "".join(e["data"]["delta"] for e in log if e["type"] == "token") == "slow tokens here"
        )
        raw = client.get(f"/api/runs/{run_id}/events").text
        assert raw.startswith("id: 1\n")
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        run_id = post(client, start_thread(client), "[[delay:1300]] [[say:a b]]").json()["run_id"]
        with client.stream("GET", f"/api/runs/{run_id}/events") as response:
            body = "".join(response.iter_text())
        assert ": ping\n" in body and ": ping\n\n" not in body
