"""The OpenAI-compatible API driven by the official `openai` SDK, against a real server.
Black-box only: the rest (the wire format, models, limits and stops, errors, failures and closed
streams) is tested in-process in tests/integration/test_surfaces.py."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from openai import OpenAI
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

QUESTION = [
    {"role": "system", "content": "You answer briefly."},
    {"role": "user", "content": "What is ragline?"},
]


def sdk(server: Any) -> OpenAI:
    return OpenAI(base_url=f"{server.base_url}/v1", api_key="not-needed", max_retries=0, timeout=60)


def latest_thread(server: Any) -> dict[str, Any]:
    with httpx.Client(base_url=server.base_url) as client:
        thread = client.get("/api/threads").json()["items"][0]
        thread["messages"] = client.get(f"/api/threads/{thread['thread_id']}/messages").json()[
            "items"
        ]
    return dict(thread)


def test_completion_is_a_persisted_run_with_the_request_history(live_server) -> None:
    client = sdk(live_server)
    messages = [
        {"role": "system", "content": "Be terse."},
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "first answer"},
        {"role": "user", "content": [{"type": "text", "text": "second question"}]},
    ]
    completion = client.chat.completions.create(model="scripted", messages=messages)
    assert completion.object == "chat.completion" and completion.id.startswith("chatcmpl-")
    assert completion.model == "scripted"
    choice = completion.choices[0]
    assert choice.message.role == "assistant" and choice.finish_reason == "stop"
    assert len(choice.message.content.split()) >= 50
    usage = completion.usage
    assert usage.completion_tokens >= 50 and usage.prompt_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    details = usage.prompt_tokens_details
    assert details is not None and details.cached_tokens == 0
    assert getattr(completion, "ragline_sources", None) is None, "no rag, no extension field"

    thread = latest_thread(live_server)
    assert thread["metadata"]["surface"] == "openai"
    assert thread["metadata"]["system"] == "Be terse."
    assert [(m["role"], m["content"]) for m in thread["messages"]] == [
        ("user", "first question"),
        ("assistant", "first answer"),
        ("user", "second question"),
        ("assistant", choice.message.content),
    ]
    run_id = completion.id.removeprefix("chatcmpl-")
    assert thread["messages"][-1]["run_id"] == run_id

    again = client.chat.completions.create(model="scripted", messages=messages)
    assert again.choices[0].message.content == choice.message.content, "deterministic model"
    other_system = [{"role": "system", "content": "Be verbose."}, *messages[1:]]
    changed = client.chat.completions.create(model="scripted", messages=other_system)
    assert changed.choices[0].message.content != choice.message.content, "system is used"


def test_streaming_sync_matches_the_non_streamed_answer(live_server) -> None:
    client = sdk(live_server)
    whole = client.chat.completions.create(model="scripted", messages=QUESTION)
    stream = client.chat.completions.create(
        model="scripted", messages=QUESTION, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert len({c.id for c in chunks}) == 1 and chunks[0].id != whole.id
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content
    finishing = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert len(finishing) == 1 and finishing[0].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens >= 50
    assert all(c.usage is None for c in chunks[:-1])


def test_rag_returns_ragline_sources(live_server, tmp_path: Path) -> None:
    with httpx.Client(base_url=live_server.base_url, timeout=60) as client:
        text = b"The ragline mascot is a heron named Quill. Quill lives by the river."
        uploaded = client.post(
            "/api/documents",
            files={"file": ("mascot.txt", text, "text/plain")},
            data={"collection": "animals"},
        )
        assert uploaded.status_code in (200, 202), uploaded.text
        document_id = uploaded.json()["document_id"]
        deadline = time.monotonic() + 120
        while client.get(f"/api/documents/{document_id}").json()["status"] != "ready":
            assert time.monotonic() < deadline
            time.sleep(0.2)

    client_ = sdk(live_server)
    question = [{"role": "user", "content": "What is the ragline mascot called?"}]
    rag = {"rag": {"collection": "animals", "top_k": 3}}
    completion = client_.chat.completions.create(
        model="scripted", messages=question, extra_body=rag
    )
    sources = completion.ragline_sources  # type: ignore[attr-defined]
    assert sources and sources[0]["document_id"] == document_id and "Quill" in sources[0]["text"]
    chunks = list(
        client_.chat.completions.create(
            model="scripted", messages=question, extra_body=rag, stream=True
        )
    )
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].ragline_sources == sources  # type: ignore[attr-defined]
    assert all(getattr(c, "ragline_sources", None) is None for c in chunks[:-1])
    with pytest.raises(openai.NotFoundError):
        client_.chat.completions.create(
            model="scripted", messages=question, extra_body={"rag": {"collection": "nope"}}
        )


@pytest.mark.model
def test_sdk_streams_an_answer_from_the_local_model(make_server, tmp_path: Path) -> None:
    server = make_server(f"sqlite+aiosqlite:///{tmp_path / 'model.db'}")
    client = OpenAI(base_url=f"{server.base_url}/v1", api_key="x", max_retries=0, timeout=300)
    stream = client.chat.completions.create(
        model="qwen2.5-coder-1.5b-instruct",
        messages=[{"role": "user", "content": "Count from 1 to 20, separated by commas."}],
        stream=True,
        max_tokens=8,
        temperature=0,
        stop=["7"],
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "1" in text and "7" not in text
    assert 0 < chunks[-1].usage.completion_tokens <= 8


def test_api_keys_scope_every_surface(make_server, database_url) -> None:
    server = make_server(database_url, RAGLINE_AUTH="api_key")
    keys = [
        subprocess.run(
            [sys.executable, "-m", "ragline", "keys", "create", "--user", name],
            env=server.env, check=True, capture_output=True, text=True,
        ).stdout.strip().splitlines()[-1]
        for name in ("alice", "bob")
    ]
    alice = OpenAI(base_url=f"{server.base_url}/v1", api_key=keys[0], max_retries=0)
    reply = alice.chat.completions.create(model="scripted", messages=QUESTION, max_tokens=3)
    assert reply.usage.completion_tokens == 3
    with pytest.raises(openai.AuthenticationError) as denied:
        OpenAI(base_url=f"{server.base_url}/v1", api_key="rl_wrong", max_retries=0).models.list()
    assert denied.value.body["type"] == "authentication_error"

    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        for key in keys:
            started = client.post(
                "/conversations/start", json={"model_name": "scripted"},
                headers={"Authorization": f"Bearer {key}"},
            )
            assert started.status_code == 200
        bob = client.get("/conversations", headers={"X-API-Key": keys[1]}).json()
        assert len(bob["conversations"]) == 1
        anonymous = client.post("/stream_question", json={"question": "hi"})
        assert anonymous.status_code == 401

    with pytest.raises(InvalidStatus):
        connect(f"{server.ws_url}/ws").close()
    with connect(f"{server.ws_url}/ws?token={keys[0]}") as ws:
        ws.send(json.dumps({"type": "question", "payload": "[[say:hi alice]]"}))
        frames = [json.loads(ws.recv(timeout=10)) for _ in range(3)]
    assert [f["type"] for f in frames] == ["response_chunk", "response_chunk", "response_end"]
