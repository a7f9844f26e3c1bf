"""The run-event WebSocket: the same events as SSE, with resume and cancel commands. Black-box
only: the rest (the exact frames, cancel and unknown runs) is tested in-process in
tests/integration/test_run_core.py."""

from __future__ import annotations

import json

import httpx
import websockets


async def _post(base_url: str, content: str) -> tuple[str, str]:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        thread = (await client.post("/api/threads", json={})).json()["thread_id"]
        posted = await client.post(f"/api/threads/{thread}/messages", json={"content": content})
        return thread, posted.json()["run_id"]


async def _collect(ws: websockets.ClientConnection) -> list[dict]:
    frames = []
    async for raw in ws:
        frames.append(json.loads(raw))
        if frames[-1]["type"] == "done":
            break
    return frames


async def test_websocket_streams_the_same_events_as_sse(live_server) -> None:
    _, run_id = await _post(live_server.base_url, "hello over websocket")
    async with websockets.connect(f"{live_server.ws_url}/api/runs/{run_id}/ws") as ws:
        frames = await _collect(ws)
    assert [f["seq"] for f in frames] == list(range(1, len(frames) + 1))
    assert frames[-1] == {"seq": len(frames), "type": "done", "data": {"status": "done"}}
    final = next(f for f in frames if f["type"] == "final")["data"]
    assert "".join(f["data"]["delta"] for f in frames if f["type"] == "token") == final["content"]

    async with websockets.connect(f"{live_server.ws_url}/api/runs/{run_id}/ws") as ws:
        await ws.send(json.dumps({"type": "resume", "after": len(frames) - 2}))
        resumed = await _collect(ws)
    assert [f["type"] for f in resumed][-2:] == ["final", "done"]
