"""BM25-style keyword ranking inside the database: SQLite FTS5 `bm25()` or PostgreSQL
`ts_rank_cd` over the generated `tsv` column. Both indexes are maintained incrementally by the
database on every insert and delete; nothing is rebuilt per query.

A query is matched in each language the scope's documents are in (`languages.py`): its words
stemmed for that language and matched only in chunks of it, with that language's stop words
left out. SQLite ranks every language in one FTS5 query (the stemmed forms are tagged with
their language); PostgreSQL ranks each text-search configuration on its own chunks and merges
the rankings, `ts_rank_cd` being the same measure in every configuration. A scope wholly in
English is matched exactly as before languages were told apart.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

from ragline.adapters.index.languages import DEFAULT, fts_term, language
from ragline.adapters.index.stopwords import ENGLISH

MAX_TERMS = 32
STOPWORDS = ENGLISH
_WORD = re.compile(r"\w+(?:\.\w+)*", re.UNICODE)  # dotted names ("node.js") kept whole
_CONFIG_NAME = re.compile(r"^[a-z_]+$")

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
# One configuration's ranking; the configurations' are merged by score (_postgres_ranking).
_POSTGRES = """
SELECT c.id, ts_rank_cd(c.tsv, q.query) AS score
FROM chunks c, to_tsquery('{config}', :{match}) AS q(query)
WHERE c.tsv @@ q.query AND c.language IN :{codes} AND c.collection_id IN :collections {{documents}}
ORDER BY score DESC, c.id LIMIT :limit
"""
_LANGUAGES = """
SELECT DISTINCT d.language FROM documents d
WHERE d.collection_id IN :collections AND d.language IS NOT NULL {documents}
"""


# Per query term, all in one statement each: the first ids holding it, then (for terms found in
# more passages than asked for) its count and which candidates hold it, and the scope's size.
# CROSS JOIN keeps SQLite from probing the FTS index once per chunk of the collection.
_TERM_IDS = {
    True: "SELECT c.id AS id FROM chunks_fts CROSS JOIN chunks c ON c.id = chunks_fts.rowid "
          "WHERE chunks_fts MATCH :{m} AND c.collection_id IN :collections {{documents}}",
    False: "SELECT c.id AS id FROM chunks c WHERE {m} "
           "AND c.collection_id IN :collections {{documents}}",
}
_TERM_AMONG = {
    True: "SELECT rowid AS id FROM chunks_fts WHERE chunks_fts MATCH :{m} AND rowid IN :ids",
    False: "SELECT c.id AS id FROM chunks c WHERE {m} AND c.id IN :ids",
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


@dataclass(frozen=True)
class _Group:
    """Languages whose chunks are matched alike: one PostgreSQL configuration (`key`), or in
    SQLite one stemmed form (`key` the language, '' for the text as is)."""

    key: str
    codes: tuple[str, ...]

    def terms(self, words: Sequence[str]) -> list[str]:
        """What these languages' chunks are searched for: the content words, else (a query
        of stop words) every word."""
        return ([w for w in words if _is_content(w, self.codes)] or list(words))[:MAX_TERMS]


def _groups(languages: Sequence[str], sqlite: bool) -> list[_Group]:
    by_key: dict[str, list[str]] = {}
    for code in sorted(set(languages)) or [DEFAULT]:
        entry = language(code)
        key = (entry.code if entry.stemmer else "") if sqlite else entry.ts_config
        by_key.setdefault(key, []).append(code)
    return [_Group(key, tuple(codes)) for key, codes in by_key.items()]


def _words(query: str) -> list[str]:
    words: list[str] = []
    for word in _WORD.findall(query.lower().replace("_", " ")):
        if "." in word and not word.replace(".", "").isdigit():
            words.append(word)  # "vue.js": one lexeme in PostgreSQL, a phrase in FTS5
        words.extend(word.split("."))
    return list(dict.fromkeys(words))


def _is_content(term: str, languages: Sequence[str]) -> bool:
    """Whether the term is a content word in one of the languages."""
    return any(term not in language(code).stopwords for code in languages or [DEFAULT])


def query_terms(query: str, languages: Sequence[str] = (DEFAULT,)) -> list[str]:
    """Distinct lower-cased words, dropped where they are a stop word in every language of
    the scope unless nothing else is left; a dotted name comes whole and then in its parts (a
    number like 0.1 only in its parts)."""
    distinct = _words(query)
    content = [w for w in distinct if _is_content(w, languages)]
    return (content or distinct)[:MAX_TERMS]


def content_terms(query: str, languages: Sequence[str] = (DEFAULT,)) -> list[str]:
    """The query's words that can tell passages apart: no stop words, at most
    MAX_MATCHED_TERMS."""
    return [t for t in query_terms(query, languages)
            if _is_content(t, languages)][:MAX_MATCHED_TERMS]


def fts5_match(terms: Sequence[str]) -> str:
    """An OR of quoted terms: quoting neutralises FTS5 syntax (AND, NEAR, *, column filters)."""
    return " OR ".join('"' + term.replace('"', '""') + '"' for term in terms)


def tsquery(terms: Sequence[str]) -> str:
    return " | ".join(terms)


def _fts5_forms(searched: Iterable[tuple[_Group, Sequence[str]]]) -> str:
    """Each group's terms in the group's form, OR-ed."""
    return fts5_match(list(dict.fromkeys(
        fts_term(group.key, term) if group.key else term
        for group, terms in searched for term in terms
    )))


async def scope_languages(
    session: AsyncSession, collection_ids: Sequence[str],
    document_ids: Sequence[str] | None = None,
) -> tuple[str, ...]:
    """The languages of the scope's indexed documents (English when it has none yet)."""
    if not collection_ids:
        return (DEFAULT,)
    params: dict[str, object] = {"collections": list(collection_ids)}
    sql = _LANGUAGES.format(documents="AND d.id IN :documents" if document_ids else "")
    if document_ids:
        params["documents"] = list(document_ids)
    rows = await session.execute(_bound(sql, params), params)
    return tuple(sorted(str(row[0]) for row in rows)) or (DEFAULT,)


async def keyword_search(
    session: AsyncSession,
    query: str,
    collection_ids: Sequence[str],
    *,
    limit: int,
    document_ids: Sequence[str] | None = None,
    sqlite: bool,
    languages: Sequence[str] = (DEFAULT,),
) -> list[tuple[int, float]]:
    """Best-first (chunk id, score) pairs; higher scores are better in both dialects.
    `languages`: those of the scope (`scope_languages`)."""
    words = _words(query)
    if not words or not collection_ids:
        return []
    groups = _groups(languages, sqlite)
    params: dict[str, object] = {
        "collections": list(collection_ids),
        "limit": limit,
        "pool": limit * FAST_POOL_FACTOR,
    }
    if document_ids:
        params["documents"] = list(document_ids)
    if not sqlite:
        return await _postgres_ranking(session, words, groups, params)
    params["match"] = _fts5_forms((g, g.terms(words)) for g in groups)
    if not document_ids:
        found = await _run(session, _SQLITE_FAST, params)
        if len(found) == limit:
            return found
        total = await session.scalar(
            text("SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH :match"),
            {"match": params["match"]},
        )
        if int(total or 0) <= limit * FAST_POOL_FACTOR:  # the fast path saw every match
            return found
    return await _run(session, _SQLITE, params)


def _config(group: _Group) -> str:
    if not _CONFIG_NAME.match(group.key):  # names come from LANGUAGES, never from a request
        raise ValueError(f"not a text-search configuration: {group.key!r}")
    return group.key


async def _postgres_ranking(
    session: AsyncSession, words: Sequence[str], groups: Sequence[_Group],
    params: dict[str, object],
) -> list[tuple[int, float]]:
    parts: list[str] = []
    for g, group in enumerate(groups):
        params[f"m{g}"], params[f"codes{g}"] = tsquery(group.terms(words)), list(group.codes)
        parts.append(_POSTGRES.format(config=_config(group), match=f"m{g}", codes=f"codes{g}"))
    if len(parts) == 1:
        return await _run(session, parts[0], params)
    merged = " UNION ALL ".join(f"({part})" for part in parts)
    return await _run(session, f"SELECT id, score FROM ({merged}) AS k "
                               "ORDER BY score DESC, id LIMIT :limit", params)


def _term_conditions(
    terms: Sequence[str], groups: Sequence[_Group], sqlite: bool
) -> tuple[list[str], dict[str, object]]:
    """Per term, what `_TERM_IDS`/`_TERM_AMONG` put in `{m}`, and its parameters: the FTS5
    match's name in SQLite, the OR of its configurations' matches in PostgreSQL."""
    params: dict[str, object] = {}
    conditions: list[str] = []
    for i, term in enumerate(terms):
        if sqlite:
            params[f"m{i}"] = _fts5_forms((g, [term]) for g in groups if _is_content(term, g.codes))
            conditions.append(f"m{i}")
            continue
        ors = []
        for g, group in enumerate(groups):
            if _is_content(term, group.codes):
                params[f"m{i}_{g}"], params[f"codes{g}"] = term, list(group.codes)
                ors.append(f"(c.language IN :codes{g} "
                           f"AND c.tsv @@ to_tsquery('{_config(group)}', :m{i}_{g}))")
        conditions.append("(" + " OR ".join(ors) + ")")
    return conditions, params


async def term_matches(
    session: AsyncSession,
    query: str,
    collection_ids: Sequence[str],
    *,
    cap: int,
    candidates: Sequence[int],
    document_ids: Sequence[str] | None = None,
    sqlite: bool,
    languages: Sequence[str] = (DEFAULT,),
) -> tuple[list[TermMatches], int]:
    """Each content term of the query that occurs in the scope (the database's stemming
    applies), and how many passages the scope holds. A term found nowhere (a question's "speaks"
    in a list of languages) is left out: it cannot tell passages apart."""
    terms = content_terms(query, languages)
    if not terms or not collection_ids:
        return [], 0
    scope: dict[str, object] = {"collections": list(collection_ids)}
    if document_ids:
        scope["documents"] = list(document_ids)
    conditions, matches = _term_conditions(terms, _groups(languages, sqlite), sqlite)
    first = " UNION ALL ".join(
        f"SELECT {i} AS term, t{i}.id FROM ({_TERM_IDS[sqlite].format(m=conditions[i])} "
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
        second.append(f"SELECT {i}, 0, count(*) FROM ({_TERM_IDS[sqlite].format(m=conditions[i])}) "
                      f"AS n{i}")
        if candidates:
            second.append(f"SELECT {i}, 1, a{i}.id FROM "
                          f"({_TERM_AMONG[sqlite].format(m=conditions[i])}) AS a{i}")
    params: dict[str, object] = {**scope, **matches}
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
    sql = template.format(documents=documents)
    used = {name: value for name, value in params.items() if re.search(f":{name}\\b", sql)}
    return list(await session.execute(_bound(sql, used), used))


def _bound(sql: str, params: dict[str, object]) -> Any:
    """The statement, with its list parameters expanding (`IN :collections`)."""
    statement = text(sql)
    for name, value in params.items():
        if isinstance(value, list):
            statement = statement.bindparams(bindparam(name, expanding=True))
    return statement


async def _run(
    session: AsyncSession, template: str, params: dict[str, object]
) -> list[tuple[int, float]]:
    return [(int(row[0]), float(row[1])) for row in await _rows(session, template, params)]
