"""Every surface over the run core, through the real app in this process, on SQLite and
PostgreSQL: the exact wire format of a scripted answer on the one-shot SSE and WebSocket
(`/stream_question`, `/ws`), chat sessions (`/llm/chat`), conversations (`/conversations`) and
`/v1/chat/completions` (stream and not), plus the behaviour moved here from the end-to-end files
tests/e2e/test_oneshot.py, test_chat_sessions.py, test_conversations.py, test_openai_api.py,
test_generate_api.py, test_operations.py and test_auth_and_limits.py (docs/api.md §3-§5)."""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from datetime import datetime
from typing import Any

import httpx
import jwt
import openai
import pytest
from httpx_sse import aconnect_sse
from openai import AsyncOpenAI

from tests.support.inprocess import BASE_URL, InProcessApp
from tests.support.runs import TERMINAL, run_finished

QUESTION = [
    {"role": "system", "content": "You answer briefly."},
    {"role": "user", "content": "What is ragline?"},
]
UUID_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
STAMP_RE = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z"
USER = "6f1f6b8e-1d7c-4c1a-9d55-8d0f3c7d2a11"


def sdk(inproc: InProcessApp) -> AsyncOpenAI:
    return AsyncOpenAI(base_url=f"{BASE_URL}/v1", api_key="not-needed", max_retries=0,
                       timeout=60, http_client=inproc.http())


async def latest_thread(client: httpx.AsyncClient) -> dict[str, Any]:
    thread = (await client.get("/api/threads")).json()["items"][0]
    thread["messages"] = (await client.get(f"/api/threads/{thread['thread_id']}/messages")
                          ).json()["items"]
    return dict(thread)


def shape(text: str) -> str:
    """The text with ids, timestamps and `created` seconds replaced by placeholders."""
    text = re.sub(UUID_RE, "<id>", text)
    text = re.sub(STAMP_RE, "<ts>", text)
    return re.sub(r'"created":\d+', '"created":<n>', text)


# Seed 000: /stream_question and /ws


async def stream_question(client: httpx.AsyncClient, body: dict[str, Any]
                          ) -> list[tuple[str, Any]]:
    frames = []
    async with aconnect_sse(client, "POST", "/stream_question", json=body) as source:
        assert source.response.status_code == 200
        assert source.response.headers["content-type"].startswith("text/event-stream")
        async for sse in source.aiter_sse():
            frames.append((sse.event, json.loads(sse.data)))
    return frames


async def test_stream_question_wire_format_is_exact(app_client: httpx.AsyncClient) -> None:
    ok = await app_client.post("/stream_question", json={"question": "[[say:a b c]]"})
    assert ok.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert ok.headers["cache-control"] == "no-store" and ok.headers["x-accel-buffering"] == "no"
    assert ok.text == ('data: {"chunk":"a"}\n\ndata: {"chunk":" b"}\n\ndata: {"chunk":" c"}\n\n'
                       'event: end\ndata: {"sources":[]}\n\n')
    failed = await app_client.post("/stream_question", json={"question": "x [[fail-after:1]]"})
    assert failed.text == (
        'data: {"chunk":"models"}\n\n'
        'event: error\ndata: {"code":"provider_error","message":"scripted failure mid-stream"}\n\n'
        'event: end\ndata: {"sources":[]}\n\n'
    )


async def test_stream_question_persists_a_seed000_thread(app_client: httpx.AsyncClient) -> None:
    client = app_client
    frames = await stream_question(client, {"question": "What is the capital of France?"})
    events = [event for event, _ in frames]
    assert events[:-1] == ["message"] * (len(frames) - 1) and len(frames) > 50
    assert events[-1] == "end" and frames[-1][1] == {"sources": []}
    answer = "".join(data["chunk"] for _, data in frames[:-1])
    thread = await latest_thread(client)
    assert thread["title"] == "What is the capital of France?"
    assert thread["metadata"] == {"surface": "seed000"} and thread["collection"] is None
    assert [m["content"] for m in thread["messages"]] == ["What is the capital of France?", answer]


async def test_stream_question_failed_run_sends_error_frame_then_end(
    app_client: httpx.AsyncClient,
) -> None:
    frames = await stream_question(app_client, {"question": "break [[fail-after:3]]"})
    assert [event for event, _ in frames] == ["message"] * 3 + ["error", "end"]
    assert frames[3][1]["code"] == "provider_error" and frames[3][1]["message"]
    assert frames[4][1] == {"sources": []}


async def test_stream_question_bad_input_is_rejected_before_streaming(
    app_client: httpx.AsyncClient,
) -> None:
    missing = await app_client.post("/stream_question", json={"query": "wrong field"})
    assert missing.status_code == 422 and missing.json()["error"]["code"] == "validation_error"
    blank = await app_client.post("/stream_question", json={"question": "   "})
    assert blank.status_code == 400 and blank.json()["error"]["code"] == "empty_question"
    assert (await app_client.get("/api/collections")).status_code == 200
    unknown = await app_client.post("/stream_question",
                                    json={"question": "hi", "collection": "nope"})
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "collection_not_found"


async def test_client_leaving_the_stream_question_cancels_the_run(make_app) -> None:
    client = (await make_app(scripted_token_delay_ms=50)).client
    async with aconnect_sse(client, "POST", "/stream_question",
                            json={"question": "a long one"}) as source:
        index = 0
        async for _sse in source.aiter_sse():
            index += 1
            if index == 3:
                break
    thread = await latest_thread(client)
    assert (await run_finished(client, thread["messages"][0]["run_id"]))["status"] == "cancelled"


def test_ws_wire_format_is_exact_and_the_socket_survives_bad_frames(make_sync_app) -> None:
    client = make_sync_app()
    with client.websocket_connect("/ws") as ws:
        ws.send_text(json.dumps({"type": "question", "payload": "[[say:a b c]]"}))
        assert [ws.receive_text() for _ in range(4)] == [
            '{"type":"response_chunk","payload":"a"}',
            '{"type":"response_chunk","payload":" b"}',
            '{"type":"response_chunk","payload":" c"}',
            '{"type":"response_end","sources":[]}',
        ]
        ws.send_text(json.dumps({"type": "question", "payload": "x [[fail-after:1]]"}))
        assert [ws.receive_text() for _ in range(2)] == [
            '{"type":"response_chunk","payload":"models"}',
            '{"type":"error","payload":"scripted failure mid-stream"}',
        ]
        for bad in ("not json", json.dumps([1, 2]), json.dumps({"type": "hello"}),
                    json.dumps({"type": "question", "payload": ""})):
            ws.send_text(bad)
            frame = json.loads(ws.receive_text())
            assert frame["type"] == "error" and frame["payload"]
        ws.send_bytes(b"\x00binary")
        frame = json.loads(ws.receive_text())
        assert frame["type"] == "error" and frame["payload"]

        ws.send_text(json.dumps({"type": "question", "payload": "Tell me about the history."}))
        parts = []
        while (frame := json.loads(ws.receive_text()))["type"] == "response_chunk":
            parts.append(frame["payload"])
        assert frame == {"type": "response_end", "sources": []} and len(parts) >= 50
        ws.send_text(json.dumps({"type": "question", "payload": "And then? [[fail-after:2]]"}))
        partial = [json.loads(ws.receive_text()) for _ in range(3)]
        assert [f["type"] for f in partial] == ["response_chunk", "response_chunk", "error"]
        assert "fail" in partial[-1]["payload"]
        ws.send_text(json.dumps({"type": "question", "payload": "[[say:still here]]"}))
        assert [json.loads(ws.receive_text())["payload"] for _ in range(2)] == ["still", " here"]
        assert json.loads(ws.receive_text())["type"] == "response_end"

        ws.send_text(json.dumps({"type": "question", "payload": "hi", "collection": "nope"}))
        frame = json.loads(ws.receive_text())
        assert frame["type"] == "error" and "nope" in frame["payload"]


def test_client_leaving_the_ws_cancels_the_run(make_sync_app) -> None:
    client = make_sync_app(scripted_token_delay_ms=50)
    with client.websocket_connect("/ws") as ws:
        ws.send_text(json.dumps({"type": "question", "payload": "another long one"}))
        json.loads(ws.receive_text())
    thread = client.get("/api/threads").json()["items"][0]
    run_id = client.get(f"/api/threads/{thread['thread_id']}/messages").json()["items"][0][
        "run_id"]
    for _ in range(600):
        if (status := client.get(f"/api/runs/{run_id}").json()["status"]) in TERMINAL:
            break
        time.sleep(0.05)
    assert status == "cancelled"


# Seed 002: /llm/chat sessions


async def test_chat_sessions_wire_format_is_exact(app_client: httpx.AsyncClient) -> None:
    started = await app_client.post("/llm/chat/",
                                    json={"user_id": USER, "initial_message": "[[say:a b c]]"})
    assert started.status_code == 201
    assert shape(started.text) == '{"session_id":"<id>","message":"a b c"}'
    sid = started.json()["session_id"]
    sent = await app_client.post(f"/llm/chat/{sid}/message/", json={"user_message": "[[say:d e]]"})
    assert sent.status_code == 200
    assert sent.text == '{"response_message":"d e","updated_session":"<id>"}'.replace("<id>", sid)
    history = await app_client.get(f"/llm/chat/{sid}/history/")
    one = ('{"message_id":"<id>","session_id":"<id>","sender":"<who>","content":"<text>",'
           '"timestamp":"<ts>"}')
    said = [("user", "[[say:a b c]]"), ("llm", "a b c"), ("user", "[[say:d e]]"), ("llm", "d e")]
    assert shape(history.text) == "[" + ",".join(
        one.replace("<who>", who).replace("<text>", text) for who, text in said) + "]"
    sessions = await app_client.get("/llm/chat/sessions/")
    assert shape(sessions.text) == (
        '[{"session_id":"<id>","user_id":"<id>","created_at":"<ts>","last_active":"<ts>"}]')
    assert sessions.json()[0]["last_active"] == history.json()[-1]["timestamp"]
    ended = await app_client.delete(f"/llm/chat/{sid}/")
    assert ended.status_code == 200 and list(ended.json()) == ["detail"]


async def test_chat_session_paths_work_without_trailing_slash_and_without_redirect(
    app_client: httpx.AsyncClient,
) -> None:
    client = app_client
    user_id = str(uuid.uuid4())
    started = await client.post("/llm/chat",
                                json={"user_id": user_id, "initial_message": "[[say:hello there]]"})
    assert started.status_code == 201 and started.json()["message"] == "hello there"
    session_id = started.json()["session_id"]
    sent = await client.post(f"/llm/chat/{session_id}/message", json={"user_message": "[[say:ok]]"})
    assert sent.status_code == 200 and sent.json()["response_message"] == "ok"
    assert len((await client.get(f"/llm/chat/{session_id}/history")).json()) == 4
    by_user = (await client.get("/llm/chat/sessions", params={"user_id": user_id})).json()
    assert [s["session_id"] for s in by_user] == [session_id]
    other = (await client.get("/llm/chat/sessions", params={"user_id": str(uuid.uuid4())})).json()
    assert other == []
    assert (await client.delete(f"/llm/chat/{session_id}")).status_code == 200
    assert (await client.get("/llm/chat/sessions/")).json() == []
    gone = await client.get(f"/llm/chat/{session_id}/history/")
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "session_not_found"


async def test_chat_session_ids_are_validated(app_client: httpx.AsyncClient) -> None:
    client = app_client
    bad_user = await client.post("/llm/chat/", json={"user_id": "bob", "initial_message": "hi"})
    assert bad_user.status_code == 422
    assert bad_user.json()["error"]["code"] == "validation_error"
    assert "user_id" in bad_user.json()["error"]["message"]
    empty = await client.post("/llm/chat/",
                              json={"user_id": str(uuid.uuid4()), "initial_message": ""})
    assert empty.status_code == 422
    for session_id in ("not-a-uuid", str(uuid.uuid4())):
        for response in (
            await client.post(f"/llm/chat/{session_id}/message/", json={"user_message": "hi"}),
            await client.get(f"/llm/chat/{session_id}/history/"),
            await client.delete(f"/llm/chat/{session_id}/"),
        ):
            assert response.status_code == 404, response.text
            assert response.json()["error"]["code"] == "session_not_found"


async def test_a_failed_chat_reply_is_a_502_and_the_session_keeps_its_history(
    app_client: httpx.AsyncClient,
) -> None:
    client = app_client
    started = await client.post(
        "/llm/chat/", json={"user_id": str(uuid.uuid4()), "initial_message": "[[say:fine]]"})
    session_id = started.json()["session_id"]
    failed = await client.post(f"/llm/chat/{session_id}/message/",
                               json={"user_message": "go [[fail-after:2]]"})
    assert failed.status_code == 502 and failed.json()["error"]["code"] == "provider_error"
    history = (await client.get(f"/llm/chat/{session_id}/history/")).json()
    assert [m["sender"] for m in history] == ["user", "llm", "user", "llm"]


# Seed 003: /conversations


async def test_conversations_wire_format_is_exact(app_client: httpx.AsyncClient) -> None:
    started = await app_client.post("/conversations/start", json={"model_name": "scripted"})
    assert started.status_code == 200
    assert shape(started.text) == ('{"conversation":{"conversation_id":"<id>",'
                                   '"model_name":"scripted","messages":[],"timestamp":"<ts>"}}')
    cid = started.json()["conversation"]["conversation_id"]
    chatted = await app_client.post("/conversations/chat", json={
        "model_name": "scripted", "message": "[[say:a b c]]", "conversation_id": cid})
    assert chatted.status_code == 201
    conversation = ('{"conversation_id":"<id>","model_name":"scripted","messages":['
                    '{"role":"user","content":"[[say:a b c]]","timestamp":"<ts>"},'
                    '{"role":"ai","content":"a b c","timestamp":"<ts>"}],"timestamp":"<ts>"}')
    assert shape(chatted.text) == '{"conversation":' + conversation + "}"
    assert chatted.json()["conversation"]["conversation_id"] == cid
    assert chatted.json()["conversation"]["timestamp"] == \
        started.json()["conversation"]["timestamp"]
    listed = await app_client.get("/conversations")
    assert shape(listed.text) == '{"conversations":[' + conversation + "]}"
    fetched = await app_client.get(f"/conversations/{cid}")
    assert fetched.json() == chatted.json()


async def test_conversation_model_name_must_name_a_registry_model(
    app_client: httpx.AsyncClient,
) -> None:
    client = app_client
    names = [m["id"] for m in (await client.get("/v1/models")).json()["data"]]
    assert "scripted" in names and "llama2" not in names
    bad_start = await client.post("/conversations/start", json={"model_name": "llama2"})
    assert bad_start.status_code == 400
    assert bad_start.json()["error"]["code"] == "unknown_model"
    cid = (await client.post("/conversations/start", json={"model_name": "scripted"})).json()[
        "conversation"]["conversation_id"]
    bad_chat = await client.post(
        "/conversations/chat",
        json={"model_name": "mistral", "message": "hi", "conversation_id": cid},
    )
    assert bad_chat.status_code == 400 and bad_chat.json()["error"]["code"] == "unknown_model"
    missing = await client.post("/conversations/chat", json={"model_name": "scripted"})
    assert missing.status_code == 422
    unknown = await client.get(f"/conversations/{uuid.uuid4()}")
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "conversation_not_found"
    assert (await client.get(f"/conversations/{cid}")).json()["conversation"]["messages"] == []


async def test_conversations_list_newest_first_and_keep_their_order(
    app_client: httpx.AsyncClient,
) -> None:
    async def chat(cid: str | None, message: str) -> dict[str, Any]:
        response = await app_client.post("/conversations/chat", json={
            "model_name": "scripted", "message": message, "conversation_id": cid})
        assert response.status_code == 201, response.text
        return dict(response.json()["conversation"])

    first = await chat(None, "Hello, who are you?")
    cid = first["conversation_id"]
    assert [m["role"] for m in first["messages"]] == ["user", "ai"]
    assert len(first["messages"][1]["content"].split()) >= 50
    second = await chat(cid, "[[say:nice to meet you]]")
    assert [m["role"] for m in second["messages"]] == ["user", "ai", "user", "ai"]
    stamps = [datetime.fromisoformat(m["timestamp"]) for m in second["messages"]]
    assert stamps == sorted(stamps) and stamps[0].utcoffset() is not None
    other = await chat(None, "[[say:a new one]]")
    listed = (await app_client.get("/conversations")).json()
    assert [c["conversation_id"] for c in listed["conversations"]] == [
        other["conversation_id"], cid]
    assert (await app_client.get("/conversations/")).json() == listed


# OpenAI-compatible /v1


async def test_v1_wire_format_is_exact_stream_and_not(app_client: httpx.AsyncClient) -> None:
    body: dict[str, Any] = {"model": "scripted",
                            "messages": [{"role": "user", "content": "[[say:a b c]]"}]}
    whole = await app_client.post("/v1/chat/completions", json=body)
    assert whole.headers["content-type"] == "application/json"
    assert shape(whole.text) == (
        '{"id":"chatcmpl-<id>","object":"chat.completion","created":<n>,"model":"scripted",'
        '"system_fingerprint":null,"choices":[{"index":0,"message":{"role":"assistant",'
        '"content":"a b c","refusal":null},"logprobs":null,"finish_reason":"stop"}],'
        '"usage":{"prompt_tokens":4,"completion_tokens":3,"total_tokens":7,'
        '"prompt_tokens_details":{"cached_tokens":0}}}'
    )
    head = ('data: {"id":"chatcmpl-<id>","object":"chat.completion.chunk","created":<n>,'
            '"model":"scripted","system_fingerprint":null,"choices":')

    def chunk(choices: str, usage: str | None) -> str:
        return head + choices + ("" if usage is None else f',"usage":{usage}') + "}\n\n"

    def delta(text: str, finish: str = "null") -> str:
        return ('[{"index":0,"delta":<delta>,"logprobs":null,"finish_reason":<finish>}]'
                .replace("<delta>", text).replace("<finish>", finish))

    for include_usage in (True, False):
        extra: dict[str, Any] = {"stream_options": {"include_usage": True}} if include_usage \
            else {}
        streamed = await app_client.post("/v1/chat/completions",
                                         json={**body, "stream": True, **extra})
        assert streamed.headers["content-type"] == "text/event-stream; charset=utf-8"
        usage = "null" if include_usage else None
        expected = (
            chunk(delta('{"role":"assistant","content":""}'), usage)
            + chunk(delta('{"content":"a"}'), usage)
            + chunk(delta('{"content":" b"}'), usage)
            + chunk(delta('{"content":" c"}'), usage)
            + chunk(delta("{}", '"stop"'), usage)
            + (chunk("[]", '{"prompt_tokens":4,"completion_tokens":3,"total_tokens":7,'
                           '"prompt_tokens_details":{"cached_tokens":0}}')
               if include_usage else "")
            + "data: [DONE]\n\n"
        )
        assert shape(streamed.text) == expected
        assert len(set(re.findall(r'"id":"(chatcmpl-[^"]+)"', streamed.text))) == 1

    failing = {"model": "scripted", "stream": True,
               "messages": [{"role": "user", "content": "x [[fail-after:1]]"}]}
    failed = await app_client.post("/v1/chat/completions", json=failing)
    assert shape(failed.text) == (
        chunk(delta('{"role":"assistant","content":""}'), None)
        + chunk(delta('{"content":"documents"}'), None)
        + 'data: {"error":{"message":"scripted failure mid-stream","type":"api_error",'
          '"param":null,"code":"provider_error"}}\n\n'
        + "data: [DONE]\n\n"
    )


async def test_v1_streaming_wire_format_ends_with_done(app_client: httpx.AsyncClient) -> None:
    body = {"model": "scripted", "messages": QUESTION, "stream": True, "max_tokens": 4}
    async with app_client.stream("POST", "/v1/chat/completions", json=body) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line async for line in response.aiter_lines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line[6:]) for line in lines[:-1]]
    assert [c["choices"][0]["finish_reason"] for c in chunks][-1] == "length"
    assert "usage" not in chunks[0]


async def test_v1_models_list_and_retrieve(inproc: InProcessApp) -> None:
    client = sdk(inproc)
    models = await client.models.list()
    ids = [m.id for m in models.data]
    assert ids[0] == "scripted", "the default model comes first"
    assert {"scripted", "qwen2.5-coder-1.5b-instruct", "gemma-3-270m"} <= set(ids)
    assert all(m.object == "model" and m.created > 0 and m.owned_by for m in models.data)
    assert (await client.models.retrieve("gemma-3-270m")).id == "gemma-3-270m"
    with pytest.raises(openai.NotFoundError):
        await client.models.retrieve("gpt-5")


async def test_v1_completion_is_a_persisted_run_with_the_request_history(
    inproc: InProcessApp,
) -> None:
    client = sdk(inproc)
    messages: list[Any] = [
        {"role": "system", "content": "Be terse."},
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "first answer"},
        {"role": "user", "content": [{"type": "text", "text": "second question"}]},
    ]
    completion = await client.chat.completions.create(model="scripted", messages=messages)
    assert completion.object == "chat.completion" and completion.id.startswith("chatcmpl-")
    assert completion.model == "scripted"
    choice = completion.choices[0]
    assert choice.message.role == "assistant" and choice.finish_reason == "stop"
    assert choice.message.content and len(choice.message.content.split()) >= 50
    usage = completion.usage
    assert usage is not None
    assert usage.completion_tokens >= 50 and usage.prompt_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    details = usage.prompt_tokens_details
    assert details is not None and details.cached_tokens == 0
    assert getattr(completion, "ragline_sources", None) is None, "no rag, no extension field"

    thread = await latest_thread(inproc.client)
    assert thread["metadata"]["surface"] == "openai"
    assert thread["metadata"]["system"] == "Be terse."
    assert [(m["role"], m["content"]) for m in thread["messages"]] == [
        ("user", "first question"),
        ("assistant", "first answer"),
        ("user", "second question"),
        ("assistant", choice.message.content),
    ]
    assert thread["messages"][-1]["run_id"] == completion.id.removeprefix("chatcmpl-")

    again = await client.chat.completions.create(model="scripted", messages=messages)
    assert again.choices[0].message.content == choice.message.content, "deterministic model"
    other_system = [{"role": "system", "content": "Be verbose."}, *messages[1:]]
    changed = await client.chat.completions.create(model="scripted", messages=other_system)
    assert changed.choices[0].message.content != choice.message.content, "system is used"


async def test_v1_max_tokens_stop_and_temperature(inproc: InProcessApp) -> None:
    client = sdk(inproc)
    short = await client.chat.completions.create(model="scripted", messages=QUESTION,  # type: ignore[arg-type]
                                                 max_tokens=5)
    assert short.usage is not None and short.usage.completion_tokens == 5
    assert short.choices[0].finish_reason == "length"
    assert len((short.choices[0].message.content or "").split()) == 5
    newer = await client.chat.completions.create(
        model="scripted", messages=QUESTION, max_completion_tokens=3, temperature=0  # type: ignore[arg-type]
    )
    assert newer.usage is not None and newer.usage.completion_tokens == 3
    stopped = await client.chat.completions.create(
        model="scripted", messages=[{"role": "user", "content": "[[say:one two three four]]"}],
        stop=[" three", "never"],
    )
    assert stopped.choices[0].message.content == "one two"
    assert stopped.choices[0].finish_reason == "stop"
    single = await client.chat.completions.create(
        model="scripted", messages=[{"role": "user", "content": "[[say:a b c]]"}], stop=" b"
    )
    assert single.choices[0].message.content == "a"


async def test_v1_streaming_matches_the_non_streamed_answer(inproc: InProcessApp) -> None:
    client = sdk(inproc)
    whole = await client.chat.completions.create(model="scripted", messages=QUESTION)  # type: ignore[arg-type]
    stream = await client.chat.completions.create(
        model="scripted", messages=QUESTION, stream=True,  # type: ignore[arg-type]
        stream_options={"include_usage": True},
    )
    chunks = [c async for c in stream]
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert len({c.id for c in chunks}) == 1 and chunks[0].id != whole.id
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content and len(text.split()) >= 50
    finishing = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert len(finishing) == 1 and finishing[0].choices[0].finish_reason == "stop"
    last_usage = chunks[-1].usage
    assert chunks[-1].choices == [] and last_usage is not None
    assert last_usage.completion_tokens >= 50
    assert all(c.usage is None for c in chunks[:-1])


async def test_v1_errors_come_back_as_the_sdk_exception_types(inproc: InProcessApp) -> None:
    client = sdk(inproc)
    with pytest.raises(openai.NotFoundError) as missing:
        await client.chat.completions.create(model="gpt-4o", messages=QUESTION)  # type: ignore[arg-type]
    assert missing.value.code == "model_not_found" and missing.value.param == "model"
    assert isinstance(missing.value.body, dict)
    assert missing.value.body["type"] == "invalid_request_error"

    with pytest.raises(openai.UnprocessableEntityError) as bad_body:
        await client.chat.completions.create(model="scripted", messages=QUESTION,  # type: ignore[arg-type]
                                             temperature=7)
    assert "temperature" in bad_body.value.message
    with pytest.raises(openai.UnprocessableEntityError):
        await client.chat.completions.create(model="scripted", messages=[])
    with pytest.raises(openai.UnprocessableEntityError):
        await client.post("/chat/completions", body={"messages": QUESTION}, cast_to=object)

    with pytest.raises(openai.BadRequestError) as last_not_user:
        await client.chat.completions.create(
            model="scripted", messages=[*QUESTION, {"role": "assistant", "content": "hm"}]  # type: ignore[list-item]
        )
    assert last_not_user.value.param == "messages"
    with pytest.raises(openai.BadRequestError):
        await client.chat.completions.create(model="scripted", messages=QUESTION, n=2)  # type: ignore[arg-type]

    with pytest.raises(openai.APIError) as failed:
        await client.chat.completions.create(
            model="scripted", messages=[{"role": "user", "content": "x [[fail-after:1]]"}]
        )
    assert failed.value.code == "provider_error"


async def test_v1_a_run_failing_mid_stream_raises_in_the_sdk(inproc: InProcessApp) -> None:
    stream = await sdk(inproc).chat.completions.create(
        model="scripted", messages=[{"role": "user", "content": "go [[fail-after:3]]"}],
        stream=True,
    )
    received = []
    with pytest.raises(openai.APIError, match="scripted failure"):
        async for chunk in stream:
            received.append(chunk)
    assert sum(1 for c in received if c.choices and c.choices[0].delta.content) == 3


async def test_v1_closing_a_stream_cancels_its_run(make_app) -> None:
    inproc = await make_app(scripted_token_delay_ms=50)
    stream = await sdk(inproc).chat.completions.create(model="scripted", messages=QUESTION,  # type: ignore[arg-type]
                                                       stream=True)
    index = 0
    async for _chunk in stream:
        index += 1
        if index == 4:
            break
    await stream.close()
    thread = await latest_thread(inproc.client)
    assert (await run_finished(inproc.client, thread["messages"][0]["run_id"]))["status"] == \
        "cancelled"


# Structured output (docs/api.md §4)

A = "11111111-1111-4111-8111-111111111111"
TICKET = {
    "type": "object",
    "properties": {
        "title": {"type": "string"},
        "code": {"type": "string", "pattern": "^[0-9]{3}$"},
    },
    "required": ["title", "code"],
}


async def test_schema_registry_lists_builtins_registers_and_refuses_bad_schemas(
    app_client: httpx.AsyncClient,
) -> None:
    client = app_client
    listed = await client.get("/api/schemas")
    assert listed.status_code == 200
    items = {s["name"]: s for s in listed.json()["items"]}
    assert {"block", "edge", "pipeline"} <= set(items)
    pipeline = items["pipeline"]
    assert pipeline["builtin"] is True
    assert set(pipeline["json_schema"]["required"]) == {"name", "blocks", "edges"}

    created = await client.post("/api/schemas", json={"name": "ticket", "json_schema": TICKET})
    assert created.status_code == 201, created.text
    assert created.json() == {"name": "ticket", "json_schema": TICKET, "builtin": False}
    again = await client.post("/api/schemas", json={"name": "ticket", "json_schema": TICKET})
    assert again.status_code == 409 and again.json()["error"]["code"] == "schema_exists"
    builtin = await client.post("/api/schemas", json={"name": "edge", "json_schema": TICKET})
    assert builtin.status_code == 409

    bad = await client.post("/api/schemas", json={"name": "bad", "json_schema": {"type": "banana"}})
    assert bad.status_code == 422
    error = bad.json()["error"]
    assert error["code"] == "invalid_schema" and "banana" in error["message"]

    names = [s["name"] for s in (await client.get("/api/schemas")).json()["items"]]
    assert "ticket" in names and "bad" not in names
    first = (await client.get("/api/schemas", params={"limit": 2})).json()
    rest = (await client.get("/api/schemas", params={"cursor": first["next_cursor"]})).json()
    assert [s["name"] for s in first["items"] + rest["items"]] == names

    unknown = await client.post("/api/generate", json={"schema": "nope", "prompt": "x"})
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "schema_not_found"


async def test_generate_output_that_never_validates_answers_422_with_errors_and_raw(
    app_client: httpx.AsyncClient,
) -> None:
    await app_client.post("/api/schemas", json={"name": "ticket", "json_schema": TICKET})
    failed = await app_client.post(
        "/api/generate", json={"schema": "ticket", "prompt": "a ticket", "max_attempts": 2})
    assert failed.status_code == 422
    error = failed.json()["error"]
    assert error["code"] == "llm_output_invalid"
    assert error["details"]["attempts"] == 2
    assert json.loads(error["details"]["raw"]) == {"title": "x", "code": "x"}
    assert error["details"]["errors"][0]["loc"] == ["code"]


async def test_bad_generate_requests_get_contract_errors(app_client: httpx.AsyncClient) -> None:
    cases: list[tuple[dict[str, Any], int]] = [
        ({"schema": "block", "prompt": "x", "max_attempts": 11}, 422),
        ({"schema": "block", "prompt": ""}, 422),
        ({"schema": "block", "prompt": "x", "model": "no-such-model"}, 400),
        ({"schema": {"type": 7}, "prompt": "x"}, 422),
        ({"prompt": "x"}, 422),
    ]
    for body, status in cases:
        response = await app_client.post("/api/generate", json=body)
        assert response.status_code == status, (body, response.text)
        assert set(response.json()["error"]) == {"code", "message", "details"}


async def test_run_with_response_format_carries_the_parsed_object_in_final_data(
    app_client: httpx.AsyncClient,
) -> None:
    from tests.integration.test_run_core import events, start_thread

    client = app_client
    thread_id = await start_thread(client)
    posted = await client.post(f"/api/threads/{thread_id}/messages", json={
        "content": "suggest a block", "response_format": "block"})
    assert posted.status_code == 202, posted.text
    log = await events(client, posted.json()["run_id"])
    final = next(e["data"] for e in log if e["type"] == "final")
    assert final["data"] == {**json.loads(final["content"]), "description": None}
    messages = (await client.get(f"/api/threads/{thread_id}/messages")).json()["items"]
    assert messages[-1]["data"] == final["data"]

    inline = await client.post(f"/api/threads/{thread_id}/messages", json={
        "content": "a flag", "response_format": {
            "type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}})
    final = next(e["data"] for e in await events(client, inline.json()["run_id"])
                 if e["type"] == "final")
    assert final["data"] == {"ok": False}

    bad = await client.post(f"/api/threads/{thread_id}/messages", json={
        "content": '[[json:{"name": 1}]]', "response_format": "block"})
    run = await run_finished(client, bad.json()["run_id"])
    assert run["status"] == "failed" and run["error"]["code"] == "llm_output_invalid"
    log = await events(client, bad.json()["run_id"])
    assert [e["type"] for e in log][-2:] == ["error", "done"]


# Operating endpoints and auth


async def test_unknown_api_path_is_a_json_404_not_the_ui(app_client: httpx.AsyncClient) -> None:
    missing = await app_client.get("/api/nothing-here")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


async def test_readiness_metrics_and_openapi(app_client: httpx.AsyncClient) -> None:
    assert (await app_client.get("/healthz")).json() == {"status": "ok"}
    async with asyncio.timeout(30):
        while True:
            ready = await app_client.get("/readyz")
            if ready.status_code == 200:
                break
            await asyncio.sleep(0.1)
    body = ready.json()
    assert body["ready"] is True and body["checks"]["database"] == "ok"
    assert body["checks"]["models"]["default_model"] == "scripted"
    await app_client.get("/api/threads")
    metrics = await app_client.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    assert 'ragline_http_requests_total{method="GET",route="/api/threads",status="200"}' in (
        metrics.text)
    assert "ragline_active_runs" in metrics.text
    spec = (await app_client.get("/openapi.json")).json()
    for path in ("/api/threads", "/api/runs/{run_id}/events", "/api/documents",
                 "/api/generate", "/v1/chat/completions", "/stream_question"):
        assert path in spec["paths"], path
    assert "swagger" in (await app_client.get("/docs")).text.lower()


async def test_jwt_subjects_are_users(make_app) -> None:
    secret = uuid.uuid4().hex
    inproc = await make_app(auth="jwt", jwt_secret=secret)
    token = jwt.encode({"sub": "user-42", "name": "Ada"}, secret, algorithm="HS256")
    forged = jwt.encode({"sub": "user-42"}, uuid.uuid4().hex, algorithm="HS256")
    client = inproc.client
    ok = await client.post("/api/threads", json={}, headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 201
    bad = await client.get("/api/threads", headers={"Authorization": f"Bearer {forged}"})
    assert bad.status_code == 401 and bad.json()["error"]["code"] == "unauthorized"
    anonymous = await client.get("/api/threads")
    assert anonymous.status_code == 401
    mine = await client.get("/api/threads", headers={"Authorization": f"Bearer {token}"})
    assert [t["thread_id"] for t in mine.json()["items"]] == [ok.json()["thread_id"]]
    other = jwt.encode({"sub": "user-43"}, secret, algorithm="HS256")
    theirs = await client.get("/api/threads", headers={"Authorization": f"Bearer {other}"})
    assert theirs.json()["items"] == []


# MCP (docs/api.md §7) with the official client over the in-process app (httpx2 transport)


async def test_mcp_client_lists_tools_and_gets_tool_errors(inproc: InProcessApp) -> None:
    import httpx2
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    from tests.e2e.mcp_support import TOOLS, error_of
    from tests.support.inprocess import streaming_transport

    async with (
        httpx2.AsyncClient(transport=streaming_transport(inproc.app, httpx2), timeout=60) as http,
        streamable_http_client(f"{BASE_URL}/mcp", http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        assert {tool.name for tool in (await session.list_tools()).tools} == TOOLS
        listed = (await session.call_tool("list_collections", {})).structured_content
        assert [c["name"] for c in listed["collections"]] == ["default"]
        missing = error_of(await session.call_tool("get_document", {"document_id": "nope"}))
        assert missing == {"code": "document_not_found", "message": "document nope not found",
                           "details": None}
        assert error_of(await session.call_tool("search", {"query": "   "}))["code"] == \
            "empty_query"
