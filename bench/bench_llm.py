"""Local engine benchmarks (issue 3): the `llamacpp` provider against the raw engine.

1. Streaming efficiency: tokens/s and time to first token for the same prompt, streamed raw from
   the engine (`xllamacpp.Server` with a callback) and through `LlamaCppProvider.stream`,
   alternating, in the same process. Target: provider >= 0.98 of the raw rate.
2. Cancel latency: time for `aclose()` on a stream mid-generation to return (decoding stopped).
3. Threads: n_threads 1 vs 2, one stream and two concurrent streams.
4. Prompt processing: prompt tokens/s by engine batch size (n_batch 64, 256, 512).
5. Concurrency: 8 concurrent runs with 1, 2 and 4 slots: all complete, queue positions seen,
   aggregate tokens/s, slowest run.

    python bench/bench_llm.py [--model qwen2.5-coder-1.5b-instruct] [--tokens 64] [--rounds 3]
        [--skip threads,prefill,concurrency]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from collections.abc import AsyncIterator
from typing import Any

from ragline.adapters.llm.llama_request import build_request
from ragline.adapters.llm.llamacpp import LlamaCppProvider
from ragline.adapters.llm.local_models import PACKAGED_MODELS, ensure_model_file
from ragline.config import Settings
from ragline.domain.llm import (
    ChatMessage,
    GenerationParams,
    ModelSpec,
    Queued,
    TextDelta,
    Usage,
)

PROMPT = [
    ChatMessage("system", "You are a helpful assistant."),
    ChatMessage("user", "Explain in detail how a hash table works, with an example in Python."),
]


THREADS = {"n_threads": Settings().engine_threads}  # --threads overrides it for every section


def provider(model: str, **options: Any) -> LlamaCppProvider:
    options = {**THREADS, **options}
    spec = ModelSpec(name=model, provider="llamacpp", model=model, options=options)
    return LlamaCppProvider(spec, Settings())


def rates(stamps: list[float], start: float) -> tuple[float, float]:
    """(time to first token in ms, decode tokens/s after the first token)."""
    ttft = (stamps[0] - start) * 1000
    decode = (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 1 else float("nan")
    return ttft, decode


def raw_run(server: Any, body: dict[str, Any], chat: bool) -> tuple[float, float]:
    stamps: list[float] = []

    def on_chunk(chunk: dict[str, Any]) -> bool:
        for choice in chunk.get("choices") or ():
            text = (choice.get("delta") or {}).get("content") if chat else choice.get("text")
            if text:
                stamps.append(time.perf_counter())
        return False

    handler = server.handle_chat_completions if chat else server.handle_completions
    start = time.perf_counter()
    handler(body, on_chunk)
    return rates(stamps, start)


async def provider_run(
    p: LlamaCppProvider, params: GenerationParams, stamps: list[float]
) -> tuple[float, float]:
    start = time.perf_counter()
    async for event in p.stream(PROMPT, params):
        if isinstance(event, TextDelta):
            stamps.append(time.perf_counter())
    return rates(stamps, start)


def stamp_engine_output(p: LlamaCppProvider, produced: list[float]) -> None:
    """Bench-only: note when the engine thread hands each token over, to time its delivery."""
    engine: Any = p._engine
    generate = engine.generate

    def timed(body: dict[str, Any], *, chat: bool, emit: Any, cancelled: Any) -> None:
        def stamped(item: Any) -> None:
            if isinstance(item, TextDelta):
                produced.append(time.perf_counter())
            emit(item)

        generate(body, chat=chat, emit=stamped, cancelled=cancelled)

    engine.generate = timed


async def bench_efficiency(model: str, tokens: int, rounds: int, threads: int) -> list[str]:
    import xllamacpp

    p = provider(model, n_threads=threads)
    await p.load()
    params = xllamacpp.CommonParams()
    params.model.path = str(ensure_model_file(model, Settings()))
    params.n_parallel = p.parallel
    params.n_ctx = p.parallel * p.context_window
    params.n_batch = params.n_ubatch = p.n_batch
    params.cpuparams.n_threads = params.cpuparams_batch.n_threads = threads
    params.verbosity = 0
    raw_server = await asyncio.to_thread(xllamacpp.Server, params)
    gen = GenerationParams(max_tokens=tokens, temperature=0.0, seed=1)
    body = build_request(PROMPT, gen, chat=p.chat, max_tokens=tokens)
    raw: list[tuple[float, float]] = []
    ours: list[tuple[float, float]] = []
    produced: list[float] = []
    delivered: list[float] = []
    stamp_engine_output(p, produced)
    for _ in range(rounds):
        raw.append(await asyncio.to_thread(raw_run, raw_server, dict(body), p.chat))
        stamps: list[float] = []
        ours.append(await provider_run(p, gen, stamps))
        delivered.extend(stamps)
    delays = sorted((d - p_) * 1e6 for p_, d in zip(produced, delivered, strict=True))
    del raw_server
    await p.aclose()
    raw_ttft, raw_tps = (statistics.median(x) for x in zip(*raw, strict=True))
    our_ttft, our_tps = (statistics.median(x) for x in zip(*ours, strict=True))
    return [
        f"raw engine        ttft {raw_ttft:8.1f} ms   decode {raw_tps:6.2f} tok/s",
        f"llamacpp provider ttft {our_ttft:8.1f} ms   decode {our_tps:6.2f} tok/s",
        f"provider / raw    {our_tps / raw_tps:.3f} of the token rate, "
        f"{our_ttft - raw_ttft:+.1f} ms time to first token",
        f"engine thread -> async consumer, per token: median {statistics.median(delays):.0f} us, "
        f"p99 {delays[int(len(delays) * 0.99)]:.0f} us",
    ]


async def bench_cancel(model: str, rounds: int) -> list[str]:
    """aclose() time, and time until the engine stopped decoding (its slot came back)."""
    p = provider(model)
    closing: list[float] = []
    stopped: list[float] = []
    for _ in range(max(rounds, 5)):
        stream = p.stream(PROMPT, GenerationParams(max_tokens=1000))
        seen = 0
        async for event in stream:
            seen += isinstance(event, TextDelta)
            if seen == 10:
                break
        start = time.perf_counter()
        await stream.aclose()
        closing.append((time.perf_counter() - start) * 1000)
        for _ in range(5000):
            if p.queue == (0, 0):
                break
            await asyncio.sleep(0.001)
        stopped.append((time.perf_counter() - start) * 1000)
    await p.aclose()
    return [
        f"aclose() returns in    median {statistics.median(closing):6.1f} ms, "
        f"max {max(closing):6.1f} ms",
        f"decoding stopped after median {statistics.median(stopped):6.1f} ms, "
        f"max {max(stopped):6.1f} ms ({len(stopped)} cancels after 10 tokens)",
    ]


async def timed_runs(p: LlamaCppProvider, runs: int, tokens: int) -> tuple[float, float, int]:
    """(aggregate tokens/s, slowest run in s, runs that saw a queue position)."""
    params = GenerationParams(max_tokens=tokens, temperature=0.7, seed=3)

    async def one(i: int) -> tuple[int, float, bool]:
        start, count, queued = time.perf_counter(), 0, False
        messages = [ChatMessage("user", f"Tell me fact number {i} about the ocean.")]
        events: AsyncIterator[Any] = p.stream(messages, params)
        async for event in events:
            count += isinstance(event, TextDelta)
            queued = queued or isinstance(event, Queued)
        return count, time.perf_counter() - start, queued

    start = time.perf_counter()
    results = await asyncio.gather(*(one(i) for i in range(runs)))
    total = time.perf_counter() - start
    return (
        sum(r[0] for r in results) / total,
        max(r[1] for r in results),
        sum(r[2] for r in results),
    )


async def bench_threads(model: str, tokens: int, rounds: int) -> list[str]:
    """n_threads 1 vs 2, interleaved round by round so both see the same background load."""
    engines = {threads: provider(model, n_threads=threads, parallel=2) for threads in (1, 2)}
    for p in engines.values():
        await p.load()
    single: dict[int, list[float]] = {1: [], 2: []}
    double: dict[int, list[float]] = {1: [], 2: []}
    for _ in range(rounds):
        for threads, p in engines.items():
            single[threads].append((await timed_runs(p, 1, tokens))[0])
            double[threads].append((await timed_runs(p, 2, tokens))[0])
    for p in engines.values():
        await p.aclose()
    return [
        f"n_threads={threads}: 1 stream {statistics.median(single[threads]):6.2f} tok/s, "
        f"2 streams {statistics.median(double[threads]):6.2f} tok/s in total (median of {rounds})"
        for threads in (1, 2)
    ]


async def bench_prefill(model: str) -> list[str]:
    """Prompt processing rate by engine batch size (fresh prompts: no prompt-cache hits)."""
    text = " ".join(
        f"Paragraph {i}: the quick brown fox jumps over the lazy dog." for i in range(40)
    )
    lines = []
    for n_batch in (64, 256, 512):
        p = provider(model, n_batch=n_batch)
        await p.load()
        rates_seen = []
        for run in range(2):
            messages = [ChatMessage("user", f"Run {n_batch}-{run}. {text} Summarise.")]
            start = time.perf_counter()
            prompt_tokens = 0
            async for event in p.stream(messages, GenerationParams(max_tokens=1)):
                if isinstance(event, Usage):  # comes once the single token is out
                    prompt_tokens = event.prompt_tokens
            rates_seen.append(prompt_tokens / (time.perf_counter() - start))
        await p.aclose()
        lines.append(
            f"n_batch={n_batch:3d}: {statistics.median(rates_seen):6.1f} prompt tok/s "
            f"({prompt_tokens} prompt tokens)"
        )
    return lines


async def bench_concurrency(model: str, tokens: int) -> list[str]:
    lines = []
    for slots in (1, 2, 4):
        p = provider(model, parallel=slots)
        await p.load()
        rate, slowest, queued = await timed_runs(p, 8, tokens)
        await p.aclose()
        lines.append(
            f"8 runs, {slots} slot(s): {rate:6.2f} tok/s total, slowest {slowest:5.1f} s, "
            f"{queued} runs reported a queue position"
        )
    return lines


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="qwen2.5-coder-1.5b-instruct", choices=PACKAGED_MODELS)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=Settings().engine_threads)
    parser.add_argument("--skip", default="", help="comma list: threads,prefill,concurrency")
    args = parser.parse_args()
    skip = set(args.skip.split(","))
    THREADS["n_threads"] = args.threads
    sections = [
        (
            "streaming efficiency",
            bench_efficiency(args.model, args.tokens, args.rounds, args.threads),
        ),
        ("cancellation", bench_cancel(args.model, args.rounds)),
    ]
    if "threads" not in skip:
        sections.append(("threads", bench_threads(args.model, args.tokens, args.rounds)))
    if "prefill" not in skip:
        sections.append(("prompt processing", bench_prefill(args.model)))
    if "concurrency" not in skip:
        sections.append(("concurrency", bench_concurrency(args.model, args.tokens // 2)))
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"model {args.model}, {args.tokens} tokens, {os.cpu_count()} CPUs, load avg {load}")
    for title, coroutine in sections:
        lines = await coroutine
        print(f"\n== {title}")
        for line in lines:
            print("  " + line)


if __name__ == "__main__":
    asyncio.run(main())
