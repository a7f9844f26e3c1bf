"""Keyword search per language (issue 21) through the real app on SQLite and PostgreSQL: a
German query finds a German passage by another inflection of its words, English results are
what they are without the German documents, and migration 0013 turns an existing index into an
English one that still finds what it found."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from ragline.adapters.db.database import Database
from ragline.adapters.db.migrate import alembic_config, upgrade
from ragline.adapters.index.keyword import keyword_search
from ragline.web.app import create_app
from tests.conftest import BACKENDS, create_pg_database, drop_pg_database
from tests.integration.documents_support import settings_for

# "Dateien löschen", never "Datei" nor "gelöscht": a query with those finds it by its stems.
GERMAN = {
    "dateien.txt": "Dateien löschen. Um Dateien zu löschen, öffnen Sie den Dateimanager, "
                   "markieren Sie die Dateien und drücken Sie die Entfernen-Taste. Der "
                   "Papierkorb bewahrt sie dreißig Tage lang auf.",
    "drucker.txt": "Drucker einrichten. Schließen Sie den Drucker an, warten Sie, bis das "
                   "Betriebssystem ihn erkennt, und wählen Sie ihn dann als Standarddrucker.",
}
ENGLISH = {
    "files.txt": "Deleting files. To delete files, open the file manager, select the files and "
                 "press the Delete key. The trash keeps deleted files for thirty days.",
    "printers.txt": "Setting up a printer. Connect the printer, wait until the operating system "
                    "recognises it, then choose it as the default printer.",
    "network.txt": "Network drives. A network drive is mapped from the file manager; files on "
                   "it are deleted at once, without the trash.",
}
ENGLISH_QUERIES = ["deleted file", "How do I delete files?", "printers", "the trash",
                   "what is it"]


@pytest.fixture(scope="module", params=BACKENDS)
def client(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[TestClient]:
    """The app with collection `mixed` (German and English documents) and `english` (the same
    English documents alone)."""
    data = tmp_path_factory.mktemp(f"languages-{request.param}")
    pg = create_pg_database() if request.param == "postgres" else None
    url = pg.url if pg else f"sqlite+aiosqlite:///{data / 'ragline.db'}"
    try:
        with TestClient(create_app(settings_for(url, Path(data), default_model="scripted"))
                        ) as test_client:
            for collection, docs in (("mixed", {**GERMAN, **ENGLISH}), ("english", ENGLISH)):
                assert test_client.post("/api/collections", json={"name": collection}
                                        ).status_code == 201
                for name, body in docs.items():
                    _upload(test_client, collection, name, body)
            yield test_client
    finally:
        if pg is not None:
            drop_pg_database(pg)


def _upload(client: TestClient, collection: str, name: str, body: str) -> None:
    posted = client.post("/api/documents", data={"collection": collection},
                         files={"file": (name, body.encode(), "text/plain")})
    assert posted.status_code == 202, posted.text
    job = posted.json()["job_id"]
    deadline = time.monotonic() + 60
    while (status := client.get(f"/api/jobs/{job}").json()["status"]) not in ("ready", "failed"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert status == "ready"


def _search(client: TestClient, query: str, collection: str, mode: str = "bm25"
            ) -> list[dict[str, Any]]:
    found = client.post("/api/search", json={"query": query, "collection": collection,
                                             "mode": mode, "top_k": 10})
    assert found.status_code == 200, found.text
    return list(found.json()["results"])


def test_each_document_shows_its_detected_language(client: TestClient) -> None:
    items = client.get("/api/documents", params={"collection": "mixed"}).json()["items"]
    assert {d["source"]: d["language"] for d in items} == {
        **dict.fromkeys(GERMAN, "de"), **dict.fromkeys(ENGLISH, "en")}
    one = client.get(f"/api/documents/{items[0]['document_id']}").json()
    assert one["language"] == items[0]["language"]


@pytest.mark.parametrize("query", ["Datei gelöscht", "Wie lösche ich Dateien?", "Datei"])
def test_a_german_query_finds_the_german_passage_by_another_inflection(
    client: TestClient, query: str
) -> None:
    hits = _search(client, query, "mixed")
    assert hits and hits[0]["source"] == "dateien.txt"
    assert "drucker.txt" not in {h["source"] for h in hits}
    assert _search(client, query, "mixed", "hybrid")[0]["source"] == "dateien.txt"


@pytest.mark.parametrize("query", ENGLISH_QUERIES)
def test_english_results_are_the_same_with_german_documents_beside_them(
    client: TestClient, query: str
) -> None:
    alone = [(h["source"], h["score"]) for h in _search(client, query, "english")]
    mixed = [(h["source"], h["score"]) for h in _search(client, query, "mixed")
             if h["source"] in ENGLISH]
    assert mixed == alone


def test_english_keeps_porter_stemming(client: TestClient) -> None:
    assert _search(client, "deleting", "english")[0]["source"] == "files.txt"
    assert {h["source"] for h in _search(client, "printers", "english")} == {"printers.txt"}


# Migration 0013 on a database indexed before it.

_NOW = datetime(2025, 1, 1, tzinfo=UTC)
_ROWS = [
    ("INSERT INTO users (id, name, is_admin, created_at) VALUES ('u1', 'old', false, :now)"),
    ("INSERT INTO collections (id, owner_id, name, version, created_at) "
     "VALUES ('c1', 'u1', 'default', 1, :now)"),
    ("INSERT INTO documents (id, collection_id, owner_id, source, filename, content_type, "
     "content_hash, size, status, pages, chunks, created_at, updated_at) VALUES ('d1', 'c1', "
     "'u1', 'files.txt', 'files.txt', 'text/plain', 'h1', 10, 'ready', 1, 1, :now, :now)"),
    ("INSERT INTO chunks (document_id, collection_id, ord, text, heading) "
     "VALUES ('d1', 'c1', 0, 'Deleting files from the file manager', 'Files')"),
]


async def _old_index(url: str) -> None:
    await asyncio.to_thread(upgrade, url, "0012_thread_links")
    db = Database(url)
    try:
        async with db.session() as session:
            for statement in _ROWS:
                await session.execute(text(statement), {"now": _NOW})
    finally:
        await db.dispose()


async def _languages_and_hits(url: str) -> tuple[list[Any], list[tuple[int, float]]]:
    db = Database(url)
    try:
        async with db.session() as session:
            rows = list(await session.execute(text(
                "SELECT d.language, c.language FROM documents d JOIN chunks c "
                "ON c.document_id = d.id")))
            hits = await keyword_search(session, "deleted files", ["c1"], limit=5,
                                        sqlite=db.is_sqlite, languages=("en",))
            return [tuple(r) for r in rows], hits
    finally:
        await db.dispose()


async def test_migration_makes_an_existing_index_english_and_keeps_finding_it(
    database_url: str,
) -> None:
    from alembic import command

    await _old_index(database_url)
    await asyncio.to_thread(upgrade, database_url)
    languages, hits = await _languages_and_hits(database_url)
    assert languages == [("en", "en")]
    assert [chunk_id for chunk_id, _ in hits] == [1]
    await asyncio.to_thread(command.downgrade, alembic_config(database_url), "0012_thread_links")
    await asyncio.to_thread(upgrade, database_url)  # and back: the index is rebuilt each way
    assert (await _languages_and_hits(database_url))[1] == hits
