"""Helpers for the MCP tests: a session of the official client, a small handbook to ask about."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import httpx2
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult

from tests.doc_samples import make_pdf

HANDBOOK = make_pdf(
    [["Welcome aboard. This handbook explains how the company works."],
     ["Employees receive twenty-five days of paid vacation every year."]],
    title="Handbook",
)
VACATION = "How many days of paid vacation do employees receive?"
TOOLS = {"search", "ask", "list_collections", "get_document"}


@asynccontextmanager
async def http_session(base_url: str, key: str | None = None) -> AsyncIterator[ClientSession]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(300, read=300)) as http,
        streamable_http_client(f"{base_url}/mcp", http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


def create_key(env: dict[str, str], user: str) -> str:
    out = subprocess.run([sys.executable, "-m", "ragline", "keys", "create", "--user", user],
                         env=env, capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1]


def upload(client: httpx.Client, name: str, data: bytes, collection: str) -> str:
    """Upload and wait until the document is ready; its id."""
    response = client.post("/api/documents", files={"file": (name, data)},
                           data={"collection": collection})
    assert response.status_code == 202, response.text
    body = response.json()
    deadline = time.monotonic() + 180
    while (job := client.get(f"/api/jobs/{body['job_id']}").json())["status"] != "ready":
        assert job["status"] != "failed" and time.monotonic() < deadline, job
        time.sleep(0.2)
    return str(body["document_id"])


def error_of(result: CallToolResult) -> dict[str, Any]:
    """The contract's error body carried by a tool error."""
    assert result.is_error, result
    text = result.content[0].text  # type: ignore[union-attr]
    return dict(json.loads(text)["error"])
