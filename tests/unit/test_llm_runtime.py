"""Pieces of the local engine and remote providers that need no model: the slot queue, prompt
fitting, request bodies and HTTP error mapping."""

from __future__ import annotations

import asyncio
import json
from contextlib import aclosing

import pytest

from ragline.adapters.llm.anthropic import AnthropicProvider
from ragline.adapters.llm.gemini import GeminiProvider
from ragline.adapters.llm.llama_request import build_request, fit_messages, plain_prompt
from ragline.adapters.llm.openai_compat import OpenAICompatProvider
from ragline.adapters.llm.remote_errors import PLACEHOLDER_KEY, api_key, retry_after, status_error
from ragline.adapters.llm.slot_gate import SlotGate
from ragline.domain.errors import ProviderError
from ragline.domain.llm import ChatMessage, GenerationParams, ModelSpec


def words(text: str) -> int:
    return len(text.split())


async def take_slot(gate: SlotGate, positions: list[int]) -> None:
    async with aclosing(gate.acquire()) as waiting:
        async for position in waiting:
            positions.append(position)


async def test_slot_gate_queues_in_order_and_reports_positions() -> None:
    gate = SlotGate(slots=1, queue_limit=5)
    await take_slot(gate, [])
    second: list[int] = []
    third: list[int] = []
    t2 = asyncio.create_task(take_slot(gate, second))
    await asyncio.sleep(0)
    t3 = asyncio.create_task(take_slot(gate, third))
    await asyncio.sleep(0)
    assert (gate.busy, gate.waiting) == (1, 2)
    gate.release()
    await t2
    await asyncio.sleep(0)
    assert second == [1] and third == [2, 1]
    gate.release()
    await t3
    gate.release()
    assert (gate.busy, gate.waiting) == (0, 0)


async def test_slot_gate_refuses_beyond_the_queue_limit() -> None:
    gate = SlotGate(slots=1, queue_limit=1)
    await take_slot(gate, [])
    waiter = asyncio.create_task(take_slot(gate, []))
    await asyncio.sleep(0)
    with pytest.raises(ProviderError) as info:
        await take_slot(gate, [])
    assert info.value.code == "overloaded" and info.value.retryable
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert gate.waiting == 0  # a cancelled waiter leaves the queue
    gate.release()
    assert gate.busy == 0


def test_fit_messages_drops_the_oldest_turns_first() -> None:
    history = [
        ChatMessage("system", "be brief"),
        ChatMessage("user", "one two three four"),
        ChatMessage("assistant", "five six seven eight"),
        ChatMessage("user", "last question"),
    ]
    fitted = fit_messages(history, budget=20, count=words)
    assert [m.content for m in fitted] == ["be brief", "five six seven eight", "last question"]


def test_fit_messages_shortens_a_message_too_long_on_its_own() -> None:
    long = " ".join(f"w{i}" for i in range(1000))
    fitted = fit_messages([ChatMessage("user", long)], budget=100, count=words)
    assert words(fitted[0].content) <= 100
    assert fitted[0].content.startswith("w0 ") and fitted[0].content.endswith("w999")


def test_fit_messages_refuses_when_the_answer_alone_is_too_big() -> None:
    with pytest.raises(ProviderError) as info:
        fit_messages([ChatMessage("user", "hi")], budget=0, count=words)
    assert info.value.code == "context_overflow"


def test_llama_requests_for_chat_and_base_models() -> None:
    messages = [ChatMessage("system", "sys"), ChatMessage("user", "hi")]
    params = GenerationParams(temperature=0.0, json_schema={"type": "object"}, stop=("END",))
    chat = build_request(messages, params, chat=True, max_tokens=16)
    assert chat["messages"][1] == {"role": "user", "content": "hi"}
    grammar = chat["grammar"]
    assert grammar.startswith("%llguidance {}\nstart: %json {") and "json_schema" not in chat
    assert json.loads(grammar.split("%json ", 1)[1]) == {
        "x-guidance": {"whitespace_flexible": False}, "type": "object"}
    assert chat["stop"] == ["END"]
    plain = build_request(messages, GenerationParams(), chat=False, max_tokens=16)
    assert plain["prompt"] == plain_prompt(messages) == "sys\n\nUser: hi\n\nAssistant:"
    assert "\nUser:" in plain["stop"] and plain["max_tokens"] == 16


def test_remote_request_bodies_carry_sampling_and_json_schema() -> None:
    spec = ModelSpec(name="m", provider="x", model="model-id", max_tokens=99, temperature=0.3)
    messages = [ChatMessage("system", "sys"), ChatMessage("user", "hi")]
    params = GenerationParams(json_schema={"type": "object"}, seed=7)
    body = OpenAICompatProvider(spec).request(messages, params)
    assert (body["model"], body["max_tokens"], body["temperature"], body["seed"]) == (
        "model-id",
        99,
        0.3,
        7,
    )
    assert body["response_format"]["json_schema"]["schema"] == {"type": "object"}
    body = AnthropicProvider(spec).request(messages, params)
    assert body["system"] == "sys" and body["messages"] == [{"role": "user", "content": "hi"}]
    assert "seed" not in body and body["output_config"]["format"]["type"] == "json_schema"
    config = GeminiProvider(spec).config(messages, params)
    assert config["max_output_tokens"] == 99 and config["system_instruction"] == "sys"
    assert config["response_json_schema"] == {"type": "object"}


def test_http_failures_map_to_provider_errors() -> None:
    limited = status_error("openai", 429, "slow down", {"Retry-After": "7"})
    assert (limited.code, limited.retryable, limited.retry_after) == ("rate_limited", True, 7.0)
    assert status_error("openai", 503, "x", {}).retryable
    auth = status_error("anthropic", 401, "bad key", None)
    assert (auth.code, auth.retryable) == ("auth_failed", False)
    assert retry_after({"retry-after-ms": "1500"}) == 1.5
    assert retry_after({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0
    assert retry_after({"Retry-After": "soon"}) is None


def test_a_vendor_key_is_never_sent_to_a_custom_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-real")
    monkeypatch.setenv("MY_KEY", "sk-mine")
    assert api_key(ModelSpec(name="a", provider="openai"), "OPENAI_API_KEY") == "sk-real"
    local = ModelSpec(name="b", provider="openai", base_url="http://127.0.0.1:8080/v1")
    assert api_key(local, "OPENAI_API_KEY") == PLACEHOLDER_KEY
    local.api_key_env = "MY_KEY"
    assert api_key(local, "OPENAI_API_KEY") == "sk-mine"
