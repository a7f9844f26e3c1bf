"""Test doubles for the model registry (a queue-fed scripted model)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from ragline.adapters.llm.scripted import ScriptedProvider
from ragline.domain.errors import InvalidInput
from ragline.domain.llm import (
    ChatMessage,
    GenerationParams,
    ModelSpec,
    ProviderEvent,
    TextDelta,
    Usage,
)


class FakeModels:
    """Just enough of ModelRegistry for the executor and pipeline: the scripted model."""

    default_model = "scripted"

    def __init__(self, token_delay_s: float = 0.0) -> None:
        self.provider = ScriptedProvider(token_delay_s=token_delay_s)
        self.calls: list[list[ChatMessage]] = []
        self.completions: list[str] = []
        self.rate: float | None = None

    def names(self) -> list[str]:
        return ["scripted"]

    def spec(self, name: str) -> ModelSpec:
        if name != "scripted":
            raise InvalidInput(f"unknown model {name!r}", code="unknown_model")
        return ModelSpec(name="scripted", provider="scripted", context_window=32768)

    def resolve(self, *names: str | None) -> str:
        name = next((n for n in names if n), None) or self.default_model
        self.spec(name)
        return name

    def prompt_rate(self, name: str) -> float | None:
        return self.rate

    def stream(
        self, name: str, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> AsyncIterator[ProviderEvent]:
        self.spec(name)
        self.calls.append(list(messages))
        return self.provider.stream(messages, params)

    async def complete(
        self, name: str, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> tuple[str, Usage, str]:
        if self.completions:
            return self.completions.pop(0), Usage(1, 1), name
        parts, usage = [], Usage(0, 0)
        async for event in self.stream(name, messages, params):
            if isinstance(event, TextDelta):
                parts.append(event.text)
            elif isinstance(event, Usage):
                usage = event
        return "".join(parts), usage, name

    def readiness(self) -> dict[str, Any]:
        return {"scripted": "ready"}

    async def start(self) -> None:  # the container's Lifecycle
        return None

    async def stop(self) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        return None
