"""The `llamacpp` provider with the real packaged models (gemma-3-270m for the machinery, one
check of the default Qwen instruct model). One engine per model for the whole module."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from contextlib import aclosing
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from ragline.adapters.llm.llamacpp import LlamaCppProvider
from ragline.config import Settings
from ragline.domain.llm import (
    ChatMessage,
    Finish,
    GenerationParams,
    ModelSpec,
    PromptProgress,
    ProviderEvent,
    Queued,
    TextDelta,
    Usage,
)

pytestmark = pytest.mark.model

COUNTING = [ChatMessage("user", "1, 2, 3, 4, 5, 6, 7, 8, 9, 10,")]  # a base model goes on and on


def make_provider(model_dir: Path, model: str, **options: object) -> Iterator[LlamaCppProvider]:
    # One thread: on a shared 2-core machine two llama.cpp threads stall each other badly.
    settings = Settings(model_dir=model_dir, llama_threads=1, llama_parallel=2)
    spec = ModelSpec(name=model, provider="llamacpp", model=model, options=dict(options))
    provider = LlamaCppProvider(spec, settings)
    yield provider
    asyncio.run(provider.aclose())


@pytest.fixture(scope="module")
def gemma(model_dir: Path) -> Iterator[LlamaCppProvider]:
    yield from make_provider(model_dir, "gemma-3-270m", ctx_per_slot=1024)


@pytest.fixture(scope="module")
def qwen(model_dir: Path) -> Iterator[LlamaCppProvider]:
    yield from make_provider(model_dir, "qwen2.5-coder-1.5b-instruct", ctx_per_slot=1024)


async def collect(
    provider: LlamaCppProvider, messages: list[ChatMessage], **params: Any
) -> list[ProviderEvent]:
    return [e async for e in provider.stream(messages, GenerationParams(**params))]


def text_of(events: list[ProviderEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


async def test_model_loads_once_and_streams_with_engine_usage(gemma: LlamaCppProvider) -> None:
    assert not gemma.is_loaded or gemma.ready
    events = await collect(gemma, COUNTING, max_tokens=12, temperature=0.0)
    assert gemma.is_loaded and gemma.ready
    deltas = [e for e in events if isinstance(e, TextDelta)]
    usage = next(e for e in events if isinstance(e, Usage))
    assert deltas and text_of(events).strip()
    assert usage.completion_tokens == 12 and usage.prompt_tokens > 10
    assert events[-1] == Finish("length")


async def test_closing_the_stream_stops_decoding_within_200ms(gemma: LlamaCppProvider) -> None:
    await gemma.load()
    before = gemma.engine_metrics()["llamacpp:tokens_predicted_total"]
    received: list[str] = []
    stream = gemma.stream(COUNTING, GenerationParams(max_tokens=1000, temperature=0.0))
    async for event in stream:
        if isinstance(event, TextDelta):
            received.append(event.text)
            if len(received) == 8:
                break
    started = time.perf_counter()
    await stream.aclose()  # returns at once; the engine stops at its next token
    for _ in range(1000):  # poll for the slot: the thread gives it back once decoding stopped
        if gemma.queue == (0, 0):
            break
        await asyncio.sleep(0.002)
    latency = time.perf_counter() - started
    assert latency < 0.2, f"decoding went on for {latency * 1000:.0f} ms after the cancel"
    assert "".join(received).strip()  # the partial text is the caller's to keep
    await asyncio.sleep(0.5)  # the engine's counters settle after the slot is released
    metrics = gemma.engine_metrics()
    assert metrics["llamacpp:requests_processing"] == 0
    assert metrics["llamacpp:tokens_predicted_total"] - before <= len(received) + 3


async def test_a_repeated_prefix_is_served_from_the_engine_cache(
    gemma: LlamaCppProvider,
) -> None:
    prefix = [ChatMessage("user", "Numbers: " + ", ".join(str(i) for i in range(120)))]
    first = await collect(gemma, prefix, max_tokens=2, temperature=0.0)
    longer = [ChatMessage("user", prefix[0].content + ", 120, 121, 122,")]
    second = await collect(gemma, longer, max_tokens=2, temperature=0.0)
    used = [next(e for e in run if isinstance(e, Usage)) for run in (first, second)]
    assert used[1].cached_tokens >= used[0].prompt_tokens // 2, used
    progress = [e for e in second if isinstance(e, PromptProgress)]
    assert progress and progress[-1].processed == progress[-1].total
    assert progress[0].cached == used[1].cached_tokens


async def test_cancel_while_the_prompt_is_read_stops_the_reading(model_dir: Path) -> None:
    settings = Settings(model_dir=model_dir, llama_threads=1, llama_parallel=1)
    options = {"n_batch": 32, "ctx_per_slot": 2048}
    spec = ModelSpec(name="gemma-3-270m", provider="llamacpp", model="gemma-3-270m",
                     options=options)
    provider = LlamaCppProvider(spec, settings)
    try:
        long_prompt = [ChatMessage("user", "lorem ipsum dolor " * 300 + "count:")]
        stream = provider.stream(long_prompt, GenerationParams(max_tokens=4))
        seen: list[PromptProgress] = []
        async for event in stream:
            if isinstance(event, PromptProgress):
                seen.append(event)
                if event.processed > 0:
                    break
        await stream.aclose()
        for _ in range(600):  # the reading stops after the batch in progress
            metrics = provider.engine_metrics()
            if provider.queue == (0, 0) and metrics["llamacpp:requests_processing"] == 0:
                break
            await asyncio.sleep(0.1)
        batches = seen[-1].total / 32
        assert metrics["llamacpp:requests_processing"] == 0
        assert metrics["llamacpp:n_decode_total"] < batches / 3, (metrics, batches)
    finally:
        await provider.aclose()


async def test_two_concurrent_runs_use_both_slots_and_a_third_waits(
    gemma: LlamaCppProvider,
) -> None:
    runs = [collect(gemma, COUNTING, max_tokens=6, temperature=0.0) for _ in range(3)]
    results = await asyncio.gather(*runs)
    for events in results:
        assert next(e for e in events if isinstance(e, Usage)).completion_tokens == 6
    queued = [[e.position for e in events if isinstance(e, Queued)] for events in results]
    assert sorted(queued) == [[], [], [1]]
    assert gemma.queue == (0, 0)


async def test_json_schema_output_is_valid(gemma: LlamaCppProvider) -> None:
    schema = {
        "type": "object",
        "properties": {
            "answer": {"type": "string", "enum": ["yes", "no"]},
            "confidence": {"type": "integer", "minimum": 0, "maximum": 100},
        },
        "required": ["answer", "confidence"],
        "additionalProperties": False,
    }
    prompt = [ChatMessage("user", "Is the sky blue? Reply in JSON.")]
    events = await collect(gemma, prompt, max_tokens=64, temperature=0.0, json_schema=schema)
    jsonschema.validate(json.loads(text_of(events)), schema)


async def test_history_longer_than_the_context_is_trimmed_not_fatal(
    gemma: LlamaCppProvider,
) -> None:
    history = [
        ChatMessage("user" if i % 2 == 0 else "assistant", f"turn {i}: " + "lorem ipsum " * 60)
        for i in range(40)
    ]
    history.append(ChatMessage("user", "1, 2, 3, 4,"))
    events = await collect(gemma, history, max_tokens=4)
    usage = next(e for e in events if isinstance(e, Usage))
    assert usage.prompt_tokens <= gemma.context_window


async def test_default_instruct_model_answers_through_its_chat_template(
    qwen: LlamaCppProvider,
) -> None:
    prompt = [
        ChatMessage("system", "Answer with a single number."),
        ChatMessage("user", "What is 2 + 2?"),
    ]
    async with aclosing(qwen.stream(prompt, GenerationParams(max_tokens=8, temperature=0.0))) as s:
        events = [e async for e in s]
    assert "4" in text_of(events)
    assert "<|im_" not in text_of(events)  # the template's control tokens never leak


async def test_the_verifier_reads_the_default_models_yes_or_no_on_a_free_slot_only(
    qwen: LlamaCppProvider,
) -> None:
    """The claim verifier's question (services/verifier.py) on the real default model: a
    restatement gets "yes" odds, the same sentence with another number "no" odds; with every
    slot taken it is not asked at all (it never queues behind a run)."""
    from ragline.services.verifier import ModelVerifier

    verify = ModelVerifier(qwen.next_token_logprobs)
    await qwen.load()
    passage = ("The busy timeout defaults to 5 seconds. After that, a locked database returns "
               "SQLITE_BUSY to the caller.")
    said = await verify("By default the busy timeout is 5 seconds.", passage)
    other = await verify("By default the busy timeout is 30 seconds.", passage)
    assert said is not None and other is not None
    assert said > 0 > other
    taken = [qwen._gate.try_acquire() for _ in range(qwen.parallel)]
    try:
        assert all(taken) and await verify("The timeout is 5 seconds.", passage) is None
    finally:
        for _ in taken:
            qwen._gate.release()
    assert qwen.queue == (0, 0)
