"""Seed 000's README flows against a real server: SSE with httpx-sse, /ws with `websockets`. Black-
box only: the rest (the wire format, failures, bad input, unknown collections and clients
leaving) is tested in-process in tests/integration/test_surfaces.py."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from httpx_sse import connect_sse
from websockets.sync.client import connect


def stream_question(client: httpx.Client, body: dict[str, Any]) -> list[tuple[str, Any]]:
    frames = []
    with connect_sse(client, "POST", "/stream_question", json=body) as source:
        assert source.response.status_code == 200
        assert source.response.headers["content-type"].startswith("text/event-stream")
        for sse in source.iter_sse():
            frames.append((sse.event, json.loads(sse.data)))
    return frames


def latest_thread(client: httpx.Client) -> dict[str, Any]:
    return dict(client.get("/api/threads").json()["items"][0])


def test_stream_question_readme_body_streams_chunks_then_end(live_server) -> None:
    with httpx.Client(base_url=live_server.base_url, timeout=30) as client:
        frames = stream_question(client, {"question": "What is the capital of France?"})
        events = [event for event, _ in frames]
        assert events[:-1] == ["message"] * (len(frames) - 1) and len(frames) > 50
        assert events[-1] == "end" and frames[-1][1] == {"sources": []}
        answer = "".join(data["chunk"] for _, data in frames[:-1])

        thread = latest_thread(client)
        assert thread["title"] == "What is the capital of France?"
        assert thread["metadata"] == {"surface": "seed000"} and thread["collection"] is None
        messages = client.get(f"/api/threads/{thread['thread_id']}/messages").json()["items"]
        assert [m["content"] for m in messages] == ["What is the capital of France?", answer]


def needs_documents(client: httpx.Client) -> None:
    assert client.get("/api/collections").status_code == 200


def receive_answer(ws: Any) -> tuple[str, dict[str, Any]]:
    parts = []
    while True:
        frame = json.loads(ws.recv(timeout=30))
        if frame["type"] == "response_chunk":
            parts.append(frame["payload"])
        else:
            return "".join(parts), frame


def test_ws_answers_several_questions_and_survives_bad_frames(live_server) -> None:
    with connect(f"{live_server.ws_url}/ws") as ws:
        ws.send(json.dumps({"type": "question", "payload": "Tell me about the history of AI."}))
        first, end = receive_answer(ws)
        assert end == {"type": "response_end", "sources": []} and len(first.split()) >= 50

        for bad in ("not json", json.dumps([1, 2]), json.dumps({"type": "hello"}),
                    json.dumps({"type": "question", "payload": ""}), b"\x00binary"):
            ws.send(bad)
            frame = json.loads(ws.recv(timeout=10))
            assert frame["type"] == "error" and frame["payload"]

        ws.send(json.dumps({"type": "question", "payload": "And then? [[fail-after:2]]"}))
        partial, error = receive_answer(ws)
        assert error["type"] == "error" and "fail" in error["payload"]
        assert len(partial.split()) == 2

        ws.send(json.dumps({"type": "question", "payload": "[[say:still here]]"}))
        third, end = receive_answer(ws)
        assert (third, end["type"]) == ("still here", "response_end")


@pytest.mark.model
def test_stream_question_with_the_local_model(make_server, tmp_path: Path) -> None:
    server = make_server(
        f"sqlite+aiosqlite:///{tmp_path / 'model.db'}",
        RAGLINE_DEFAULT_MODEL="gemma-3-270m",
        RAGLINE_ANSWER_MAX_TOKENS="12",
    )
    with httpx.Client(base_url=server.base_url, timeout=300) as client:
        frames = stream_question(client, {"question": "What is the capital of France?"})
    assert frames[-1][0] == "end"
    chunks = [data["chunk"] for event, data in frames if event == "message"]
    assert chunks and "".join(chunks).strip()


def test_questions_search_the_default_collection_once_it_has_documents(live_server) -> None:
    with httpx.Client(base_url=live_server.base_url, timeout=60) as client:
        needs_documents(client)
        question = {"question": "What is the ragline mascot called?"}
        assert stream_question(client, question)[-1] == ("end", {"sources": []})
        assert latest_thread(client)["collection"] is None

        text = b"The ragline mascot is a heron named Quill. Quill lives by the river."
        uploaded = client.post("/api/documents", files={"file": ("mascot.txt", text)})
        document_id = uploaded.json()["document_id"]
        deadline = time.monotonic() + 120
        while client.get(f"/api/documents/{document_id}").json()["status"] != "ready":
            assert time.monotonic() < deadline
            time.sleep(0.2)

        event, data = stream_question(client, question)[-1]
        assert event == "end" and data["sources"][0]["document_id"] == document_id
        assert latest_thread(client)["collection"] == "default"
        with connect(f"{live_server.ws_url}/ws") as ws:
            ws.send(json.dumps({"type": "question", "payload": question["question"]}))
            _, end = receive_answer(ws)
        assert end["type"] == "response_end" and end["sources"] == data["sources"]
