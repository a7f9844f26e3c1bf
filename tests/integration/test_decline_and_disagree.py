"""Answers that ragline shapes itself (issue 24), through the real app with the scripted model
and the local embedder: a question no passage matches declines without the model, and passages
from two documents that give different values end the answer with a note citing both."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ragline.services.prompt_layout import DECLINE
from ragline.web.app import create_app
from tests.integration.documents_support import settings_for
from tests.integration.test_claims_api import final_of, run_events

COLLECTION = "claims"  # what test_claims_api.run_events asks in
NOTES = {
    "ops-2023.md": b"# Billing notes (2023)\n\nThe nightly snapshot of the billing ledger is "
                   b"kept for 14 days before it is deleted.",
    "ops-2024.md": b"# Billing notes (2024)\n\nThe nightly snapshot of the billing ledger is "
                   b"kept for 45 days before it is deleted.",
}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    root: Path = tmp_path_factory.mktemp("disagree")
    settings = settings_for(f"sqlite+aiosqlite:///{root / 'ragline.db'}", root / "data",
                            default_model="scripted")
    with TestClient(create_app(settings)) as test_client:
        jobs = []
        for name, data in NOTES.items():
            upload = test_client.post("/api/documents", files={"file": (name, data)},
                                      data={"collection": COLLECTION})
            assert upload.status_code == 202, upload.text
            jobs.append(upload.json()["job_id"])
        deadline = time.monotonic() + 120
        for job in jobs:
            while test_client.get(f"/api/jobs/{job}").json()["status"] != "ready":
                assert time.monotonic() < deadline
                time.sleep(0.1)
        yield test_client


def test_a_question_about_a_name_no_passage_mentions_declines_without_the_model(
    client: TestClient,
) -> None:
    log = run_events(client, "How long does Oracle Real Application Clusters keep the nightly "
                             "snapshot? [[say:It keeps it for 90 days.]]")
    final = final_of(log)
    assert final["content"] == DECLINE and final["sources"] == []
    assert not any(e == "status" and d.get("stage") == "reading" for e, d in log)


def test_passages_that_disagree_end_the_answer_with_a_note_citing_both(
    client: TestClient,
) -> None:
    final = final_of(run_events(
        client, "How long is the nightly snapshot of the billing ledger kept? "
                "[[say:The nightly snapshot is kept for a while.]]"))
    content = final["content"]
    names = {s["title"]: n for n, s in enumerate(final["sources"], start=1)}
    first, second = names["Billing notes (2023)"], names["Billing notes (2024)"]
    assert content.endswith(f"says 14 days [{first}], and Billing notes (2024) says 45 days "
                            f"[{second}].") or content.endswith(
        f"says 45 days [{second}], and Billing notes (2023) says 14 days [{first}].")
    assert "\n\nNote: the documents disagree here: " in content
    note = final["claims"][-1]
    assert note["supported"] and sorted(note["sources"]) == sorted([first, second])
