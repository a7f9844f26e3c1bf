"""Regression tests for issue 16's bad input: each one names what used to break (500s, dropped
connections, silent sockets), on SQLite and PostgreSQL, through the real app in process."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from ragline.web.app import create_app
from tests.conftest import BACKENDS, create_pg_database, drop_pg_database
from tests.integration.documents_support import settings_for

JSON = {"content-type": "application/json"}
UUID = "6f1f6b8e-1d7c-4c1a-9d55-8d0f3c7d2a11"


@pytest.fixture(scope="module", params=BACKENDS)
def client(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[TestClient]:
    data = tmp_path_factory.mktemp(f"bad-input-{request.param}")
    pg = create_pg_database() if request.param == "postgres" else None
    url = pg.url if pg else f"sqlite+aiosqlite:///{data / 'ragline.db'}"
    settings = settings_for(url, Path(data), default_model="scripted", max_upload_bytes=64 * 1024)
    try:
        with TestClient(create_app(settings)) as test_client:
            yield test_client
    finally:
        if pg is not None:
            drop_pg_database(pg)


def _thread(client: TestClient) -> str:
    return str(client.post("/api/threads", json={}).json()["thread_id"])


def _finished_run(client: TestClient) -> str:
    thread = _thread(client)
    run = client.post(f"/api/threads/{thread}/messages", json={"content": "hi [[tokens:3]]"})
    run_id = str(run.json()["run_id"])
    for _ in range(200):
        if client.get(f"/api/runs/{run_id}").json()["status"] == "done":
            return run_id
        time.sleep(0.02)
    raise TimeoutError(run_id)


def _assert_invalid_text(response, label: str) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 422, (label, response.status_code, response.text)
    assert response.json()["error"]["code"] == "invalid_text", label


def test_nul_bytes_anywhere_are_422_not_500(client: TestClient) -> None:
    thread = _thread(client)
    nul = "a\u0000b"
    posts = {
        "message": (f"/api/threads/{thread}/messages", {"content": nul}),
        "user name": ("/api/users", {"name": nul}),
        "collection name": ("/api/collections", {"name": nul}),
        "thread title": ("/api/threads", {"title": nul}),
        "thread metadata key": ("/api/threads", {"metadata": {nul: 1}}),
        "search": ("/api/search", {"query": nul}),
        "stream_question": ("/stream_question", {"question": nul}),
        "llm chat": ("/llm/chat/", {"user_id": UUID, "initial_message": nul}),
        "conversations chat": ("/conversations/chat", {"model_name": "scripted", "message": nul}),
        "generate": ("/api/generate", {"schema": "block", "prompt": nul}),
        "schema name": ("/api/schemas", {"name": nul, "json_schema": {}}),
    }
    for label, (path, body) in posts.items():
        _assert_invalid_text(client.post(path, json=body), label)
    v1 = client.post("/v1/chat/completions",
                     json={"model": "scripted", "messages": [{"role": "user", "content": nul}]})
    assert v1.status_code == 422 and v1.json()["error"]["code"] == "invalid_text"
    for path in ("/api/threads/%00", "/api/threads/%00/messages", "/api/runs/%00",
                 "/api/runs/%00/events", "/api/documents/%00", "/api/jobs/%00",
                 "/api/schemas/%00", "/llm/chat/%00/history/", "/conversations/%00",
                 "/api/documents?collection=%00", "/api/threads?cursor=%00"):
        _assert_invalid_text(client.get(path), path)
    _assert_invalid_text(client.delete("/api/threads/%00"), "delete thread")
    upload = client.post("/api/documents", files={"file": ("a.txt", b"some text")},
                         data={"source": nul})
    _assert_invalid_text(upload, "upload source")
    upload = client.post("/api/documents", files={"file": ("a.txt", b"some text")},
                         data={"collection": nul})
    _assert_invalid_text(upload, "upload collection")


def test_lone_surrogates_are_422_not_500(client: TestClient) -> None:
    thread = _thread(client)
    raw = {
        f"/api/threads/{thread}/messages": b'{"content": "a\\ud800b"}',
        "/api/generate": b'{"schema": "\\ud800", "prompt": "hi"}',
        "/conversations/chat":
            b'{"model_name": "scripted", "message": "hi", "conversation_id": "\\udc00"}',
    }
    for path, body in raw.items():
        _assert_invalid_text(client.post(path, content=body, headers=JSON), path)
    paired = client.post(f"/api/threads/{thread}/messages",
                         content=b'{"content": "smile \\ud83d\\ude00 [[tokens:2]]"}', headers=JSON)
    assert paired.status_code == 202, paired.text


def test_unhandled_error_is_a_json_500_and_not_re_raised(tmp_path: Path) -> None:
    """Re-raising after the 500 is what made the server drop the keep-alive connection."""
    app = create_app(settings_for(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}", tmp_path))

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("boom")

    app.router.routes.insert(0, app.router.routes.pop())  # before the UI's catch-all route

    with TestClient(app) as test_client:  # raises if the app lets the exception out
        response = test_client.get("/boom")
        assert response.status_code == 500
        assert response.json()["error"]["code"] == "internal_error"
        assert test_client.get("/healthz").status_code == 200


@pytest.mark.parametrize("json_schema", [
    {"$ref": "#"},
    {"anyOf": [{"type": "string"}, {"$ref": "#"}]},
    {"$ref": "https://example.com/remote.json"},
    {"properties": {"a": {"properties": {"a": {"properties": {"a": {}}}}}}} | {"$defs": {
        "deep": json.loads('{"items":' * 70 + "{}" + "}" * 70)}},
])
def test_schemas_that_cannot_be_compiled_are_refused(client: TestClient, json_schema) -> None:
    registered = client.post("/api/schemas", json={"name": "loop", "json_schema": json_schema})
    assert registered.status_code == 422, registered.text
    assert registered.json()["error"]["code"] == "invalid_schema"
    inline = client.post("/api/generate", json={"schema": json_schema, "prompt": "hi"})
    assert inline.status_code == 422 and inline.json()["error"]["code"] == "invalid_schema"


def test_recursive_schema_that_consumes_the_instance_is_accepted(client: TestClient) -> None:
    tree = {"type": "object", "properties": {"children": {"type": "array", "items": {"$ref": "#"}}}}
    assert client.post("/api/schemas", json={"name": "tree", "json_schema": tree}
                       ).status_code == 201


def test_out_of_range_event_cursors_are_400(client: TestClient) -> None:
    run_id = _finished_run(client)
    for bad in ("99999999999999999999", str(2**63), "-1", "1e3", "abc"):
        response = client.get(f"/api/runs/{run_id}/events", params={"after": bad})
        assert response.status_code == 400, (bad, response.text)
        assert response.json()["error"]["code"] == "invalid_last_event_id"
        header = client.get(f"/api/runs/{run_id}/events", headers={"Last-Event-ID": bad})
        assert header.status_code == 400, bad
    replay = client.get(f"/api/runs/{run_id}/events", params={"after": "2"})
    assert replay.status_code == 200 and "event: done" in replay.text


def test_deeply_nested_ws_question_gets_an_error_and_later_questions_are_answered(
    client: TestClient,
) -> None:
    with client.websocket_connect("/ws") as ws:
        for bad in ("[" * 999 + "]" * 999, "not json", '{"type": "question", "payload": 3}',
                    json.dumps({"type": "question", "payload": "x\u0000"}), "x" * 300_000):
            ws.send_text(bad)
            assert ws.receive_json()["type"] == "error"
        ws.send_bytes(b"\xff\xfe")
        assert ws.receive_json()["type"] == "error"
        ws.send_text(json.dumps({"type": "question", "payload": "hi [[tokens:3]]"}))
        frames = [ws.receive_json() for _ in range(4)]
        assert [f["type"] for f in frames] == ["response_chunk"] * 3 + ["response_end"]


@pytest.mark.parametrize(("frame", "close_code"), [
    ("not json", 1007),
    ("[" * 999 + "]" * 999, 1008),
    ("x" * 70_000, 1009),
])
def test_bad_run_ws_frame_gets_an_error_frame_then_a_proper_close(
    client: TestClient, frame: str, close_code: int
) -> None:
    thread = _thread(client)
    run_id = client.post(f"/api/threads/{thread}/messages",
                         json={"content": "[[stall]]"}).json()["run_id"]
    try:
        with client.websocket_connect(f"/api/runs/{run_id}/ws") as ws:
            ws.send_text(frame)
            while (message := ws.receive_json())["type"] != "error":
                assert "seq" in message
            assert message["data"]["code"]
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_json()
            assert closed.value.code == close_code
    finally:
        client.post(f"/api/runs/{run_id}/cancel")


def test_resume_with_a_bad_cursor_gets_an_error_and_the_socket_stays_usable(
    client: TestClient,
) -> None:
    # A live (stalled) run: a finished one may close the socket at once, as the contract says.
    thread = _thread(client)
    run_id = client.post(f"/api/threads/{thread}/messages",
                         json={"content": "[[stall]]"}).json()["run_id"]
    try:
        with client.websocket_connect(f"/api/runs/{run_id}/ws") as ws:
            ws.send_json({"type": "resume", "after": "abc"})
            while (frame := ws.receive_json())["type"] != "error":
                assert "seq" in frame
            assert frame["data"]["code"] == "invalid_last_event_id"
            ws.send_json({"type": "resume", "after": 0})
            ws.send_json({"type": "cancel"})
            types = []
            while not types or types[-1] != "done":
                types.append(ws.receive_json()["type"])
            assert "status" in types
    finally:
        client.post(f"/api/runs/{run_id}/cancel")


def test_a_run_stopped_mid_answer_reports_the_tokens_it_streamed(client: TestClient) -> None:
    thread = _thread(client)
    run_id = client.post(f"/api/threads/{thread}/messages",
                         json={"content": "[[stall]]"}).json()["run_id"]
    with client.websocket_connect(f"/api/runs/{run_id}/ws") as ws:
        while ws.receive_json()["type"] != "token":
            pass
    assert client.post(f"/api/runs/{run_id}/cancel").status_code == 202
    for _ in range(200):
        run = client.get(f"/api/runs/{run_id}").json()
        if run["status"] == "cancelled":
            break
        time.sleep(0.02)
    assert run["usage"]["completion_tokens"] == 1, run


def test_v1_body_parse_errors_carry_a_code(client: TestClient) -> None:
    for body in (b'{"model": "\xff"}', b"{bad"):
        response = client.post("/v1/chat/completions", content=body, headers=JSON)
        assert response.status_code in (400, 422)
        assert response.json()["error"]["code"], response.text


def test_openapi_documents_the_error_answers_of_every_operation(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            documented = set(operation["responses"])
            assert {"400", "401", "404", "409", "422", "429"} <= documented, (method, path)


def test_a_v1_path_no_route_matches_answers_in_openais_shape(client: TestClient) -> None:
    """A line break in a model id leaves `/v1/models/{model}` unmatched (schemathesis found it);
    the 404 still has OpenAI's shape, which the SDKs parse."""
    for path in ("/v1/models/a%0Ab", "/v1/models/a%0Ab%0Dc%C2%85d%0Be%0Cf%E2%80%A8g"):
        response = client.get(path)
        assert response.status_code == 404
        error = response.json()["error"]
        assert error["type"] == "invalid_request_error" and error["code"] == "not_found"
    assert client.get("/api/threads/a%0Ab").json()["error"]["code"] == "thread_not_found"
