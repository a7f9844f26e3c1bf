"""Feedback on answers (API.md §8) through the real app on SQLite and PostgreSQL: one rating per
user and answer (posting again replaces it), 404 for an answer the caller cannot read, the
`ragline_feedback` counter, and `ragline feedback export` as JSONL with question and claims."""

from __future__ import annotations

import asyncio
import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ragline.cli.feedback import _export
from ragline.cli.keys import _create as create_key
from ragline.config import Settings
from ragline.web.app import create_app
from tests.conftest import BACKENDS, create_pg_database, drop_pg_database
from tests.integration.documents_support import settings_for

Headers = dict[str, str]


@pytest.fixture(scope="module", params=BACKENDS)
def app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
        ) -> Iterator[tuple[TestClient, Settings, Headers, Headers]]:
    data = tmp_path_factory.mktemp(f"feedback-{request.param}")
    pg = create_pg_database() if request.param == "postgres" else None
    url = pg.url if pg else f"sqlite+aiosqlite:///{data / 'ragline.db'}"
    settings = settings_for(url, Path(data), auth="api_key", default_model="scripted")
    alice = {"Authorization": f"Bearer {asyncio.run(create_key(settings, 'alice', False))}"}
    bob = {"Authorization": f"Bearer {asyncio.run(create_key(settings, 'bob', False))}"}
    try:
        with TestClient(create_app(settings)) as client:
            yield client, settings, alice, bob
    finally:
        if pg is not None:
            drop_pg_database(pg)


def answered(client: TestClient, headers: Headers, question: str) -> list[dict[str, Any]]:
    thread = client.post("/api/threads", json={}, headers=headers).json()["thread_id"]
    run_id = client.post(f"/api/threads/{thread}/messages", json={"content": question},
                         headers=headers).json()["run_id"]
    deadline = time.monotonic() + 60
    while client.get(f"/api/runs/{run_id}", headers=headers).json()["status"] in (
            "queued", "running"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    items = client.get(f"/api/threads/{thread}/messages", headers=headers).json()["items"]
    return list(items)


def test_feedback_is_one_per_user_and_answer_and_posting_again_replaces_it(
    app: tuple[TestClient, Settings, Headers, Headers],
) -> None:
    client, _, alice, _ = app
    answer = answered(client, alice, "What is up? [[tokens:3]]")[1]["message_id"]
    url = f"/api/messages/{answer}/feedback"
    none_yet = client.get(url, headers=alice)  # 200, not 404: a browser logs every 404
    assert none_yet.status_code == 200
    assert none_yet.json() == {"message_id": answer, "rating": None, "comment": None}
    first = client.post(url, json={"rating": "down", "comment": "wrong page"}, headers=alice)
    assert first.status_code == 200
    assert first.json() == {"message_id": answer, "rating": "down", "comment": "wrong page"}
    again = client.post(url, json={"rating": "up"}, headers=alice)
    assert again.json() == {"message_id": answer, "rating": "up", "comment": None}
    assert client.get(url, headers=alice).json() == again.json()
    metrics = client.get("/metrics", headers=alice).text
    assert 'ragline_feedback_total{rating="up"}' in metrics


def test_feedback_on_an_answer_the_caller_cannot_read_is_404(
    app: tuple[TestClient, Settings, Headers, Headers],
) -> None:
    client, _, alice, bob = app
    question, answer = (m["message_id"] for m in answered(client, alice, "Mine [[tokens:2]]"))
    for method in ("get", "post"):
        kwargs: dict[str, Any] = {"json": {"rating": "up"}} if method == "post" else {}
        theirs = getattr(client, method)(f"/api/messages/{answer}/feedback", headers=bob,
                                         **kwargs)
        assert theirs.status_code == 404, theirs.text
        assert theirs.json()["error"]["code"] == "message_not_found"
    unknown = client.post("/api/messages/nope/feedback", json={"rating": "up"}, headers=alice)
    assert unknown.status_code == 404
    on_question = client.post(f"/api/messages/{question}/feedback", json={"rating": "up"},
                              headers=alice)
    assert on_question.status_code == 400
    bad = client.post(f"/api/messages/{answer}/feedback", json={"rating": "meh"}, headers=alice)
    assert bad.status_code == 422 and "error" in bad.json()


def test_feedback_export_writes_question_answer_sources_claims_and_rating_as_jsonl(
    app: tuple[TestClient, Settings, Headers, Headers],
) -> None:
    client, settings, _, bob = app
    answer = answered(client, bob, "Bob asks [[tokens:3]]")[1]
    client.post(f"/api/messages/{answer['message_id']}/feedback",
                json={"rating": "down", "comment": "too short"}, headers=bob)
    stream = io.StringIO()
    count = asyncio.run(_export(settings, stream, "bob"))
    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert count == len(records) == 1
    record = records[0]
    assert record["question"] == "Bob asks [[tokens:3]]"
    assert record["answer"] == answer["content"]
    assert (record["rating"], record["comment"], record["user"]) == ("down", "too short", "bob")
    assert "sources" in record and "claims" in record
