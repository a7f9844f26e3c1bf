"""The LangGraph view of a run (web/langgraph_stream.py) and of a run request
(web/langgraph_schema.py), without I/O: frame ids and resuming, the parts of each stream mode,
and the fields that are refused rather than ignored."""

from __future__ import annotations

from typing import Any

import pytest

from ragline.domain.errors import InvalidInput, Unprocessable
from ragline.domain.runs import RunEventRecord
from ragline.web.langgraph_schema import RunCreate, input_turns
from ragline.web.langgraph_stream import Cursor, RunStream, frames, parse_cursor

QUESTION = {"type": "human", "content": "Why?", "id": "m1"}
SOURCE = {"document_id": "d1", "source": "a.md", "chunk_id": "c1", "score": 1.0, "text": "x"}
LOG = [
    ("status", {"status": "queued"}),
    ("status", {"status": "running"}),
    ("sources", {"sources": [SOURCE]}),
    ("token", {"delta": "Because"}),
    ("token", {"delta": " [1]."}),
    ("final", {"message_id": "m2", "content": "Because [1].", "sources": [SOURCE],
               "usage": {"prompt_tokens": 5, "completion_tokens": 2}, "model": "scripted"}),
    ("done", {"status": "done"}),
]


def view(*modes: str) -> RunStream:
    return RunStream(run_id="r1", thread_id="t1", assistant_id="rag", model="scripted",
                     modes=modes, history=[QUESTION])


def render(stream: RunStream, after: Cursor | None = None) -> list[tuple[str, str, Any]]:
    """(id, event, data) of every frame, as a client would see them."""
    import json

    out = frames(stream.opening(), 0, after)
    for seq, (kind, data) in enumerate(LOG, start=1):
        out += frames(stream.feed(RunEventRecord("r1", seq, kind, data)), seq, after)
    parsed = []
    for frame in out:
        fields = dict(line.split(": ", 1) for line in frame.strip().split("\n"))
        parsed.append((fields["id"], fields["event"], json.loads(fields["data"])))
    return parsed


def test_frames_of_one_event_are_numbered_n_dot_k_and_the_last_plain_n() -> None:
    seen = render(view("values", "messages-tuple", "updates"))
    assert [(i, e) for i, e, _ in seen] == [
        ("0", "metadata"), ("1", "values"), ("4", "messages"), ("5", "messages"),
        ("6.0", "messages"), ("6.1", "updates"), ("6", "values"), ("7", "end")]


@pytest.mark.parametrize("last", ["0", "4", "6.0", "6.1", "6", "7"])
def test_resuming_after_any_frame_sends_exactly_the_frames_after_it(last: str) -> None:
    whole = render(view("values", "messages-tuple", "updates"))
    ids = [i for i, _, _ in whole]
    resumed = render(view("values", "messages-tuple", "updates"), parse_cursor(last))
    assert resumed == whole[ids.index(last) + 1:]


@pytest.mark.parametrize("bad", ["-1", "x", "1.2.3", "01", " 3.x"])
def test_a_last_event_id_this_stream_never_sent_is_a_400(bad: str) -> None:
    with pytest.raises(InvalidInput):
        parse_cursor(bad)


def test_custom_carries_status_and_sources_and_the_answer_carries_the_sources() -> None:
    seen = render(view("custom", "values"))
    custom = [d for _, e, d in seen if e == "custom"]
    assert [c["type"] for c in custom] == ["status", "status", "sources"]
    assert custom[2]["sources"] == [SOURCE]
    answer = [d for _, e, d in seen if e == "values"][-1]["messages"][-1]
    assert answer["id"] == "run-r1" and answer["content"] == "Because [1]."
    assert answer["additional_kwargs"]["sources"] == [SOURCE]
    assert answer["response_metadata"] == {"ragline_message_id": "m2", "state": "complete"}


def test_messages_mode_sends_metadata_partials_and_the_complete_answer() -> None:
    seen = [(e, d) for _, e, d in render(view("messages"))]
    kinds = [e for e, _ in seen]
    assert kinds == ["metadata", "messages/metadata", "messages/partial", "messages/partial",
                     "messages/complete", "end"]
    assert seen[3][1][0]["content"] == "Because [1]."


def test_events_mode_wraps_the_run_as_chain_and_chat_model_events() -> None:
    kinds = [d["event"] for _, e, d in render(view("events")) if e == "events"]
    assert kinds[0] == "on_chain_start" and kinds[-1] == "on_chain_end"
    assert kinds.count("on_chat_model_stream") == 2 and "on_chat_model_end" in kinds


def test_a_failed_run_sends_error_then_end_and_waits_answer_the_error() -> None:
    stream = view("values")
    for seq, (kind, data) in enumerate([
            ("status", {"status": "queued"}), ("error", {"code": "boom", "message": "no"}),
            ("done", {"status": "failed"})], start=1):
        parts = stream.feed(RunEventRecord("r1", seq, kind, data))
    assert parts == [("end", None)]
    assert stream.result() == {"__error__": {"error": "boom", "message": "no"}}


def test_input_gives_system_history_and_question() -> None:
    system, history, question = input_turns({"messages": [
        {"role": "system", "content": "Be brief."}, {"type": "human", "content": "a"},
        {"type": "ai", "content": "b"},
        {"role": "user", "content": [{"type": "text", "text": "c"}]}]})
    assert system == "Be brief." and question == "c"
    assert [(m.role, m.content) for m in history] == [("user", "a"), ("assistant", "b")]


@pytest.mark.parametrize("given", [
    None, {}, {"question": "x"}, {"messages": []}, {"messages": [{"role": "tool", "content": "x"}]},
    {"messages": [{"role": "assistant", "content": "x"}]},
    {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": "x"}]}]},
])
def test_input_that_is_not_a_user_question_is_a_422(given: Any) -> None:
    with pytest.raises(Unprocessable):
        input_turns(given)


@pytest.mark.parametrize("extra", [
    {"stream_mode": "debug"}, {"stream_mode": ["values", "nope"]}, {"command": {"resume": 1}},
    {"interrupt_after": "*"}, {"webhook": "http://x"}, {"after_seconds": 3},
    {"config": {"tags": ["a"]}}, {"config": {"configurable": {"top_k": "3"}}},
    {"context": {"user": "me"}}, {"on_completion": "keep"}, {"if_not_exists": "create"},
])
def test_fields_ragline_cannot_honour_are_refused(extra: dict[str, Any]) -> None:
    body = RunCreate(assistant_id="chat", input={"messages": ["hi"]}, **extra)
    with pytest.raises(Unprocessable):
        body.plan(stateless=False)


def test_a_plan_takes_the_settings_and_the_defaults() -> None:
    plan = RunCreate(assistant_id="rag", input={"messages": ["hi"]},
                     config={"configurable": {"collection": "hr"}, "recursion_limit": 5},
                     context={"model": "scripted"}, stream_mode=["custom", "values", "custom"],
                     stream_subgraphs=True, durability="exit").plan(stateless=False)
    assert (plan.collection, plan.model, plan.strategy) == ("hr", "scripted", "enqueue")
    assert plan.stream_modes == ("custom", "values")
