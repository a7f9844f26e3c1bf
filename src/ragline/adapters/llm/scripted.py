"""The `scripted` provider: deterministic text at a configurable rate, for tests and benchmarks.

Special prompts steer it (they are how tests make it misbehave):
- a user message containing ``[[fail]]`` fails before the first token (retryable),
- ``[[fail-after:N]]`` fails after N tokens,
- ``[[stall]]`` emits one token and then waits forever (until cancelled),
- ``[[tokens:N]]`` emits exactly N tokens,
- ``[[say:TEXT]]`` answers exactly TEXT (split on spaces),
- ``[[json:RAW]]`` answers exactly RAW, even in JSON mode (to script invalid structured output).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

from ragline.domain.errors import ProviderError
from ragline.domain.llm import (
    Capabilities,
    ChatMessage,
    Finish,
    GenerationParams,
    ModelSpec,
    ProviderEvent,
    TextDelta,
    Usage,
    approx_token_count,
)

if TYPE_CHECKING:
    from ragline.config import Settings

WORDS = (
    "ragline streams grounded answers token by token from your own documents with "
    "sources persisted events resumable runs hybrid retrieval local models and a clean core "
    "every reply here is deterministic so tests can check exactly what arrives"
).split()

_DIRECTIVE = re.compile(r"\[\[(fail|fail-after|stall|tokens|say|clock|delay)(?::([^\]]*))?\]\]")
_RAW_JSON = re.compile(r"\[\[json:(.*)\]\]", re.DOTALL)  # up to the last ]]


class ScriptedProvider:
    name = "scripted"
    capabilities = Capabilities(streaming=True, json_schema=True)
    prompt_rate: float | None = None  # remote or instant: no prompt-reading rate to plan with

    def __init__(self, *, token_delay_s: float = 0.0, context_window: int = 32768) -> None:
        self.token_delay_s = token_delay_s
        self.context_window = context_window

    def count_tokens(self, text: str) -> int:
        return approx_token_count(text)

    async def aclose(self) -> None:
        return None

    def script(self, messages: Sequence[ChatMessage], params: GenerationParams) -> list[str]:
        """The exact deltas this provider will emit for these messages."""
        last_user = next((m.content for m in reversed(messages) if m.role == "user"), "")
        directives = {m.group(1): m.group(2) for m in _DIRECTIVE.finditer(last_user)}
        if raw := _RAW_JSON.search(last_user):
            return _chunks(raw.group(1))
        if "say" in directives:
            words = (directives["say"] or "").split(" ")
            return _until_stop([w if i == 0 else " " + w for i, w in enumerate(words)], params.stop)
        if params.json_schema is not None:
            return _json_deltas(params.json_schema)
        count = int(directives.get("tokens") or 0)  # an explicit count beats max_tokens
        if not count:
            count = min(60, params.max_tokens or 60)
        digest = hashlib.sha256("\n".join(m.content for m in messages).encode()).digest()
        out = []
        for i in range(count):
            word = WORDS[(digest[i % len(digest)] + i) % len(WORDS)]
            out.append(word if i == 0 else " " + word)
        return _until_stop(out, params.stop)

    async def stream(
        self, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> AsyncIterator[ProviderEvent]:
        last_user = next((m.content for m in reversed(messages) if m.role == "user"), "")
        directives = {m.group(1): m.group(2) for m in _DIRECTIVE.finditer(last_user)}
        if "fail" in directives:
            raise ProviderError("scripted failure before the first token", retryable=True)
        fail_after = int(directives["fail-after"] or 0) if "fail-after" in directives else None
        deltas = self.script(messages, params)
        prompt_tokens = sum(self.count_tokens(m.content) for m in messages)
        emitted = 0
        delay = (
            float(directives["delay"] or 0) / 1000 if "delay" in directives else self.token_delay_s
        )
        for delta in deltas:
            if fail_after is not None and emitted >= fail_after:
                raise ProviderError("scripted failure mid-stream", retryable=False)
            if delay:
                await asyncio.sleep(delay)
            elif emitted % 64 == 63:
                await asyncio.sleep(0)  # stay cooperative when emitting flat out
            yield TextDelta(f" {time.time():.6f}" if "clock" in directives else delta)
            emitted += 1
            if "stall" in directives:
                await asyncio.Event().wait()
        yield Usage(prompt_tokens=prompt_tokens, completion_tokens=emitted)
        yield Finish("stop")


def _until_stop(deltas: list[str], stop: Sequence[str]) -> list[str]:
    """Like a real model, end the text just before the first stop sequence."""
    text = "".join(deltas)
    cut = min((i for s in stop if s and (i := text.find(s)) >= 0), default=-1)
    if cut < 0:
        return deltas
    out, used = [], 0
    for delta in deltas:
        if used + len(delta) > cut:
            if cut > used:
                out.append(delta[: cut - used])
            break
        out.append(delta)
        used += len(delta)
    return out


def _json_deltas(schema: dict[str, Any]) -> list[str]:
    return _chunks(json.dumps(_example(schema, schema)))


def _chunks(text: str) -> list[str]:
    return [text[i : i + 8] for i in range(0, len(text), 8)]


def _example(schema: dict[str, Any], root: dict[str, Any]) -> Any:
    """A minimal instance of a JSON schema (enough for the scripted provider's JSON mode)."""
    if "$ref" in schema:
        ref = schema["$ref"].split("/")[-1]
        return _example(root.get("$defs", {}).get(ref, {}), root)
    if "anyOf" in schema:
        return _example(schema["anyOf"][0], root)
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = kind[0]
    if kind == "object":
        props = schema.get("properties", {})
        return {k: _example(v, root) for k, v in props.items() if k in schema.get("required", [])}
    if kind == "array":
        return []
    if kind == "string":
        if schema.get("format") == "uuid":
            return "00000000-0000-4000-8000-000000000000"
        return "x" * int(schema.get("minLength", 1))
    if kind in ("integer", "number"):
        return schema.get("minimum", 0)
    if kind == "boolean":
        return False
    return None


def create(spec: ModelSpec, settings: Settings) -> ScriptedProvider:
    delay_ms = float(spec.options.get("token_delay_ms", settings.scripted_token_delay_ms))
    return ScriptedProvider(token_delay_s=delay_ms / 1000.0, context_window=spec.context_window)
