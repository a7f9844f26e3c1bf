"""Two server processes on one PostgreSQL database: LISTEN/NOTIFY wakes the other's streams."""

from __future__ import annotations

import json

import httpx
from httpx_sse import connect_sse


def test_subscriber_on_another_process_follows_live(make_server, pg_url) -> None:
    writer = make_server(pg_url, RAGLINE_SCRIPTED_TOKEN_DELAY_MS="10")
    reader = make_server(pg_url)
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
