"""Bulk embedding requests from concurrent ingestion jobs, merged into large encoder calls.

Each job embeds its own document's chunks, a dozen at a time for a small page; encoded one
document at a time, the model runs many small, padded batches. Here every bulk request that
arrives while the encoder is busy waits for it, and the waiting ones go together in one call
of up to `max_texts` texts (the encoder sorts them by length, so batches pad little). Small
requests (a search query) skip the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from ragline.adapters.embed import Embedder

SMALL = 4  # at most this many texts: a query, encoded at once


class BlockingEmbedder(Embedder, Protocol):
    """An embedder with a blocking bulk call (run here in a worker thread)."""

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


class BatchingEmbedder:
    def __init__(self, inner: BlockingEmbedder, *, max_texts: int = 256) -> None:
        self.inner = inner
        self.max_texts = max_texts
        self._waiting: list[tuple[list[str], asyncio.Future[np.ndarray]]] = []
        self._drain: asyncio.Task[None] | None = None
        self.calls: list[int] = []  # texts per encoder call (the last 100), for benches

    @property
    def name(self) -> str:
        return str(self.inner.name)

    @property
    def dim(self) -> int:
        return int(self.inner.dim)

    @property
    def loaded(self) -> bool:
        return self.inner.loaded

    async def warmup(self) -> None:
        await self.inner.warmup()

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) <= SMALL:
            result: np.ndarray = await self.inner.embed(texts)
            return result
        future: asyncio.Future[np.ndarray] = asyncio.get_running_loop().create_future()
        self._waiting.append((list(texts), future))
        if self._drain is None or self._drain.done():
            self._drain = asyncio.create_task(self._run())
        return await future

    async def _run(self) -> None:
        while self._waiting:
            taken: list[tuple[list[str], asyncio.Future[np.ndarray]]] = []
            size = 0
            while self._waiting and (not taken or size + len(self._waiting[0][0])
                                     <= self.max_texts):
                texts, future = self._waiting.pop(0)
                if future.done():  # its job was cancelled
                    continue
                taken.append((texts, future))
                size += len(texts)
            if not taken:
                continue
            merged = [text for texts, _ in taken for text in texts]
            self.calls = [*self.calls[-99:], len(merged)]
            try:
                vectors = await asyncio.to_thread(self.inner.encode, merged)
            except asyncio.CancelledError:
                for _, future in taken:
                    future.cancel()
                raise
            except Exception as exc:
                for _, future in taken:
                    if not future.done():
                        future.set_exception(exc)
                continue
            start = 0
            for texts, future in taken:
                if not future.done():
                    future.set_result(vectors[start:start + len(texts)])
                start += len(texts)

    async def aclose(self) -> None:
        if self._drain is not None:
            self._drain.cancel()
            with contextlib.suppress(BaseException):
                await self._drain
        for _, future in self._waiting:
            future.cancel()
        self._waiting.clear()
        await self.inner.aclose()
