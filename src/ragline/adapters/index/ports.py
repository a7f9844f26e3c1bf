"""What the hybrid index asks of a vector backend: the in-process matrix or pgvector."""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(frozen=True)
class Scope:
    """Collections to search, each with the version read just before the search."""

    collections: tuple[tuple[str, int], ...]
    document_ids: tuple[str, ...] | None = None

    @property
    def collection_ids(self) -> list[str]:
        return [collection_id for collection_id, _ in self.collections]


class VectorSearch(Protocol):
    """Nearest chunks to a unit query vector, scored by cosine similarity, best first."""

    @property
    def kind(self) -> str:
        """`pgvector` or `matrix`: reported at startup and by /readyz."""
        ...

    async def nearest(
        self, session: AsyncSession, scope: Scope, query: Awaitable[np.ndarray], limit: int
    ) -> list[tuple[int, float]]:
        """`query` may still be computing: a backend can do its own reads meanwhile."""
        ...

    async def similarities(
        self, session: AsyncSession, scope: Scope, query: np.ndarray, chunk_ids: Sequence[int]
    ) -> dict[int, float]:
        """Cosine similarity of the query to each of these chunks that the scope holds."""
        ...

    async def warm(self, session: AsyncSession) -> int:
        """Load whatever the backend keeps in memory; returns how many collections it loaded."""
        ...
