"""`POST /api/collections/{name}/sync` through the real app: folders only under RAGLINE_SYNC_ROOT,
a bound collection synced as a queued job whose progress `GET /api/jobs/{id}` shows."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import httpx

from ragline.services import collections as coll
from ragline.services import sync_jobs


async def _wait(client: httpx.AsyncClient, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        job: dict[str, Any] = (await client.get(f"/api/jobs/{job_id}")).json()
        assert set(job) >= {"job_id", "status", "progress", "error"}
        if job["status"] in ("ready", "failed"):
            return job
        await asyncio.sleep(0.1)
    raise TimeoutError(job_id)


def _error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    return str(response.json()["error"]["code"])


async def test_a_bound_folder_syncs_as_a_job_and_paths_outside_the_root_are_refused(
    make_app: Any, tmp_path: Path
) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "team").mkdir(parents=True)
    outside.mkdir()
    (outside / "secret.txt").write_text("the password is swordfish")
    os.symlink(outside, root / "escape")
    (root / "team" / "office.txt").write_text("The office opens at eight in the morning.")
    (root / "team" / "volcano.md").write_text("# Volcano\n\nObsidian and purple basalt.")

    off = await make_app()
    url = "/api/collections/team/sync"
    assert _error(await off.client.post(url, json={"path": "team"}), 403) == "sync_disabled"

    app = await make_app(sync_root=root)
    client = app.client
    for path in (str(outside), "../outside", "escape", "/etc"):
        assert _error(await client.post(url, json={"path": path}), 403) == \
            "path_outside_sync_root", path
    assert _error(await client.post(url, json={"path": "nope"}), 400) == "sync_path_not_found"
    assert _error(await client.post(url, json={}), 404) == "collection_not_found"
    assert (await client.post("/api/collections", json={"name": "team"})).status_code == 201
    assert _error(await client.post(url, json={}), 409) == "collection_not_bound"

    started = await client.post(url, json={"path": "team", "delete": True})
    assert started.status_code == 202, started.text
    job = await _wait(client, started.json()["job_id"])
    assert (job["kind"], job["status"], job["progress"]) == ("sync", "ready", 1.0)
    assert {k: job["counts"][k] for k in ("files_seen", "added", "deleted", "unchanged")} == {
        "files_seen": 2, "added": 2, "deleted": 0, "unchanged": 0}
    state = (await client.get(url)).json()
    assert (state["path"], state["delete"]) == (str((root / "team").resolve()), True)
    assert state["last_job"]["job_id"] == job["job_id"]
    documents = (await client.get("/api/documents", params={"collection": "team"})).json()
    assert sorted(d["source"] for d in documents["items"]) == ["office.txt", "volcano.md"]
    ingest_job = (await client.get(f"/api/jobs/{documents['items'][0]['job_id']}")).json()
    assert ingest_job["kind"] == "ingest"

    (root / "team" / "volcano.md").unlink()  # the binding remembers the folder and `delete`
    job = await _wait(client, (await client.post(url, json={})).json()["job_id"])
    assert (job["counts"]["deleted"], job["counts"]["unchanged"]) == (1, 1)
    hits = (await client.post("/api/search", json={
        "query": "obsidian purple basalt volcano", "collection": "team"})).json()["results"]
    assert "volcano.md" not in {h["source"] for h in hits}

    async with app.container.db.session() as session:
        team = await coll.require_collection(session, app.container.local_user_id, "team")
    running = await sync_jobs.begin_sync(app.container.db, team, path=str(root / "team"),
                                         delete=False, origin="cli", stale_seconds=60)
    refused = await client.post(url, json={})
    assert _error(refused, 409) == "sync_running"
    assert refused.json()["error"]["details"] == {"job_id": running.id}
