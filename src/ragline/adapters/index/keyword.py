"""BM25-style keyword ranking inside the database: SQLite FTS5 `bm25()` or PostgreSQL
`ts_rank_cd` over the generated `tsv` column. Both indexes are maintained incrementally by the
database on every insert and delete; nothing is rebuilt per query."""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

MAX_TERMS = 32
STOPWORDS = frozenset(
    "a an and are as at be but by can do does for from had has have how i if in into is it its "
    "me my no not of on or our so such that the their them then there these they this to was "
    "we were what when where which who why will with you your".split()
)
_WORD = re.compile(r"\w+", re.UNICODE)

# Fast path: rank the whole index without touching `chunks`, then filter the best few hundred.
# It misses only when the scope is a small part of a big index; then the exact join runs.
_SQLITE_FAST = """
SELECT c.id, -f.score FROM (
  SELECT rowid, bm25(chunks_fts) AS score FROM chunks_fts
  WHERE chunks_fts MATCH :match ORDER BY score LIMIT :pool
) AS f JOIN chunks c ON c.id = f.rowid
WHERE c.collection_id IN :collections {documents}
ORDER BY f.score LIMIT :limit
"""
_SQLITE = """
SELECT c.id, -bm25(chunks_fts) AS score
FROM chunks_fts JOIN chunks c ON c.id = chunks_fts.rowid
WHERE chunks_fts MATCH :match AND c.collection_id IN :collections {documents}
ORDER BY score DESC LIMIT :limit
"""
FAST_POOL_FACTOR = 8
_POSTGRES = """
SELECT c.id, ts_rank_cd(c.tsv, q.query) AS score
FROM chunks c, to_tsquery('english', :match) AS q(query)
WHERE c.tsv @@ q.query AND c.collection_id IN :collections {documents}
ORDER BY score DESC, c.id LIMIT :limit
"""


def query_terms(query: str) -> list[str]:
    """Distinct lower-cased words, stopwords dropped unless nothing else is left."""
    words = [w for w in _WORD.findall(query.lower().replace("_", " "))]
    distinct = list(dict.fromkeys(words))
    content = [w for w in distinct if w not in STOPWORDS]
    return (content or distinct)[:MAX_TERMS]


def fts5_match(terms: Sequence[str]) -> str:
    """An OR of quoted terms: quoting neutralises FTS5 syntax (AND, NEAR, *, column filters)."""
    return " OR ".join('"' + term.replace('"', '""') + '"' for term in terms)


def tsquery(terms: Sequence[str]) -> str:
    return " | ".join(terms)


async def keyword_search(
    session: AsyncSession,
    query: str,
    collection_ids: Sequence[str],
    *,
    limit: int,
    document_ids: Sequence[str] | None = None,
    sqlite: bool,
) -> list[tuple[int, float]]:
    """Best-first (chunk id, score) pairs; higher scores are better in both dialects."""
    terms = query_terms(query)
    if not terms or not collection_ids:
        return []
    params: dict[str, object] = {
        "match": fts5_match(terms) if sqlite else tsquery(terms),
        "collections": list(collection_ids),
        "limit": limit,
        "pool": limit * FAST_POOL_FACTOR,
    }
    if document_ids:
        params["documents"] = list(document_ids)
    if sqlite and not document_ids:
        found = await _run(session, _SQLITE_FAST, params)
        if len(found) == limit:
            return found
        total = await session.scalar(
            text("SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH :match"),
            {"match": params["match"]},
        )
        if int(total or 0) <= limit * FAST_POOL_FACTOR:  # the fast path saw every match
            return found
    return await _run(session, _SQLITE if sqlite else _POSTGRES, params)


async def _run(
    session: AsyncSession, template: str, params: dict[str, object]
) -> list[tuple[int, float]]:
    documents = "AND c.document_id IN :documents" if "documents" in params else ""
    statement = text(template.format(documents=documents)).bindparams(
        bindparam("collections", expanding=True)
    )
    if "documents" in params:
        statement = statement.bindparams(bindparam("documents", expanding=True))
    rows = await session.execute(statement, params)
    return [(int(row[0]), float(row[1])) for row in rows]
