"""Grounded conversation with the real local model over a few SQLite documentation pages
(API.md §1, §2): sources before tokens, cited answers, a resolved follow-up, a declined question."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from httpx_sse import connect_sse

from eval.quality.scoring import citations, is_decline
from tests.support.processes import ServerProcess

pytestmark = pytest.mark.model

CORPUS = Path(__file__).resolve().parents[2] / "eval" / "corpus" / "sqlite"
FILES = ("zipfile.html", "autoinc.html", "lang_savepoint.html", "nulls.html")
COLLECTION = "grounded-e2e"


def ingest(client: httpx.Client) -> None:
    jobs = []
    for name in FILES:
        response = client.post(
            "/api/documents",
            files={"file": (name, (CORPUS / name).read_bytes(), "text/html")},
            data={"collection": COLLECTION, "source": name},
        )
        assert response.status_code == 202, response.text
        jobs.append(response.json()["job_id"])
    deadline = time.monotonic() + 300
    for job_id in jobs:
        while True:
            job = client.get(f"/api/jobs/{job_id}").json()
            assert job["status"] != "failed", job
            if job["status"] == "ready":
                break
            assert time.monotonic() < deadline, f"ingestion did not finish: {job}"
            time.sleep(0.5)


def ask(client: httpx.Client, thread_id: str, content: str) -> list[tuple[str, dict[str, Any]]]:
    posted = client.post(f"/api/threads/{thread_id}/messages", json={"content": content})
    assert posted.status_code == 202, posted.text
    log: list[tuple[str, dict[str, Any]]] = []
    with connect_sse(client, "GET", f"/api/runs/{posted.json()['run_id']}/events") as source:
        for sse in source.iter_sse():
            if sse.data:  # not a keep-alive
                log.append((sse.event, json.loads(sse.data)))
    assert log[-1] == ("done", {"status": "done"}), log[-3:]
    return log


def new_thread(client: httpx.Client) -> str:
    """Bound to the collection; temperature 0 so that every run gets the same answers."""
    thread = client.post("/api/threads", json={
        "collection": COLLECTION, "metadata": {"sampling": {"temperature": 0}}})
    assert thread.status_code == 201, thread.text
    return str(thread.json()["thread_id"])


def first(log: list[tuple[str, dict[str, Any]]], kind: str) -> tuple[int, dict[str, Any]]:
    return next((i, data) for i, (event, data) in enumerate(log) if event == kind)


def test_grounded_conversation_cites_follows_up_and_declines(
    make_server: Callable[..., ServerProcess], model_dir: Path, tmp_path: Path
) -> None:
    server = make_server(
        f"sqlite+aiosqlite:///{tmp_path / 'grounded.db'}",
        RAGLINE_DEFAULT_MODEL="qwen2.5-coder-1.5b-instruct",
        RAGLINE_MODEL_DIR=str(model_dir),
        RAGLINE_RETRIEVAL_TOP_K="3",  # a shorter prompt: this test runs on small CPUs
        RAGLINE_ANSWER_MAX_TOKENS="96",
    )
    with httpx.Client(base_url=server.base_url, timeout=300) as client:
        ingest(client)
        thread_id = new_thread(client)
        log = ask(client, thread_id, "Does the zipfile module support encrypted ZIP archives?")
        at_sources, streamed = first(log, "sources")
        at_token, _ = first(log, "token")
        assert at_sources < at_token, "the sources event comes before the first token"
        _, final = first(log, "final")
        assert "".join(d["delta"] for e, d in log if e == "token") == final["content"]
        assert final["sources"] and final["sources"] == streamed["sources"]
        assert final["sources"][0]["source"] == "zipfile.html"
        cited = citations(final["content"])
        assert cited and all(1 <= n <= len(final["sources"]) for n in cited), final["content"]
        stages = [d.get("stage") for e, d in log if e == "status"]
        assert {"retrieving", "reading", "generating"} <= set(stages), stages
        reading = [d["progress"] for e, d in log if e == "status" and d.get("stage") == "reading"]
        assert reading == sorted(reading) and reading[-1] == 1.0

        # "it" is the zipfile module: searched together with the question before it, the
        # follow-up finds its page again; the engine reads only the new turn
        log = ask(client, thread_id, "Which compression algorithm does it support?")
        _, streamed = first(log, "sources")
        assert "zipfile.html" in {s["source"] for s in streamed["sources"]}
        _, final = first(log, "final")
        assert "deflate" in final["content"].lower()
        usage = final["usage"]
        assert usage["cached_tokens"] >= usage["prompt_tokens"] / 2, usage

        log = ask(client, new_thread(client), "How long should I boil an egg to get a soft yolk?")
        _, final = first(log, "final")
        assert final["sources"] == [] and first(log, "sources")[1]["sources"] == []
        assert is_decline(final["content"]), final["content"]
