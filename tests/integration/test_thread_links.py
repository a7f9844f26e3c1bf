"""Read-only links to a thread (issue 23): a snapshot or live, public or for signed-in users,
revocable; a viewer sees the answers and only the sources they may read themselves. Through the
real app with API keys on, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ragline.cli.keys import _create as create_key
from ragline.services.identity import KeyScope
from tests.conftest import BACKENDS
from tests.integration.documents_support import keyed_app, wait_run
from tests.integration.test_teams import wait_ready

SECRET = "quokkaberry"  # in the document, never in a question
DOC = (b"# Pantry\n\nThe quokkaberry jam is stored on the third shelf of the pantry, next to "
       b"the honey.\n")
Headers = dict[str, str]


@dataclass
class World:
    client: TestClient
    keys: dict[str, Headers]
    thread_id: str


@pytest.fixture(scope="module", params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[World]:
    with keyed_app(request.param, tmp_path_factory.mktemp(f"links-{request.param}")) as made:
        client, settings = made

        def key(user: str, admin: bool = False, scope: KeyScope | None = None) -> Headers:
            made_key = asyncio.run(create_key(settings, user, admin, scope))
            return {"Authorization": f"Bearer {made_key}"}

        keys = {"alice": key("alice"), "bob": key("bob"), "dave": key("dave"),
                "admin": key("root", admin=True),
                "alice read-only": key("alice", scope=KeyScope(read_only=True)),
                "alice notes only": key("alice", scope=KeyScope(collections=("notes",)))}
        alice = keys["alice"]
        upload = client.post("/api/documents", files={"file": ("pantry.md", DOC)},
                             data={"collection": "kitchen"}, headers=alice)
        assert upload.status_code == 202, upload.text
        wait_ready(client, alice, upload.json()["job_id"])
        assert client.put("/api/collections/kitchen/shares", json={"user": "bob"},
                          headers=alice).status_code == 200
        thread_id = client.post("/api/threads", json={"collection": "kitchen", "title": "Jam"},
                                headers=alice).json()["thread_id"]
        ask(client, alice, thread_id, "Where is the jam stored?")
        yield World(client, keys, thread_id)


def ask(client: TestClient, headers: Headers, thread_id: str, question: str) -> None:
    asked = client.post(f"/api/threads/{thread_id}/messages", json={"content": question},
                        headers=headers)
    assert asked.status_code == 202, asked.text
    wait_run(client, headers, asked.json()["run_id"])


def make_link(world: World, **body: Any) -> dict[str, Any]:
    made = world.client.post(f"/api/threads/{world.thread_id}/links", json=body,
                             headers=world.keys["alice"])
    assert made.status_code == 201, made.text
    return made.json()


def opened(world: World, token: str, who: str | None) -> Any:
    return world.client.get(f"/api/shared/{token}",
                            headers=world.keys[who] if who else {})


def sources(shown: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for m in shown["messages"] for s in (m["sources"] or [])]


def test_a_viewer_reads_the_answers_and_only_the_sources_they_may_read(world: World) -> None:
    link = make_link(world)
    assert link["mode"] == "snapshot" and link["public"] is False
    assert link["path"] == f"/shared/{link['token']}"

    nobody = opened(world, link["token"], None)
    assert nobody.status_code == 401 and SECRET not in nobody.text

    bob = opened(world, link["token"], "bob").json()  # kitchen is shared with bob
    assert bob["shared_by"] == "alice" and bob["thread"]["title"] == "Jam"
    assert [m["role"] for m in bob["messages"]] == ["user", "assistant"]
    assert sources(bob) and all(not s.get("withheld") for s in sources(bob))
    assert SECRET in json.dumps(sources(bob))

    for who in ("dave", "alice notes only"):  # an outsider; alice's key that may not read it
        shown = opened(world, link["token"], who)
        assert shown.status_code == 200, shown.text
        body = shown.json()
        assert body["messages"][1]["content"] == bob["messages"][1]["content"]
        assert body["messages"][1]["claims"] == bob["messages"][1]["claims"]
        # each source keeps its place (the answer's [n] stay right), none shows what it held
        assert sources(body) == [{"withheld": True}] * len(sources(bob))
        assert SECRET not in json.dumps(sources(body))


def test_a_snapshot_stays_as_it_was_a_live_link_follows_and_a_public_one_needs_no_account(
    world: World,
) -> None:
    snapshot = make_link(world)
    live = make_link(world, mode="live", public=True)
    before = len(opened(world, live["token"], "alice").json()["messages"])
    ask(world.client, world.keys["alice"], world.thread_id, "Next to what is the jam?")

    assert len(opened(world, snapshot["token"], "bob").json()["messages"]) == before
    anonymous = opened(world, live["token"], None)
    assert anonymous.status_code == 200, anonymous.text
    shown = anonymous.json()
    assert len(shown["messages"]) == before + 2 and shown["link"]["mode"] == "live"
    assert all(s == {"withheld": True} for s in sources(shown))
    assert SECRET not in json.dumps(sources(shown))
    # a wrong key is refused, not treated as nobody
    assert world.client.get(f"/api/shared/{live['token']}",
                            headers={"Authorization": "Bearer rl_wrong"}).status_code == 401


def test_only_the_owner_makes_lists_and_revokes_links_and_revoking_ends_it(
    world: World,
) -> None:
    client, keys = world.client, world.keys
    link = make_link(world, public=True)
    base = f"/api/threads/{world.thread_id}/links"
    listed = client.get(base, headers=keys["alice"]).json()["items"]
    assert link["link_id"] in {x["link_id"] for x in listed}
    assert all("token" not in x for x in listed)  # shown once, when made

    for who in ("bob", "dave"):  # bob reads the collection, not alice's thread
        assert client.post(base, json={}, headers=keys[who]).status_code == 404
        assert client.get(base, headers=keys[who]).status_code == 404
        assert client.delete(f"{base}/{link['link_id']}", headers=keys[who]).status_code == 404
    refused = client.post(base, json={}, headers=keys["alice read-only"])
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "read_only_key"

    assert client.delete(f"{base}/{link['link_id']}", headers=keys["alice"]).status_code == 204
    gone = opened(world, link["token"], None)
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "link_not_found"
    assert client.delete(f"{base}/{link['link_id']}", headers=keys["alice"]).status_code == 404
    assert opened(world, "rls_no-such-token", "bob").status_code == 404

    audit = client.get("/api/audit", params={"target_id": world.thread_id},
                       headers=keys["admin"]).json()["items"]
    actions = {(e["action"], e["detail"].get("link_id")) for e in audit}
    assert {("thread.link", link["link_id"]), ("thread.unlink", link["link_id"])} <= actions


def test_deleting_the_thread_ends_its_links(world: World) -> None:
    client, alice = world.client, world.keys["alice"]
    other = client.post("/api/threads", json={"title": "Scratch"}, headers=alice).json()
    made = client.post(f"/api/threads/{other['thread_id']}/links", json={"mode": "live",
                                                                          "public": True},
                       headers=alice).json()
    assert opened(world, made["token"], None).status_code == 200
    assert client.delete(f"/api/threads/{other['thread_id']}", headers=alice).status_code == 204
    assert opened(world, made["token"], None).status_code == 404
