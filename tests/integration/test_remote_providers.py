"""The `openai` and `anthropic` providers against a real llama.cpp server on loopback (the one
`xllamacpp.Server` starts: OpenAI `/v1/chat/completions` and Anthropic `/v1/messages`), with
retries and fallbacks when a server is stopped, slow or rate limited.

Gemini cannot be reached from here: its tests replay Gemini's documented streaming wire format
(`POST /{version}/models/{model}:streamGenerateContent?alt=sse`, Server-Sent Events whose `data:`
lines are `GenerateContentResponse` JSON objects) through the SDK's real HTTP stack, with an
`httpx.MockTransport` standing in for Google's server. Those tests need no model.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ragline.adapters.llm.anthropic import AnthropicProvider
from ragline.adapters.llm.gemini import GeminiProvider
from ragline.adapters.llm.openai_compat import OpenAICompatProvider
from ragline.config import Settings
from ragline.domain.errors import ProviderError
from ragline.domain.llm import (
    ChatMessage,
    Finish,
    GenerationParams,
    ModelProvider,
    ModelSpec,
    ModelSwitched,
    TextDelta,
    Usage,
)
from ragline.services.models import ModelRegistry
from tests.conftest import free_port

PROMPT = [ChatMessage("system", "Continue the list."), ChatMessage("user", "1, 2, 3, 4, 5,")]


@pytest.fixture(scope="module")
def llama_server(model_dir: Path) -> Iterator[str]:
    """A real llama.cpp server (gemma-3-270m) on a free loopback port."""
    import xllamacpp

    from ragline.adapters.llm.local_models import ensure_model_file

    params = xllamacpp.CommonParams()
    params.model.path = str(ensure_model_file("gemma-3-270m", Settings(model_dir=model_dir)))
    params.n_parallel = 2
    params.n_ctx = 2048
    params.cpuparams.n_threads = 1  # two threads stall each other on a shared 2-core machine
    params.cpuparams_batch.n_threads = 1
    params.hostnames = ["127.0.0.1"]
    params.port = free_port()
    params.verbosity = 0
    server = xllamacpp.Server(params)
    yield str(server.listening_address)
    del server


def remote(kind: str, base_url: str, **options: Any) -> ModelProvider:
    spec = ModelSpec(name=kind, provider=kind, model="gemma", base_url=base_url, options=options)
    return OpenAICompatProvider(spec) if kind == "openai" else AnthropicProvider(spec)


def base_url(kind: str, address: str) -> str:
    return f"{address}/v1" if kind == "openai" else address


async def busy_slots(address: str) -> int:
    async with httpx.AsyncClient() as client:
        slots = (await client.get(f"{address}/slots")).json()
    return sum(1 for slot in slots if slot.get("is_processing"))


@pytest.mark.model
@pytest.mark.parametrize("kind", ["openai", "anthropic"])
async def test_streams_text_and_usage_from_a_real_llama_server(
    kind: str, llama_server: str
) -> None:
    provider = remote(kind, base_url(kind, llama_server))
    events = [e async for e in provider.stream(PROMPT, GenerationParams(max_tokens=8))]
    await provider.aclose()
    assert [e for e in events if isinstance(e, TextDelta)]
    usage = next(e for e in events if isinstance(e, Usage))
    assert usage.completion_tokens == 8 and usage.prompt_tokens > 5
    assert events[-1] == Finish("length")


@pytest.mark.model
@pytest.mark.parametrize("kind", ["openai", "anthropic"])
async def test_closing_the_stream_ends_generation_on_the_server(
    kind: str, llama_server: str
) -> None:
    provider = remote(kind, base_url(kind, llama_server))
    stream = provider.stream(PROMPT, GenerationParams(max_tokens=1000))
    received = 0
    async for event in stream:
        received += isinstance(event, TextDelta)
        if received == 5:
            break
    await stream.aclose()
    for _ in range(20):  # the server notices the closed connection within its poll interval
        if not await busy_slots(llama_server):
            break
        await asyncio.sleep(0.05)
    assert await busy_slots(llama_server) == 0
    await provider.aclose()


def registry_for(tmp_path: Path, models_toml: str, sleeps: list[float]) -> ModelRegistry:
    path = tmp_path / "models.toml"
    path.write_text(models_toml)

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        await asyncio.sleep(0)

    settings = Settings(data_dir=tmp_path, models_file=path, default_model="scripted")
    return ModelRegistry(settings, sleep=sleep)


@pytest.mark.model
async def test_registry_entries_of_type_openai_and_anthropic_answer(
    tmp_path: Path, llama_server: str
) -> None:
    registry = registry_for(
        tmp_path,
        f'[oa]\nprovider = "openai"\nbase_url = "{llama_server}/v1"\n'
        f'[an]\nprovider = "anthropic"\nbase_url = "{llama_server}"\n',
        [],
    )
    for name in ("oa", "an"):
        text, usage, used = await registry.complete(name, PROMPT, GenerationParams(max_tokens=6))
        assert text and used == name and usage.completion_tokens == 6
    await registry.aclose()


async def test_stopped_server_goes_to_the_fallback_before_the_first_token(tmp_path: Path) -> None:
    closed = free_port()  # nothing listens here: a stopped server
    sleeps: list[float] = []
    registry = registry_for(
        tmp_path,
        f'[primary]\nprovider = "openai"\nbase_url = "http://127.0.0.1:{closed}/v1"\n'
        'fallbacks = ["scripted"]\noptions = { max_retries = 2, backoff_base = 0.01 }\n',
        sleeps,
    )
    events = [e async for e in registry.stream("primary", PROMPT, GenerationParams())]
    assert isinstance(events[0], ModelSwitched) and events[0].model == "scripted"
    assert "could not be reached" in events[0].reason
    assert len(sleeps) == 2 and all(0 <= s <= 0.02 for s in sleeps)
    assert any(isinstance(e, TextDelta) for e in events)
    await registry.aclose()


class TinyServer:
    """A loopback HTTP server that answers every request with `reply` (None: never answers)."""

    def __init__(self, reply: bytes | None) -> None:
        self.reply = reply
        self.requests = 0
        self.done = asyncio.Event()
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> TinyServer:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.done.set()  # lets the silent handlers finish
        assert self.server is not None
        self.server.close()
        await asyncio.sleep(0)

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.requests += 1
        try:
            await reader.readuntil(b"\r\n\r\n")
            if self.reply is None:
                await self.done.wait()
            else:
                writer.write(self.reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
async def test_slow_server_times_out_and_goes_to_the_fallback(tmp_path: Path, kind: str) -> None:
    async with TinyServer(None) as server:
        sleeps: list[float] = []
        url = base_url(kind, f"http://127.0.0.1:{server.port}")
        registry = registry_for(
            tmp_path,
            f'[slow]\nprovider = "{kind}"\nbase_url = "{url}"\n'
            'fallbacks = ["scripted"]\n'
            "options = { max_retries = 1, backoff_base = 0.01, first_token_timeout = 0.5 }\n",
            sleeps,
        )
        started = time.monotonic()
        events = [e async for e in registry.stream("slow", PROMPT, GenerationParams())]
        assert isinstance(events[0], ModelSwitched) and "first token" in events[0].reason
        # Two attempts, one backoff between them. (The first attempt also imports the SDK, which on
        # a loaded machine may eat its whole window before it connects, hence "at least one".)
        assert len(sleeps) == 1 and 1 <= server.requests <= 2
        assert time.monotonic() - started < 5
        await registry.aclose()


@pytest.mark.model
async def test_rate_limited_server_is_retried_after_retry_after_then_falls_back(
    tmp_path: Path, llama_server: str
) -> None:
    body = b'{"error": {"message": "slow down", "type": "rate_limit_error"}}'
    reply = (
        b"HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\n"
        b"Retry-After: 0.05\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
        % (len(body), body)
    )
    async with TinyServer(reply) as server:
        sleeps: list[float] = []
        registry = registry_for(
            tmp_path,
            f'[limited]\nprovider = "openai"\nbase_url = "http://127.0.0.1:{server.port}/v1"\n'
            'fallbacks = ["local"]\noptions = { max_retries = 2 }\n'
            f'[local]\nprovider = "openai"\nbase_url = "{llama_server}/v1"\n',
            sleeps,
        )
        text, _, used = await registry.complete("limited", PROMPT, GenerationParams(max_tokens=4))
        assert used == "local" and text
        assert server.requests == 3 and sleeps == [0.05, 0.05]
        await registry.aclose()


# --- Gemini: the documented wire format replayed through the SDK's HTTP transport -----------


def sse(*responses: dict[str, Any]) -> bytes:
    return b"".join(b"data: " + json.dumps(r).encode() + b"\r\n\r\n" for r in responses)


def chunk(text: str, finish: str | None = None, usage: tuple[int, int] | None = None) -> dict:  # type: ignore[type-arg]
    candidate: dict[str, Any] = {
        "content": {"role": "model", "parts": [{"text": text}]},
        "index": 0,
    }
    if finish:
        candidate["finishReason"] = finish
    response: dict[str, Any] = {"candidates": [candidate], "modelVersion": "gemini-test"}
    if usage:
        response["usageMetadata"] = {
            "promptTokenCount": usage[0],
            "candidatesTokenCount": usage[1],
            "totalTokenCount": sum(usage),
        }
    return response


def gemini(handler: Any) -> GeminiProvider:
    spec = ModelSpec(name="g", provider="gemini", model="gemini-test", max_tokens=32)
    return GeminiProvider(spec, transport=httpx.MockTransport(handler))


async def test_gemini_streams_the_documented_sse_format() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        body = sse(chunk("Hello"), chunk(", world"), chunk("!", "STOP", (7, 3)))
        return httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})

    provider = gemini(handler)
    events = [e async for e in provider.stream(PROMPT, GenerationParams(temperature=0.2))]
    await provider.aclose()
    assert events == [
        TextDelta("Hello"),
        TextDelta(", world"),
        TextDelta("!"),
        Usage(7, 3),
        Finish("stop"),
    ]
    request = seen[0]
    assert request.url.host == "generativelanguage.googleapis.com"
    assert request.url.path.endswith("/models/gemini-test:streamGenerateContent")
    assert request.url.params["alt"] == "sse"
    sent = json.loads(request.content)
    assert sent["contents"] == [{"role": "user", "parts": [{"text": "1, 2, 3, 4, 5,"}]}]
    assert sent["systemInstruction"]["parts"][0]["text"] == "Continue the list."
    assert sent["generationConfig"]["maxOutputTokens"] == 32


async def test_gemini_rate_limit_is_retryable_with_retry_after() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        error = {"error": {"code": 429, "message": "quota", "status": "RESOURCE_EXHAUSTED"}}
        return httpx.Response(429, json=error, headers={"Retry-After": "2"})

    provider = gemini(handler)
    with pytest.raises(ProviderError) as info:
        _ = [e async for e in provider.stream(PROMPT, GenerationParams())]
    await provider.aclose()
    assert (info.value.code, info.value.retryable, info.value.retry_after) == (
        "rate_limited",
        True,
        2.0,
    )


class EndlessBody(httpx.AsyncByteStream):
    """One SSE event, then silence until the client closes the response."""

    def __init__(self) -> None:
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield sse(chunk("first"))
        await asyncio.Event().wait()

    async def aclose(self) -> None:
        self.closed = True


async def test_gemini_closing_the_stream_closes_the_http_response() -> None:
    body = EndlessBody()
    provider = gemini(lambda request: httpx.Response(200, stream=body))
    stream = provider.stream(PROMPT, GenerationParams())
    assert await anext(stream) == TextDelta("first")
    await stream.aclose()
    assert body.closed
    await provider.aclose()
