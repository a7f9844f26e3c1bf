"""Reciprocal rank fusion on chunk ids (Cormack et al., 2009) and the exact-term bonus added
to it: pure, returns new objects."""

from __future__ import annotations

import math
from collections.abc import Collection, Hashable, Sequence
from typing import TypeVar

K = TypeVar("K", bound=Hashable)


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[K]],
    *,
    k: int = 60,
    limit: int | None = None,
    weights: Sequence[float] | None = None,
) -> list[tuple[K, float]]:
    """Fuse best-first id lists: score(id) = Σ w / (k + rank), rank starting at 1, w = the
    ranking's weight (1 unless given).

    Ties keep the order in which ids were first seen, so the result is deterministic.
    """
    if weights is not None and len(weights) != len(rankings):
        raise ValueError("one weight per ranking expected")
    scores: dict[K, float] = {}
    for index, ranking in enumerate(rankings):
        weight = 1.0 if weights is None else weights[index]
        seen: set[K] = set()
        for rank, key in enumerate(ranking, start=1):
            if key in seen:  # a ranker listing an id twice counts it once, at its best rank
                continue
            seen.add(key)
            scores[key] = scores.get(key, 0.0) + weight / (k + rank)
    fused = sorted(scores.items(), key=lambda item: item[1], reverse=True)
    return fused if limit is None else fused[:limit]


def term_coverage(terms: Sequence[tuple[int, Collection[K]]], total: int) -> dict[K, float]:
    """For each id holding at least one term, the share (0-1] of the terms' Robertson-Sparck
    Jones IDF that the id's terms carry.

    `terms`: per query term, in how many of the `total` passages it occurs and which ids hold it.
    A term in half the passages or more weighs nothing; if every term does, no id is covered.
    """
    weights = [max(0.0, math.log((max(total, count) - count + 0.5) / (count + 0.5)))
               for count, _ in terms]
    weight = sum(weights)
    if weight <= 0:
        return {}
    coverage: dict[K, float] = {}
    for (_, ids), term_weight in zip(terms, weights, strict=True):
        if term_weight > 0:
            for key in ids:
                coverage[key] = coverage.get(key, 0.0) + term_weight / weight
    return {key: min(share, 1.0) for key, share in coverage.items()}


def term_coverage_bonus(
    terms: Sequence[tuple[int, Collection[K]]],
    total: int,
    full: float,
    *,
    power: float = 3.0,
) -> dict[K, float]:
    """`full` x coverage**power for each id holding at least one term (see `term_coverage`)."""
    return {key: full * share**power for key, share in term_coverage(terms, total).items()}
