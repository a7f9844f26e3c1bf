"""OpenAI's Responses API (`/v1/responses`, API.md §8) driven by the official `openai` SDK
against a real server on each database: background responses polled, streamed, dropped and
resumed with `starting_after` (no gap, no duplicate), cancelled with the partial answer kept;
streamed and plain creates; a follow-up through `previous_response_id`."""

from __future__ import annotations

from typing import Any

import openai
import pytest
from openai import OpenAI


def sdk(server: Any) -> OpenAI:
    return OpenAI(base_url=f"{server.base_url}/v1", api_key="not-needed", max_retries=0,
                  timeout=60)


def test_a_plain_create_answers_with_text_and_usage(live_server: Any) -> None:
    client = sdk(live_server)
    response = client.responses.create(model="scripted", input="Hello there [[tokens:5]]",
                                       instructions="Be brief.")
    assert response.id.startswith("resp_") and response.status == "completed"
    assert len(response.output_text.split()) == 5
    assert response.usage is not None and response.usage.output_tokens == 5
    assert client.responses.retrieve(response.id).output_text == response.output_text
    follow = client.responses.create(model="scripted", input="And then? [[tokens:3]]",
                                     previous_response_id=response.id)
    assert follow.status == "completed" and len(follow.output_text.split()) == 3


def test_a_streamed_create_sends_numbered_events_whose_deltas_are_the_answer(
    live_server: Any,
) -> None:
    client = sdk(live_server)
    events = list(client.responses.create(model="scripted", input="Go [[tokens:8]]",
                                          stream=True))
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert events[0].type == "response.created" and events[-1].type == "response.completed"
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == events[-1].response.output_text and len(text.split()) == 8


def test_a_background_response_resumes_after_a_drop_without_gap_or_duplicate(
    live_server: Any,
) -> None:
    client = sdk(live_server)
    started = client.responses.create(model="scripted", input="Long [[tokens:30]] [[delay:30]]",
                                      background=True)
    assert started.background and started.status in ("queued", "in_progress")
    seen = []
    with client.responses.retrieve(started.id, stream=True) as first:
        for event in first:
            seen.append(event)
            if event.type == "response.output_text.delta" and len(seen) > 8:
                break  # the client goes away mid-answer
    resumed = list(client.responses.retrieve(started.id, stream=True,
                                             starting_after=seen[-1].sequence_number))
    events = seen + resumed
    assert [e.sequence_number for e in events] == list(range(len(events)))
    final = events[-1]
    assert final.type == "response.completed"
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == final.response.output_text and len(text.split()) == 30
    assert client.responses.retrieve(started.id).status == "completed"


def test_cancel_stops_a_background_response_and_keeps_its_partial_answer(
    live_server: Any,
) -> None:
    client = sdk(live_server)
    started = client.responses.create(model="scripted", input="Wait [[stall]]", background=True)
    with client.responses.retrieve(started.id, stream=True) as stream:
        for event in stream:
            if event.type == "response.output_text.delta":
                break  # the one token a stalled run writes
    cancelled = client.responses.cancel(started.id)
    assert cancelled.status == "cancelled"
    assert cancelled.output_text, "the partial answer is kept"
    assert client.responses.retrieve(started.id).output_text == cancelled.output_text
    tail = list(client.responses.retrieve(started.id, stream=True))
    assert tail[-1].type == "response.incomplete" and tail[-1].response.status == "cancelled"


def test_unknown_responses_and_unsupported_fields_are_errors_in_openai_shape(
    live_server: Any,
) -> None:
    client = sdk(live_server)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve("resp_nope")
    with pytest.raises(openai.UnprocessableEntityError):
        client.responses.create(model="scripted", input="x",
                                tools=[{"type": "web_search"}])  # type: ignore[list-item]


@pytest.mark.model
def test_a_grounded_background_response_from_the_local_model_cites_its_passage(
    make_server: Any, tmp_path: Any,
) -> None:
    import time

    import httpx

    server = make_server(f"sqlite+aiosqlite:///{tmp_path / 'model.db'}")
    with httpx.Client(base_url=server.base_url, timeout=60) as http:
        text = b"The ragline mascot is a heron named Quill. Quill lives by the river."
        uploaded = http.post("/api/documents", files={"file": ("mascot.txt", text, "text/plain")},
                             data={"collection": "animals"})
        document_id = uploaded.json()["document_id"]
        deadline = time.monotonic() + 120
        while http.get(f"/api/documents/{document_id}").json()["status"] != "ready":
            assert time.monotonic() < deadline
            time.sleep(0.2)
    client = OpenAI(base_url=f"{server.base_url}/v1", api_key="x", max_retries=0, timeout=300)
    started = client.responses.create(
        model="qwen2.5-coder-1.5b-instruct", input="What is the ragline mascot called?",
        background=True, temperature=0, max_output_tokens=40,
        extra_body={"rag": {"collection": "animals"}},
    )
    events = list(client.responses.retrieve(started.id, stream=True))
    final = events[-1]
    assert final.type == "response.completed"
    assert "Quill" in final.response.output_text and "[1]" in final.response.output_text
    assert final.response.ragline_sources[0]["document_id"] == document_id  # type: ignore[attr-defined]
