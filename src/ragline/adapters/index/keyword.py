"""BM25-style keyword ranking inside the database: SQLite FTS5 `bm25()` or PostgreSQL
`ts_rank_cd` over the generated `tsv` column. Both indexes are maintained incrementally by the
database on every insert and delete; nothing is rebuilt per query."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

MAX_TERMS = 32
STOPWORDS = frozenset(
    "a an and are as at be but by can do does for from had has have how i if in into is it its "
    "me my no not of on or our so such that the their them then there these they this to was "
    "we were what when where which who why will with you your".split()
)
_WORD = re.compile(r"\w+(?:\.\w+)*", re.UNICODE)  # dotted names ("node.js", "3.5") kept whole

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


_SQLITE_TERM = """
SELECT c.id FROM chunks_fts JOIN chunks c ON c.id = chunks_fts.rowid
WHERE chunks_fts MATCH :match AND c.collection_id IN :collections {documents}
LIMIT :limit
"""
_POSTGRES_TERM = """
SELECT c.id FROM chunks c
WHERE c.tsv @@ to_tsquery('english', :match) AND c.collection_id IN :collections {documents}
LIMIT :limit
"""
_SQLITE_TERM_COUNT = """
SELECT count(*) FROM chunks_fts JOIN chunks c ON c.id = chunks_fts.rowid
WHERE chunks_fts MATCH :match AND c.collection_id IN :collections {documents}
"""
_POSTGRES_TERM_COUNT = """
SELECT count(*) FROM chunks c
WHERE c.tsv @@ to_tsquery('english', :match) AND c.collection_id IN :collections {documents}
"""
_SQLITE_TERM_AMONG = """
SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH :match AND rowid IN :ids
"""
_POSTGRES_TERM_AMONG = """
SELECT c.id FROM chunks c WHERE c.tsv @@ to_tsquery('english', :match) AND c.id IN :ids
"""
_COUNT = "SELECT count(*) FROM chunks c WHERE c.collection_id IN :collections {documents}"
MAX_MATCHED_TERMS = 8  # terms looked up one by one; the rest of a long query is left to BM25


@dataclass(frozen=True)
class TermMatches:
    """One query term: in how many passages of the scope it occurs, and which of them hold it:
    all of them when it occurs in at most the `cap` asked for, else those among the candidates
    passed in."""

    term: str
    count: int
    ids: frozenset[int]


def query_terms(query: str) -> list[str]:
    """Distinct lower-cased words, stopwords dropped unless nothing else is left; a dotted
    name comes whole and then in its parts."""
    words: list[str] = []
    for word in _WORD.findall(query.lower().replace("_", " ")):
        if "." in word:  # "vue.js": one lexeme in PostgreSQL, the phrase "vue js" in FTS5
            words.append(word)
        words.extend(word.split("."))
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


async def term_matches(
    session: AsyncSession,
    query: str,
    collection_ids: Sequence[str],
    *,
    cap: int,
    candidates: Sequence[int],
    document_ids: Sequence[str] | None = None,
    sqlite: bool,
) -> tuple[list[TermMatches], int]:
    """Each content term of the query that occurs in the scope (the database's stemming
    applies), and how many passages the scope holds. A term found nowhere (a question's "speaks"
    in a list of languages) is left out: it cannot tell passages apart."""
    terms = [t for t in query_terms(query) if t not in STOPWORDS][:MAX_MATCHED_TERMS]
    if not terms or not collection_ids:
        return [], 0
    scope: dict[str, object] = {"collections": list(collection_ids)}
    if document_ids:
        scope["documents"] = list(document_ids)
    found: list[TermMatches] = []
    for term in terms:
        match = fts5_match([term]) if sqlite else tsquery([term])
        ids = await _ids(session, _SQLITE_TERM if sqlite else _POSTGRES_TERM,
                         {**scope, "match": match, "limit": cap + 1})
        if len(ids) <= cap:
            if ids:
                found.append(TermMatches(term, len(ids), frozenset(ids)))
            continue
        count = await _ids(session, _SQLITE_TERM_COUNT if sqlite else _POSTGRES_TERM_COUNT,
                           {**scope, "match": match})
        among = await _ids(session, _SQLITE_TERM_AMONG if sqlite else _POSTGRES_TERM_AMONG,
                           {"match": match, "ids": list(candidates)}) if candidates else []
        found.append(TermMatches(term, count[0], frozenset(among)))
    if not found:
        return [], 0
    total = await _ids(session, _COUNT, scope)
    return found, total[0]


async def _ids(session: AsyncSession, template: str, params: dict[str, object]) -> list[int]:
    """The first column of every row, as ints (ids, or a single count)."""
    return [chunk_id for chunk_id, _ in await _run(session, template, params, columns=1)]


async def _run(
    session: AsyncSession, template: str, params: dict[str, object], *, columns: int = 2
) -> list[tuple[int, float]]:
    documents = "AND c.document_id IN :documents" if "documents" in params else ""
    statement = text(template.format(documents=documents))
    for name in ("collections", "ids"):
        if name in params:
            statement = statement.bindparams(bindparam(name, expanding=True))
    if "documents" in params:
        statement = statement.bindparams(bindparam("documents", expanding=True))
    rows = await session.execute(statement, params)
    return [(int(row[0]), float(row[1]) if columns == 2 else 0.0) for row in rows]
