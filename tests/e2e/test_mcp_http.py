"""API.md §7 over streamable HTTP with the official MCP client, against a real server with API
keys: the tools and their schemas, grounded answers with progress, resources, errors as tool
errors, and isolation between two users. Also the original-file endpoint (API.md §2)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from mcp.shared.exceptions import MCPError

from tests.e2e.mcp_support import (
    HANDBOOK,
    TOOLS,
    VACATION,
    create_key,
    error_of,
    http_session,
    upload,
)
from tests.support.processes import ServerProcess, server_env


@dataclass
class World:
    server: ServerProcess
    alice: str
    bob: str
    document_id: str

    def rest(self, key: str) -> httpx.Client:
        return httpx.Client(base_url=self.server.base_url, timeout=60,
                            headers={"Authorization": f"Bearer {key}"})


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One server for the module: alice owns a two-page handbook in `handbook`; bob owns nothing."""
    root: Path = tmp_path_factory.mktemp("mcp")
    env = server_env(root / "data", f"sqlite+aiosqlite:///{root / 'ragline.db'}",
                     RAGLINE_AUTH="api_key")
    server = ServerProcess(env, log_path=root / "server.log")
    server.start()
    try:
        alice, bob = create_key(env, "alice"), create_key(env, "bob")
        world = World(server, alice, bob, "")
        with world.rest(alice) as client:
            assert client.post("/api/collections", json={"name": "handbook"}).status_code == 201
            world.document_id = upload(client, "handbook.pdf", HANDBOOK, "handbook")
        yield world
    finally:
        server.stop()


async def test_lists_the_four_tools_with_exact_input_schemas(world: World) -> None:
    async with http_session(world.server.base_url, world.alice) as session:
        listed = {tool.name: tool for tool in (await session.list_tools()).tools}
    assert set(listed) == TOOLS
    search = listed["search"].input_schema
    assert search["required"] == ["query"] and search["additionalProperties"] is False
    assert set(search["properties"]) == {"query", "collection", "top_k", "mode"}
    assert (search["properties"]["top_k"]["minimum"], search["properties"]["top_k"]["maximum"]) \
        == (1, 50)
    assert search["properties"]["mode"]["enum"] == ["hybrid", "bm25", "vector"]
    ask = listed["ask"].input_schema
    assert set(ask["properties"]) == {"question", "collection", "thread_id"}
    assert ask["required"] == ["question"]
    assert set(listed["get_document"].input_schema["properties"]) == {"document_id", "page"}
    assert listed["list_collections"].input_schema["properties"] == {}
    assert all(tool.description for tool in listed.values())


async def test_search_returns_passages_with_source_page_and_score(world: World) -> None:
    async with http_session(world.server.base_url, world.alice) as session:
        result = await session.call_tool("search", {"query": "paid vacation days",
                                                    "collection": "handbook", "top_k": 3})
    assert not result.is_error
    passages = result.structured_content["passages"]
    assert passages and set(passages[0]) == {"document_id", "source", "title", "page", "text",
                                             "score"}
    best = passages[0]
    assert (best["document_id"], best["source"], best["page"]) == \
        (world.document_id, "handbook.pdf", 2)
    assert "twenty-five days" in best["text"]


async def test_ask_answers_with_citations_streams_progress_and_continues_the_thread(
    world: World,
) -> None:
    progress: list[str | None] = []

    async def on_progress(_done: float, _total: float | None, message: str | None) -> None:
        progress.append(message)

    # `[[json:TEXT]]` makes the scripted model answer exactly TEXT (brackets included)
    question = f"{VACATION} [[json:Employees receive twenty-five days of paid vacation [1].]]"
    async with http_session(world.server.base_url, world.alice) as session:
        result = await session.call_tool("ask", {"question": question, "collection": "handbook"},
                                         progress_callback=on_progress)
        assert not result.is_error, result.content
        answer = result.structured_content
        assert answer["answer"] == "Employees receive twenty-five days of paid vacation [1]."
        assert answer["sources"][0]["document_id"] == world.document_id
        assert answer["sources"][0]["page"] == 2
        assert answer["claims"] == [] or all("supported" in c for c in answer["claims"])
        assert any(m and m.startswith("generating") for m in progress), progress
        assert any(m and "passages" in m for m in progress), progress

        again = await session.call_tool("ask", {"question": "[[json:Yes, every year [1].]] "
                                                "Is that per year?",
                                                "thread_id": answer["thread_id"]})
        assert not again.is_error, again.content
        assert again.structured_content["thread_id"] == answer["thread_id"]
    with world.rest(world.alice) as client:  # the conversation is a thread like any other
        messages = client.get(f"/api/threads/{answer['thread_id']}/messages").json()["items"]
        assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"]
        assert messages[1]["run_id"] == answer["run_id"]
        assert client.get(f"/api/runs/{answer['run_id']}").json()["status"] == "done"


async def test_collections_resources_and_documents_page_by_page(world: World) -> None:
    async with http_session(world.server.base_url, world.alice) as session:
        listed = (await session.call_tool("list_collections", {})).structured_content
        handbook = next(c for c in listed["collections"] if c["name"] == "handbook")
        assert handbook["documents"] == 1 and handbook["chunks"] >= 1

        resources = (await session.list_resources()).resources
        uri = next(str(r.uri) for r in resources if r.name == "handbook")
        assert uri == "ragline://collections/handbook"
        read = await session.read_resource(uri)
        listing = json.loads(read.contents[0].text)  # type: ignore[union-attr]
        assert [d["document_id"] for d in listing["documents"]] == [world.document_id]

        first = (await session.call_tool("get_document", {"document_id": world.document_id})
                 ).structured_content
        assert (first["page"], first["pages"], first["next_page"]) == (1, 2, 2)
        assert first["source"] == "handbook.pdf" and first["collection"] == "handbook"
        assert "Welcome aboard" in first["text"]
        second = (await session.call_tool("get_document", {"document_id": world.document_id,
                                                           "page": 2})).structured_content
        assert "twenty-five days" in second["text"] and second["next_page"] is None
        beyond = await session.call_tool("get_document", {"document_id": world.document_id,
                                                          "page": 3})
        assert error_of(beyond)["code"] == "page_out_of_range"


async def test_one_users_session_never_sees_anothers_documents(world: World) -> None:
    async with http_session(world.server.base_url, world.alice) as session:
        asked = await session.call_tool("ask", {"question": f"{VACATION} [[json:25 [1].]]",
                                                "collection": "handbook"})
        thread_id = asked.structured_content["thread_id"]
    async with http_session(world.server.base_url, world.bob) as session:
        names = {c["name"] for c in
                 (await session.call_tool("list_collections", {})).structured_content[
                     "collections"]}
        assert "handbook" not in names
        assert "handbook" not in {r.name for r in (await session.list_resources()).resources}
        found = await session.call_tool("search", {"query": "paid vacation days"})
        assert found.structured_content["passages"] == []
        scoped = await session.call_tool("search", {"query": "vacation", "collection": "handbook"})
        assert error_of(scoped)["code"] == "collection_not_found"
        document = await session.call_tool("get_document", {"document_id": world.document_id})
        assert error_of(document)["code"] == "document_not_found"
        thread = await session.call_tool("ask", {"question": "and?", "thread_id": thread_id})
        assert error_of(thread)["code"] == "thread_not_found"
        with pytest.raises(MCPError):
            await session.read_resource("ragline://collections/handbook")


async def test_bad_calls_are_tool_errors_and_the_session_goes_on(world: World) -> None:
    async with http_session(world.server.base_url, world.alice) as session:
        too_few = error_of(await session.call_tool("search", {"query": "x", "top_k": 0}))
        assert too_few["code"] == "validation_error" and too_few["message"].startswith("top_k")
        assert error_of(await session.call_tool("search", {}))["code"] == "validation_error"
        assert error_of(await session.call_tool("search", {"query": "   "}))["code"] == \
            "empty_query"
        unknown = error_of(await session.call_tool("search", {"query": "x", "topk": 3}))
        assert unknown["message"] == "unknown argument: topk"
        missing = error_of(await session.call_tool("get_document", {"document_id": "nope"}))
        assert missing == {"code": "document_not_found", "message": "document nope not found",
                           "details": None}
        failed = error_of(await session.call_tool(
            "ask", {"question": f"{VACATION} [[fail]]", "collection": "handbook"}))
        assert failed["code"] and failed["message"]
        still = await session.call_tool("list_collections", {})
        assert not still.is_error


def test_mcp_needs_credentials_like_the_rest_api(world: World) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    for headers in ({}, {"Authorization": "Bearer not-a-key"}):
        response = httpx.post(f"{world.server.base_url}/mcp", json=body, headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"


def test_original_file_is_served_to_its_owner_only(world: World) -> None:
    path = f"/api/documents/{world.document_id}/file"
    with world.rest(world.alice) as client:
        response = client.get(path)
        assert response.status_code == 200 and response.content == HANDBOOK
        assert response.headers["content-type"] == "application/pdf"
        assert response.headers["content-disposition"].startswith("inline")
        spec = client.get("/openapi.json").json()
        assert "application/pdf" in \
            spec["paths"]["/api/documents/{document_id}/file"]["get"]["responses"]["200"][
                "content"]
    with world.rest(world.bob) as client:
        hidden = client.get(path)
        assert hidden.status_code == 404
        assert hidden.json()["error"]["code"] == "document_not_found"



def ragline_cli(env: dict[str, str], *args: str) -> str:
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "ragline", *args], env=env,
                          capture_output=True, text=True, check=True).stdout


async def test_a_collection_scoped_key_holds_over_mcp(world: World) -> None:
    import asyncio

    out = await asyncio.to_thread(ragline_cli, world.server.env, "keys", "create", "--user",
                                  "alice", "--read-only", "--collection", "notes")
    key = out.strip().splitlines()[-1]
    async with http_session(world.server.base_url, key) as session:
        names = {c["name"] for c in
                 (await session.call_tool("list_collections", {})).structured_content[
                     "collections"]}
        assert "handbook" not in names
        scoped = await session.call_tool("search", {"query": "vacation", "collection": "handbook"})
        assert error_of(scoped)["code"] == "collection_not_found"
        document = await session.call_tool("get_document", {"document_id": world.document_id})
        assert error_of(document)["code"] == "document_not_found"
    listing = await asyncio.to_thread(ragline_cli, world.server.env, "keys", "list", "--user",
                                      "alice")
    assert "read-only; collections: notes" in listing
