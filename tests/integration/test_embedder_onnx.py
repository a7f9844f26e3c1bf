"""The default local embedder (int8 ONNX) against the same model in float32 on torch: the
vectors agree closely enough to share one index, and they rank passages the same way."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from ragline.adapters.embed.local import LocalEmbedder
from ragline.adapters.embed.local_onnx import OnnxEmbedder, build_int8_model, onnx_path

PASSAGES = [
    "To back up a SQLite database while it is in use, run the .backup command of the shell.",
    "The AUTOINCREMENT keyword imposes extra CPU, memory, disk space and disk I/O overhead.",
    "Kubernetes schedules containers onto nodes and restarts them when they fail.",
    "Our office in Lyon is closed on public holidays.",
    "WAL mode lets readers continue while a writer appends to the write-ahead log.",
    "A composite index on (a, b) serves queries that filter on a, or on a and b.",
]
QUERIES = ["how do I copy a live database?", "who runs containers?", "readers during writes"]


@pytest.fixture(scope="module")
def encoders(model_dir: Path) -> tuple[OnnxEmbedder, LocalEmbedder]:
    return OnnxEmbedder(model_dir), LocalEmbedder()


def test_int8_vectors_stay_close_to_float32(encoders: tuple[OnnxEmbedder, LocalEmbedder]) -> None:
    onnx, torch = encoders
    assert onnx.name == torch.name and onnx.dim == torch.dim  # one index serves both
    fast, exact = onnx.encode(PASSAGES), torch.encode(PASSAGES)
    assert fast.shape == (len(PASSAGES), 384) and fast.dtype == np.float32
    assert np.allclose(np.linalg.norm(fast, axis=1), 1.0, atol=1e-5)
    assert float((fast * exact).sum(axis=1).min()) > 0.98


def test_int8_ranks_passages_like_float32(encoders: tuple[OnnxEmbedder, LocalEmbedder]) -> None:
    onnx, torch = encoders
    for query in QUERIES:
        ranks = [np.argsort(-(e.encode(PASSAGES) @ e.encode([query])[0]))[:2].tolist()
                 for e in (onnx, torch)]
        assert ranks[0] == ranks[1], query


def test_a_query_alone_and_in_a_batch_gets_the_same_vector(
    encoders: tuple[OnnxEmbedder, LocalEmbedder],
) -> None:
    onnx, _ = encoders
    batch = onnx.encode([*PASSAGES, QUERIES[0]])  # bulk session, padded to the longest
    alone = onnx.encode([QUERIES[0]])  # the one-thread query session, no padding
    assert float(batch[-1] @ alone[0]) > 0.9999
    assert onnx.encode([]).shape == (0, 384)


def test_the_model_file_is_built_once_from_the_packaged_weights(tmp_path: Path,
                                                                model_dir: Path) -> None:
    """`models prepare` builds it; a fresh model dir builds it on first use (nothing downloaded)."""
    target = onnx_path(tmp_path)
    level = logging.getLogger().level
    built = OnnxEmbedder(tmp_path)
    vector = built.encode([QUERIES[1]])
    assert logging.getLogger().level == level  # quiet during the build only
    assert target.exists() and not [p for p in tmp_path.iterdir() if p != target]
    assert build_int8_model(Path("/nonexistent"), target) == target  # present: not rebuilt
    assert float(vector[0] @ OnnxEmbedder(model_dir).encode([QUERIES[1]])[0]) > 0.999
