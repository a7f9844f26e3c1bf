"""The run-event vocabulary, its one fold, and each surface's frames from a small event log."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ragline.cli.ask import Line, terminal_lines
from ragline.domain.errors import Conflict, ProviderError
from ragline.domain.events import (
    EVENT_TYPES,
    Done,
    Error,
    Final,
    Passage,
    Sources,
    Status,
    Token,
    parse_event,
)
from ragline.domain.jsonenc import dumps
from ragline.domain.runs import RunEventRecord, RunState
from ragline.mcp.tools import progress_messages
from ragline.web.openai_schema import ChatCompletionRequest, ChatReply
from ragline.web.routes.compat.oneshot import socket_end, socket_frames, sse_end, sse_frames
from ragline.web.routes.runs import socket_frame
from ragline.web.sse import run_event_frames

SOURCE = {"chunk_id": "7", "document_id": "d1", "source": "handbook.md", "title": "Handbook",
          "page": 2, "heading": None, "text": "Leave is 25 days.", "score": 0.03,
          "relevance": 0.81}
CLAIM = {"text": "Leave is 25 days.", "start": 0, "end": 17, "sources": [1], "supported": True,
         "score": 0.9}
USAGE = {"prompt_tokens": 12, "completion_tokens": 2, "cached_tokens": 0}
FINAL = {"message_id": "m1", "content": "Leave is 25 days.", "sources": [SOURCE],
         "usage": USAGE, "model": "scripted", "claims": [CLAIM]}
UNCHECKED = {k: v for k, v in FINAL.items() if k != "claims"}
ANSWERED = [
    ("status", {"status": "queued"}),
    ("status", {"status": "running"}),
    ("status", {"status": "running", "stage": "retrieving"}),
    ("sources", {"sources": [SOURCE]}),
    ("status", {"status": "running", "stage": "generating"}),
    ("token", {"delta": "Leave is "}),
    ("token", {"delta": "25 days."}),
    ("final", FINAL),
    ("done", {"status": "done"}),
]
FAILED = [
    ("status", {"status": "running"}),
    ("token", {"delta": "Par"}),
    ("error", {"code": "provider_error", "message": "the model went away"}),
    ("done", {"status": "failed"}),
]
CANCELLED = [
    ("status", {"status": "running"}),
    ("token", {"delta": "Par"}),
    ("done", {"status": "cancelled"}),
]


def records(log: list[tuple[str, dict[str, Any]]]) -> list[RunEventRecord]:
    return [RunEventRecord("r1", seq, type_, data) for seq, (type_, data) in enumerate(log, 1)]


def folded(log: list[tuple[str, dict[str, Any]]]) -> RunState:
    state = RunState("r1")
    for record in records(log):
        state.apply(record.event)
    return state


def test_fold_of_tokens_then_final_holds_the_stored_answer() -> None:
    state = folded(ANSWERED[:7])
    assert (state.content, state.tokens, state.status, state.stage) == (
        "Leave is 25 days.", 2, "running", "generating")
    assert state.source_payloads() == [SOURCE] and not state.finished
    state.apply(parse_event("final", FINAL))
    state.apply(Done("done"))
    assert state.finished and state.status == "done" and not state.unsuccessful
    assert (state.message_id, state.model, state.usage) == ("m1", "scripted", USAGE)
    assert state.claims == [CLAIM] and state.source_payloads() == [SOURCE]
    state.raise_for_status()


def test_fold_of_error_then_done_raises_the_runs_error_and_keeps_partial_text() -> None:
    state = folded(FAILED)
    assert state.content == "Par" and state.unsuccessful
    assert state.error == Error("provider_error", "the model went away")
    with pytest.raises(ProviderError) as caught:
        state.raise_for_status()
    assert caught.value.code == "provider_error"


def test_fold_of_a_cancelled_run_raises_conflict() -> None:
    state = folded(CANCELLED)
    assert state.status == "cancelled" and state.error is None
    with pytest.raises(Conflict) as caught:
        state.raise_for_status()
    assert caught.value.code == "run_cancelled"


def test_a_run_followed_to_no_done_is_not_an_error() -> None:
    folded(ANSWERED[:6]).raise_for_status()


def test_final_without_sources_keeps_the_streamed_ones() -> None:
    state = folded([*ANSWERED[:7], ("final", {**FINAL, "sources": []})])
    assert state.source_payloads() == [SOURCE]


@pytest.mark.parametrize(("type_", "data"), [
    ("status", {"status": "queued"}),
    ("status", {"status": "running", "stage": "reading", "progress": 0.25}),
    ("status", {"status": "queued", "stage": "queued", "position": 3}),
    ("sources", {"sources": [SOURCE, {**SOURCE, "chunk_id": "8", "later_key": [1]}]}),
    ("sources", {"sources": []}),
    ("token", {"delta": "é “quoted” \n"}),
    ("final", FINAL),
    ("final", {**UNCHECKED, "message_id": None, "data": {"name": "Ada"}, "claims": []}),
    ("final", UNCHECKED),
    ("error", {"code": "interrupted", "message": "the process running this run stopped"}),
    ("done", {"status": "cancelled"}),
])
def test_each_event_round_trips_to_the_same_payload_bytes(type_: str, data: dict[str, Any]) -> None:
    event = parse_event(type_, data)
    assert event.type == type_
    assert dumps(event.payload()) == dumps(data)


def test_event_types_are_the_six_of_the_contract() -> None:
    assert EVENT_TYPES == {"status", "sources", "token", "final", "error", "done"}
    with pytest.raises(ValueError, match="unknown run event type"):
        parse_event("tokens", {})


def test_typed_events_write_their_payloads() -> None:
    passage = Passage("a.md", "text", document_id="d", chunk_id="1", page=1, score=0.5)
    assert Sources((passage,)).payload() == {"sources": [{
        "chunk_id": "1", "document_id": "d", "source": "a.md", "title": None, "page": 1,
        "heading": None, "text": "text", "score": 0.5, "relevance": None}]}
    assert Status("running", "retrieving").payload() == {"status": "running", "stage": "retrieving"}
    assert Token("x").payload() == {"delta": "x"}
    assert Final("m", "x").payload() == {
        "message_id": "m", "content": "x", "sources": [], "usage": {}, "model": None}


def test_encoding_is_compact_and_keeps_unicode() -> None:
    record = RunEventRecord("r1", 1, "token", {"delta": "é 日本"})
    assert record.encoded() == '{"delta":"é 日本"}'


# Each surface's frames (the fold applied first, as the views do).


def render(log: list[tuple[str, dict[str, Any]]], view: Any) -> tuple[RunState, list[Any]]:
    state = RunState("r1")
    return state, state.apply_batch(records(log), view)


def test_run_stream_frames_pass_the_log_through() -> None:
    batch = records(ANSWERED)[5:7]
    assert run_event_frames(batch) == (
        b'id: 6\nevent: token\ndata: {"delta":"Leave is "}\n\n'
        b'id: 7\nevent: token\ndata: {"delta":"25 days."}\n\n')
    for record in records(ANSWERED):
        assert json.loads(socket_frame(record)) == {
            "seq": record.seq, "type": record.type, "data": record.data}
        assert socket_frame(record) == json.dumps(
            {"seq": record.seq, "type": record.type, "data": record.data},
            separators=(",", ":"), ensure_ascii=False)


def test_oneshot_sse_frames_chunks_then_end_with_sources_and_claims() -> None:
    state, out = render(ANSWERED, sse_frames)
    assert out == [b'data: {"chunk":"Leave is "}\n\n', b'data: {"chunk":"25 days."}\n\n']
    assert sse_end(state) == (
        f'event: end\ndata: {dumps({"sources": [SOURCE], "claims": [CLAIM]})}\n\n').encode()


def test_oneshot_sse_frames_an_error_where_it_happens() -> None:
    state, out = render(FAILED, sse_frames)
    assert out == [
        b'data: {"chunk":"Par"}\n\n',
        b'event: error\ndata: {"code":"provider_error","message":"the model went away"}\n\n',
    ]
    assert sse_end(state) == b'event: end\ndata: {"sources":[]}\n\n'


def test_oneshot_socket_frames() -> None:
    state, out = render(ANSWERED, socket_frames)
    assert out == [{"type": "response_chunk", "payload": "Leave is "},
                   {"type": "response_chunk", "payload": "25 days."}]
    assert socket_end(state) == {"type": "response_end", "sources": [SOURCE], "claims": [CLAIM]}
    failed, _ = render(FAILED, socket_frames)
    assert socket_end(failed) == {"type": "error", "payload": "the model went away"}
    cancelled, _ = render(CANCELLED, socket_frames)
    assert socket_end(cancelled) == {"type": "response_end", "sources": []}


def openai_reply(**request: Any) -> ChatReply:
    body = ChatCompletionRequest.model_validate(
        {"model": "scripted", "messages": [{"role": "user", "content": "hi"}], **request})
    return ChatReply("r1", "scripted", body)


def sse_data(stream: bytes) -> list[Any]:
    frames = stream.decode().split("\n\n")
    assert frames[-1] == ""
    return [f.removeprefix("data: ") if f == "data: [DONE]" else json.loads(f[6:])
            for f in frames[:-1]]


def test_openai_stream_chunks_then_finish_with_rag_fields_and_usage() -> None:
    reply = openai_reply(stream=True, stream_options={"include_usage": True},
                         rag={"collection": "docs"})
    state, out = render(ANSWERED, reply.frames)
    chunks = sse_data(reply.opening() + b"".join(out))
    assert [c["choices"][0]["delta"] for c in chunks] == [
        {"role": "assistant", "content": ""}, {"content": "Leave is "}, {"content": "25 days."}]
    last, usage, done = sse_data(reply.closing(state))
    assert last["choices"][0]["finish_reason"] == "stop" and last["id"] == "chatcmpl-r1"
    assert last["ragline_sources"] == [SOURCE] and last["ragline_claims"] == [CLAIM]
    assert usage["choices"] == [] and usage["usage"]["total_tokens"] == 14
    assert done == "[DONE]"
    completion = reply.completion(state)
    assert completion["choices"][0]["message"]["content"] == "Leave is 25 days."
    assert list(completion)[-2:] == ["ragline_sources", "ragline_claims"]


def test_openai_stream_of_a_failed_run_ends_with_an_error_object() -> None:
    reply = openai_reply(stream=True)
    state, out = render(FAILED, reply.frames)
    assert len(out) == 1
    error, done = sse_data(reply.closing(state))
    assert error == {"error": {"message": "the model went away", "type": "api_error",
                               "param": None, "code": "provider_error"}}
    assert done == "[DONE]"
    cancelled, _ = render(CANCELLED, reply.frames)
    assert sse_data(reply.closing(cancelled))[0]["error"]["code"] == "run_cancelled"


def test_cli_prints_tokens_plain_then_sources_and_errors_in_markup() -> None:
    _, out = render(ANSWERED, terminal_lines)
    assert out == [Line("Leave is ", plain=True), Line("25 days.", plain=True), Line("\n"),
                   Line("[dim][1] handbook.md, page 2[/dim]")]
    _, failed = render(FAILED, terminal_lines)
    assert failed[-1] == Line("\n[red]error:[/red] the model went away")


def test_mcp_reports_stages_and_passages_found() -> None:
    _, out = render(ANSWERED, progress_messages)
    assert out == ["queued", "running", "retrieving", "found 1 passages", "generating"]
