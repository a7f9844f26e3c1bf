"""The audit log: sharing, revoking, deleting, exporting and importing each leave one entry,
written with the action; admins read it (`GET /api/audit`, `ragline audit`), nobody else.
Through the real app on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from ragline.cli.keys import _create as create_key
from ragline.cli.main import app as cli
from tests.conftest import BACKENDS
from tests.integration.documents_support import keyed_app
from tests.integration.test_teams import upload, wait_ready

Headers = dict[str, str]


@pytest.fixture(scope="module", params=BACKENDS)
def app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
        ) -> Iterator[tuple[TestClient, Any]]:
    with keyed_app(request.param, tmp_path_factory.mktemp(f"audit-{request.param}")) as made:
        yield made


def key(settings: Any, user: str, admin: bool = False) -> Headers:
    return {"Authorization": f"Bearer {asyncio.run(create_key(settings, user, admin))}"}


def audit(client: TestClient, headers: Headers, **params: Any) -> list[dict[str, Any]]:
    response = client.get("/api/audit", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def test_each_action_leaves_one_entry_that_only_admins_read(app: tuple[TestClient, Any]) -> None:
    client, settings = app
    root, alice, ed, bob = (key(settings, "root", admin=True), key(settings, "alice"),
                            key(settings, "ed"), key(settings, "bob"))
    doc = upload(client, alice, "handbook", b"# Leave\n\nStaff get 30 days of leave.\n")
    assert doc.status_code == 202, doc.text
    wait_ready(client, alice, doc.json()["job_id"])
    for user, role in (("ed", "editor"), ("bob", "reader")):
        assert client.put("/api/collections/handbook/shares", json={"user": user, "role": role},
                          headers=alice).status_code == 200
    assert client.request("DELETE", "/api/collections/handbook/shares", json={"user": "bob"},
                          headers=alice).status_code == 204
    # revoking a share that is not there changes nothing and records nothing
    assert client.request("DELETE", "/api/collections/handbook/shares", json={"user": "bob"},
                          headers=alice).status_code == 204
    assert client.delete(f"/api/documents/{doc.json()['document_id']}",
                         headers=ed).status_code == 204  # the editor deletes
    thread = client.post("/api/threads", json={"title": "Leave"}, headers=alice).json()
    thread_id = thread["thread_id"]
    exported = client.get(f"/api/threads/{thread_id}/export", headers=alice)
    assert exported.status_code == 200
    assert client.get(f"/api/threads/{thread_id}/export", params={"format": "markdown"},
                      headers=alice).status_code == 200
    copy = client.post("/api/threads/import", json=exported.json(), headers=alice)
    assert copy.status_code == 201
    assert client.delete(f"/api/threads/{thread_id}", headers=alice).status_code == 204

    for outsider in (alice, ed, bob):
        refused = client.get("/api/audit", headers=outsider)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "admin_only"

    mine = [e for e in audit(client, root) if e["actor"] in ("alice", "ed")]
    assert [(e["actor"], e["action"]) for e in reversed(mine)] == [
        ("alice", "collection.share"), ("alice", "collection.share"),
        ("alice", "collection.unshare"), ("ed", "document.delete"),
        ("alice", "thread.export"), ("alice", "thread.export"), ("alice", "thread.import"),
        ("alice", "thread.delete"),
    ]
    shares = audit(client, root, action="collection.share", actor="alice")
    assert [(e["target"], e["detail"]) for e in reversed(shares)] == [
        ("alice/handbook", {"user": "ed", "role": "editor"}),
        ("alice/handbook", {"user": "bob", "role": "reader"}),
    ]
    deleted = audit(client, root, action="document.delete")[0]
    assert deleted["target_id"] == doc.json()["document_id"] and deleted["target"] == "f.md"
    formats = [e["detail"]["format"] for e in audit(client, root, action="thread.export",
                                                      target_id=thread_id)]
    assert sorted(formats) == ["json", "markdown"]
    assert audit(client, root, action="thread.import")[0]["target_id"] == copy.json()["thread_id"]
    # paging back: `before` = the last entry's time
    first = audit(client, root, actor="alice", limit=2)
    older = audit(client, root, actor="alice", before=first[-1]["at"])
    assert len(first) == 2 and older and older[0]["at"] < first[-1]["at"]
    # ... or page by page with `next_cursor`: every entry once, in order, ties included
    every = audit(client, root, limit=1000)
    walked, cursor = [], None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        got = client.get("/api/audit", params=params, headers=root).json()
        walked += [e["id"] for e in got["items"]]
        if not (cursor := got["next_cursor"]):
            break
    assert walked == [e["id"] for e in every] and len(walked) > 2
    assert client.get("/api/audit", params={"cursor": "!!"},
                      headers=root).json()["error"]["code"] == "invalid_cursor"
    bad = client.get("/api/audit", params={"action": "nope"}, headers=root)
    assert 400 <= bad.status_code < 500 and bad.json()["error"]["code"] == "invalid_action"
    assert client.get("/api/audit", params={"limit": 0}, headers=root).status_code == 422


def test_the_cli_prints_the_log_with_the_operators_group_and_key_actions(
    app: tuple[TestClient, Any],
) -> None:
    _, settings = app
    env = {"RAGLINE_DATABASE_URL": settings.resolved_database_url,
           "RAGLINE_DATA_DIR": str(settings.data_dir)}
    runner = CliRunner()
    for args in (["groups", "create", "auditors"], ["groups", "add", "auditors", "alice"],
                 ["groups", "remove", "auditors", "alice"],
                 ["keys", "create", "--user", "carol", "--read-only", "--collection", "a"]):
        result = runner.invoke(cli, args, env=env)
        assert result.exit_code == 0, result.output
    printed = runner.invoke(cli, ["audit", "--actor", "cli", "--json"], env=env)
    assert printed.exit_code == 0, printed.output
    entries = [json.loads(line) for line in printed.stdout.splitlines()]
    assert [e["action"] for e in entries][:4] == [
        "key.create", "group.remove_member", "group.add_member", "group.create"]
    assert entries[0]["target"] == "carol" and entries[0]["detail"]["read_only"] is True
    assert entries[0]["detail"]["collections"] == ["a"] and "key" not in entries[0]["detail"]
    table = runner.invoke(cli, ["audit", "--action", "group.create"], env=env)
    assert table.exit_code == 0 and "auditors" in table.stdout
    wrong = runner.invoke(cli, ["audit", "--action", "nope"], env=env)
    assert wrong.exit_code == 1 and "unknown action" in wrong.output
