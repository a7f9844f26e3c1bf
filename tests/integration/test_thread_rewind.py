"""DELETE /api/threads/{id}/messages/{message_id}: rewind a thread (regenerate, edit and resend)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ragline.web.app import create_app
from tests.integration.documents_support import settings_for


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = settings_for(f"sqlite+aiosqlite:///{tmp_path / 'r.db'}", tmp_path / "data",
                            default_model="scripted")
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def ask(client: TestClient, thread_id: str, content: str, *, wait: bool = True) -> dict[str, Any]:
    posted = client.post(f"/api/threads/{thread_id}/messages", json={"content": content})
    assert posted.status_code == 202, posted.text
    run_id = posted.json()["run_id"]
    deadline = time.monotonic() + 30
    while wait and client.get(f"/api/runs/{run_id}").json()["status"] in ("queued", "running"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    body: dict[str, Any] = posted.json()
    return body


def test_rewind_drops_the_message_and_everything_after_it(client: TestClient) -> None:
    thread_id = client.post("/api/threads", json={}).json()["thread_id"]
    ask(client, thread_id, "first [[say:one]]")
    second = ask(client, thread_id, "second [[say:two]]")

    gone = client.delete(f"/api/threads/{thread_id}/messages/{second['message_id']}")

    assert gone.status_code == 204
    messages = client.get(f"/api/threads/{thread_id}/messages").json()["items"]
    assert [m["content"] for m in messages] == ["first [[say:one]]", "one"]
    assert client.get(f"/api/runs/{second['run_id']}").status_code == 404
    again = ask(client, thread_id, "second, edited [[say:three]]")
    messages = client.get(f"/api/threads/{thread_id}/messages").json()["items"]
    assert [m["content"] for m in messages][-2:] == ["second, edited [[say:three]]", "three"]
    assert again["run_id"] != second["run_id"]


def test_rewind_refuses_while_a_run_is_active_and_hides_other_threads(
    client: TestClient,
) -> None:
    thread_id = client.post("/api/threads", json={}).json()["thread_id"]
    stalled = ask(client, thread_id, "wait [[stall]]", wait=False)
    refused = client.delete(f"/api/threads/{thread_id}/messages/{stalled['message_id']}")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "run_active"
    client.post(f"/api/runs/{stalled['run_id']}/cancel")

    other = client.post("/api/threads", json={}).json()["thread_id"]
    unknown = client.delete(f"/api/threads/{other}/messages/{stalled['message_id']}")
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "message_not_found"
