"""BM25-style keyword ranking inside the database: SQLite FTS5 `bm25()` or PostgreSQL
`ts_rank_cd` over the generated `tsv` column. Both indexes are maintained incrementally by the
database on every insert and delete; nothing is rebuilt per query."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

MAX_TERMS = 32
STOPWORDS = frozenset(
    "a an and are as at be but by can do does for from had has have how i if in into is it its "
    "me my no not of on or our so such that the their them then there these they this to was "
    "we were what when where which who why will with you your".split()
)
_WORD = re.compile(r"\w+(?:\.\w+)*", re.UNICODE)  # dotted names ("node.js") kept whole

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


# Per query term, all in one statement each: the first ids holding it, then (for terms found in
# more passages than asked for) its count and which candidates hold it, and the scope's size.
# CROSS JOIN keeps SQLite from probing the FTS index once per chunk of the collection.
_TERM_IDS = {
    True: "SELECT c.id AS id FROM chunks_fts CROSS JOIN chunks c ON c.id = chunks_fts.rowid "
          "WHERE chunks_fts MATCH :{m} AND c.collection_id IN :collections {{documents}}",
    False: "SELECT c.id AS id FROM chunks c WHERE c.tsv @@ to_tsquery('english', :{m}) "
           "AND c.collection_id IN :collections {{documents}}",
}
_TERM_AMONG = {
    True: "SELECT rowid AS id FROM chunks_fts WHERE chunks_fts MATCH :{m} AND rowid IN :ids",
    False: "SELECT c.id AS id FROM chunks c WHERE c.tsv @@ to_tsquery('english', :{m}) "
           "AND c.id IN :ids",
}
MAX_MATCHED_TERMS = 8  # the rest of a long query is left to BM25


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
    name comes whole and then in its parts (a number like 0.1 only in its parts)."""
    words: list[str] = []
    for word in _WORD.findall(query.lower().replace("_", " ")):
        if "." in word and not word.replace(".", "").isdigit():
            words.append(word)  # "vue.js": one lexeme in PostgreSQL, a phrase in FTS5
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
    matches = {f"m{i}": fts5_match([t]) if sqlite else tsquery([t]) for i, t in enumerate(terms)}
    first = " UNION ALL ".join(
        f"SELECT {i} AS term, t{i}.id FROM ({_TERM_IDS[sqlite].format(m=f'm{i}')} "
        f"LIMIT :limit) AS t{i}" for i in range(len(terms))
    )
    held: dict[int, list[int]] = {i: [] for i in range(len(terms))}
    for term, chunk_id in await _rows(session, first, {**scope, **matches, "limit": cap + 1}):
        held[int(term)].append(int(chunk_id))
    if not any(held.values()):
        return [], 0
    common = [i for i, ids in held.items() if len(ids) > cap]
    second = ["SELECT -1 AS term, 0 AS kind, count(*) AS n FROM chunks c "
              "WHERE c.collection_id IN :collections {documents}"]
    for i in common:
        second.append(f"SELECT {i}, 0, count(*) FROM ({_TERM_IDS[sqlite].format(m=f'm{i}')}) "
                      f"AS n{i}")
        if candidates:
            second.append(f"SELECT {i}, 1, a{i}.id FROM "
                          f"({_TERM_AMONG[sqlite].format(m=f'm{i}')}) AS a{i}")
    params: dict[str, object] = {**scope, **{f"m{i}": matches[f"m{i}"] for i in common}}
    if common and candidates:
        params["ids"] = list(candidates)
    total, counts = 0, dict.fromkeys(common, 0)
    among: dict[int, set[int]] = {i: set() for i in common}
    for term, kind, value in await _rows(session, " UNION ALL ".join(second), params):
        if int(term) < 0:
            total = int(value)
        elif int(kind) == 0:
            counts[int(term)] = int(value)
        else:
            among[int(term)].add(int(value))
    found = [TermMatches(terms[i], len(ids), frozenset(ids))
             for i, ids in held.items() if 0 < len(ids) <= cap]
    found += [TermMatches(terms[i], counts[i], frozenset(among[i])) for i in common]
    return (found, total) if found else ([], 0)


async def _rows(session: AsyncSession, template: str, params: dict[str, object]) -> list[Any]:
    documents = "AND c.document_id IN :documents" if "documents" in params else ""
    statement = text(template.format(documents=documents))
    for name in ("collections", "documents", "ids"):
        if name in params:
            statement = statement.bindparams(bindparam(name, expanding=True))
    return list(await session.execute(statement, params))


async def _run(
    session: AsyncSession, template: str, params: dict[str, object]
) -> list[tuple[int, float]]:
    return [(int(row[0]), float(row[1])) for row in await _rows(session, template, params)]
