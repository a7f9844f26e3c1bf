"""Keyword search per language (issue 21): query latency on an English collection and on a
mixed one (English, German, French), against the single-language query of before.

Synthetic chunks (words drawn Zipf-like from a vocabulary per language) are written through
the real index store, so SQLite gets its stemmed copies and PostgreSQL its per-configuration
`tsv`. Timed per query: the scope's languages (`scope_languages`, one read of `documents`),
then `keyword_search`; "before" is the English-only statement that ran before migration 0013
(PostgreSQL: no language filter; SQLite: the same FTS5 query without the languages read).

    python bench/bench_keyword_languages.py [--database-url URL] [--chunks 60000] [--queries 200]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from sqlalchemy import text

from ragline.adapters.db.database import Database
from ragline.adapters.db.migrate import upgrade
from ragline.adapters.db.tables import Collection, Document, User
from ragline.adapters.index.keyword import (
    _run,
    keyword_search,
    query_terms,
    scope_languages,
    tsquery,
)
from ragline.adapters.index.store import insert_chunks
from ragline.services.chunking import ChunkDraft

WORDS = {
    "en": "file files delete deleted deleting folder folders printer printers network drive "
          "drives user users password passwords backup backups restore restored server servers "
          "connect connection connections setting settings install installed update updates "
          "window windows screen keyboard mouse disk disks memory storage cloud account",
    "de": "Datei Dateien löschen gelöscht Ordner Drucker Netzwerk Laufwerk Laufwerke Benutzer "
          "Passwort Passwörter Sicherung Sicherungen wiederherstellen Server verbinden "
          "Verbindung Einstellung Einstellungen installieren installiert Aktualisierung Fenster "
          "Bildschirm Tastatur Maus Festplatte Speicher Wolke Konto",
    "fr": "fichier fichiers supprimer supprimé dossier dossiers imprimante réseau lecteur "
          "utilisateur utilisateurs mot passe sauvegarde sauvegardes restaurer serveur "
          "connecter connexion réglage réglages installer installé mise jour fenêtre écran "
          "clavier souris disque mémoire stockage nuage compte",
}
GLUE = {"en": "the a and of to is in for with", "de": "der die das und zu ist im für mit",
        "fr": "le la les et de est dans pour avec"}
DOC_CHUNKS = 50
WORDS_PER_CHUNK = 120


def chunk_text(rng: random.Random, language: str) -> str:
    vocabulary = WORDS[language].split() + [f"{language}term{i}" for i in range(3000)]
    glue = GLUE[language].split()
    weights = [1 / (rank + 1) for rank in range(len(vocabulary))]
    content = rng.choices(vocabulary, weights, k=WORDS_PER_CHUNK * 2 // 3)
    return " ".join(content + rng.choices(glue, k=WORDS_PER_CHUNK // 3))


async def fill(db: Database, name: str, mix: dict[str, int], rng: random.Random) -> str:
    async with db.session() as session:
        owner = await session.scalar(text("SELECT id FROM users LIMIT 1"))
        if owner is None:
            user = User(name="bench")
            session.add(user)
            await session.flush()
            owner = user.id
        collection = Collection(owner_id=owner, name=name, version=1)
        session.add(collection)
        await session.flush()
        collection_id = collection.id
    for language, count in mix.items():
        for start in range(0, count, DOC_CHUNKS):
            drafts = [ChunkDraft(ord=i, text=chunk_text(rng, language), page=None,
                                 heading_path=())
                      for i in range(min(DOC_CHUNKS, count - start))]
            async with db.session() as session:
                document = Document(collection_id=collection_id, owner_id=owner,
                                    source=f"{language}-{start}", filename="x.txt",
                                    content_type="text/plain", content_hash=f"{language}{start}",
                                    status="ready", chunks=len(drafts), language=language)
                session.add(document)
                await session.flush()
                await insert_chunks(session, document_id=document.id, collection_id=collection_id,
                                    drafts=drafts, vectors=np.zeros((len(drafts), 4), np.float32),
                                    language=language)
    return collection_id


_BEFORE_POSTGRES = """
SELECT c.id, ts_rank_cd(c.tsv, q.query) AS score
FROM chunks c, to_tsquery('english', :match) AS q(query)
WHERE c.tsv @@ q.query AND c.collection_id IN :collections {documents}
ORDER BY score DESC, c.id LIMIT :limit
"""


async def timed(db: Database, collection_id: str, queries: list[str], before: bool
                ) -> tuple[float, float, float]:
    """p50, p99 of the whole search and p50 of the languages read, in ms."""
    totals, reads = [], []
    for query in queries:
        async with db.session() as session:
            started = time.perf_counter()
            if before and not db.is_sqlite:
                await _run(session, _BEFORE_POSTGRES, {
                    "match": tsquery(query_terms(query)), "collections": [collection_id],
                    "limit": 50})
                read = 0.0
            else:
                languages: tuple[str, ...] = ("en",)
                if not before:
                    languages = await scope_languages(session, [collection_id])
                read = time.perf_counter() - started
                await keyword_search(session, query, [collection_id], limit=50,
                                     sqlite=db.is_sqlite, languages=languages)
            totals.append(time.perf_counter() - started)
            reads.append(read)
    totals.sort()
    reads.sort()
    return (1000 * totals[len(totals) // 2], 1000 * totals[int(len(totals) * 0.99)],
            1000 * reads[len(reads) // 2])


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--chunks", type=int, default=60000)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    url = args.database_url or (
        f"sqlite+aiosqlite:///{tempfile.mkdtemp(prefix='bench-langs-')}/ragline.db")
    await asyncio.to_thread(upgrade, url)
    db = Database(url)
    rng = random.Random(7)
    try:
        started = time.perf_counter()
        half = args.chunks // 2
        english = await fill(db, "english", {"en": half}, rng)
        mixed = await fill(db, "mixed", {"en": half // 2, "de": half // 4, "fr": half // 4}, rng)
        print(f"{args.chunks} chunks written in {time.perf_counter() - started:.0f} s "
              f"({'SQLite' if db.is_sqlite else 'PostgreSQL'})")
        queries = {language: [" ".join(rng.sample(WORDS[language].split(), 3))
                              for _ in range(args.queries)] for language in WORDS}
        for label, collection, language, before in [
            ("english collection, before (English only)", english, "en", True),
            ("english collection, per language", english, "en", False),
            ("mixed collection, English queries", mixed, "en", False),
            ("mixed collection, German queries", mixed, "de", False),
            ("mixed collection, French queries", mixed, "fr", False),
        ]:
            await timed(db, collection, queries[language][:20], before)  # warm
            p50, p99, read = await timed(db, collection, queries[language], before)
            print(f"{label:44} p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  (languages read p50 "
                  f"{read:.2f} ms)")
    finally:
        await db.dispose()


if __name__ == "__main__":
    asyncio.run(main())
