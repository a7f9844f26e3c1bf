"""The demo collection through the real app (SQLite): one POST, the normal ingestion path,
searchable, idempotent, documented in the OpenAPI schema."""

from __future__ import annotations

import time
from pathlib import Path

from fastapi.testclient import TestClient

from ragline.samples.facts import seeded_cv
from ragline.web.app import create_app
from tests.integration.documents_support import settings_for


def _wait_ready(client: TestClient, job_ids: list[str]) -> None:
    deadline = time.monotonic() + 120
    pending = set(job_ids)
    while pending and time.monotonic() < deadline:
        for job_id in list(pending):
            status = client.get(f"/api/jobs/{job_id}").json()["status"]
            assert status != "failed", job_id
            if status == "ready":
                pending.discard(job_id)
        time.sleep(0.2)
    assert not pending


def test_demo_collection_loads_sample_cvs_once_and_they_are_searchable(tmp_path: Path) -> None:
    settings = settings_for(f"sqlite+aiosqlite:///{tmp_path / 'ragline.db'}", tmp_path / "data",
                            default_model="scripted")
    with TestClient(create_app(settings)) as client:
        assert {"/api/samples", "/api/samples/cvs"} <= set(
            client.get("/openapi.json").json()["paths"])
        assert client.get("/api/samples").json() == {
            "suggest_demo": True, "demo_collection": "demo", "demo_loaded": False,
            "demo_count": 5}
        response = client.post("/api/samples/cvs", json={"count": 2})
        assert response.status_code == 202, response.text
        body = response.json()
        assert body["collection"] == "demo" and len(body["documents"]) == 2
        assert all(d["created"] for d in body["documents"])
        _wait_ready(client, [d["job_id"] for d in body["documents"]])

        _, facts = seeded_cv(1, 1)
        hits = client.post("/api/search", json={
            "query": f"{facts.name} {facts.employers[0]}", "collection": "demo"}).json()
        assert hits["results"][0]["source"] == f"samples/002-{facts.slug}.pdf"
        collections = {c["name"]: c for c in client.get("/api/collections").json()["items"]}
        assert collections["demo"]["documents"] == 2
        offer = client.get("/api/samples").json()
        assert offer["suggest_demo"] is False and offer["demo_loaded"] is True

        again = client.post("/api/samples/cvs", json={"count": 2})
        assert again.status_code == 200
        assert [d["document_id"] for d in again.json()["documents"]] == [
            d["document_id"] for d in body["documents"]]
        assert client.post("/api/samples/cvs", json={"count": 0}).status_code == 422
        for document in body["documents"]:
            assert client.delete(f"/api/documents/{document['document_id']}").status_code == 204
        # the demo collection is removable like any other; `default` always exists
        assert client.post("/api/samples/cvs", json={"count": 1}).status_code == 202
        assert client.delete("/api/collections/demo").status_code == 204
        names = [c["name"] for c in client.get("/api/collections").json()["items"]]
        assert "demo" not in names
        assert client.delete("/api/collections/demo").status_code == 404
        refused = client.delete("/api/collections/default")
        assert refused.status_code == 409
        assert refused.json()["error"]["code"] == "collection_protected"
