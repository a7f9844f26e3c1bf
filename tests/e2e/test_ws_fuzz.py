"""Garbage frames at both WebSocket endpoints of a real server: every frame gets an error frame
or a proper close code (never 1006, an abnormal drop), and the server stays healthy."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import websockets

from tests.conftest import LiveServer

PROPER_CLOSES = {1000, 1003, 1007, 1008, 1009}
FRAMES_PER_ENDPOINT = 60


def garbage(rng: random.Random) -> str | bytes:
    """One hostile frame: random bytes, text, deep or huge JSON, commands with wrong types."""
    kind = rng.randrange(10)
    if kind == 0:
        return rng.randbytes(rng.randrange(1, 200))
    if kind == 1:
        return "".join(chr(rng.randrange(1, 0xD7FF)) for _ in range(rng.randrange(1, 50)))
    if kind == 2:
        depth = rng.choice([33, 100, 999, 5000])
        return "[" * depth + "]" * depth
    if kind == 3:
        return json.dumps({"type": "question", "payload": "x" * rng.choice([70_000, 300_000])})
    if kind == 4:
        return json.dumps({"type": rng.choice(["resume", "cancel", "question", None, 7]),
                           "after": rng.choice(["abc", -1, 2**70, None, [], 1.5, "9" * 30]),
                           "payload": rng.choice([None, 3, "", " ", "\u0000", {"a": 1}])})
    if kind == 5:
        return rng.choice(["null", "[]", "{}", '""', "1e999", '{"type": "resume"',
                           b"\xed\xa0\x80"])
    if kind == 6:
        return '{"type": "question", "payload": "\\ud800"}'
    if kind == 7:
        return json.dumps([{"type": "question"}] * rng.randrange(1, 5))
    if kind == 8:
        return rng.randbytes(rng.randrange(1, 20)) + b'{"type":"cancel"}'
    return json.dumps({"type": "question", "payload": "hi [[tokens:2]]"})


def _is_command(frame: str | bytes) -> bool:
    """A well-formed run-socket command, which may rightly get no answer."""
    try:
        message = json.loads(frame)
    except (ValueError, UnicodeDecodeError):
        return False
    return isinstance(message, dict) and message.get("type") in ("resume", "cancel")


async def _one_frame(url: str, frame: str | bytes) -> str:
    """'error' (an error frame), 'answered', 'quiet' (only events), or 'closed <code>'."""
    async with websockets.connect(url, max_size=None) as ws:
        await ws.send(frame)
        try:
            async with asyncio.timeout(5):
                while True:
                    message = json.loads(await ws.recv())
                    if message.get("type") == "error":
                        return "error"
                    if message.get("type") in ("response_end", "done"):
                        return "answered"
        except websockets.ConnectionClosed as closed:
            return f"closed {closed.rcvd.code if closed.rcvd else 1006}"
        except TimeoutError:
            return "quiet"


@pytest.mark.parametrize("database", ["sqlite"])
def test_ws_garbage_gets_error_frames_or_proper_closes(
    make_server: Callable[..., LiveServer], tmp_path: Path, database: str
) -> None:
    server = make_server(f"sqlite+aiosqlite:///{tmp_path / 'fuzz.db'}")
    thread = httpx.post(f"{server.base_url}/api/threads", json={}).json()["thread_id"]
    run = httpx.post(f"{server.base_url}/api/threads/{thread}/messages",
                     json={"content": "[[stall]]"}).json()["run_id"]
    rng = random.Random(16)
    outcomes: dict[str, int] = {}
    for path in ("/ws", f"/api/runs/{run}/ws"):
        for _ in range(FRAMES_PER_ENDPOINT):
            frame = garbage(rng)
            outcome = asyncio.run(_one_frame(server.ws_url + path, frame))
            fine = outcome in ("error", "answered") or (
                outcome == "quiet" and _is_command(frame)
            ) or (outcome.startswith("closed") and int(outcome.split()[1]) in PROPER_CLOSES)
            assert fine, (path, repr(frame)[:80], outcome)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
        assert httpx.get(f"{server.base_url}/healthz", timeout=5).status_code == 200
    assert outcomes.get("error", 0) > FRAMES_PER_ENDPOINT // 2, outcomes
