"""Seed 003's flow (/conversations with a named model) against a real server, with plain httpx.
Black-box only: the rest (the wire format, model-name validation and listing order) is tested
in-process in tests/integration/test_surfaces.py."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from tests.support.isolation import REDIS_URL


def chat(client: httpx.Client, conversation_id: str | None, message: str) -> dict[str, Any]:
    body = {"model_name": "scripted", "message": message, "conversation_id": conversation_id}
    response = client.post("/conversations/chat", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json()["conversation"])


def test_seed_003_flow_start_chat_list_get(live_server) -> None:
    with httpx.Client(base_url=live_server.base_url, timeout=30) as client:
        started = client.post("/conversations/start", json={"model_name": "scripted"})
        assert started.status_code == 200, started.text
        conversation = started.json()["conversation"]
        assert set(conversation) == {"conversation_id", "model_name", "messages", "timestamp"}
        assert conversation["model_name"] == "scripted" and conversation["messages"] == []
        cid = conversation["conversation_id"]

        first = chat(client, cid, "Hello, who are you?")
        assert first["conversation_id"] == cid
        assert [m["role"] for m in first["messages"]] == ["user", "ai"]
        assert first["messages"][0]["content"] == "Hello, who are you?"
        assert len(first["messages"][1]["content"].split()) >= 50

        second = chat(client, cid, "[[say:nice to meet you]]")
        assert [m["role"] for m in second["messages"]] == ["user", "ai", "user", "ai"]
        assert second["messages"][-1]["content"] == "nice to meet you"
        stamps = [datetime.fromisoformat(m["timestamp"]) for m in second["messages"]]
        assert stamps == sorted(stamps) and stamps[0].utcoffset() is not None

        fetched = client.get(f"/conversations/{cid}")
        assert fetched.status_code == 200 and fetched.json()["conversation"] == second

        other = chat(client, None, "[[say:a new one]]")
        assert other["conversation_id"] != cid
        listed = client.get("/conversations")
        assert listed.status_code == 200
        assert [c["conversation_id"] for c in listed.json()["conversations"]] == [
            other["conversation_id"],
            cid,
        ]
        assert client.get("/conversations/").json() == listed.json()


@pytest.mark.redis
def test_redis_caches_conversations_and_never_serves_a_stale_one(make_server, database_url) -> None:
    server = make_server(database_url, RAGLINE_REDIS_URL=REDIS_URL)
    store = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        with httpx.Client(base_url=server.base_url, timeout=30) as client:
            first = chat(client, None, "[[say:first answer]]")
            cid = first["conversation_id"]
            key = f"ragline:conversation:{cid}"
            entry = json.loads(store.get(key) or "null")
            assert entry["data"] == first and store.ttl(key) > 0, "chat caches what it answers"
            assert client.get(f"/conversations/{cid}").json()["conversation"] == first

            entry["data"]["messages"][1]["content"] = "served from redis"
            store.set(key, json.dumps(entry))
            again = client.get(f"/conversations/{cid}").json()["conversation"]
            assert again["messages"][1]["content"] == "served from redis"
            listed = client.get("/conversations").json()["conversations"]
            assert listed[0]["messages"][1]["content"] == "served from redis"

            updated = chat(client, cid, "[[say:second answer]]")
            assert updated["messages"][1]["content"] == "first answer", "chat drops the entry"
            assert json.loads(store.get(key) or "null")["data"] == updated
            assert client.get(f"/conversations/{cid}").json()["conversation"] == updated

            # A change through another surface moves the thread's stamp: no stale read either.
            run = client.post(f"/api/threads/{cid}/messages", json={"content": "[[say:third]]"})
            assert run.status_code == 202
            deadline = time.monotonic() + 30
            while len(client.get(f"/conversations/{cid}").json()["conversation"]["messages"]) < 6:
                assert time.monotonic() < deadline
                time.sleep(0.05)
            final = client.get(f"/conversations/{cid}").json()["conversation"]
            assert final["messages"][-1]["content"] == "third"
    finally:
        store.close()


@pytest.mark.model
def test_chat_with_the_local_model_by_name(make_server, tmp_path: Path) -> None:
    server = make_server(
        f"sqlite+aiosqlite:///{tmp_path / 'model.db'}", RAGLINE_ANSWER_MAX_TOKENS="12"
    )
    with httpx.Client(base_url=server.base_url, timeout=300) as client:
        response = client.post(
            "/conversations/chat",
            json={"model_name": "gemma-3-270m", "message": "The capital of France is"},
        )
        assert response.status_code == 201, response.text
        conversation = response.json()["conversation"]
        assert conversation["model_name"] == "gemma-3-270m"
        assert conversation["messages"][1]["role"] == "ai"
        assert conversation["messages"][1]["content"].strip()
