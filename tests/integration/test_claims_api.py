"""Claims through the real app (API.md §1, §3, §5) with the scripted model and the local
embedder: `final.claims`, `ragline_claims`, the seed 000 `end` frame and `response_end`; and a
scanned PDF that ingests through the OCR stage and answers a question with a citation.
(`[[json:TEXT]]` makes the scripted model answer TEXT verbatim, brackets included.)"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx_sse import connect_sse

from ragline.adapters.parse.ocr import available
from ragline.web.app import create_app
from tests.doc_samples import make_scanned_pdf
from tests.integration.documents_support import settings_for

COLLECTION = "claims"
HANDBOOK = (b"# Handbook\n\nEmployees receive twenty-five days of paid vacation each year.\n\n"
            b"## Office\n\nThe office opens at eight in the morning and closes at six.")
FACT = "Employees receive twenty-five days of paid vacation each year"
RANDOM = "Penguins run the cafeteria on Tuesdays and juggle the invoices."


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    root: Path = tmp_path_factory.mktemp("claims")
    settings = settings_for(f"sqlite+aiosqlite:///{root / 'ragline.db'}", root / "data",
                            default_model="scripted")
    with TestClient(create_app(settings)) as test_client:
        upload = test_client.post("/api/documents", files={"file": ("handbook.md", HANDBOOK)},
                                  data={"collection": COLLECTION})
        assert upload.status_code == 202, upload.text
        deadline = time.monotonic() + 120
        while test_client.get(f"/api/jobs/{upload.json()['job_id']}").json()["status"] != "ready":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        yield test_client


def run_events(client: TestClient, content: str) -> list[tuple[str, dict[str, Any]]]:
    thread = client.post("/api/threads", json={"collection": COLLECTION, "model": "scripted"})
    posted = client.post(f"/api/threads/{thread.json()['thread_id']}/messages",
                         json={"content": content})
    assert posted.status_code == 202, posted.text
    with connect_sse(client, "GET", f"/api/runs/{posted.json()['run_id']}/events") as source:
        log = [(e.event, json.loads(e.data)) for e in source.iter_sse() if e.data]
    assert log[-1] == ("done", {"status": "done"}), log[-3:]
    return log


def final_of(log: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    final = next(data for event, data in log if event == "final")
    assert "".join(d["delta"] for e, d in log if e == "token") == final["content"]
    for claim in final["claims"]:
        assert final["content"][claim["start"]:claim["end"]] == claim["text"]
        assert all(1 <= n <= len(final["sources"]) for n in claim["sources"])
    return final


def test_scripted_words_are_all_flagged_unsupported(client: TestClient) -> None:
    final = final_of(run_events(client, "How many vacation days do employees get?"))
    assert final["sources"] and final["claims"]
    assert all(not c["supported"] and c["sources"] == [] for c in final["claims"])
    assert "[" not in final["content"]  # no marker on an unsupported sentence


def test_a_supported_sentence_gets_its_marker_in_the_content(client: TestClient) -> None:
    final = final_of(run_events(client, f"[[say:{FACT}.]] How many vacation days?"))
    assert final["content"] == f"{FACT} [1]."
    assert [c["sources"] for c in final["claims"]] == [[1]]


def test_reloaded_thread_messages_carry_their_claims(client: TestClient) -> None:
    thread = client.post("/api/threads", json={"collection": COLLECTION, "model": "scripted"})
    thread_id = thread.json()["thread_id"]
    posted = client.post(f"/api/threads/{thread_id}/messages",
                         json={"content": f"[[say:{FACT}.]] How many vacation days?"}).json()
    with connect_sse(client, "GET", f"/api/runs/{posted['run_id']}/events") as source:
        final = next(json.loads(e.data) for e in source.iter_sse() if e.event == "final")
    messages = client.get(f"/api/threads/{thread_id}/messages").json()["items"]
    assert messages[-1]["claims"] == final["claims"] and messages[0]["claims"] is None


def test_a_restated_passage_is_supported_with_a_corrected_source(client: TestClient) -> None:
    final = final_of(run_events(
        client, f"[[json:{FACT} [7]. {RANDOM}]] How many vacation days do employees get?"))
    stated, invented = final["claims"]
    assert stated["supported"] and invented["supported"] is False
    assert final["sources"][stated["sources"][0] - 1]["source"] == "handbook.md"
    # The model's invalid [7] is replaced in the streamed content by the checked marker, and
    # the invented sentence carries none.
    assert stated["text"] == f"{FACT} [1]." and "[7]" not in final["content"]
    assert final["content"] == f"{FACT} [1]. {RANDOM}"
    documents = client.app.state.container.documents  # type: ignore[attr-defined]
    chunk_ids = [s["chunk_id"] for s in final["sources"]]
    assert set(documents.passage_vectors(chunk_ids)) == set(chunk_ids)  # reused, not re-encoded


def test_plain_chat_has_no_claims(client: TestClient) -> None:
    thread = client.post("/api/threads", json={"model": "scripted"}).json()["thread_id"]
    run = client.post(f"/api/threads/{thread}/messages", json={"content": "Hello there"}).json()
    with connect_sse(client, "GET", f"/api/runs/{run['run_id']}/events") as source:
        final = next(json.loads(e.data) for e in source.iter_sse() if e.event == "final")
    assert "claims" not in final


def test_openai_compatible_answers_carry_ragline_claims(client: TestClient) -> None:
    body = {"model": "scripted", "rag": {"collection": COLLECTION},
            "messages": [{"role": "user", "content": f"[[say:{FACT}.]] vacation days?"}]}
    reply = client.post("/v1/chat/completions", json=body).json()
    assert [c["supported"] for c in reply["ragline_claims"]] == [True]
    with connect_sse(client, "POST", "/v1/chat/completions",
                     json={**body, "stream": True}) as source:
        chunks = [json.loads(e.data) for e in source.iter_sse() if e.data != "[DONE]"]
    assert chunks[-1]["ragline_claims"] == reply["ragline_claims"]


def test_seed000_end_frame_and_response_end_carry_claims(client: TestClient) -> None:
    question = {"question": f"[[say:{FACT}.]] vacation?", "collection": COLLECTION}
    with connect_sse(client, "POST", "/stream_question", json=question) as source:
        end = next(json.loads(e.data) for e in source.iter_sse() if e.event == "end")
    assert end["sources"] and [c["supported"] for c in end["claims"]] == [True]
    with client.websocket_connect("/ws") as socket:
        socket.send_json({"type": "question", "payload": question["question"],
                          "collection": COLLECTION})
        while (frame := socket.receive_json())["type"] != "response_end":
            assert frame["type"] == "response_chunk"
    assert frame["claims"] == end["claims"]


@pytest.mark.skipif(not available(), reason="tesseract is not installed")
def test_scanned_pdf_ingests_through_ocr_and_answers_with_a_citation(client: TestClient) -> None:
    container = client.app.state.container  # type: ignore[attr-defined]
    stages: list[str] = []
    data = make_scanned_pdf(["The lighthouse keeper logs the lamp", "every evening at nine."])
    _registered, status = client.portal.call(  # type: ignore[union-attr]
        lambda: container.documents.ingest_now(
            container.local_user_id, filename="scan.pdf", data=data, collection=COLLECTION,
            source="scan.pdf", observer=lambda stage, _progress: stages.append(stage)))
    assert status == "ready" and "ocr" in stages
    assert stages.index("ocr") < stages.index("chunking")
    final = final_of(run_events(
        client, "[[json:The lighthouse keeper logs the lamp every evening [1].]] "
                "When does the lighthouse keeper log the lamp?"))
    claim = final["claims"][0]
    cited = final["sources"][claim["sources"][0] - 1]
    assert claim["supported"] and (cited["source"], cited["page"]) == ("scan.pdf", 1)
