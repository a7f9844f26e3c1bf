"""Reciprocal rank fusion on chunk ids (Cormack et al., 2009): pure, returns new objects."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
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
