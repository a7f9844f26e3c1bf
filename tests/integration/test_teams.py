"""Editors write to shared collections, and scoped API keys (read-only, some collections,
expiring) hold at principal resolution: through the real app on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ragline.adapters.db.database import Database
from ragline.adapters.db.tables import ApiKey
from ragline.cli.keys import _create as create_key
from ragline.services.identity import KeyScope, list_api_keys
from tests.conftest import BACKENDS
from tests.integration.documents_support import keyed_app

Headers = dict[str, str]


@pytest.fixture(scope="module", params=BACKENDS)
def app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
        ) -> Iterator[tuple[TestClient, Any]]:
    with keyed_app(request.param, tmp_path_factory.mktemp(f"teams-{request.param}")) as made:
        yield made


def key(settings: Any, user: str, scope: KeyScope | None = None) -> Headers:
    return {"Authorization": f"Bearer {asyncio.run(create_key(settings, user, False, scope))}"}


def upload(client: TestClient, headers: Headers, collection: str, body: bytes) -> Any:
    return client.post("/api/documents", files={"file": ("f.md", body)},
                       data={"collection": collection}, headers=headers)


def wait_ready(client: TestClient, headers: Headers, job_id: str) -> None:
    deadline = time.monotonic() + 120
    while client.get(f"/api/jobs/{job_id}", headers=headers).json()["status"] != "ready":
        assert time.monotonic() < deadline
        time.sleep(0.1)


def listed(client: TestClient, headers: Headers, collection: str) -> Any:
    return client.get("/api/documents", params={"collection": collection}, headers=headers)


def test_editors_upload_and_delete_like_the_owner_readers_get_403_outsiders_404(
    app: tuple[TestClient, Any],
) -> None:
    client, settings = app
    owner, editor, reader, outsider = (key(settings, n) for n in ("olga", "ed", "rita", "out"))
    first = upload(client, owner, "wiki", b"# One\n\nThe first page.\n")
    assert first.status_code == 202, first.text
    for user, role in (("ed", "editor"), ("rita", "reader")):
        assert client.put("/api/collections/wiki/shares", json={"user": user, "role": role},
                          headers=owner).status_code == 200

    added = upload(client, editor, "olga/wiki", b"# Two\n\nThe second page.\n")
    assert added.status_code == 202, added.text
    wait_ready(client, editor, added.json()["job_id"])  # the editor follows their upload
    ids = {d["document_id"] for d in listed(client, owner, "wiki").json()["items"]}
    assert ids == {first.json()["document_id"], added.json()["document_id"]}
    assert {d["document_id"] for d in listed(client, reader, "olga/wiki").json()["items"]} == ids

    refused = upload(client, reader, "olga/wiki", b"# Three\n")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "collection_read_only"
    assert upload(client, outsider, "olga/wiki", b"# Three\n").status_code == 404
    doc = first.json()["document_id"]
    assert client.delete(f"/api/documents/{doc}", headers=reader).status_code == 403
    assert client.delete(f"/api/documents/{doc}", headers=outsider).status_code == 404
    assert listed(client, outsider, "olga/wiki").status_code == 404
    # shares stay the owner's, editor or not
    assert client.get("/api/collections/wiki/shares", headers=editor).status_code == 404

    assert client.delete(f"/api/documents/{doc}", headers=editor).status_code == 204
    assert [d["document_id"] for d in listed(client, owner, "wiki").json()["items"]] == [
        added.json()["document_id"]]

    assert client.request("DELETE", "/api/collections/wiki/shares", json={"user": "ed"},
                          headers=owner).status_code == 204
    assert upload(client, editor, "olga/wiki", b"# Four\n").status_code == 404
    assert client.delete(f"/api/documents/{added.json()['document_id']}",
                         headers=editor).status_code == 404


def test_read_only_keys_ask_and_search_but_change_nothing(app: tuple[TestClient, Any]) -> None:
    client, settings = app
    full = key(settings, "rob")
    assert upload(client, full, "notes", b"# Notes\n\nRead me.\n").status_code == 202
    ro = key(settings, "rob", KeyScope(read_only=True))
    assert client.get("/api/documents", headers=ro).status_code == 200
    assert client.post("/api/search", json={"query": "read"}, headers=ro).status_code == 200
    thread = client.post("/api/threads", json={}, headers=ro)
    assert thread.status_code == 201, thread.text
    posted = client.post(f"/api/threads/{thread.json()['thread_id']}/messages",
                         json={"content": "hi [[tokens:2]]"}, headers=ro)
    assert posted.status_code in (200, 201, 202), posted.text
    for method, path, body in (("POST", "/api/collections", {"name": "x"}),
                               ("PUT", "/api/collections/notes/shares", {"user": "rob2"}),
                               ("DELETE", f"/api/threads/{thread.json()['thread_id']}", None)):
        response = client.request(method, path, json=body, headers=ro)
        assert response.status_code == 403, (path, response.text)
        assert response.json()["error"]["code"] == "read_only_key"
    assert upload(client, ro, "notes", b"# New\n").status_code == 403


def test_a_collection_scoped_key_sees_only_its_collections(app: tuple[TestClient, Any]) -> None:
    client, settings = app
    full = key(settings, "sam")
    kept = upload(client, full, "public", b"# Public\n\nOpen facts.\n")
    hidden = upload(client, full, "private", b"# Private\n\nSecret facts.\n")
    wait_ready(client, full, kept.json()["job_id"])
    wait_ready(client, full, hidden.json()["job_id"])
    scoped = key(settings, "sam", KeyScope(collections=("public",)))
    names = [c["name"] for c in client.get("/api/collections", headers=scoped).json()["items"]]
    assert names == ["public"]
    assert listed(client, scoped, "private").status_code == 404
    everything = client.get("/api/documents", headers=scoped).json()["items"]
    assert [d["document_id"] for d in everything] == [kept.json()["document_id"]]
    assert client.get(f"/api/documents/{hidden.json()['document_id']}",
                      headers=scoped).status_code == 404
    search = client.post("/api/search", json={"query": "facts"}, headers=scoped).json()
    assert {h["document_id"] for h in search["results"]} == {kept.json()["document_id"]}
    assert client.post("/api/search", json={"query": "facts", "collection": "private"},
                       headers=scoped).status_code == 404
    assert client.post("/api/threads", json={"collection": "private"},
                       headers=scoped).status_code == 404
    assert client.post("/api/threads", json={"collection": "public"},
                       headers=scoped).status_code == 201
    private = client.post("/api/threads", json={"collection": "private", "title": "p"},
                          headers=full).json()["thread_id"]
    assert private in {t["thread_id"] for t in client.get("/api/threads",
                                                          headers=full).json()["items"]}
    seen = client.get("/api/threads", headers=scoped).json()["items"]
    assert private not in {t["thread_id"] for t in seen}  # listed as it opens: not at all
    assert {t["collection"] for t in seen} <= {"public", None}
    assert client.get(f"/api/threads/{private}", headers=scoped).status_code == 404


def test_expired_keys_are_401_and_last_use_is_recorded_once_a_minute(
    app: tuple[TestClient, Any],
) -> None:
    client, settings = app
    headers = key(settings, "tim", KeyScope(expires_in_days=1))
    assert client.get("/api/threads", headers=headers).status_code == 200

    async def expire_and_list() -> Any:
        db = Database(settings.resolved_database_url)
        try:
            keys = await list_api_keys(db, "tim")
            async with db.session() as session:
                row = await session.scalar(
                    ApiKey.__table__.select().where(ApiKey.prefix == keys[0].prefix))
                assert row is not None
                await session.execute(ApiKey.__table__.update()
                                      .where(ApiKey.prefix == keys[0].prefix)
                                      .values(expires_at=keys[0].created_at))
            return keys
        finally:
            await db.dispose()

    keys = asyncio.run(expire_and_list())
    assert keys[0].last_used_at is not None and keys[0].expires_at is not None
    expired = client.get("/api/threads", headers=headers)
    assert expired.status_code == 401 and expired.json()["error"]["code"] == "unauthorized"
