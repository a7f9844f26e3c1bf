"""The run core through the real app in this process (tests/support/inprocess.py), on SQLite and
PostgreSQL: admission (409 `run_active`, enqueue, interrupt), idempotency, cancel, recovery,
replay, keep-alive pings and the exact wire format of run events over SSE and WebSocket
(docs/api.md §1). Moved here from tests/e2e/test_core_api.py and test_run_websocket.py, which keep a
black-box walk-through against a real `ragline serve`."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from httpx_sse import aconnect_sse

from tests.support.inprocess import InProcessApp, running_app
from tests.support.runs import run_finished


async def events(client: httpx.AsyncClient, run_id: str, **headers: str) -> list[dict[str, Any]]:
    out = []
    async with aconnect_sse(client, "GET", f"/api/runs/{run_id}/events",
                            headers=headers) as source:
        assert source.response.headers["content-type"].startswith("text/event-stream")
        assert source.response.headers["cache-control"] == "no-store"
        assert source.response.headers["x-accel-buffering"] == "no"
        async for sse in source.aiter_sse():
            out.append({"id": int(sse.id), "type": sse.event, "data": json.loads(sse.data)})
    return out


async def start_thread(client: httpx.AsyncClient, **body: Any) -> str:
    response = await client.post("/api/threads", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["thread_id"])


async def post(client: httpx.AsyncClient, thread_id: str, content: str,
               **params: Any) -> httpx.Response:
    return await client.post(f"/api/threads/{thread_id}/messages", json={"content": content},
                             **params)


async def wait_tokens(client: httpx.AsyncClient, run_id: str, count: int) -> None:
    """Until the run has logged `count` tokens (read with ?after= so nothing blocks)."""
    async with asyncio.timeout(30):
        while True:
            async with client.stream("GET", f"/api/runs/{run_id}/events") as response:
                seen = 0
                async for line in response.aiter_lines():
                    seen += line == "event: token"
                    if seen >= count:
                        return


# Admission


async def test_active_run_conflict_enqueue_and_interrupt(make_app) -> None:
    client = (await make_app(scripted_token_delay_ms=10)).client
    thread_id = await start_thread(client)
    first = (await post(client, thread_id, "[[tokens:200]] one")).json()["run_id"]
    conflict = await post(client, thread_id, "two")
    assert conflict.status_code == 409
    assert conflict.json()["error"]["code"] == "run_active"
    assert set(conflict.json()["error"]) == {"code", "message", "details"}

    queued = await post(client, thread_id, "[[tokens:10]] two", params={"on_active": "enqueue"})
    assert queued.status_code == 202 and queued.json()["status"] == "queued"
    interrupting = await post(client, thread_id, "[[tokens:10]] three",
                              params={"on_active": "interrupt"})
    assert interrupting.status_code == 202
    assert (await run_finished(client, first))["status"] == "cancelled"
    assert (await run_finished(client, queued.json()["run_id"]))["status"] == "cancelled"
    assert (await run_finished(client, interrupting.json()["run_id"]))["status"] == "done"
    log = await events(client, first)
    assert log[-1]["data"] == {"status": "cancelled"}


async def test_an_enqueued_run_starts_after_the_active_one(make_app) -> None:
    client = (await make_app(scripted_token_delay_ms=5)).client
    thread_id = await start_thread(client)
    first = (await post(client, thread_id, "[[tokens:20]] one")).json()["run_id"]
    second = await post(client, thread_id, "[[say:after you]]", params={"on_active": "enqueue"})
    assert second.status_code == 202 and second.json()["status"] == "queued"
    second_log = await events(client, second.json()["run_id"])
    assert (await run_finished(client, first))["status"] == "done"
    assert second_log[-2]["data"]["content"] == "after you"
    assert second_log[-1]["data"] == {"status": "done"}
    first_run = (await client.get(f"/api/runs/{first}")).json()
    second_run = (await client.get(f"/api/runs/{second.json()['run_id']}")).json()
    assert second_run["started_at"] >= first_run["finished_at"]
    messages = (await client.get(f"/api/threads/{thread_id}/messages")).json()["items"]
    assert sorted(m["role"] for m in messages) == ["assistant", "assistant", "user", "user"]
    assert "after you" in [m["content"] for m in messages]


async def test_bad_on_active_is_422(app_client: httpx.AsyncClient) -> None:
    thread_id = await start_thread(app_client)
    bad = await post(app_client, thread_id, "hi", params={"on_active": "queue"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "validation_error"


# Idempotency


async def test_idempotency_key_returns_first_answer(app_client: httpx.AsyncClient) -> None:
    client = app_client
    thread_id = await start_thread(client)
    headers = {"Idempotency-Key": "abc-123"}
    first = await post(client, thread_id, "hello", headers=headers)
    again = await post(client, thread_id, "hello", headers=headers)
    assert first.status_code == again.status_code == 202
    assert "idempotent-replayed" not in first.headers
    assert again.headers["idempotent-replayed"] == "true"
    assert first.json()["run_id"] == again.json()["run_id"]
    assert first.json()["message_id"] == again.json()["message_id"]
    await run_finished(client, first.json()["run_id"])
    messages = (await client.get(f"/api/threads/{thread_id}/messages")).json()["items"]
    assert [m["role"] for m in messages] == ["user", "assistant"]

    after = await post(client, thread_id, "hello", headers=headers)  # also once it finished
    assert after.status_code == 202 and after.json()["run_id"] == first.json()["run_id"]
    assert after.headers["idempotent-replayed"] == "true"
    other_key = await post(client, thread_id, "hello", headers={"Idempotency-Key": "abc-124"})
    assert other_key.status_code == 202 and other_key.json()["run_id"] != first.json()["run_id"]
    assert "idempotent-replayed" not in other_key.headers
    await run_finished(client, other_key.json()["run_id"])

    other_thread = await start_thread(client)  # the key is per thread
    elsewhere = await post(client, other_thread, "hello", headers=headers)
    assert elsewhere.json()["run_id"] != first.json()["run_id"]
    assert "idempotent-replayed" not in elsewhere.headers


# Runs: stream, replay, persistence


async def test_seed_001_walkthrough_streams_resumes_and_persists(
    app_client: httpx.AsyncClient,
) -> None:
    client = app_client
    user = await client.post("/api/users", json={"name": "smoke-user"})
    assert user.status_code == 201 and user.json()["name"] == "smoke-user"
    thread_id = await start_thread(client, user_id=user.json()["user_id"])

    posted = await post(client, thread_id, "hello")
    assert posted.status_code == 202
    body = posted.json()
    assert set(body) >= {"run_id", "message_id", "status"}
    run_id = body["run_id"]

    log = await events(client, run_id)
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

    resumed = await events(client, run_id, **{"Last-Event-ID": "10"})
    assert [e["id"] for e in resumed] == seqs[10:]
    via_query = await client.get(f"/api/runs/{run_id}/events", params={"after": len(log) - 1})
    assert "event: done" in via_query.text and "event: final" not in via_query.text
    past_done = await client.get(f"/api/runs/{run_id}/events", params={"after": len(log)})
    assert past_done.status_code == 200 and past_done.text == ""

    run = (await client.get(f"/api/runs/{run_id}")).json()
    assert run["status"] == "done" and run["usage"]["completion_tokens"] >= 50
    assert run["started_at"] and run["finished_at"]

    messages = (await client.get(f"/api/threads/{thread_id}/messages")).json()["items"]
    assert [m["role"] for m in messages] == ["user", "assistant"]
    assert messages[1]["content"] == final["content"]
    assert messages[1]["message_id"] == final["message_id"]

    late_cancel = await client.post(f"/api/runs/{run_id}/cancel")
    assert late_cancel.status_code == 409
    assert late_cancel.json()["error"]["code"] == "run_finished"

    threads = (await client.get("/api/threads")).json()
    assert thread_id in [t["thread_id"] for t in threads["items"]]


async def test_run_sse_wire_format_is_exact(app_client: httpx.AsyncClient) -> None:
    thread_id = await start_thread(app_client)
    run_id = (await post(app_client, thread_id, "[[say:a b c]]")).json()["run_id"]
    await run_finished(app_client, run_id)
    messages = (await app_client.get(f"/api/threads/{thread_id}/messages")).json()["items"]
    message_id = messages[-1]["message_id"]
    response = await app_client.get(f"/api/runs/{run_id}/events")
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    final = ('{"message_id":"<mid>","content":"a b c","sources":[],"usage":{"prompt_tokens":26,'
             '"completion_tokens":3,"cached_tokens":0},"model":"scripted"}'
             ).replace("<mid>", message_id)
    assert response.text == (
        'id: 1\nevent: status\ndata: {"status":"queued"}\n\n'
        'id: 2\nevent: status\ndata: {"status":"running"}\n\n'
        'id: 3\nevent: status\ndata: {"status":"running","stage":"generating"}\n\n'
        'id: 4\nevent: token\ndata: {"delta":"a"}\n\n'
        'id: 5\nevent: token\ndata: {"delta":" b"}\n\n'
        'id: 6\nevent: token\ndata: {"delta":" c"}\n\n'
        f'id: 7\nevent: final\ndata: {final}\n\n'
        'id: 8\nevent: done\ndata: {"status":"done"}\n\n'
    )
    replayed = await app_client.get(f"/api/runs/{run_id}/events", headers={"Last-Event-ID": "6"})
    assert replayed.text == (
        f'id: 7\nevent: final\ndata: {final}\n\nid: 8\nevent: done\ndata: {{"status":"done"}}\n\n'
    )
    unicode_run = (await post(app_client, thread_id, "[[say:é ✓]]")).json()["run_id"]
    await run_finished(app_client, unicode_run)
    raw = (await app_client.get(f"/api/runs/{unicode_run}/events")).text
    assert 'data: {"delta":"é"}\n' in raw and 'data: {"delta":" ✓"}\n' in raw  # not \u-escaped


async def test_a_live_stream_follows_the_run_and_replay_joins_it(make_app) -> None:
    client = (await make_app(scripted_token_delay_ms=10)).client
    run_id = (await post(client, await start_thread(client), "[[tokens:30]] go")).json()["run_id"]
    await wait_tokens(client, run_id, 3)
    live = await events(client, run_id, **{"Last-Event-ID": "2"})
    assert [e["id"] for e in live] == list(range(3, len(live) + 3))
    assert live[-1] == {"id": len(live) + 2, "type": "done", "data": {"status": "done"}}
    assert sum(e["type"] == "token" for e in live) == 30


async def test_follow_up_sees_thread_history(app_client: httpx.AsyncClient) -> None:
    client = app_client
    thread_id = await start_thread(client)
    first = (await post(client, thread_id, "what is ragline?")).json()["run_id"]
    await run_finished(client, first)
    second = (await post(client, thread_id, "and its default?")).json()["run_id"]
    follow_up = (await events(client, second))[-2]["data"]

    fresh = await start_thread(client)
    alone = (await post(client, fresh, "and its default?")).json()["run_id"]
    alone_final = (await events(client, alone))[-2]["data"]
    assert follow_up["usage"]["prompt_tokens"] > alone_final["usage"]["prompt_tokens"]
    assert follow_up["content"] != alone_final["content"]


async def test_error_before_first_token_ends_stream_with_error_and_done(
    app_client: httpx.AsyncClient,
) -> None:
    client = app_client
    thread_id = await start_thread(client)
    run_id = (await post(client, thread_id, "[[fail]] please")).json()["run_id"]
    log = await events(client, run_id)
    assert [e["type"] for e in log][-2:] == ["error", "done"]
    assert log[-1]["data"] == {"status": "failed"}
    assert log[-2]["data"]["code"] and log[-2]["data"]["message"]
    run = (await client.get(f"/api/runs/{run_id}")).json()
    assert run["status"] == "failed" and run["error"]["code"] == log[-2]["data"]["code"]


async def test_bad_input_gets_contract_errors_never_500(app_client: httpx.AsyncClient) -> None:
    client = app_client
    missing = await client.get("/api/threads/nope")
    assert missing.status_code == 404
    assert set(missing.json()["error"]) == {"code", "message", "details"}
    assert (await client.get("/api/runs/nope")).status_code == 404
    assert (await client.get("/api/runs/nope/events")).status_code == 404
    assert (await client.post("/api/runs/nope/cancel")).status_code == 404
    assert (await post(client, "nope", "hi")).status_code == 404

    thread_id = await start_thread(client)
    assert (await post(client, thread_id, "   ")).status_code == 422
    assert (await post(client, thread_id, "x" * (32 * 1024 + 1))).status_code == 422
    bad_json = await client.post(
        f"/api/threads/{thread_id}/messages",
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    assert bad_json.status_code == 422 and "error" in bad_json.json()
    unknown_model = await client.post(
        f"/api/threads/{thread_id}/messages", json={"content": "hi", "model": "no-such-model"}
    )
    assert unknown_model.status_code == 400
    assert unknown_model.json()["error"]["code"] == "unknown_model"

    run_id = (await post(client, thread_id, "hi")).json()["run_id"]
    bad_cursor = await client.get(f"/api/runs/{run_id}/events", headers={"Last-Event-ID": "abc"})
    assert bad_cursor.status_code == 400
    assert bad_cursor.json()["error"]["code"] == "invalid_last_event_id"
    for after in ("-1", str(2**63)):
        too_far = await client.get(f"/api/runs/{run_id}/events", params={"after": after})
        assert too_far.status_code == 400, after
    assert (await client.get("/api/threads", params={"cursor": "!!"})).status_code == 400
    assert (await client.get("/api/threads", params={"limit": 0})).status_code == 422
    await run_finished(client, run_id)


async def test_delete_thread_removes_messages_and_runs(app_client: httpx.AsyncClient) -> None:
    client = app_client
    thread_id = await start_thread(client)
    run_id = (await post(client, thread_id, "hello")).json()["run_id"]
    await run_finished(client, run_id)
    assert (await client.delete(f"/api/threads/{thread_id}")).status_code == 204
    assert (await client.get(f"/api/threads/{thread_id}")).status_code == 404
    assert (await client.get(f"/api/runs/{run_id}")).status_code == 404
    assert (await client.get(f"/api/runs/{run_id}/events")).status_code == 404


async def test_threads_paginate_newest_first(app_client: httpx.AsyncClient) -> None:
    client = app_client
    made = [await start_thread(client, title=f"t{i}") for i in range(5)]
    first = (await client.get("/api/threads", params={"limit": 2})).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    seen = [t["thread_id"] for t in first["items"]]
    cursor = first["next_cursor"]
    while cursor:
        page = (await client.get("/api/threads", params={"limit": 2, "cursor": cursor})).json()
        seen += [t["thread_id"] for t in page["items"]]
        cursor = page["next_cursor"]
    assert seen == list(reversed(made))


# Cancel


async def test_cancel_keeps_partial_text_and_ends_stream(make_app) -> None:
    client = (await make_app(scripted_token_delay_ms=20)).client
    thread_id = await start_thread(client)
    run_id = (await post(client, thread_id, "[[tokens:500]] tell me everything")).json()["run_id"]
    seen = 0
    async with aconnect_sse(client, "GET", f"/api/runs/{run_id}/events") as source:
        async for sse in source.aiter_sse():
            if sse.event == "token":
                seen += 1
                if seen == 5:
                    cancelled = await client.post(f"/api/runs/{run_id}/cancel")
                    assert cancelled.status_code == 202
                    assert cancelled.json() == {"run_id": run_id, "status": "cancelled"}
            last = sse
    assert last.event == "done" and json.loads(last.data) == {"status": "cancelled"}
    messages = (await client.get(f"/api/threads/{thread_id}/messages")).json()["items"]
    assert messages[-1]["role"] == "assistant" and messages[-1]["state"] == "cancelled"
    assert len(messages[-1]["content"].split()) >= 5
    again = await client.post(f"/api/runs/{run_id}/cancel")
    assert again.status_code == 409 and again.json()["error"]["code"] == "run_finished"


async def test_cancel_a_queued_run(make_app) -> None:
    client = (await make_app(scripted_token_delay_ms=10)).client
    thread_id = await start_thread(client)
    first = (await post(client, thread_id, "[[tokens:3000]] one")).json()["run_id"]
    queued = (await post(client, thread_id, "[[say:never]]",
                         params={"on_active": "enqueue"})).json()["run_id"]
    cancelled = await client.post(f"/api/runs/{queued}/cancel")
    assert cancelled.status_code == 202
    assert cancelled.json() == {"run_id": queued, "status": "cancelled"}
    log = await events(client, queued)
    assert log[0]["data"] == {"status": "queued"} and log[-1]["data"] == {"status": "cancelled"}
    assert not any(e["type"] == "token" for e in log)
    assert (await client.get(f"/api/runs/{first}")).json()["status"] in ("queued", "running")
    await client.post(f"/api/runs/{first}/cancel")
    assert (await run_finished(client, first))["status"] == "cancelled"


async def test_client_disconnect_does_not_cancel_the_run(make_app) -> None:
    client = (await make_app(scripted_token_delay_ms=5)).client
    thread_id = await start_thread(client)
    run_id = (await post(client, thread_id, "[[tokens:100]] go")).json()["run_id"]
    async with aconnect_sse(client, "GET", f"/api/runs/{run_id}/events") as source:
        async for sse in source.aiter_sse():
            if sse.event == "token":
                break
    assert (await run_finished(client, run_id))["status"] == "done"
    log = await events(client, run_id)
    assert sum(1 for e in log if e["type"] == "token") == 100


# Recovery and shutdown


async def test_a_run_left_running_is_failed_as_interrupted_and_its_stream_ends(
    database_url: str, tmp_path: Any
) -> None:
    """A process died mid-run (here: one whose run stalls and that renews no lease): the next
    process fails the run as `interrupted` (SQLite: at start-up; PostgreSQL: once its lease ran
    out), keeping the events and text it streamed, and every stream of it ends with `done`."""
    from tests.support.inprocess import app_settings

    dead = await _enter(running_app(app_settings(database_url, tmp_path / "a")))
    thread_id = await start_thread(dead.client)
    run_id = (await post(dead.client, thread_id, "[[stall]] long answer")).json()["run_id"]
    await wait_tokens(dead.client, run_id, 1)
    before = await dead.client.get(f"/api/runs/{run_id}")
    assert before.json()["status"] == "running"
    liveness = dead.container._liveness
    if liveness is not None:  # the dead process stops renewing its lease
        liveness.cancel()

    settings = app_settings(database_url, tmp_path / "b", run_lease_seconds=0.5)
    async with running_app(settings) as fresh:
        run = await run_finished(fresh.client, run_id)
        assert run["status"] == "failed" and run["error"]["code"] == "interrupted"
        log = await events(fresh.client, run_id)
        assert [e["id"] for e in log] == list(range(1, len(log) + 1))
        assert [e["type"] for e in log][-2:] == ["error", "done"]
        assert log[-2]["data"]["code"] == "interrupted" and log[-1]["data"] == {"status": "failed"}
        assert sum(e["type"] == "token" for e in log) == 1
        messages = (await fresh.client.get(f"/api/threads/{thread_id}/messages")).json()["items"]
        assert messages[-1]["role"] == "assistant" and messages[-1]["state"] == "failed"
        assert messages[-1]["content"] == log[[e["type"] for e in log].index("token")][
            "data"]["delta"]
        again = await post(fresh.client, thread_id, "[[say:fine again]]")
        assert again.status_code == 202, "the thread takes new messages"
        assert (await run_finished(fresh.client, again.json()["run_id"]))["status"] == "done"
    await _exit(dead)


async def test_shutdown_fails_active_runs_as_interrupted_and_ends_their_streams(
    make_app,
) -> None:
    inproc: InProcessApp = await make_app()
    client = inproc.client
    run_id = (await post(client, await start_thread(client), "[[stall]] wait")).json()["run_id"]
    await wait_tokens(client, run_id, 1)

    async def follow() -> list[dict[str, Any]]:
        return await events(client, run_id)

    follower = asyncio.create_task(follow())
    await asyncio.sleep(0.2)
    await inproc.container.drain(0)
    log = await asyncio.wait_for(follower, 15)
    assert [e["type"] for e in log][-2:] == ["error", "done"]
    assert log[-2]["data"]["code"] == "interrupted" and log[-1]["data"] == {"status": "failed"}


_STACKS: dict[int, Any] = {}


async def _enter(manager: Any) -> InProcessApp:
    value: InProcessApp = await manager.__aenter__()
    _STACKS[id(value)] = manager
    return value


async def _exit(value: InProcessApp) -> None:
    await _STACKS.pop(id(value)).__aexit__(None, None, None)


# Keep-alive


async def test_keepalive_ping_is_a_bare_comment_that_clients_do_not_see_as_an_event(
    make_app,
) -> None:
    """Regression: a ping ending in a blank line made httpx-sse report empty events."""
    client = (await make_app(sse_ping_seconds=1)).client
    thread_id = await start_thread(client)
    run_id = (await post(client, thread_id, "[[delay:1300]] [[say:slow tokens here]]")).json()[
        "run_id"]
    log = await events(client, run_id)
    assert all(e["type"] != "message" for e in log)
    assert "".join(e["data"]["delta"] for e in log if e["type"] == "token") == "slow tokens here"
    raw = (await client.get(f"/api/runs/{run_id}/events")).text
    assert raw.startswith("id: 1\n")

    run_id = (await post(client, await start_thread(client), "[[delay:1300]] [[say:a b]]")).json()[
        "run_id"]
    async with client.stream("GET", f"/api/runs/{run_id}/events") as response:
        body = "".join([chunk async for chunk in response.aiter_text()])
    assert ": ping\n" in body and ": ping\n\n" not in body


# The run WebSocket (TestClient: sync)


def _ws_collect(ws: Any) -> list[dict[str, Any]]:
    frames = []
    while True:
        frames.append(json.loads(ws.receive_text()))
        if frames[-1]["type"] == "done":
            return frames


def _sync_post(client: Any, content: str) -> tuple[str, str]:
    thread = client.post("/api/threads", json={}).json()["thread_id"]
    run = client.post(f"/api/threads/{thread}/messages", json={"content": content}).json()
    return str(thread), str(run["run_id"])


def test_websocket_streams_the_same_events_as_sse_exactly(make_sync_app) -> None:
    client = make_sync_app()
    thread_id, run_id = _sync_post(client, "[[say:a b]]")
    with client.websocket_connect(f"/api/runs/{run_id}/ws") as ws:
        raw = []
        while not raw or '"type":"done"' not in raw[-1]:
            raw.append(ws.receive_text())
    message_id = client.get(f"/api/threads/{thread_id}/messages").json()["items"][-1][
        "message_id"]
    assert raw == [
        '{"seq":1,"type":"status","data":{"status":"queued"}}',
        '{"seq":2,"type":"status","data":{"status":"running"}}',
        '{"seq":3,"type":"status","data":{"status":"running","stage":"generating"}}',
        '{"seq":4,"type":"token","data":{"delta":"a"}}',
        '{"seq":5,"type":"token","data":{"delta":" b"}}',
        ('{"seq":6,"type":"final","data":{"message_id":"<mid>","content":"a b","sources":[],'
         '"usage":{"prompt_tokens":25,"completion_tokens":2,"cached_tokens":0},'
         '"model":"scripted"}}').replace("<mid>", message_id),
        '{"seq":7,"type":"done","data":{"status":"done"}}',
    ]
    sse = client.get(f"/api/runs/{run_id}/events").text
    for frame in map(json.loads, raw):
        data = json.dumps(frame["data"], ensure_ascii=False, separators=(",", ":"))
        assert f"id: {frame['seq']}\nevent: {frame['type']}\ndata: {data}\n\n" in sse


def test_websocket_streams_resumes_and_ends_with_done(make_sync_app) -> None:
    client = make_sync_app()
    _, run_id = _sync_post(client, "hello over websocket")
    with client.websocket_connect(f"/api/runs/{run_id}/ws") as ws:
        frames = _ws_collect(ws)
    assert [f["seq"] for f in frames] == list(range(1, len(frames) + 1))
    assert frames[-1] == {"seq": len(frames), "type": "done", "data": {"status": "done"}}
    final = next(f for f in frames if f["type"] == "final")["data"]
    assert "".join(f["data"]["delta"] for f in frames if f["type"] == "token") == final["content"]

    with client.websocket_connect(f"/api/runs/{run_id}/ws") as ws:
        ws.send_text(json.dumps({"type": "resume", "after": len(frames) - 2}))
        resumed = _ws_collect(ws)
    assert [f["type"] for f in resumed][-2:] == ["final", "done"]
    assert [f["seq"] for f in resumed] == [len(frames) - 1, len(frames)]


def test_websocket_cancel_command_stops_the_run(make_sync_app) -> None:
    client = make_sync_app(scripted_token_delay_ms=20)
    _, run_id = _sync_post(client, "[[tokens:500]] long")
    with client.websocket_connect(f"/api/runs/{run_id}/ws") as ws:
        frames: list[dict[str, Any]] = []
        while not frames or frames[-1]["type"] != "done":
            frames.append(json.loads(ws.receive_text()))
            if frames[-1]["type"] == "token" and sum(f["type"] == "token" for f in frames) == 3:
                ws.send_text(json.dumps({"type": "cancel"}))
    assert frames[-1]["data"] == {"status": "cancelled"}
    assert client.get(f"/api/runs/{run_id}").json()["status"] == "cancelled"


def test_websocket_unknown_run_is_refused(make_sync_app) -> None:
    from starlette.websockets import WebSocketDisconnect

    client = make_sync_app()
    with pytest.raises(WebSocketDisconnect) as refused:
        with client.websocket_connect("/api/runs/nope/ws") as ws:
            ws.receive_text()
    assert refused.value.code == 4404
