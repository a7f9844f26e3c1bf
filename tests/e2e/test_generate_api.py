"""Structured output over HTTP (API.md §4) against a real server, on SQLite and PostgreSQL. Black-
box only: the rest (the schema registry, failed validation, bad requests and response_format) is
tested in-process in tests/integration/test_surfaces.py."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import httpx
import pytest

A = "11111111-1111-4111-8111-111111111111"
B = "22222222-2222-4222-8222-222222222222"
GHOST = "99999999-9999-4999-8999-999999999999"
BLOCKS = {"blocks": [
    {"id": A, "block_type": "source", "name": "customers.csv", "description": "CSV upload"},
    {"id": B, "block_type": "model", "name": "churn classifier", "description": "scores rows"},
]}
TICKET = {
    "type": "object",
    "properties": {
        "title": {"type": "string"},
        "code": {"type": "string", "pattern": "^[0-9]{3}$"},
    },
    "required": ["title", "code"],
}


def test_generate_returns_valid_data_and_repairs_dangling_edges(live_server) -> None:
    with httpx.Client(base_url=live_server.base_url, timeout=30) as client:
        block = client.post("/api/generate", json={"schema": "block", "prompt": "a csv source"})
        assert block.status_code == 200, block.text
        body = block.json()
        assert body["attempts"] == 1 and body["model"] == "scripted"
        assert set(body["data"]) == {"block_type", "name", "description"}

        dangling = json.dumps({"name": "p", "blocks": [A], "edges": [
            {"source_block_id": A, "target_block_id": GHOST, "edge_type": "data"}]})
        repaired = client.post("/api/generate", json={
            "schema": "pipeline", "prompt": f"connect them [[json:{dangling}]]",
            "context": BLOCKS,
        })
        assert repaired.status_code == 200, repaired.text
        assert repaired.json()["attempts"] == 2
        assert set(repaired.json()["data"]) == {"name", "blocks", "edges"}

        inline = client.post("/api/generate", json={
            "schema": {"type": "object", "properties": {"n": {"type": "integer"}},
                       "required": ["n"]},
            "prompt": "a number", "context": "plain text context",
        })
        assert inline.status_code == 200 and inline.json()["data"] == {"n": 0}


@pytest.mark.model
def test_local_model_suggests_a_valid_pipeline_from_context_blocks(
    make_server, tmp_path: Path
) -> None:
    server = make_server(
        f"sqlite+aiosqlite:///{tmp_path / 'model.db'}",
        RAGLINE_DEFAULT_MODEL="qwen2.5-coder-1.5b-instruct",
    )
    with httpx.Client(base_url=server.base_url, timeout=600) as client:
        response = client.post("/api/generate", json={
            "schema": "pipeline",
            "prompt": "Create a pipeline named 'churn scoring' that feeds the CSV source into "
                      "the classifier.",
            "context": BLOCKS,
            "max_tokens": 200,
        })
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == "qwen2.5-coder-1.5b-instruct" and body["strategy"] == "grammar"
    data = body["data"]
    assert {str(uuid.UUID(b)) for b in data["blocks"]} <= {A, B}
    for edge in data["edges"]:
        assert {edge["source_block_id"], edge["target_block_id"]} <= {A, B}
