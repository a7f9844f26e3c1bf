"""The LangGraph Agent Protocol (API.md §8, docs/api.md §3) driven by the official async
`langgraph-sdk` client against a real `ragline serve` on each database, with API keys on:
assistants, a grounded streamed run with its sources, a second client joining and resuming
after a drop (no gap, no duplicate), cancel and rollback, multitask strategies, state and
history, copy, stateless runs, and the fields ragline refuses."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import aclosing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.errors import (
    AuthenticationError,
    ConflictError,
    NotFoundError,
    UnprocessableEntityError,
)
from langgraph_sdk.schema import StreamPart

from tests.conftest import BACKENDS, create_pg_database, drop_pg_database
from tests.e2e.mcp_support import create_key
from tests.support.processes import ServerProcess, server_env

HANDBOOK = b"# Handbook\n\nEmployees receive twenty-five days of paid vacation each year.\n"
FACT = "Employees receive twenty-five days of paid vacation each year [1]."
RAG = {"configurable": {"collection": "hr"}}
SLOW = "[[tokens:30]] [[delay:40]]"  # about 1.2 s of tokens


@dataclass
class Lab:
    server: ServerProcess
    alice: str  # API keys
    bob: str

    def client(self, key: str | None = None) -> LangGraphClient:
        return get_client(url=self.server.base_url, api_key=key or self.alice)


@pytest.fixture(scope="module", params=BACKENDS)
def lab(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
        ) -> Iterator[Lab]:
    data = tmp_path_factory.mktemp(f"langgraph-{request.param}")
    pg = create_pg_database() if request.param == "postgres" else None
    url = pg.url if pg else f"sqlite+aiosqlite:///{data / 'ragline.db'}"
    server = ServerProcess(server_env(data / "data", url, RAGLINE_AUTH="api_key"),
                           log_path=data / "server.log")
    try:
        server.start()
        alice, bob = create_key(server.env, "alice"), create_key(server.env, "bob")
        with httpx.Client(base_url=server.base_url, timeout=60,
                          headers={"X-API-Key": alice}) as http:
            upload = http.post("/api/documents", files={"file": ("handbook.md", HANDBOOK)},
                               data={"collection": "hr"})
            assert upload.status_code == 202, upload.text
            deadline = time.monotonic() + 120
            while http.get(f"/api/jobs/{upload.json()['job_id']}").json()["status"] != "ready":
                assert time.monotonic() < deadline
                time.sleep(0.1)
        yield Lab(server, alice, bob)
    finally:
        server.stop()
        if pg is not None:
            drop_pg_database(pg)


def ask(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}]}


async def collect(parts: AsyncIterator[StreamPart], stop_after: int | None = None
                  ) -> list[StreamPart]:
    """The stream's parts; with `stop_after`, the client goes away after that many."""
    seen: list[StreamPart] = []
    async with aclosing(parts) as stream:  # type: ignore[type-var]
        async for part in stream:
            seen.append(part)
            if stop_after is not None and len(seen) >= stop_after:
                break
    return seen


async def until(check: Any, seconds: float = 30) -> Any:
    deadline = time.monotonic() + seconds
    while not (value := await check()):
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)
    return value


async def test_assistants_are_rag_and_chat(lab: Lab) -> None:
    async with lab.client() as client:
        found = await client.assistants.search()
        assert sorted(a["assistant_id"] for a in found) == ["chat", "rag"]
        assert (await client.assistants.get("rag"))["graph_id"] == "rag"
        assert [a["assistant_id"] for a in await client.assistants.search(graph_id="chat")] \
            == ["chat"]
        with pytest.raises(NotFoundError):
            await client.assistants.get("agent")


async def test_a_streamed_rag_run_answers_with_its_sources_and_ends(lab: Lab) -> None:
    created: list[dict[str, Any]] = []
    async with lab.client() as client:
        thread = await client.threads.create(metadata={"topic": "vacation"})
        parts = await collect(client.runs.stream(
            thread["thread_id"], "rag", input=ask(f"How many vacation days? [[json:{FACT}]]"),
            config=RAG, stream_mode=["values", "messages-tuple", "custom", "updates"],
            on_run_created=created.append))
        events = [p.event for p in parts]
        assert events[0] == "metadata" and events[-1] == "end"
        run_id = parts[0].data["run_id"]
        assert created == [{"run_id": run_id, "thread_id": thread["thread_id"]}]
        sources = next(p.data for p in parts if p.event == "custom"
                       and p.data["type"] == "sources")["sources"]
        assert sources[0]["source"] == "handbook.md" and "twenty-five" in sources[0]["text"]
        tokens = [p.data for p in parts if p.event == "messages"]
        assert all(meta["run_id"] == run_id for _, meta in tokens)
        answer = "".join(chunk["content"] for chunk, _ in tokens)
        assert answer == FACT
        assert events.index("custom") < events.index("messages")  # sources before tokens
        final = [p.data for p in parts if p.event == "values"][-1]["messages"]
        assert [m["type"] for m in final] == ["human", "ai"]
        assert final[-1]["content"] == FACT
        assert final[-1]["additional_kwargs"]["sources"] == sources
        assert final[-1]["additional_kwargs"]["claims"][0]["supported"] is True
        update = next(p.data for p in parts if p.event == "updates")
        assert update["generate"]["messages"][0] == final[-1]
        assert len({p.id for p in parts}) == len(parts)  # every frame has its own id

        state = await client.threads.get_state(thread["thread_id"])
        assert state["values"]["messages"] == final
        run = await client.runs.get(thread["thread_id"], run_id)
        assert run["status"] == "success" and run["assistant_id"] == "rag"
        got = await client.threads.get(thread["thread_id"])
        assert got["status"] == "idle" and got["metadata"]["topic"] == "vacation"
        assert got["metadata"]["assistant_id"] == "rag"
        assert [t["thread_id"] for t in await client.threads.search(
            metadata={"topic": "vacation"})] == [thread["thread_id"]]


async def test_a_second_client_joins_and_resumes_after_a_drop_without_gap_or_duplicate(
    lab: Lab,
) -> None:
    async with lab.client() as client, lab.client() as other:
        thread = await client.threads.create()
        run = await client.runs.create(thread["thread_id"], "chat", input=ask(f"Go {SLOW}"),
                                       stream_mode=["messages-tuple", "values"])
        assert run["status"] in ("pending", "running")
        first = await collect(other.runs.join_stream(thread["thread_id"], run["run_id"]),
                              stop_after=6)
        assert first[0].event == "metadata"
        assert (await client.runs.get(thread["thread_id"], run["run_id"]))["status"] in (
            "pending", "running")  # it went away mid-run
        rest = await collect(other.runs.join_stream(thread["thread_id"], run["run_id"],
                                                    last_event_id=first[-1].id))
        assert rest[-1].event == "end"
        whole = await collect(client.runs.join_stream(thread["thread_id"], run["run_id"]))
        assert [(p.id, p.event, p.data) for p in first + rest] == \
            [(p.id, p.event, p.data) for p in whole]
        tokens = [p.data[0]["content"] for p in whole if p.event == "messages"]
        assert len("".join(tokens).split()) == 30
        joined = await client.runs.join(thread["thread_id"], run["run_id"])
        assert joined["messages"][-1]["content"] == "".join(tokens)
        past_the_end = await collect(client.runs.join_stream(
            thread["thread_id"], run["run_id"], last_event_id=whole[-1].id))
        assert past_the_end == []


async def test_cancel_interrupts_a_run_and_rollback_deletes_it(lab: Lab) -> None:
    async with lab.client() as client:
        thread = await client.threads.create()
        tid = thread["thread_id"]
        run = await client.runs.create(tid, "chat", input=ask("Wait [[stall]]"),
                                       stream_mode="messages-tuple")
        await collect(client.runs.join_stream(tid, run["run_id"]), stop_after=2)  # one token
        assert (await client.threads.get(tid))["status"] == "busy"
        await client.runs.cancel(tid, run["run_id"])
        assert (await client.runs.get(tid, run["run_id"]))["status"] == "interrupted"
        tail = await collect(client.runs.join_stream(tid, run["run_id"]))
        assert tail[-1].event == "end"
        messages = (await client.threads.get_state(tid))["values"]["messages"]
        assert messages[-1]["response_metadata"]["state"] == "cancelled"  # partial answer kept
        with pytest.raises(ConflictError):
            await client.runs.cancel(tid, run["run_id"])

        second = await client.runs.create(tid, "chat", input=ask("Again [[stall]]"))
        await until(lambda: _status(client, tid, second["run_id"], "running"))
        await client.runs.cancel(tid, second["run_id"], action="rollback")
        with pytest.raises(NotFoundError):
            await client.runs.get(tid, second["run_id"])
        assert (await client.threads.get_state(tid))["values"]["messages"] == messages

        third = await client.runs.create(tid, "chat", input=ask("Once more [[stall]]"))
        await until(lambda: _status(client, tid, third["run_id"], "running"))
        after = await client.runs.cancel(tid, third["run_id"], wait=True)
        assert after["messages"][-2]["content"] == "Once more [[stall]]"
        assert after["messages"][-1]["response_metadata"]["state"] == "cancelled"


async def _status(client: LangGraphClient, thread_id: str, run_id: str, status: str) -> bool:
    return bool((await client.runs.get(thread_id, run_id))["status"] == status)


async def test_multitask_strategies_map_onto_the_thread_run_policy(lab: Lab) -> None:
    async with lab.client() as client:
        tid = (await client.threads.create())["thread_id"]
        first = await client.runs.create(tid, "chat", input=ask(f"First {SLOW}"))
        second = await client.runs.create(tid, "chat", input=ask("Second [[tokens:3]]"),
                                          multitask_strategy="enqueue")
        assert (await client.runs.get(tid, first["run_id"]))["status"] in ("pending", "running")
        assert second["multitask_strategy"] == "enqueue"
        with pytest.raises(ConflictError):
            await client.runs.create(tid, "chat", input=ask("Third"), multitask_strategy="reject")
        done = await client.runs.join(tid, second["run_id"])
        assert len(done["messages"][-1]["content"].split()) == 3
        runs = await client.runs.list(tid)
        assert [r["status"] for r in runs] == ["success", "success"]  # newest first
        assert [r["run_id"] for r in runs] == [second["run_id"], first["run_id"]]

        stalled = await client.runs.create(tid, "chat", input=ask("Stall [[stall]]"))
        await until(lambda: _status(client, tid, stalled["run_id"], "running"))
        interrupting = await client.runs.wait(tid, "chat", input=ask("Now [[tokens:2]]"),
                                              multitask_strategy="interrupt")
        assert len(interrupting["messages"][-1]["content"].split()) == 2
        assert (await client.runs.get(tid, stalled["run_id"]))["status"] == "interrupted"

        before = (await client.threads.get_state(tid))["values"]["messages"]
        doomed = await client.runs.create(tid, "chat", input=ask("Doomed [[stall]]"))
        await until(lambda: _status(client, tid, doomed["run_id"], "running"))
        rolled = await client.runs.wait(tid, "chat", input=ask("Instead [[tokens:2]]"),
                                        multitask_strategy="rollback")
        with pytest.raises(NotFoundError):
            await client.runs.get(tid, doomed["run_id"])
        after = (await client.threads.get_state(tid))["values"]["messages"]
        assert after == rolled["messages"]
        assert after[:-2] == before and after[-2]["content"].startswith("Instead")


async def test_state_history_and_copy(lab: Lab) -> None:
    async with lab.client() as client:
        tid = (await client.threads.create())["thread_id"]
        assert (await client.threads.get_state(tid))["values"] == {"messages": []}
        for question in ("One [[tokens:2]]", "Two [[tokens:2]]"):
            await client.runs.wait(tid, "chat", input=ask(question))
        state = await client.threads.get_state(tid)
        assert [m["type"] for m in state["values"]["messages"]] == ["human", "ai"] * 2
        assert state["next"] == [] and state["tasks"] == []

        history = await client.threads.get_history(tid, limit=10)
        assert len(history) == 4 and history[0] == state  # newest first
        for newer, older in itertools.pairwise(history):
            assert newer["parent_checkpoint"] == older["checkpoint"]
            assert newer["values"]["messages"][:-1] == older["values"]["messages"]
        older = await client.threads.get_history(tid, limit=1, before=history[1]["checkpoint"])
        assert older == [history[2]]
        at = await client.threads.get_state(tid, checkpoint=history[2]["checkpoint"])
        assert at == history[2]

        copy = await client.threads.copy(tid)
        assert copy["thread_id"] != tid
        copied = await client.threads.get_state(copy["thread_id"])
        assert [m["content"] for m in copied["values"]["messages"]] == \
            [m["content"] for m in state["values"]["messages"]]
        await client.runs.wait(copy["thread_id"], "chat", input=ask("Three [[tokens:2]]"))
        assert len((await client.threads.get_state(copy["thread_id"]))["values"]["messages"]) == 6
        assert (await client.threads.get_state(tid)) == state  # the original is untouched
        assert await client.runs.list(copy["thread_id"]) != []

        await client.threads.delete(copy["thread_id"])
        with pytest.raises(NotFoundError):
            await client.threads.get(copy["thread_id"])


async def test_stateless_runs_answer_and_leave_no_thread(lab: Lab) -> None:
    created: list[dict[str, Any]] = []
    async with lab.client() as client:
        result = await client.runs.wait(
            None, "chat", on_run_created=created.append,
            input={"messages": [{"role": "system", "content": "Be brief."},
                                {"role": "user", "content": "Earlier"},
                                {"role": "assistant", "content": "Earlier answer"},
                                {"role": "user", "content": "Now [[tokens:4]]"}]})
        assert [m["type"] for m in result["messages"]] == ["human", "ai", "human", "ai"]
        assert len(result["messages"][-1]["content"].split()) == 4
        temporary = created[0]["thread_id"]

        async def gone() -> bool:
            try:
                await client.threads.get(temporary)
            except NotFoundError:
                return True
            return False

        await until(gone)
        parts = await collect(client.runs.stream(
            None, "rag", input=ask("How many vacation days? [[tokens:3]]"), config=RAG,
            stream_mode="updates"))
        assert [p.event for p in parts] == ["metadata", "updates", "end"]
        assert parts[1].data["generate"]["messages"][0]["additional_kwargs"]["sources"]


async def test_fields_ragline_cannot_honour_are_refused_with_a_detail(lab: Lab) -> None:
    async with lab.client() as client:
        tid = (await client.threads.create())["thread_id"]
        refused: list[dict[str, Any]] = [
            {"stream_mode": "debug"},
            {"interrupt_before": ["generate"]},
            {"command": {"resume": "yes"}},
            {"webhook": "http://127.0.0.1:9/hook"},
            {"config": {"configurable": {"temperature": 0}}},
            {"checkpoint_id": "abc"},
        ]
        for extra in refused:
            with pytest.raises(UnprocessableEntityError) as caught:
                await client.runs.create(tid, "chat", input=ask("x"), **extra)
            assert "not supported" in str(caught.value.body["detail"]), extra  # type: ignore[index]
        with pytest.raises(UnprocessableEntityError, match="collection"):
            await client.runs.create(tid, "rag", input=ask("x"))
        with pytest.raises(UnprocessableEntityError):
            await client.runs.create(tid, "chat", input={"question": "x"})
        with pytest.raises(UnprocessableEntityError):
            await client.threads.create(thread_id="my-own-id")
        with pytest.raises(NotFoundError):
            await client.runs.create(tid, "agent", input=ask("x"))
        assert await client.runs.list(tid) == []  # nothing was started


async def test_keys_authenticate_either_header_and_owners_are_isolated(lab: Lab) -> None:
    async with lab.client() as alice, lab.client(lab.bob) as bob, get_client(
            url=lab.server.base_url, api_key=None,
            headers={"Authorization": f"Bearer {lab.alice}"}) as bearer, get_client(
            url=lab.server.base_url, api_key=None) as anonymous:
        tid = (await alice.threads.create())["thread_id"]
        assert (await bearer.threads.get(tid))["thread_id"] == tid
        with pytest.raises(NotFoundError):
            await bob.threads.get(tid)
        with pytest.raises(NotFoundError):
            await bob.runs.create(tid, "chat", input=ask("mine now"))
        assert tid not in [t["thread_id"] for t in await bob.threads.search(limit=100)]
        with pytest.raises(AuthenticationError):
            await anonymous.threads.search()


@pytest.mark.model
async def test_the_local_model_answers_a_rag_run_with_a_cited_source(
    make_server: Any, tmp_path: Path,
) -> None:
    """The real default model behind the protocol, on a thread made through `/api` (bound to
    the collection, temperature 0): the answer names the fact and cites its passage."""
    server = make_server(f"sqlite+aiosqlite:///{tmp_path / 'model.db'}",
                         RAGLINE_DEFAULT_MODEL="qwen2.5-coder-1.5b-instruct",
                         RAGLINE_ANSWER_MAX_TOKENS="48")
    document_id, thread = _mascot_thread(server)
    async with get_client(url=server.base_url, api_key=None, timeout=300) as client:
        parts = await collect(client.runs.stream(
            thread["thread_id"], "rag", input=ask("What is the ragline mascot called?"),
            stream_mode=["messages-tuple", "custom", "values"]))
    assert parts[-1].event == "end"
    sources = next(p.data["sources"] for p in parts
                   if p.event == "custom" and p.data["type"] == "sources")
    assert sources[0]["document_id"] == document_id
    answer = [p.data for p in parts if p.event == "values"][-1]["messages"][-1]
    streamed = "".join(chunk["content"] for chunk, _ in
                       (p.data for p in parts if p.event == "messages"))
    assert streamed == answer["content"]
    assert "Quill" in answer["content"] and "[1]" in answer["content"]


def _mascot_thread(server: ServerProcess) -> tuple[str, dict[str, Any]]:
    """A document in collection `animals`, and a thread bound to it (temperature 0)."""
    with httpx.Client(base_url=server.base_url, timeout=60) as http:
        text = b"The ragline mascot is a heron named Quill. Quill lives by the river."
        upload = http.post("/api/documents", files={"file": ("mascot.txt", text, "text/plain")},
                           data={"collection": "animals"})
        deadline = time.monotonic() + 120
        while http.get(f"/api/jobs/{upload.json()['job_id']}").json()["status"] != "ready":
            assert time.monotonic() < deadline
            time.sleep(0.2)
        thread = http.post("/api/threads", json={
            "collection": "animals", "metadata": {"sampling": {"temperature": 0}}}).json()
    return str(upload.json()["document_id"]), thread
