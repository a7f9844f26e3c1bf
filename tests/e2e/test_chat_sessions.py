"""Seed 002's README flow (/llm/chat sessions) against a real server, with plain httpx. Black-box
only: the rest (the wire format, paths without slashes, id validation and failed replies) is
tested in-process in tests/integration/test_surfaces.py."""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path

import httpx
import pytest


def test_seed_002_readme_flow_start_message_history_list_delete(live_server) -> None:
    user_id = str(uuid.uuid4())
    with httpx.Client(base_url=live_server.base_url, timeout=30) as client:
        started = client.post(
            "/llm/chat/", json={"user_id": user_id, "initial_message": "Suggest a pipeline"}
        )
        assert started.status_code == 201, started.text
        session_id = started.json()["session_id"]
        first_reply = started.json()["message"]
        assert uuid.UUID(session_id) and len(first_reply.split()) >= 50

        sent = client.post(
            f"/llm/chat/{session_id}/message/", json={"user_message": "Add an edge"}
        )
        assert sent.status_code == 200, sent.text
        assert sent.json()["updated_session"] == session_id
        second_reply = sent.json()["response_message"]
        assert second_reply and second_reply != first_reply

        history = client.get(f"/llm/chat/{session_id}/history/")
        assert history.status_code == 200
        items = history.json()
        assert [(m["sender"], m["content"]) for m in items] == [
            ("user", "Suggest a pipeline"),
            ("llm", first_reply),
            ("user", "Add an edge"),
            ("llm", second_reply),
        ]
        assert {m["session_id"] for m in items} == {session_id}
        stamps = [datetime.fromisoformat(m["timestamp"]) for m in items]
        assert stamps == sorted(stamps) and all(s.utcoffset() is not None for s in stamps)

        sessions = client.get("/llm/chat/sessions/")
        assert sessions.status_code == 200
        (listed,) = sessions.json()
        assert listed["session_id"] == session_id and listed["user_id"] == user_id
        assert listed["last_active"] >= listed["created_at"]

        ended = client.delete(f"/llm/chat/{session_id}/")
        assert ended.status_code == 200 and "detail" in ended.json()
        assert client.get("/llm/chat/sessions/").json() == []
        gone = client.get(f"/llm/chat/{session_id}/history/")
        assert gone.status_code == 404 and gone.json()["error"]["code"] == "session_not_found"


@pytest.mark.model
def test_session_with_the_local_model(make_server, tmp_path: Path) -> None:
    server = make_server(
        f"sqlite+aiosqlite:///{tmp_path / 'model.db'}",
        RAGLINE_DEFAULT_MODEL="qwen2.5-coder-1.5b-instruct",
        RAGLINE_ANSWER_MAX_TOKENS="12",
    )
    with httpx.Client(base_url=server.base_url, timeout=300) as client:
        started = client.post(
            "/llm/chat/",
            json={"user_id": str(uuid.uuid4()), "initial_message": "Say hello in one word."},
        )
        assert started.status_code == 201, started.text
        assert started.json()["message"].strip()
