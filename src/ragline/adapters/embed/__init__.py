"""Embedders turn texts into L2-normalised float32 vectors; `build_embedder` picks one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from ragline.config import Settings


class Embedder(Protocol):
    """The port: a stable name and dimension (recorded with the index) and one async method."""

    @property
    def name(self) -> str: ...

    @property
    def dim(self) -> int: ...

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Shape (len(texts), dim), float32, each row of unit length."""
        ...

    @property
    def loaded(self) -> bool:
        """Whether the model is in memory (a remote one always is)."""
        ...

    async def warmup(self) -> None:
        """Load the model now rather than on the first call (nothing to do for a remote one)."""
        ...

    async def aclose(self) -> None: ...


def normalize(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    normalized: np.ndarray = vectors / np.maximum(norms, 1e-12)
    return normalized


def build_embedder(settings: Settings) -> Embedder:
    if settings.embedder == "local":
        from ragline.adapters.embed.batching import BatchingEmbedder
        from ragline.adapters.embed.local_onnx import OnnxEmbedder

        return BatchingEmbedder(OnnxEmbedder(settings.model_dir))
    if settings.embedder == "local-torch":
        from ragline.adapters.embed.batching import BatchingEmbedder
        from ragline.adapters.embed.local import LocalEmbedder

        return BatchingEmbedder(LocalEmbedder(batch_size=settings.embedding_batch_size))
    if settings.embedder == "openai":
        from ragline.adapters.embed.openai_compat import OpenAICompatEmbedder

        return OpenAICompatEmbedder.from_settings(settings)
    raise ValueError(
        f"unknown embedder {settings.embedder!r}: use 'local', 'local-torch' or 'openai'"
    )
