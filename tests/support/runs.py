"""Waiting for a run to end through the API, for sync clients (httpx.Client, TestClient) and
async ones (the in-process app)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

TERMINAL = ("done", "failed", "cancelled")


def wait_finished(client: httpx.Client, run_id: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = client.get(f"/api/runs/{run_id}").json()
        if run["status"] in TERMINAL:
            return dict(run)
        time.sleep(0.02)
    raise AssertionError(f"run {run_id} did not finish")


async def run_finished(client: httpx.AsyncClient, run_id: str) -> dict[str, Any]:
    async with asyncio.timeout(30):
        while True:
            run = (await client.get(f"/api/runs/{run_id}")).json()
            if run["status"] in TERMINAL:
                return dict(run)
            await asyncio.sleep(0.02)
