"""Forks (`POST /api/threads/{id}/copy`) and export/import (`GET /api/threads/{id}/export`,
`POST /api/threads/import`), API.md §8, through the real app on SQLite and PostgreSQL, with two
users holding API keys and a collection with a document (sources and claims in the answers)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ragline.cli.keys import _create as create_key
from ragline.web.app import create_app
from tests.conftest import BACKENDS, create_pg_database, drop_pg_database
from tests.integration.documents_support import settings_for

HANDBOOK = b"# Handbook\n\nEmployees receive twenty-five days of paid vacation each year.\n"
FACT = "Employees receive twenty-five days of paid vacation each year [1]."
Headers = dict[str, str]


@pytest.fixture(scope="module", params=BACKENDS)
def app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
        ) -> Iterator[tuple[TestClient, Headers, Headers]]:
    data = tmp_path_factory.mktemp(f"forks-{request.param}")
    pg = create_pg_database() if request.param == "postgres" else None
    url = pg.url if pg else f"sqlite+aiosqlite:///{data / 'ragline.db'}"
    settings = settings_for(url, Path(data), auth="api_key", default_model="scripted")
    alice = {"Authorization": f"Bearer {asyncio.run(create_key(settings, 'alice', False))}"}
    bob = {"Authorization": f"Bearer {asyncio.run(create_key(settings, 'bob', False))}"}
    try:
        with TestClient(create_app(settings)) as client:
            upload = client.post("/api/documents", files={"file": ("handbook.md", HANDBOOK)},
                                 data={"collection": "hr"}, headers=alice)
            assert upload.status_code == 202, upload.text
            deadline = time.monotonic() + 120
            while client.get(f"/api/jobs/{upload.json()['job_id']}",
                             headers=alice).json()["status"] != "ready":
                assert time.monotonic() < deadline
                time.sleep(0.1)
            yield client, alice, bob
    finally:
        if pg is not None:
            drop_pg_database(pg)


def ask(client: TestClient, headers: Headers, thread_id: str, content: str) -> None:
    posted = client.post(f"/api/threads/{thread_id}/messages", json={"content": content},
                         headers=headers)
    assert posted.status_code == 202, posted.text
    run_id = posted.json()["run_id"]
    deadline = time.monotonic() + 60
    while client.get(f"/api/runs/{run_id}", headers=headers).json()["status"] in (
            "queued", "running"):
        assert time.monotonic() < deadline
        time.sleep(0.05)


def messages(client: TestClient, headers: Headers, thread_id: str) -> list[dict[str, Any]]:
    got = client.get(f"/api/threads/{thread_id}/messages", headers=headers)
    assert got.status_code == 200, got.text
    return list(got.json()["items"])


def conversation(client: TestClient, headers: Headers) -> str:
    thread = client.post("/api/threads", json={"collection": "hr", "title": "HR"},
                         headers=headers).json()["thread_id"]
    ask(client, headers, thread, f"How much vacation? [[json:{FACT}]]")
    ask(client, headers, thread, "And the office? [[tokens:4]]")
    return str(thread)


def test_a_fork_up_to_a_message_has_that_history_and_both_threads_go_on_alone(
    app: tuple[TestClient, Headers, Headers],
) -> None:
    client, alice, _ = app
    original = conversation(client, alice)
    before = messages(client, alice, original)
    assert len(before) == 4 and before[1]["sources"] and before[1]["claims"]
    copied = client.post(f"/api/threads/{original}/copy",
                         json={"up_to_message_id": before[1]["message_id"]}, headers=alice)
    assert copied.status_code == 201, copied.text
    fork = copied.json()["thread_id"]
    forked = messages(client, alice, fork)
    keys = ("role", "content", "sources", "claims")
    assert [{k: m[k] for k in keys} for m in forked] == [{k: m[k] for k in keys}
                                                         for m in before[:2]]
    assert client.get(f"/api/threads/{fork}", headers=alice).json()["metadata"][
        "forked_from"] == original
    ask(client, alice, fork, "Edited second question [[tokens:2]]")
    assert len(messages(client, alice, fork)) == 4
    assert messages(client, alice, original) == before  # the original branch is untouched
    whole = client.post(f"/api/threads/{original}/copy", headers=alice)
    assert whole.status_code == 201 and len(messages(client, alice, whole.json()["thread_id"])) == 4


def test_copy_of_someone_elses_thread_or_a_foreign_message_is_404(
    app: tuple[TestClient, Headers, Headers],
) -> None:
    client, alice, bob = app
    original = conversation(client, alice)
    theirs = client.post(f"/api/threads/{original}/copy", headers=bob)
    assert theirs.status_code == 404 and theirs.json()["error"]["code"] == "thread_not_found"
    other = client.post("/api/threads", json={}, headers=alice).json()["thread_id"]
    ask(client, alice, other, "elsewhere [[tokens:2]]")
    foreign = messages(client, alice, other)[0]["message_id"]
    wrong = client.post(f"/api/threads/{original}/copy", json={"up_to_message_id": foreign},
                        headers=alice)
    assert wrong.status_code == 404 and wrong.json()["error"]["code"] == "message_not_found"


def test_import_of_an_export_reproduces_the_thread_byte_for_byte_in_its_messages(
    app: tuple[TestClient, Headers, Headers],
) -> None:
    client, alice, bob = app
    original = conversation(client, alice)
    exported = client.get(f"/api/threads/{original}/export", headers=alice)
    assert exported.status_code == 200 and exported.headers["content-type"].startswith(
        "application/json")
    body = exported.json()
    assert body["format"] == "ragline.thread" and len(body["messages"]) == 4
    imported = client.post("/api/threads/import", json=body, headers=alice)
    assert imported.status_code == 201, imported.text
    again = client.get(f"/api/threads/{imported.json()['thread_id']}/export", headers=alice)
    assert again.json()["messages"] == body["messages"]
    # bob may import alice's file: the thread is his, unbound (he has no `hr`), and readable
    his = client.post("/api/threads/import", json=body, headers=bob)
    assert his.status_code == 201
    thread = client.get(f"/api/threads/{his.json()['thread_id']}", headers=bob).json()
    assert thread["collection"] is None
    assert thread["metadata"]["imported_from_collection"] == "hr"
    assert client.get(f"/api/threads/{original}/export", headers=bob).status_code == 404


def test_markdown_export_shows_questions_answers_and_numbered_sources(
    app: tuple[TestClient, Headers, Headers],
) -> None:
    client, alice, _ = app
    original = conversation(client, alice)
    text = client.get(f"/api/threads/{original}/export", params={"format": "markdown"},
                      headers=alice)
    assert text.status_code == 200 and text.headers["content-type"].startswith("text/markdown")
    assert text.text.startswith("# HR\n") and "twenty-five days" in text.text
    assert "Sources:\n1. handbook.md" in text.text or "Sources:\n1. Handbook" in text.text
    bad = client.get(f"/api/threads/{original}/export", params={"format": "pdf"}, headers=alice)
    assert bad.status_code in (400, 422) and "error" in bad.json()


@pytest.mark.parametrize("body", [
    {},
    {"format": "other", "version": 1, "thread": {}, "messages": []},
    {"format": "ragline.thread", "version": 1, "thread": {},
     "messages": [{"role": "robot", "content": "x", "created_at": "2026-01-01T00:00:00Z"}]},
    {"format": "ragline.thread", "version": 1, "thread": {},
     "messages": [{"role": "user", "content": 3, "created_at": "yesterday"}]},
])
def test_a_bad_import_is_a_4xx_in_the_error_shape(
    app: tuple[TestClient, Headers, Headers], body: dict[str, Any]
) -> None:
    client, alice, _ = app
    response = client.post("/api/threads/import", json=body, headers=alice)
    assert 400 <= response.status_code < 500 and "error" in response.json(), response.text


def test_the_cli_exports_a_thread_and_imports_it_as_a_new_one(
    app: tuple[TestClient, Headers, Headers], tmp_path: Path
) -> None:
    """`ragline threads export|import` (the real Typer app, on the same database)."""
    from typer.testing import CliRunner

    from ragline.cli.main import app as cli

    client, alice, _ = app
    thread = conversation(client, alice)
    settings = client.app.state.container.settings  # type: ignore[attr-defined]
    env = {"RAGLINE_DATABASE_URL": settings.resolved_database_url,
           "RAGLINE_DATA_DIR": str(settings.data_dir)}
    runner = CliRunner()
    out = tmp_path / "thread.json"
    exported = runner.invoke(cli, ["threads", "export", thread, "--user", "alice",
                                   "--out", str(out)], env=env)
    assert exported.exit_code == 0, exported.output
    markdown = runner.invoke(cli, ["threads", "export", thread, "--user", "alice",
                                   "--format", "markdown"], env=env)
    assert markdown.exit_code == 0 and "How much vacation?" in markdown.stdout
    assert runner.invoke(cli, ["threads", "export", thread, "--user", "bob"],
                         env=env).exit_code == 1  # not bob's thread
    imported = runner.invoke(cli, ["threads", "import", str(out), "--user", "alice"], env=env)
    assert imported.exit_code == 0, imported.output
    copy = imported.stdout.strip().splitlines()[-1]
    strip = [{k: m[k] for k in ("role", "content", "sources", "claims")}
             for m in messages(client, alice, thread)]
    assert [{k: m[k] for k in ("role", "content", "sources", "claims")}
            for m in messages(client, alice, copy)] == strip
    out.write_text("{}", encoding="utf-8")
    bad = runner.invoke(cli, ["threads", "import", str(out), "--user", "alice"], env=env)
    assert bad.exit_code == 1 and "not a ragline thread export" in bad.output
