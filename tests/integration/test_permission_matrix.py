"""The permission matrix (issue 23): every principal against every route family that reads or
writes a shared collection, on SQLite and PostgreSQL, through the real app.

alice owns `hr` and shares it with bob (reader), ed (editor) and the group `team` (carol, and
rex until he is removed from it); a share with ruth is revoked; dave is an outsider. alice also
holds a key limited to another collection, a read-only key and an expired key. Every cell says
what the principal gets; every response to a principal who may not read `hr` is searched for
the handbook's one rare word, and the count of such reads must be zero (each principal's test
counts its own cells, so the count holds however the tests are distributed).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from ragline.adapters.db.database import Database
from ragline.adapters.db.tables import ApiKey
from ragline.cli.groups import _in_session
from ragline.cli.keys import _create as create_key
from ragline.services.identity import KeyScope
from ragline.services.sharing import add_member, create_group, remove_member
from tests.conftest import BACKENDS
from tests.integration.documents_support import keyed_app, wait_run
from tests.integration.test_teams import wait_ready

SECRET = "quetzalcoatl"  # in the handbook and nowhere else
HANDBOOK = (b"# Handbook\n\nEvery employee of the quetzalcoatl team receives twenty-five days "
            b"of paid vacation each year.\n")
QUESTION = "How many vacation days does the quetzalcoatl team receive?"
Headers = dict[str, str]

# principal -> (the name it addresses the collection by, what it may do)
READ, WRITE, MANAGE = "read", "write", "manage"
PRINCIPALS: dict[str, tuple[str, set[str]]] = {
    "owner": ("hr", {READ, WRITE, MANAGE}),
    "reader": ("alice/hr", {READ}),
    "editor": ("alice/hr", {READ, WRITE}),
    "group member": ("alice/hr", {READ}),
    "removed member": ("alice/hr", set()),
    "revoked user": ("alice/hr", set()),
    "outsider": ("alice/hr", set()),
    "scoped key": ("hr", set()),  # alice's key limited to `notes`
    "read-only key": ("hr", {READ}),  # alice's: reads, asks; writes 403
    "expired key": ("hr", set()),  # alice's: 401 everywhere
}


class World:
    def __init__(self, client: TestClient, keys: dict[str, Headers], document_id: str,
                 thread_id: str) -> None:
        self.client = client
        self.keys = keys
        self.document_id = document_id
        self.thread_id = thread_id  # alice's thread bound to `hr`, with one answer


@pytest.fixture(scope="module", params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[World]:
    data = tmp_path_factory.mktemp(f"matrix-{request.param}")
    with keyed_app(request.param, data) as (client, settings):

        def new_key(user: str, scope: KeyScope | None = None) -> Headers:
            key = asyncio.run(create_key(settings, user, False, scope))
            return {"Authorization": f"Bearer {key}"}

        keys = {
            "owner": new_key("alice"), "reader": new_key("bob"), "editor": new_key("ed"),
            "group member": new_key("carol"), "removed member": new_key("rex"),
            "revoked user": new_key("ruth"), "outsider": new_key("dave"),
            "scoped key": new_key("alice", KeyScope(collections=("notes",))),
            "read-only key": new_key("alice", KeyScope(read_only=True)),
            "expired key": new_key("alice", KeyScope(expires_in_days=1)),
        }
        asyncio.run(_expire_last_key(settings.resolved_database_url))
        for step in (lambda s: create_group(s, "team"), lambda s: add_member(s, "team", "carol"),
                     lambda s: add_member(s, "team", "rex")):
            asyncio.run(_in_session(settings, step))
        alice = keys["owner"]
        upload = client.post("/api/documents", files={"file": ("handbook.md", HANDBOOK)},
                             data={"collection": "hr"}, headers=alice)
        assert upload.status_code == 202, upload.text
        wait_ready(client, alice, upload.json()["job_id"])
        for grantee, role in (({"user": "bob"}, "reader"), ({"user": "ed"}, "editor"),
                              ({"group": "team"}, "reader"), ({"user": "ruth"}, "reader")):
            shared = client.put("/api/collections/hr/shares", json={**grantee, "role": role},
                                headers=alice)
            assert shared.status_code == 200, shared.text
        assert client.request("DELETE", "/api/collections/hr/shares", json={"user": "ruth"},
                              headers=alice).status_code == 204
        asyncio.run(_in_session(settings, lambda s: remove_member(s, "team", "rex")))
        thread = client.post("/api/threads", json={"collection": "hr"}, headers=alice)
        thread_id = thread.json()["thread_id"]
        asked = client.post(f"/api/threads/{thread_id}/messages",
                            json={"content": QUESTION}, headers=alice)
        assert asked.status_code in (200, 201, 202), asked.text
        wait_run(client, alice, asked.json()["run_id"])
        yield World(client, keys, upload.json()["document_id"], thread_id)


async def _expire_last_key(url: str) -> None:
    db = Database(url)
    try:
        async with db.session() as session:
            newest = await session.scalar(
                ApiKey.__table__.select().order_by(ApiKey.created_at.desc()).limit(1))
            await session.execute(update(ApiKey).where(ApiKey.id == newest).values(
                expires_at=datetime.now(UTC) - timedelta(minutes=1)))
    finally:
        await db.dispose()




def _mcp_search(client: TestClient, headers: Headers, collection: str) -> Any:
    """One `tools/call` of the MCP server (stateless streamable HTTP: no session needed)."""
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "search", "arguments": {"query": QUESTION,
                                                       "collection": collection}}}
    return client.post("/mcp", json=body, headers={
        **headers, "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": "2025-06-18"})


def _mcp_result(response: Any) -> dict[str, Any]:
    lines = [ln[5:] for ln in response.text.splitlines() if ln.startswith("data:")]
    payload = json.loads(lines[-1]) if lines else response.json()
    return dict(payload["result"])


# Each read cell: (name, request(world, headers, collection name), granted(response)).
Cell = tuple[str, Callable[[World, Headers, str], Any], Callable[[Any], bool]]


def _ok(status: int) -> Callable[[Any], bool]:
    return lambda r: r.status_code == status


READ_CELLS: list[Cell] = [
    ("collections list", lambda w, h, n: w.client.get("/api/collections", headers=h),
     lambda r: r.status_code == 200 and any(c["name"] in ("hr", "alice/hr")
                                            for c in r.json()["items"])),
    ("documents list", lambda w, h, n: w.client.get("/api/documents", params={"collection": n},
                                                    headers=h), _ok(200)),
    ("all documents", lambda w, h, n: w.client.get("/api/documents", headers=h),
     lambda r: r.status_code == 200 and bool(r.json()["items"])),
    ("document", lambda w, h, n: w.client.get(f"/api/documents/{w.document_id}", headers=h),
     _ok(200)),
    ("original file", lambda w, h, n: w.client.get(f"/api/documents/{w.document_id}/file",
                                                   headers=h), _ok(200)),
    ("search", lambda w, h, n: w.client.post("/api/search", json={"query": QUESTION,
                                                                  "collection": n}, headers=h),
     lambda r: r.status_code == 200 and SECRET in r.text),
    ("search everything", lambda w, h, n: w.client.post("/api/search", json={"query": QUESTION},
                                                        headers=h),
     lambda r: r.status_code == 200 and SECRET in r.text),
    ("bind a thread", lambda w, h, n: w.client.post("/api/threads", json={"collection": n},
                                                    headers=h), _ok(201)),
    ("/v1 with rag", lambda w, h, n: w.client.post("/v1/chat/completions", json={
        "model": "scripted", "messages": [{"role": "user", "content": QUESTION}],
        "rag": {"collection": n}}, headers=h),
     lambda r: r.status_code == 200 and SECRET in json.dumps(r.json().get("ragline_sources"))),
    ("LangGraph rag run", lambda w, h, n: w.client.post("/runs/wait", json={
        "assistant_id": "rag", "input": {"messages": [{"role": "user", "content": QUESTION}]},
        "config": {"configurable": {"collection": n}}}, headers=h),
     lambda r: r.status_code == 200 and SECRET in r.text),
    ("MCP search", lambda w, h, n: _mcp_search(w.client, h, n),
     lambda r: r.status_code == 200 and not _mcp_result(r).get("isError")
     and SECRET in json.dumps(_mcp_result(r))),
    ("past answer's sources", lambda w, h, n: w.client.get(
        f"/api/threads/{w.thread_id}/messages", headers=h),
     lambda r: r.status_code == 200 and SECRET in r.text),
]
# alice's own: her thread and answer, and the lists of her documents and searches without a
# collection name (shared collections are read by their `OWNER/NAME`)
OWNER_ONLY = {"past answer's sources", "all documents", "search everything"}


def _may_read(principal: str, cell: str) -> bool:
    rights = PRINCIPALS[principal][1]
    if cell in OWNER_ONLY:
        return principal in ("owner", "read-only key")
    return READ in rights


@pytest.mark.parametrize("principal", list(PRINCIPALS))
def test_every_read_surface_grants_exactly_the_readers(world: World, principal: str) -> None:
    headers = world.keys[principal]
    name = PRINCIPALS[principal][0]
    checked, leaks = 0, []
    for cell, call, granted in READ_CELLS:
        response = call(world, headers, name)
        assert response.status_code < 500, (cell, response.text)
        if principal == "expired key":
            assert response.status_code == 401, (cell, response.text)
            continue
        if _may_read(principal, cell):
            assert granted(response), (principal, cell, response.status_code, response.text)
            continue
        checked += 1
        assert not granted(response), (principal, cell, response.text)
        if SECRET in response.text:
            leaks.append(f"{principal}: {cell}")
        if cell not in ("collections list", "all documents", "search everything", "MCP search"):
            assert response.status_code == 404, (principal, cell, response.status_code)
    # every cell this principal may not read was tried, and none carried the handbook's word
    if principal != "expired key":
        assert checked == sum(not _may_read(principal, c) for c, _, _ in READ_CELLS)
    assert leaks == []


WRITE_CELLS = ("upload", "delete", "manage shares")


@pytest.mark.parametrize("principal", list(PRINCIPALS))
def test_every_write_surface_grants_exactly_the_writers(world: World, principal: str) -> None:
    client, headers = world.client, world.keys[principal]
    name, rights = PRINCIPALS[principal]
    upload = client.post("/api/documents", files={"file": (f"{principal}.md", b"# Note\n\nA.\n")},
                         data={"collection": name}, headers=headers)
    delete = client.delete(f"/api/documents/{world.document_id}", headers=headers) \
        if WRITE not in rights else None  # writers delete what they added (below)
    # managing shares names the collection as its owner does; for anyone else `hr` is theirs
    manage = client.put("/api/collections/hr/shares", json={"user": "dave", "role": "reader"},
                        headers=headers) if MANAGE not in rights else None
    if principal == "expired key":
        assert delete is not None and manage is not None
        assert {upload.status_code, delete.status_code, manage.status_code} == {401}
        return
    if WRITE in rights:
        assert upload.status_code == 202, upload.text
        added = upload.json()["document_id"]
        assert client.delete(f"/api/documents/{added}", headers=headers).status_code == 204
    else:
        refused = 403 if READ in rights else 404
        for response in (upload, delete):
            assert response is not None
            assert response.status_code == refused, (principal, response.text)
            code = response.json()["error"]["code"]
            assert code in ({"collection_read_only", "read_only_key"} if refused == 403
                            else {"collection_not_found", "document_not_found"}), code
    if manage is not None:
        expected = 403 if principal == "read-only key" else 404
        assert manage.status_code == expected, (principal, manage.text)
    # the handbook is still there and still alice's alone to manage
    owner = world.keys["owner"]
    assert client.get(f"/api/documents/{world.document_id}", headers=owner).status_code == 200
    shares = client.get("/api/collections/hr/shares", headers=owner).json()["items"]
    assert "dave" not in {s["user"] for s in shares}
