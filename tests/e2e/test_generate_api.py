"""Structured output over HTTP (API.md §4) against a real server, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.test_core_api import events, start_thread, wait_finished

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


def test_schema_registry_lists_builtins_registers_and_refuses_bad_schemas(live_server) -> None:
    with httpx.Client(base_url=live_server.base_url, timeout=30) as client:
        listed = client.get("/api/schemas")
        assert listed.status_code == 200
        items = {s["name"]: s for s in listed.json()["items"]}
        assert {"block", "edge", "pipeline"} <= set(items)
        pipeline = items["pipeline"]
        assert pipeline["builtin"] is True
        assert set(pipeline["json_schema"]["required"]) == {"name", "blocks", "edges"}

        created = client.post("/api/schemas", json={"name": "ticket", "json_schema": TICKET})
        assert created.status_code == 201, created.text
        assert created.json() == {"name": "ticket", "json_schema": TICKET, "builtin": False}
        again = client.post("/api/schemas", json={"name": "ticket", "json_schema": TICKET})
        assert again.status_code == 409 and again.json()["error"]["code"] == "schema_exists"
        builtin = client.post("/api/schemas", json={"name": "edge", "json_schema": TICKET})
        assert builtin.status_code == 409

        bad = client.post(
            "/api/schemas", json={"name": "bad", "json_schema": {"type": "banana"}}
        )
        assert bad.status_code == 422
        error = bad.json()["error"]
        assert error["code"] == "invalid_schema" and "banana" in error["message"]

        names = [s["name"] for s in client.get("/api/schemas").json()["items"]]
        assert "ticket" in names and "bad" not in names
        first = client.get("/api/schemas", params={"limit": 2}).json()
        rest = client.get("/api/schemas", params={"cursor": first["next_cursor"]}).json()
        assert [s["name"] for s in first["items"] + rest["items"]] == names

        unknown = client.post("/api/generate", json={"schema": "nope", "prompt": "x"})
        assert unknown.status_code == 404
        assert unknown.json()["error"]["code"] == "schema_not_found"


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


def test_output_that_never_validates_answers_422_with_errors_and_raw(live_server) -> None:
    with httpx.Client(base_url=live_server.base_url, timeout=30) as client:
        client.post("/api/schemas", json={"name": "ticket", "json_schema": TICKET})
        failed = client.post(
            "/api/generate", json={"schema": "ticket", "prompt": "a ticket", "max_attempts": 2}
        )
        assert failed.status_code == 422
        error = failed.json()["error"]
        assert error["code"] == "llm_output_invalid"
        assert error["details"]["attempts"] == 2
        assert json.loads(error["details"]["raw"]) == {"title": "x", "code": "x"}
        assert error["details"]["errors"][0]["loc"] == ["code"]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"schema": "block", "prompt": "x", "max_attempts": 11}, 422),
        ({"schema": "block", "prompt": ""}, 422),
        ({"schema": "block", "prompt": "x", "model": "no-such-model"}, 400),
        ({"schema": {"type": 7}, "prompt": "x"}, 422),
        ({"prompt": "x"}, 422),
    ],
)
def test_bad_generate_requests_get_contract_errors(live_server, body: Any, status: int) -> None:
    with httpx.Client(base_url=live_server.base_url, timeout=30) as client:
        response = client.post("/api/generate", json=body)
    assert response.status_code == status, response.text
    assert set(response.json()["error"]) == {"code", "message", "details"}


def test_run_with_response_format_carries_the_parsed_object_in_final_data(live_server) -> None:
    with httpx.Client(base_url=live_server.base_url, timeout=30) as client:
        thread_id = start_thread(client)
        posted = client.post(f"/api/threads/{thread_id}/messages", json={
            "content": "suggest a block", "response_format": "block"})
        assert posted.status_code == 202, posted.text
        log = events(client, posted.json()["run_id"])
        final = next(e["data"] for e in log if e["type"] == "final")
        assert final["data"] == {**json.loads(final["content"]), "description": None}
        messages = client.get(f"/api/threads/{thread_id}/messages").json()["items"]
        assert messages[-1]["data"] == final["data"]

        inline = client.post(f"/api/threads/{thread_id}/messages", json={
            "content": "a flag", "response_format": {
                "type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}})
        final = next(e["data"] for e in events(client, inline.json()["run_id"])
                     if e["type"] == "final")
        assert final["data"] == {"ok": False}

        bad = client.post(f"/api/threads/{thread_id}/messages", json={
            "content": '[[json:{"name": 1}]]', "response_format": "block"})
        run = wait_finished(client, bad.json()["run_id"])
        assert run["status"] == "failed" and run["error"]["code"] == "llm_output_invalid"
        log = events(client, bad.json()["run_id"])
        assert [e["type"] for e in log][-2:] == ["error", "done"]


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
