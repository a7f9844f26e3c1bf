"""Streaming efficiency with the real local model (issue 3): ragline's SSE vs the raw engine.

The same prompt (system + user message, greedy, fixed max tokens) is streamed
  1. raw, from an `xllamacpp.Server` in this process (tokens timed in its callback), and
  2. through a real `ragline serve` process, as seen by an SSE client of /api/runs/{id}/events,
alternating, in the same run. Reports time to first token and decode tokens/s for both.

    python bench/bench_sse_model.py [--model qwen2.5-coder-1.5b-instruct] [--tokens 64] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.support: the process harness the tests use

from ragline.adapters.llm.llama_request import build_request  # noqa: E402
from ragline.adapters.llm.llamacpp import LlamaCppProvider  # noqa: E402
from ragline.adapters.llm.local_models import ensure_model_file  # noqa: E402
from ragline.config import Settings  # noqa: E402
from ragline.domain.llm import ChatMessage, GenerationParams, ModelSpec  # noqa: E402
from tests.support.processes import ServerProcess, server_env  # noqa: E402

SYSTEM = "You are a helpful assistant."
QUESTION = "Explain in detail how a hash table works, with an example in Python."


def rates(stamps: list[float], start: float) -> tuple[float, float]:
    ttft = (stamps[0] - start) * 1000
    decode = (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 1 else float("nan")
    return ttft, decode


def raw_engine(model: str, tokens: int) -> tuple[Any, dict[str, Any]]:
    import xllamacpp

    settings = Settings()
    spec = ModelSpec(name=model, provider="llamacpp", model=model)
    shape = LlamaCppProvider(spec, settings)  # the same engine parameters ragline uses
    params = xllamacpp.CommonParams()
    params.model.path = str(ensure_model_file(model, settings))
    params.n_parallel = shape.parallel
    params.n_ctx = shape.parallel * shape.context_window
    params.n_batch = params.n_ubatch = shape.n_batch
    params.cpuparams.n_threads = params.cpuparams_batch.n_threads = settings.engine_threads
    params.verbosity = 0
    server = xllamacpp.Server(params)
    prompt = [ChatMessage("system", SYSTEM), ChatMessage("user", QUESTION)]
    gen = GenerationParams(max_tokens=tokens, temperature=0.0, seed=1)
    return server, build_request(prompt, gen, chat=shape.chat, max_tokens=tokens)


def raw_run(server: Any, body: dict[str, Any]) -> tuple[float, float]:
    stamps: list[float] = []

    def on_chunk(chunk: dict[str, Any]) -> bool:
        for choice in chunk.get("choices") or ():
            if (choice.get("delta") or {}).get("content"):
                stamps.append(time.perf_counter())
        return False

    start = time.perf_counter()
    server.handle_chat_completions(dict(body), on_chunk)
    return rates(stamps, start)


def sse_run(base_url: str, model: str, tokens: int) -> tuple[float, float]:
    with httpx.Client(base_url=base_url, timeout=600) as client:
        thread = client.post("/api/threads", json={"model": model, "metadata": {
            "system": SYSTEM, "sampling": {"temperature": 0, "max_tokens": tokens, "seed": 1},
        }}).json()["thread_id"]
        stamps: list[float] = []
        start = time.perf_counter()
        run_id = client.post(f"/api/threads/{thread}/messages",
                             json={"content": QUESTION}).json()["run_id"]
        with client.stream("GET", f"/api/runs/{run_id}/events") as response:
            for line in response.iter_lines():
                if line == "event: token":
                    stamps.append(time.perf_counter())
                elif line == "event: done":
                    break
    return rates(stamps, start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="qwen2.5-coder-1.5b-instruct")
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="ragline-bench-sse-"))
    server = ServerProcess(
        server_env(tmp / "data", f"sqlite+aiosqlite:///{tmp / 'b.db'}",
                   RAGLINE_DEFAULT_MODEL=args.model),
        log_path=tmp / "server.log",
    )
    server.start()
    raw, body = raw_engine(args.model, args.tokens)
    sse_run(server.base_url, args.model, 4)  # warm: the server loads its model
    raws, ours = [], []
    try:
        for _ in range(args.rounds):
            raws.append(raw_run(raw, body))
            ours.append(sse_run(server.base_url, args.model, args.tokens))
    finally:
        server.stop()
    raw_ttft, raw_tps = (statistics.median(x) for x in zip(*raws, strict=True))
    our_ttft, our_tps = (statistics.median(x) for x in zip(*ours, strict=True))
    print(f"model {args.model}, {args.tokens} tokens, {args.rounds} rounds (medians)")
    print(f"raw engine           ttft {raw_ttft:8.1f} ms   decode {raw_tps:6.2f} tok/s")
    print(f"ragline SSE client   ttft {our_ttft:8.1f} ms   decode {our_tps:6.2f} tok/s")
    print(f"ragline / raw        {our_tps / raw_tps:.3f} of the token rate, "
          f"{our_ttft - raw_ttft:+.1f} ms added to time to first token")


if __name__ == "__main__":
    main()
