"""`ragline mcp` (API.md §6, §7): the same tools over stdio, started by the official client."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from tests.e2e.mcp_support import HANDBOOK, TOOLS, VACATION, create_key, error_of
from tests.support.processes import server_env


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A data dir where `ragline ingest` put the handbook into `handbook` (no server)."""
    env = server_env(tmp_path / "data", f"sqlite+aiosqlite:///{tmp_path / 'ragline.db'}")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "handbook.pdf").write_bytes(HANDBOOK)
    subprocess.run([sys.executable, "-m", "ragline", "ingest", str(tmp_path / "docs"),
                    "--collection", "handbook"], env=env, check=True, capture_output=True)
    return env


@pytest.fixture
def carol_key(env: dict[str, str]) -> str:
    return create_key(env, "carol")


async def test_stdio_server_answers_with_citations_as_the_local_user_or_a_keys_user(
    env: dict[str, str], carol_key: str
) -> None:
    server = StdioServerParameters(command=sys.executable, args=["-m", "ragline", "mcp"], env=env)
    async with stdio_client(server) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        assert {tool.name for tool in (await session.list_tools()).tools} == TOOLS
        progress: list[str | None] = []

        async def on_progress(_done: float, _total: float | None, message: str | None) -> None:
            progress.append(message)

        result = await session.call_tool(
            "ask", {"question": f"{VACATION} [[json:Twenty-five days [1].]]",
                    "collection": "handbook"},
            progress_callback=on_progress)
        assert not result.is_error, result.content
        answer = result.structured_content
        assert answer["answer"] == "Twenty-five days [1]."
        assert answer["sources"][0]["source"] == "handbook.pdf"
        assert answer["sources"][0]["page"] == 2
        document_id = answer["sources"][0]["document_id"]
        assert any(m and m.startswith("generating") for m in progress), progress
        search = await session.call_tool("search", {"query": "paid vacation",
                                                    "collection": "handbook"})
        assert search.structured_content["passages"][0]["page"] == 2

    # a key's user sees only their own documents
    as_carol = StdioServerParameters(command=sys.executable, args=["-m", "ragline", "mcp"],
                                     env={**env, "RAGLINE_MCP_API_KEY": carol_key})
    async with stdio_client(as_carol) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        listed = (await session.call_tool("list_collections", {})).structured_content
        assert "handbook" not in {c["name"] for c in listed["collections"]}
        hidden = await session.call_tool("get_document", {"document_id": document_id})
        assert error_of(hidden)["code"] == "document_not_found"
