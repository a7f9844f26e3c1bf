"""Shared collections (API.md §8) through the real app on SQLite and PostgreSQL: alice shares
`hr` with bob (a user) and the group `team` (carol); dave is an outsider. Readers list, search,
bind threads and read files of `alice/hr`; nobody but alice writes or manages shares; revoking
takes effect on the next request, including the next run of a thread bound to it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ragline.cli.groups import _in_session
from ragline.cli.keys import _create as create_key
from ragline.services.sharing import add_member, create_group
from ragline.web.app import create_app
from tests.conftest import BACKENDS, create_pg_database, drop_pg_database
from tests.integration.documents_support import settings_for

HANDBOOK = b"# Handbook\n\nEmployees receive twenty-five days of paid vacation each year.\n"
Headers = dict[str, str]


@pytest.fixture(scope="module", params=BACKENDS)
def team(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[tuple[TestClient, dict[str, Headers], str]]:
    data = tmp_path_factory.mktemp(f"sharing-{request.param}")
    pg = create_pg_database() if request.param == "postgres" else None
    url = pg.url if pg else f"sqlite+aiosqlite:///{data / 'ragline.db'}"
    settings = settings_for(url, Path(data), auth="api_key", default_model="scripted")
    users = {name: {"Authorization": f"Bearer {asyncio.run(create_key(settings, name, False))}"}
             for name in ("alice", "bob", "carol", "dave")}
    asyncio.run(_in_session(settings, lambda s: create_group(s, "team")))
    asyncio.run(_in_session(settings, lambda s: add_member(s, "team", "carol")))
    try:
        with TestClient(create_app(settings)) as client:
            alice = users["alice"]
            upload = client.post("/api/documents", files={"file": ("handbook.md", HANDBOOK)},
                                 data={"collection": "hr"}, headers=alice)
            assert upload.status_code == 202, upload.text
            deadline = time.monotonic() + 120
            while client.get(f"/api/jobs/{upload.json()['job_id']}",
                             headers=alice).json()["status"] != "ready":
                assert time.monotonic() < deadline
                time.sleep(0.1)
            yield client, users, upload.json()["document_id"]
    finally:
        if pg is not None:
            drop_pg_database(pg)


def search(client: TestClient, headers: Headers, collection: str) -> Any:
    return client.post("/api/search", json={"query": "vacation days", "collection": collection},
                       headers=headers)


def ask(client: TestClient, headers: Headers, thread: str) -> dict[str, Any]:
    run = client.post(f"/api/threads/{thread}/messages", json={"content": "vacation? [[tokens:3]]"},
                      headers=headers).json()["run_id"]
    deadline = time.monotonic() + 60
    while client.get(f"/api/runs/{run}", headers=headers).json()["status"] in (
            "queued", "running"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    items = client.get(f"/api/threads/{thread}/messages", headers=headers).json()["items"]
    return dict(items[-1])


def share(client: TestClient, headers: Headers, method: str, body: dict[str, Any]) -> Any:
    return client.request(method, "/api/collections/hr/shares", json=body, headers=headers)


def test_readers_see_search_bind_and_read_and_revoking_ends_it_at_the_next_request(
    team: tuple[TestClient, dict[str, Headers], str],
) -> None:
    client, users, document_id = team
    alice, bob, carol, dave = (users[n] for n in ("alice", "bob", "carol", "dave"))
    assert share(client, alice, "PUT", {"user": "bob", "role": "reader"}).status_code == 200
    assert share(client, alice, "PUT", {"group": "team", "role": "reader"}).status_code == 200
    listed = client.get("/api/collections/hr/shares", headers=alice).json()["items"]
    assert {(s["user"], s["group"], s["role"]) for s in listed} == {
        ("bob", None, "reader"), (None, "team", "reader")}

    for reader in (bob, carol):
        names = [c["name"] for c in client.get("/api/collections", headers=reader).json()["items"]]
        assert "alice/hr" in names
        hits = search(client, reader, "alice/hr")
        assert hits.status_code == 200 and hits.json()["results"][0]["document_id"] == document_id
        docs = client.get("/api/documents", params={"collection": "alice/hr"}, headers=reader)
        assert [d["document_id"] for d in docs.json()["items"]] == [document_id]
        assert client.get(f"/api/documents/{document_id}/file", headers=reader).content == HANDBOOK

    thread = client.post("/api/threads", json={"collection": "alice/hr"}, headers=bob)
    assert thread.status_code == 201, thread.text
    answer = ask(client, bob, thread.json()["thread_id"])
    assert answer["sources"] and answer["sources"][0]["document_id"] == document_id

    # the outsider sees nothing of it, and nobody but alice writes or manages shares
    assert search(client, dave, "alice/hr").status_code == 404
    assert client.get(f"/api/documents/{document_id}/file", headers=dave).status_code == 404
    assert "alice/hr" not in str(client.get("/api/collections", headers=dave).json())
    for reader in (bob, carol, dave):
        expected = 404 if reader is dave else 403  # a reader knows it exists; others don't
        upload = client.post("/api/documents", files={"file": ("x.md", b"# X\n\nno")},
                             data={"collection": "alice/hr"}, headers=reader)
        assert upload.status_code == expected, upload.text
        deleted = client.delete(f"/api/documents/{document_id}", headers=reader)
        assert deleted.status_code == expected and "error" in deleted.json()
        assert share(client, reader, "PUT", {"user": "dave"}).status_code == 404
        assert client.get("/api/collections/hr/shares", headers=reader).status_code == 404

    assert share(client, alice, "DELETE", {"user": "bob"}).status_code == 204
    assert search(client, bob, "alice/hr").status_code == 404
    assert client.get(f"/api/documents/{document_id}/file", headers=bob).status_code == 404
    after = ask(client, bob, thread.json()["thread_id"])
    assert not after["sources"], "a revoked reader's next run gets no passage of it"
    assert search(client, carol, "alice/hr").status_code == 200  # the group's share stays
    assert share(client, alice, "DELETE", {"group": "team"}).status_code == 204
    assert search(client, carol, "alice/hr").status_code == 404


def test_bad_shares_are_4xx_in_the_error_shape(
    team: tuple[TestClient, dict[str, Headers], str],
) -> None:
    client, users, _ = team
    alice = users["alice"]
    for body in ({}, {"user": "bob", "group": "team"}, {"user": "nobody"},
                 {"group": "nogroup"}, {"user": "bob", "role": "owner"}, {"user": "alice"}):
        response = share(client, alice, "PUT", body)
        assert 400 <= response.status_code < 500 and "error" in response.json(), body
