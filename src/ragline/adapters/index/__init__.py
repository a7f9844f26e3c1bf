"""The hybrid index: keyword ranking in the database, vectors in PostgreSQL (pgvector) or in
memory, fused on chunk ids."""

from ragline.adapters.index.fusion import reciprocal_rank_fusion
from ragline.adapters.index.hybrid import MODES, Hit, HybridIndex, Mode
from ragline.adapters.index.ports import Scope, VectorSearch
from ragline.adapters.index.store import EmbedderMismatch, check_embedder

__all__ = [
    "MODES",
    "EmbedderMismatch",
    "Hit",
    "HybridIndex",
    "Mode",
    "Scope",
    "VectorSearch",
    "check_embedder",
    "reciprocal_rank_fusion",
]
