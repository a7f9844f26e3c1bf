"""API.md §2 through the real app: upload every type, watch jobs, search, delete, errors."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ragline.web.app import create_app
from tests.doc_samples import make_docx, make_html, make_pdf, make_zip_bomb_docx
from tests.integration.documents_support import settings_for

UPLOADS = {
    "guide/handbook.pdf": make_pdf(
        [["Welcome aboard."], ["Employees receive twenty-five days of paid vacation."]],
        title="Handbook",
    ),
    "kitchen.html": make_html("Kitchen", "<h1>Pasta</h1><p>Boil spaghetti for nine minutes.</p>"),
    "security.md": b"# Security\n\nRotate your password every ninety days.",
    "office.txt": b"The office opens at eight in the morning.",
    "cars.docx": make_docx("Cars", [("Engines", ["A diesel engine uses compression ignition."])]),
}


@pytest.fixture
def client(database_url: str, tmp_path: Path) -> Iterator[TestClient]:
    settings = settings_for(database_url, tmp_path / "data", max_upload_bytes=100_000,
                            default_model="scripted")
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def _wait(client: TestClient, job_id: str) -> dict:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        job = client.get(f"/api/jobs/{job_id}").json()
        assert set(job) >= {"job_id", "status", "progress", "error"}
        if job["status"] in ("ready", "failed"):
            return job
        time.sleep(0.1)
    raise TimeoutError(job_id)


def test_upload_every_type_search_every_mode_and_delete(client: TestClient) -> None:
    assert client.post("/api/collections", json={"name": "team"}).status_code == 201
    accepted = {}
    for name, data in UPLOADS.items():
        response = client.post("/api/documents", files={"file": (Path(name).name, data)},
                               data={"collection": "team", "source": name})
        assert response.status_code == 202, response.text
        body = response.json()
        assert body["status"] == "pending" and body["document_id"] and body["job_id"]
        accepted[name] = body
    for name, body in accepted.items():
        assert _wait(client, body["job_id"])["status"] == "ready", name
    document = client.get(f"/api/documents/{accepted['guide/handbook.pdf']['document_id']}").json()
    assert {k: document[k] for k in ("source", "title", "status", "pages", "chunks", "error")} == {
        "source": "guide/handbook.pdf", "title": "Handbook", "status": "ready", "pages": 2,
        "chunks": 2, "error": None,
    }
    for mode in ("hybrid", "bm25", "vector"):
        response = client.post("/api/search", json={
            "query": "how many vacation days", "collection": "team", "mode": mode, "top_k": 3})
        assert response.status_code == 200
        results = response.json()["results"]
        assert results[0]["source"] == "guide/handbook.pdf" and results[0]["page"] == 2
        assert set(results[0]) >= {"chunk_id", "document_id", "source", "title", "page", "text",
                                   "score"}
    assert client.delete(f"/api/documents/{accepted['guide/handbook.pdf']['document_id']}"
                         ).status_code == 204
    results = client.post("/api/search", json={"query": "how many vacation days",
                                               "collection": "team"}).json()["results"]
    assert all(r["source"] != "guide/handbook.pdf" for r in results)
    collections = client.get("/api/collections").json()
    team = next(c for c in collections["items"] if c["name"] == "team")
    assert (team["documents"], team["chunks"]) == (4, 4)
    assert {c["name"] for c in collections["items"]} == {"default", "team"}


def test_identical_bytes_return_the_existing_document_with_200(client: TestClient) -> None:
    first = client.post("/api/documents", files={"file": ("a.txt", b"same")})
    assert first.status_code == 202
    _wait(client, first.json()["job_id"])
    again = client.post("/api/documents", files={"file": ("b.txt", b"same")})
    assert again.status_code == 200
    assert again.json()["document_id"] == first.json()["document_id"]
    assert again.json()["status"] == "ready"


def test_bad_uploads_get_contract_errors(client: TestClient) -> None:
    def upload(name: str, data: bytes) -> tuple[int, str]:
        response = client.post("/api/documents", files={"file": (name, data)})
        return response.status_code, response.json().get("error", {}).get("code", "")

    assert upload("photo.png", b"\x89PNG\r\n\x1a\n\x00") == (415, "unsupported_media_type")
    assert upload("empty.txt", b"") == (422, "empty_file")
    assert upload("big.txt", b"x" * 100_001) == (413, "file_too_large")
    assert upload("huge.txt", b"x" * 400_000)[0] == 413
    response = client.post("/api/documents", data={"collection": "default"})
    assert response.status_code == 422
    bomb = client.post("/api/documents", files={"file": ("bomb.docx", make_zip_bomb_docx())})
    job = _wait(client, bomb.json()["job_id"])
    assert job["status"] == "failed" and "zip bomb" in job["error"]
    tricky = client.post("/api/documents", files={"file": ("../../../etc/x.txt", b"trick")})
    assert tricky.status_code == 202
    assert client.get(f"/api/documents/{tricky.json()['document_id']}").json()["source"] == "x.txt"


def test_lists_are_paginated_and_unknown_ids_are_404(client: TestClient) -> None:
    for i in range(3):
        client.post("/api/documents", files={"file": (f"{i}.txt", f"doc {i}".encode())})
    first = client.get("/api/documents", params={"limit": 2}).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    rest = client.get("/api/documents", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None
    seen = [d["source"] for d in first["items"] + rest["items"]]
    assert seen == ["2.txt", "1.txt", "0.txt"]
    for path in ("/api/documents/nope", "/api/jobs/nope"):
        assert client.get(path).status_code == 404
    assert client.delete("/api/documents/nope").status_code == 404
    assert client.get("/api/documents", params={"collection": "missing"}).status_code == 404
    assert client.post("/api/search", json={"query": "x", "collection": "missing"}
                       ).status_code == 404
    assert client.post("/api/search", json={"query": "x", "mode": "fuzzy"}).status_code == 422
    assert client.post("/api/search", json={"query": ""}).status_code == 422
    assert client.post("/api/collections", json={"name": "default"}).status_code == 409
