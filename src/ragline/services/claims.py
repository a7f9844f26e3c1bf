"""Claims with sources: each sentence of an answer checked against the passages the model was
given, by embedding similarity (the local embedder) plus lexical overlap.

One batch encode of the answer's sentences and the passages (passage vectors are cached by
text; passages recur within a thread), then numpy. While an answer streams, a sentence in the
borderline band is also put to the local model as a yes/no question when an engine slot is free
(services/verifier.py). `[n]` markers the model wrote are kept when passage n supports the
sentence, replaced by the best passage when another one does, and dropped when none does
(services/citations.py places the checked markers in the streamed text).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ragline.adapters.embed import Embedder
from ragline.services.claim_text import (
    NEGATIONS,
    Sentence,
    bound_only,
    content_terms,
    key_tokens,
    negated,
    negated_terms,
    passage_tokens,
    split_sentences,
    strip_markers,
)
from ragline.services.verifier import Verify

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
    Recalibrated on 96 labels with the negation-scope and tied-restatement rules: the grid's
    best is weight 0.6 at the same cut (precision 0.964, recall 0.964; leave-one-question-out
    0.946 / 0.946).
    """

    similarity_weight: float = 0.6
    supported: float = 0.52  # at or above: the passage supports the claim
    # A claim needs at least this many content words to be checked at all: "Sure!" has none,
    # "For example, [2]" (a real answer's fragment) one.
    min_terms: int = 2
    # ... and at least this share of its content words must occur in the passage, not counting
    # the words it takes from the question: a sentence that restates half a passage and adds
    # its own facts ("kept for 14 days and then archived to tape in another region") scores
    # high on cosine alone, while one that echoes the question ("The json_group_array()
    # function aggregates the values of many rows into a single JSON array") adds nothing.
    # On 107 labels: precision / recall 0.938 / 0.968 without it, 0.952 / 0.952 with it
    # (leave-one-question-out, the three fitted together: 0.952 / 0.968).
    min_overlap: float = 0.5
    # The band where a verifier (services/verifier.py), when there is one, is asked: a supported
    # sentence scoring below `veto_below`, and an unsupported one whose gates all passed
    # scoring at least `rescue_from` (its score is then its combined score, not 0). On the
    # labels the false positives scored 0.55-0.73 and the restatements missed 0.30-0.49.
    veto_below: float = 0.75
    rescue_from: float = 0.30


@dataclass(frozen=True)
class Verdict:
    """One sentence's check: supported or not, by which passages (numbered from 1), how well."""

    supported: bool
    sources: list[int]
    score: float


SentenceCheck = Callable[[str, tuple[int, ...]], Awaitable["Verdict | None"]]


def in_band(supported: bool, score: float, thresholds: Thresholds) -> bool:
    """Whether a verdict is borderline enough to ask the verifier about."""
    if supported:
        return score < thresholds.veto_below
    return 0.0 < score and score >= thresholds.rescue_from


def second_opinion(supported: bool, margin: float | None) -> bool:
    """The verdict after the verifier's log-odds (None: it was not asked, the verdict stands)."""
    if margin is None:
        return supported
    return margin > 0 if not supported else margin >= 0


def reconsidered(verdict: Verdict, margin: float | None, best: int) -> Verdict:
    """`verdict` after the verifier's log-odds on passage `best` (numbered from 0): vetoed, it
    loses its sources; rescued, it is sourced by that passage."""
    supported = second_opinion(verdict.supported, margin)
    if supported == verdict.supported:
        return verdict
    return Verdict(supported, (verdict.sources or [best + 1]) if supported else [],
                   verdict.score)


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
class _Statement:
    """One sentence of a passage, as the contradiction test compares it with a claim."""

    terms: set[str]
    keys: set[str]
    negative: bool
    denied: frozenset[str] = frozenset()  # the words its negation governs ("not exact")


@dataclass(frozen=True)
class _Passage:
    units: list[str]  # what is embedded: its sentences, or the whole passage
    terms: set[str]
    lowered: str
    statements: list[_Statement]


def passage_text(source: dict[str, Any]) -> str:
    """What a claim is checked against: the passage under its title and heading path (the
    passage often leaves its subject to the heading: "ANALYZE" is named only there)."""
    context = [str(source[k]) for k in ("title", "heading") if source.get(k)]
    text = str(source.get("text") or "")
    return f"{' > '.join(context)}\n{text}" if context else text


def parse_passage(text: str, *, sentences: bool = True) -> _Passage:
    prose = [u for u in (strip_markers(s.text(text)) for s in split_sentences(text)) if u]
    units = (prose if sentences else []) or [text]
    statements = [_Statement(content_terms(u), key_tokens(u), negated(u),
                             frozenset(negated_terms(u))) for u in prose]
    return _Passage(units, content_terms(text), passage_tokens(text), statements)


# Share of a claim's words a passage sentence holds to be the one the claim restates: for
# another number or keyword in its place, and (paraphrased negations being common: "cannot go
# beyond" for "up to") for the opposite polarity. Measured with bench/bench_claims.py.
RESTATES = 0.5
RESTATES_POLARITY = 0.6
CONTRADICTED = 0.75  # ... and so closely that no other passage can support the claim


def contradiction(terms: set[str], keys: set[str], negative: bool, passage: _Passage) -> float:
    """How closely the passage sentence that the claim restates says otherwise (the share of
    the claim's words it holds; 0: no such sentence): the opposite polarity ("is exact"
    against "is not exact"), or another number or keyword in its place ("the default is
    EXCLUSIVE" against "the default ... is DEFERRED")."""
    if not terms or not passage.statements:
        return 0.0
    if not negative and any(denies(terms, st) for st in passage.statements):
        return 1.0
    if not negative and any(other_bound(terms, keys, st) for st in passage.statements):
        return CONTRADICTED
    ranked = sorted(passage.statements, reverse=True,
                    key=lambda st: (len(terms & st.terms), len(keys & st.keys)))
    best = ranked[0]
    shared = len(terms & best.terms)
    share = shared / len(terms)
    if share < RESTATES:
        return 0.0
    if not negative and terms & best.denied:
        return max(share, CONTRADICTED)  # it asserts what the passage negates: "is exact"
    if negative != best.negative and share >= RESTATES_POLARITY and (
            negative or _covers(terms, best)) and not bound_only(best.denied):
        return share  # (a bound, "not wider than 5", is denied only by asserting "wider")
    # Another number or keyword in the place of the claim's: in the sentence that restates it
    # best, or in one restating it as closely that holds none of the claim's ("the default ...
    # is REPLACE" against "The default conflict resolution algorithm is ABORT", beside a list
    # of all five that names REPLACE too).
    if keys - best.keys and best.keys - keys:
        return share
    tied = (st for st in ranked[1:] if len(terms & st.terms) == shared)
    return share if keys and any(st.keys and not keys & st.keys for st in tied) else 0.0


def other_bound(terms: set[str], keys: set[str], statement: _Statement) -> bool:
    """A passage sentence that bounds a quantity ("does not support R*Trees wider than 5
    dimensions") against a claim about the same thing with other numbers only ("the maximum
    number of dimensions it supports is 7")."""
    numbers = {k for k in keys if k[:1].isdigit()}
    if not numbers or not bound_only(statement.denied) or not statement.keys:
        return False
    shared = (terms & statement.terms) - statement.denied - statement.keys
    return len(shared) >= 2 and not numbers & statement.keys


def _covers(terms: set[str], statement: _Statement) -> bool:
    """Whether the claim holds most of the passage sentence's own words: a long sentence with a
    negation in a side clause ("... opens a pure in-memory database that never touches disk")
    does not deny what a claim takes from its main clause."""
    said = statement.terms - NEGATIONS
    return bool(said) and len(said & terms) >= RESTATES_POLARITY * len(said)


def denies(terms: set[str], statement: _Statement) -> bool:
    """A short negative passage sentence whose every word the (positive) claim holds: "Does not
    support encryption." against "The module supports encrypted archives" says the opposite,
    however many other words the claim has ("encrypt" matches "encryption": shared stems)."""
    if not statement.negative:
        return False
    said = statement.terms - NEGATIONS
    return len(said) >= 2 and all(any(_same_stem(w, t) for t in terms) for w in said)


def _same_stem(a: str, b: str) -> bool:
    if a == b:
        return True
    short, long = sorted((a, b), key=len)
    return len(short) >= 5 and long.startswith(short)


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
    contradicted: np.ndarray  # per claim: a passage restates it closely and says otherwise
    # per (claim, passage): the share of the claim's words that the question does not hold
    # which the passage holds (1 when the question holds them all); what `min_overlap` gates
    fresh_overlap: np.ndarray | None = None

    def scores(self, thresholds: Thresholds) -> np.ndarray:
        """A passage lacking one of the claim's numbers or identifiers, or saying otherwise,
        scores 0 for it: a similar sentence with another number or name is a different fact,
        not support. A claim that one passage closely contradicts scores 0 everywhere (the
        documents disagree, or another passage only shares its words)."""
        weight = thresholds.similarity_weight
        combined = weight * self.cosine + (1 - weight) * self.overlap
        fresh = self.overlap if self.fresh_overlap is None else self.fresh_overlap
        supported = (self.keys_found & ~self.contradicted[:, None]
                     & (fresh >= thresholds.min_overlap))
        return np.where(supported, combined, 0.0)


def evidence(
    claims: Sequence[str],
    passages: Sequence[_Passage],
    claim_vectors: np.ndarray,
    unit_vectors: Sequence[np.ndarray],
    question: str = "",
) -> Evidence:
    shape = (len(claims), len(passages))
    cosine = np.zeros(shape, dtype=np.float32)
    overlap = np.zeros(shape, dtype=np.float32)
    fresh_overlap = np.ones(shape, dtype=np.float32)
    asked = content_terms(question)
    keys_found = np.zeros(shape, dtype=bool)
    contradicted = np.zeros(len(claims), dtype=bool)
    claim_terms = [content_terms(c) for c in claims]
    claim_keys = [key_tokens(c) for c in claims]
    negative = [negated(c) for c in claims]
    restated = np.zeros(len(claims), dtype=bool)
    for j, passage in enumerate(passages):
        if len(claims):
            cosine[:, j] = (unit_vectors[j] @ claim_vectors.T).max(axis=0)
        for i, terms in enumerate(claim_terms):
            overlap[i, j] = len(terms & passage.terms) / len(terms) if terms else 0.0
            if fresh := terms - asked:
                fresh_overlap[i, j] = len(fresh & passage.terms) / len(fresh)
            against = contradiction(terms, claim_keys[i], negative[i], passage)
            keys_found[i, j] = against == 0.0 and all(
                _has_token(passage.lowered, t) for t in claim_keys[i])
            if against >= CONTRADICTED:
                contradicted[i] = True
            elif keys_found[i, j] and claim_keys[i] and _restates(terms, passage):
                restated[i] = True
    # Two documents that disagree: the claim restates one of them (with its numbers) and the
    # other says otherwise. The one it restates supports it; the disagreement is the answer's
    # to tell (services/conflicts.py), not a reason to call the claim unsupported.
    return Evidence(cosine, overlap, keys_found, contradicted & ~restated, fresh_overlap)


def _restates(terms: set[str], passage: _Passage) -> bool:
    return any(len(terms & st.terms) >= CONTRADICTED * len(terms) for st in passage.statements)


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
        verifier: Verify | None = None,
    ) -> None:
        self.embedder = embedder
        self.verifier = verifier  # asked about the borderline band while an answer streams
        self.thresholds = thresholds or Thresholds()
        self.passage_sentences = passage_sentences  # True: a vector per passage sentence
        # The index's own chunk vectors, when given: they embed the same text (passage under
        # its title and heading), so an answer costs the encoding of its sentences only.
        self.index_vectors = index_vectors
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()

    async def check(
        self, answer: str, sources: Sequence[dict[str, Any]], question: str = ""
    ) -> list[dict[str, Any]]:
        """`final.claims` for an answer given these passages (numbered from 1)."""
        passages = [passage_text(s) for s in sources]
        claims = await self.claims(answer, passages, self.known_vectors(sources, passages),
                                   question=question)
        return [c.as_dict() for c in claims]

    def known_vectors(
        self, sources: Sequence[dict[str, Any]], passages: Sequence[str]
    ) -> dict[str, np.ndarray]:
        """The index's vectors of these passages, by passage text (none without an index)."""
        if self.index_vectors is None or self.passage_sentences:
            return {}
        ids = [str(s.get("chunk_id")) for s in sources]
        vectors = self.index_vectors(ids)
        return {p: vectors[i] for p, i in zip(passages, ids, strict=True) if i in vectors}

    def sentence_checker(
        self, sources: Sequence[dict[str, Any]], question: str = ""
    ) -> SentenceCheck:
        """Checks one sentence at a time against these passages, as an answer streams.

        A follow-up's sentence is checked alone, as a first answer's is: checked together with
        the conversation, one that refers back ("Yes, that ...") passed, and so did its wrong
        versions (eval/claims_labels.jsonl, the `-f` questions)."""
        passages = [passage_text(s) for s in sources]
        known = self.known_vectors(sources, passages)

        async def check(prose: str, cited: tuple[int, ...]) -> Verdict | None:
            if len(content_terms(prose)) < self.thresholds.min_terms:
                return None
            sentences, found = await self.evidence(prose, passages, known, whole=True,
                                                   question=question)
            if not sentences:
                return None
            sentence = Sentence(0, len(prose), cited)
            scores = found.scores(self.thresholds)
            claim = align(prose, [sentence], scores, self.thresholds)[0]
            verdict = Verdict(claim.supported, claim.sources, claim.score)
            if self.verifier is not None and passages and in_band(
                    claim.supported, claim.score, self.thresholds):
                verdict = await self._reconsider(verdict, prose, passages, scores[0])
            return verdict

        return check

    async def _reconsider(
        self, verdict: Verdict, prose: str, passages: Sequence[str], scores: np.ndarray
    ) -> Verdict:
        """The verifier's word on a borderline verdict, against its best passage; a failing or
        busy verifier leaves the verdict as it was."""
        assert self.verifier is not None
        best = int(np.argmax(scores))
        try:
            margin = await self.verifier(prose, passages[best])
        except Exception:
            log.exception("the claim verifier failed; the embedding verdict stands")
            return verdict
        changed = reconsidered(verdict, margin, best)
        if changed is not verdict:
            log.debug("verifier overruled %.3f (log-odds %.2f): %s", verdict.score, margin, prose)
        return changed

    async def claims(
        self,
        answer: str,
        passages: Sequence[str],
        known: dict[str, np.ndarray] | None = None,
        *,
        question: str = "",
    ) -> list[Claim]:
        sentences, found = await self.evidence(answer, passages, known, question=question)
        if not sentences:
            return []
        return align(answer, sentences, found.scores(self.thresholds), self.thresholds)

    async def evidence(
        self,
        answer: str,
        passages: Sequence[str],
        known: dict[str, np.ndarray] | None = None,
        *,
        whole: bool = False,
        question: str = "",
    ) -> tuple[list[Sentence], Evidence]:
        """The answer's claims and their evidence against each passage (before thresholds);
        `whole`: the answer is one sentence's prose, not split again; `question`: what was
        asked (its words are not counted as the claim's own)."""
        if whole:
            sentences, texts = [Sentence(0, len(answer), ())], [answer]
        else:
            sentences, texts = self._sentences(answer)
        if not sentences:
            empty = np.zeros((0, len(passages)))
            return [], Evidence(empty, empty, empty.astype(bool), np.zeros(0, dtype=bool))
        parsed = await asyncio.to_thread(
            lambda: [parse_passage(p, sentences=self.passage_sentences) for p in passages])
        units = [u for p in parsed for u in p.units]
        vectors = await self._encode(texts, units, known or {})
        claim_vectors, unit_table = vectors[: len(texts)], vectors[len(texts):]
        per_passage, at = [], 0
        for passage in parsed:
            per_passage.append(unit_table[at:at + len(passage.units)])
            at += len(passage.units)
        found = await asyncio.to_thread(
            evidence, texts, parsed, claim_vectors, per_passage, question)
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
    checker: ClaimChecker | None,
    answer: str,
    sources: Sequence[dict[str, Any]] | None,
    question: str = "",
) -> list[dict[str, Any]] | None:
    """`final.claims` of a finished answer, or None (no checker, or no passages to check
    against: plain chat). A failing check is logged and leaves the claims out; it never fails
    the answer the user already has."""
    if checker is None or not sources:
        return None
    try:
        return await checker.check(answer, sources, question)
    except Exception:
        log.exception("checking the answer's claims failed; `final` goes without them")
        return None
