"""Embeddings from any OpenAI-compatible `/v1/embeddings` endpoint (OpenAI, Ollama, vLLM, TEI)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ragline.adapters.embed import normalize
from ragline.domain.errors import ProviderError

if TYPE_CHECKING:
    from ragline.config import Settings

KNOWN_DIMENSIONS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
    "nomic-embed-text": 768,
    "mxbai-embed-large": 1024,
    "all-minilm": 384,
}
MAX_INPUTS_PER_REQUEST = 256


class OpenAICompatEmbedder:
    def __init__(self, model: str, dim: int, *, base_url: str | None, api_key: str | None) -> None:
        self.model = model
        self._dim = dim
        self._base_url = base_url
        self._api_key = api_key
        self._client: Any = None

    @classmethod
    def from_settings(cls, settings: Settings) -> OpenAICompatEmbedder:
        dim = settings.embedding_dim or KNOWN_DIMENSIONS.get(settings.embedding_model)
        if dim is None:
            raise ValueError(
                f"unknown dimension for embedding model {settings.embedding_model!r}: "
                "set RAGLINE_EMBEDDING_DIM"
            )
        api_key = os.environ.get(settings.embedding_api_key_env) or "not-needed"
        return cls(settings.embedding_model, dim, base_url=settings.embedding_base_url,
                   api_key=api_key)

    @property
    def name(self) -> str:
        return f"openai:{self.model}"

    @property
    def dim(self) -> int:
        return self._dim

    def _get_client(self) -> Any:
        if self._client is None:
            from openai import AsyncOpenAI

            self._client = AsyncOpenAI(base_url=self._base_url, api_key=self._api_key)
        return self._client

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        rows: list[list[float]] = []
        for start in range(0, len(texts), MAX_INPUTS_PER_REQUEST):
            batch = list(texts[start:start + MAX_INPUTS_PER_REQUEST])
            try:
                response = await self._get_client().embeddings.create(model=self.model, input=batch)
            except Exception as exc:
                raise ProviderError(f"embedding request failed: {exc}", retryable=True) from exc
            ordered = sorted(response.data, key=lambda item: item.index)
            rows.extend(item.embedding for item in ordered)
        if not rows:
            return np.zeros((0, self._dim), dtype=np.float32)
        vectors = normalize(np.asarray(rows, dtype=np.float32))
        if vectors.shape[1] != self._dim:
            raise ProviderError(
                f"embedding model {self.model!r} returned {vectors.shape[1]} dimensions, "
                f"expected {self._dim}"
            )
        return vectors

    @property
    def loaded(self) -> bool:
        return True

    async def warmup(self) -> None:
        return None

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
