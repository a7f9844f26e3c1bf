"""Claims: answer sentences with offsets and markers, and their check against passages
(services/claim_text.py, services/claims.py) with a bag-of-words fake embedder."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np
import pytest

from ragline.services.claim_text import key_tokens, split_sentences
from ragline.services.claims import ClaimChecker, Thresholds, align, claims_for, passage_text

DIM = 256


class WordsEmbedder:
    """Unit vectors of hashed words: texts sharing words are similar, others are not."""

    name, dim = "fake:words", DIM

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                out[row, int(hashlib.md5(word.encode()).hexdigest(), 16) % DIM] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-9)


PASSAGES = [
    {"title": "Vacation", "text": "Employees receive twenty-five days of paid vacation each year."},
    {"title": "Office", "heading": "Hours", "text": "The office opens at 8 in the morning."},
]


def test_sentences_keep_offsets_and_the_markers_that_follow_them() -> None:
    answer = "Staff get 25 days [1]. The office opens at 8. [2]\n- Bring a badge, e.g. a card!\n[1]"
    sentences = split_sentences(answer)
    texts = [s.text(answer) for s in sentences]
    assert texts == ["Staff get 25 days [1].", "The office opens at 8. [2]",
                     "Bring a badge, e.g. a card!\n[1]"]
    assert [s.cited for s in sentences] == [(1,), (2,), (1,)]
    assert all(answer[s.start:s.end] == t for s, t in zip(sentences, texts, strict=True))


def test_key_tokens_are_numbers_and_identifiers() -> None:
    assert key_tokens("Set PRAGMA journal_mode to WAL after 1,000 pages.") == {
        "pragma", "journal_mode", "wal", "1000"}


def test_align_keeps_supporting_markers_corrects_wrong_ones_and_drops_unsupported() -> None:
    answer = "One [1]. Two [1]. Three [2]."
    scores = np.array([[0.9, 0.1], [0.2, 0.8], [0.1, 0.2]])
    claims = align(answer, split_sentences(answer), scores, Thresholds(supported=0.5))
    assert [(c.sources, c.supported) for c in claims] == [([1], True), ([2], True), ([], False)]
    assert [c.score for c in claims] == [0.9, 0.8, 0.2]


async def test_restated_sentences_are_supported_and_unrelated_words_are_flagged() -> None:
    checker = ClaimChecker(WordsEmbedder())
    answer = ("Employees receive twenty-five days of paid vacation each year [2]. "
              "The office opens at 8 in the morning [2]. "
              "ragline streams grounded answers token by token with hybrid retrieval.")
    claims = await checker.check(answer, PASSAGES)
    assert [(c["sources"], c["supported"]) for c in claims] == [
        ([1], True), ([2], True), ([], False)]
    for claim in claims:
        assert answer[claim["start"]:claim["end"]] == claim["text"]
        assert set(claim) == {"text", "start", "end", "sources", "supported", "score"}


async def test_a_wrong_number_is_not_supported_by_a_passage_with_another() -> None:
    claims = await ClaimChecker(WordsEmbedder()).claims(
        "The office opens at 9 in the morning.", [passage_text(p) for p in PASSAGES])
    assert not claims[0].supported and claims[0].sources == []


async def test_passage_vectors_are_cached_between_answers() -> None:
    embedder = WordsEmbedder()
    checker = ClaimChecker(embedder)
    await checker.check("Employees receive paid vacation.", PASSAGES)
    await checker.check("The office opens in the morning.", PASSAGES)
    assert len(embedder.calls[0]) == 3 and embedder.calls[1] == ["The office opens in the morning."]


@pytest.mark.parametrize("sources", [None, []])
async def test_no_passages_means_no_claims(sources: list[dict] | None) -> None:
    assert await claims_for(ClaimChecker(WordsEmbedder()), "Some text.", sources) is None
    assert await claims_for(None, "Some text.", PASSAGES) is None


async def test_index_vectors_spare_encoding_the_passages() -> None:
    embedder = WordsEmbedder()
    stored = await embedder.embed([passage_text(p) for p in PASSAGES])
    sources = [{**p, "chunk_id": str(i)} for i, p in enumerate(PASSAGES)]
    checker = ClaimChecker(embedder, index_vectors=lambda ids: {
        i: stored[int(i)] for i in ids})
    claims = await checker.check("Employees receive twenty-five days of paid vacation.", sources)
    assert embedder.calls[-1] == ["Employees receive twenty-five days of paid vacation."]
    assert claims[0]["supported"] and claims[0]["sources"] == [1]


async def test_fragments_without_two_content_words_are_not_claims() -> None:
    claims = await ClaimChecker(WordsEmbedder()).check(
        "Sure! For example, [2]\nThe office opens at 8 in the morning.", PASSAGES)
    assert [c["text"] for c in claims] == ["The office opens at 8 in the morning."]


def test_headings_table_headers_and_code_are_not_claims() -> None:
    answer = (
        "## Opening hours [1]\n"
        "The office opens at 8. [1]\n"
        "| day | opens |\n"
        "|---|---|\n"
        "| Monday | 8 |\n"
        "```python\n"
        "print('not a claim.')\n"
        "```\n"
        "It closes at 17. [2]"
    )
    texts = [s.text(answer) for s in split_sentences(answer)]
    assert texts == ["The office opens at 8. [1]", "| Monday | 8 |", "It closes at 17. [2]"]


def test_a_positive_claim_against_a_short_negative_passage_sentence_is_contradicted() -> None:
    from ragline.services.claim_text import content_terms
    from ragline.services.claims import contradiction, parse_passage

    passage = parse_passage("The zipfile module reads ZIP archives. Does not support encryption.")
    dropped = "The zipfile module supports encrypted ZIP archives."
    kept = "The zipfile module does not support encryption."
    assert contradiction(content_terms(dropped), set(), False, passage) == 1.0
    assert contradiction(content_terms(kept), set(), True, passage) == 0.0


def test_a_negated_bound_is_a_limit_restated_by_its_maximum_and_denied_only_past_it() -> None:
    from ragline.services.claim_text import content_terms, key_tokens, negated_terms
    from ragline.services.claims import CONTRADICTED, contradiction, parse_passage

    bound = "The SQLite R*Tree implementation does not support R*Trees wider than 5 dimensions."
    assert negated_terms(bound) == {"wider"}  # not "support": the bound is what it denies
    passage = parse_passage(f"Each pair holds one dimension. {bound}")

    def verdict(claim: str) -> float:
        return contradiction(content_terms(claim), key_tokens(claim), False, passage)

    assert verdict("The maximum number of dimensions it supports is 5.") == 0.0
    assert verdict("The SQLite R*Tree supports at most 5 dimensions.") == 0.0
    assert verdict("The maximum number of dimensions it supports is 7.") == CONTRADICTED
    assert verdict("The SQLite R*Tree supports R*Trees wider than 5 dimensions.") >= CONTRADICTED
