"""The MCP server's contract without I/O (API.md §7): exact schemas and the error shape,
driven in memory by the official client."""

from __future__ import annotations

import json

from mcp import Client

from ragline.mcp.server import build_server
from ragline.mcp.tools import stage_message


def _no_caller(_ctx: object) -> object:
    raise AssertionError("invalid calls never reach a tool")


async def test_input_schemas_are_closed_and_bounded() -> None:
    async with Client(build_server(_no_caller)) as client:  # type: ignore[arg-type]
        listed = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert set(listed) == {"search", "ask", "list_collections", "get_document"}
    assert all(t.input_schema["additionalProperties"] is False for t in listed.values())
    assert all(t.output_schema for t in listed.values())
    page = listed["get_document"].input_schema["properties"]["page"]
    assert page["anyOf"][0] == {"minimum": 1, "type": "integer"}
    assert listed["search"].annotations.read_only_hint is True
    assert listed["ask"].annotations is None or not listed["ask"].annotations.read_only_hint


async def test_invalid_arguments_are_tool_errors_in_the_contracts_shape() -> None:
    async with Client(build_server(_no_caller)) as client:  # type: ignore[arg-type]
        for arguments, message in [
            ({"query": "x", "top_k": 51}, "top_k: Input should be less than or equal to 50"),
            ({"query": "x", "mode": "fuzzy"}, "mode: Input should be 'hybrid', 'bm25' or 'vector'"),
            ({"query": "x", "limit": 3}, "unknown argument: limit"),
        ]:
            result = await client.call_tool("search", arguments)
            assert result.is_error
            error = json.loads(result.content[0].text)["error"]  # type: ignore[union-attr]
            assert (error["code"], error["message"]) == ("validation_error", message)
        assert (await client.call_tool("ask", {"question": ""})).is_error


def test_progress_messages_name_the_stage_and_how_far_it_got() -> None:
    assert stage_message({"status": "running", "stage": "reading", "progress": 0.4}) == \
        "reading 40%"
    assert stage_message({"status": "queued", "stage": "queued", "position": 2}) == \
        "queued (position 2)"
    assert stage_message({"status": "running", "stage": "retrieving"}) == "retrieving"
    assert stage_message({"status": "running"}) == "running"
