"""Claims with sources: each sentence of a finished answer checked against the passages the
model was given, by embedding similarity (the local embedder) plus lexical overlap.

No second model call: one batch encode of the answer's sentences and the passages (passage
vectors are cached by text; passages recur within a thread), then numpy. `[n]` markers the
model wrote are kept when passage n supports the sentence, replaced by the best passage when
another one does, and dropped when none does. `final.content` itself is never rewritten (its
tokens were already streamed, and docs/api.md §1 promises that they add up to it), so the checked
numbers live in `claims[].sources` only.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ragline.adapters.embed import Embedder
from ragline.services.claim_text import (
    Sentence,
    content_terms,
    key_tokens,
    passage_tokens,
    split_sentences,
    strip_markers,
)

log = logging.getLogger(__name__)
PASSAGE_CACHE = 2048  # passage vectors kept, by text
ENCODE_BATCH = 4
IndexVectors = Callable[[list[str]], dict[str, np.ndarray]]  # chunk id -> its index vector


@dataclass(frozen=True)
class Thresholds:
    """score(claim, passage) = similarity_weight * cosine + (1 - similarity_weight) * overlap.

    cosine: all-MiniLM-L6-v2 similarity of the claim and the passage (under its title and
    heading). It gives ~0.0-0.3 for unrelated text and 0.5-0.8 for a sentence the passage
    states; it cannot tell a restatement from a same-topic sentence with other facts.
    overlap: the share of the claim's content words that occur in the passage; it separates
    those, and catches sentences that borrow the topic but add facts (scored ~0.3-0.5).
    Numbers and identifiers must occur in the passage at all (see `Evidence.scores`).

    Calibrated with bench/bench_claims.py on eval/claims_labels.jsonl (73 hand-labelled
    sentences, 27 of them wrong or unsupported): F1 of `supported` is flat at 0.93-0.94 for
    weights 0.3-0.6 with the cut at 0.52-0.54, so the middle is taken; below the cut
    hallucinated-but-on-topic sentences (0.45-0.52) get through, above it short restatements
    start to fail. Per-sentence passage vectors scored the same (leave-one-question-out F1
    0.88 vs 0.90) at several times the encoding cost, so a passage is one vector.
    """

    similarity_weight: float = 0.5
    supported: float = 0.52  # at or above: the passage supports the claim
    # A claim needs at least this many content words to be checked at all: "Sure!" has none,
    # "For example, [2]" (a real answer's fragment) one.
    min_terms: int = 2


@dataclass(frozen=True)
class Claim:
    text: str
    start: int
    end: int
    sources: list[int]
    supported: bool
    score: float

    def as_dict(self) -> dict[str, Any]:
        return {"text": self.text, "start": self.start, "end": self.end,
                "sources": self.sources, "supported": self.supported, "score": self.score}


@dataclass(frozen=True)
class _Passage:
    units: list[str]  # its sentences
    terms: set[str]
    lowered: str


def passage_text(source: dict[str, Any]) -> str:
    """What a claim is checked against: the passage under its title and heading path (the
    passage often leaves its subject to the heading: "ANALYZE" is named only there)."""
    context = [str(source[k]) for k in ("title", "heading") if source.get(k)]
    text = str(source.get("text") or "")
    return f"{' > '.join(context)}\n{text}" if context else text


def parse_passage(text: str, *, sentences: bool = True) -> _Passage:
    units = [strip_markers(s.text(text)) for s in split_sentences(text)] if sentences else []
    units = [u for u in units if u] or [text]
    return _Passage(units, content_terms(text), passage_tokens(text))


def _has_token(lowered: str, token: str) -> bool:
    start = lowered.find(token)
    while start >= 0:
        end = start + len(token)
        before = lowered[start - 1] if start else " "
        after = lowered[end] if end < len(lowered) else " "
        if not (before.isalnum() or before == "_") and not (after.isalnum() or after == "_"):
            return True
        start = lowered.find(token, start + 1)
    return False


@dataclass(frozen=True)
class Evidence:
    """Per (claim, passage): best sentence cosine, word overlap, and whether the passage holds
    every number and identifier of the claim."""

    cosine: np.ndarray
    overlap: np.ndarray
    keys_found: np.ndarray

    def scores(self, thresholds: Thresholds) -> np.ndarray:
        """A passage lacking one of the claim's numbers or identifiers scores 0 for it: a
        similar sentence with another number or name is a different fact, not support."""
        weight = thresholds.similarity_weight
        combined = weight * self.cosine + (1 - weight) * self.overlap
        return np.where(self.keys_found, combined, 0.0)


def evidence(
    claims: Sequence[str],
    passages: Sequence[_Passage],
    claim_vectors: np.ndarray,
    unit_vectors: Sequence[np.ndarray],
) -> Evidence:
    shape = (len(claims), len(passages))
    cosine = np.zeros(shape, dtype=np.float32)
    overlap = np.zeros(shape, dtype=np.float32)
    keys_found = np.zeros(shape, dtype=bool)
    claim_terms = [content_terms(c) for c in claims]
    claim_keys = [key_tokens(c) for c in claims]
    for j, passage in enumerate(passages):
        if len(claims):
            cosine[:, j] = (unit_vectors[j] @ claim_vectors.T).max(axis=0)
        for i, terms in enumerate(claim_terms):
            overlap[i, j] = len(terms & passage.terms) / len(terms) if terms else 0.0
            keys_found[i, j] = all(_has_token(passage.lowered, t) for t in claim_keys[i])
    return Evidence(cosine, overlap, keys_found)


def align(
    answer: str, sentences: Sequence[Sentence], scores: np.ndarray, thresholds: Thresholds
) -> list[Claim]:
    """Verdicts and checked source numbers from the score matrix (row per sentence)."""
    claims: list[Claim] = []
    count = scores.shape[1] if scores.ndim == 2 else 0
    for i, sentence in enumerate(sentences):
        row = scores[i] if count else np.zeros(0)
        best = int(np.argmax(row)) if count else -1
        top = float(row[best]) if count else 0.0
        supported = top >= thresholds.supported
        sources: list[int] = []
        if supported:
            sources = [n for n in sentence.cited
                       if 1 <= n <= count and row[n - 1] >= thresholds.supported]
            sources = sources or [best + 1]
        claims.append(Claim(sentence.text(answer), sentence.start, sentence.end, sources,
                            supported, round(top, 3)))
    return claims


class ClaimChecker:
    def __init__(
        self,
        embedder: Embedder,
        thresholds: Thresholds | None = None,
        *,
        passage_sentences: bool = False,
        index_vectors: IndexVectors | None = None,
    ) -> None:
        self.embedder = embedder
        self.thresholds = thresholds or Thresholds()
        self.passage_sentences = passage_sentences  # True: a vector per passage sentence
        # The index's own chunk vectors, when given: they embed the same text (passage under
        # its title and heading), so an answer costs the encoding of its sentences only.
        self.index_vectors = index_vectors
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()

    async def check(self, answer: str, sources: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """`final.claims` for an answer given these passages (numbered from 1)."""
        passages = [passage_text(s) for s in sources]
        known: dict[str, np.ndarray] = {}
        if self.index_vectors is not None and not self.passage_sentences:
            ids = [str(s.get("chunk_id")) for s in sources]
            vectors = self.index_vectors(ids)
            known = {p: vectors[i] for p, i in zip(passages, ids, strict=True) if i in vectors}
        claims = await self.claims(answer, passages, known)
        return [c.as_dict() for c in claims]

    async def claims(
        self, answer: str, passages: Sequence[str], known: dict[str, np.ndarray] | None = None
    ) -> list[Claim]:
        sentences, found = await self.evidence(answer, passages, known)
        if not sentences:
            return []
        return align(answer, sentences, found.scores(self.thresholds), self.thresholds)

    async def evidence(
        self, answer: str, passages: Sequence[str], known: dict[str, np.ndarray] | None = None
    ) -> tuple[list[Sentence], Evidence]:
        """The answer's claims and their evidence against each passage (before thresholds)."""
        sentences, texts = self._sentences(answer)
        if not sentences:
            empty = np.zeros((0, len(passages)))
            return [], Evidence(empty, empty, empty.astype(bool))
        parsed = await asyncio.to_thread(
            lambda: [parse_passage(p, sentences=self.passage_sentences) for p in passages])
        units = [u for p in parsed for u in p.units]
        vectors = await self._encode(texts, units, known or {})
        claim_vectors, unit_table = vectors[: len(texts)], vectors[len(texts):]
        per_passage, at = [], 0
        for passage in parsed:
            per_passage.append(unit_table[at:at + len(passage.units)])
            at += len(passage.units)
        found = await asyncio.to_thread(evidence, texts, parsed, claim_vectors, per_passage)
        return sentences, found

    def _sentences(self, answer: str) -> tuple[list[Sentence], list[str]]:
        kept: list[Sentence] = []
        texts: list[str] = []
        for sentence in split_sentences(answer):
            prose = strip_markers(sentence.text(answer))
            if len(content_terms(prose)) >= self.thresholds.min_terms:
                kept.append(sentence)
                texts.append(prose)
        return kept, texts

    async def _encode(
        self, claims: list[str], units: list[str], given: dict[str, np.ndarray]
    ) -> np.ndarray:
        """Claims always; passage units only when neither given nor cached."""
        known: dict[str, np.ndarray] = {}
        for unit in units:
            vector = given.get(unit, self._vectors.get(unit))
            if vector is not None:
                known[unit] = vector
        missing = list(dict.fromkeys(u for u in units if u not in known))
        texts = [*claims, *missing]
        # Small batches: the local embedder runs up to 4 texts on one thread, without queueing
        # behind an ingestion job's bulk encode (the answer is done; `final` should not wait).
        fresh = np.concatenate([await self.embedder.embed(texts[i:i + ENCODE_BATCH])
                                for i in range(0, len(texts), ENCODE_BATCH)])
        for text, vector in zip(missing, fresh[len(claims):], strict=True):
            known[text] = self._vectors[text] = vector
        for text in units:
            if text in self._vectors:
                self._vectors.move_to_end(text)
        while len(self._vectors) > PASSAGE_CACHE:
            self._vectors.popitem(last=False)
        if not units:
            return fresh[: len(claims)]
        return np.concatenate([fresh[: len(claims)], np.stack([known[u] for u in units])])


async def claims_for(
    checker: ClaimChecker | None, answer: str, sources: Sequence[dict[str, Any]] | None
) -> list[dict[str, Any]] | None:
    """`final.claims` of a finished answer, or None (no checker, or no passages to check
    against: plain chat). A failing check is logged and leaves the claims out; it never fails
    the answer the user already has."""
    if checker is None or not sources:
        return None
    try:
        return await checker.check(answer, sources)
    except Exception:
        log.exception("checking the answer's claims failed; `final` goes without them")
        return None
