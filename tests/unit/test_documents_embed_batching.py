"""Bulk embedding requests from concurrent jobs are merged into large encoder calls."""

from __future__ import annotations

import asyncio
import threading

import numpy as np

from ragline.adapters.embed.batching import BatchingEmbedder


class _Encoder:
    """Our embedding port's blocking side, faked: a vector that encodes the text's number."""

    name, dim = "test:numbers", 2

    def __init__(self) -> None:
        self.calls: list[int] = []
        self.release = threading.Event()

    def encode(self, texts: list[str]) -> np.ndarray:
        self.release.wait(5)
        self.calls.append(len(texts))
        return np.array([[float(t), 1.0] for t in texts], np.float32)

    async def embed(self, texts: list[str]) -> np.ndarray:
        return self.encode(texts)


async def test_concurrent_requests_share_encoder_calls_and_get_their_own_rows() -> None:
    inner = _Encoder()
    embedder = BatchingEmbedder(inner, max_texts=40)
    requests = [[str(100 * r + i) for i in range(10)] for r in range(9)]
    first = asyncio.create_task(embedder.embed(requests[0]))
    await asyncio.sleep(0.05)  # the first call is encoding: the rest queue behind it
    rest = [asyncio.create_task(embedder.embed(texts)) for texts in requests[1:]]
    await asyncio.sleep(0.05)
    inner.release.set()
    results = [await first, *[await task for task in rest]]
    for texts, vectors in zip(requests, results, strict=True):
        assert vectors[:, 0].tolist() == [float(t) for t in texts]
    assert inner.calls == [10, 40, 40]
    assert embedder.name == "test:numbers" and embedder.dim == 2


async def test_queries_skip_the_queue_and_a_cancelled_job_is_dropped() -> None:
    inner = _Encoder()
    inner.release.set()
    embedder = BatchingEmbedder(inner, max_texts=40)
    assert (await embedder.embed(["7"]))[0, 0] == 7.0
    inner.release.clear()
    busy = asyncio.create_task(embedder.embed([str(i) for i in range(8)]))
    await asyncio.sleep(0.05)
    cancelled = asyncio.create_task(embedder.embed([str(i) for i in range(8)]))
    kept = asyncio.create_task(embedder.embed([str(i) for i in range(5)]))
    await asyncio.sleep(0.01)
    cancelled.cancel()
    inner.release.set()
    await busy
    assert (await kept).shape == (5, 2)
    assert inner.calls == [1, 8, 5]
