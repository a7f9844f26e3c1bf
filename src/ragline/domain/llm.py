"""The model-provider port: chat messages in, a stream of typed events out."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: Role
    content: str


@dataclass(frozen=True, slots=True)
class GenerationParams:
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: tuple[str, ...] = ()
    json_schema: dict[str, Any] | None = None
    seed: int | None = None


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int = 0  # prompt tokens the engine served from its cache instead of reading


@dataclass(frozen=True, slots=True)
class Finish:
    reason: str = "stop"  # "stop", "length", "cancelled"


@dataclass(frozen=True, slots=True)
class Queued:
    """The request waits for a free engine slot; `position` 1 is next."""

    position: int


@dataclass(frozen=True, slots=True)
class PromptProgress:
    """The engine is reading the prompt: `processed` of `total` tokens, `cached` of them reused."""

    processed: int
    total: int
    cached: int = 0

    @property
    def fraction(self) -> float:
        """Progress over the tokens that really have to be read (the cached ones are free)."""
        todo = self.total - self.cached
        return 1.0 if todo <= 0 else max(0.0, min(1.0, (self.processed - self.cached) / todo))


@dataclass(frozen=True, slots=True)
class ModelSwitched:
    """Emitted by the registry when a fallback model takes over before the first token."""

    model: str
    reason: str


ProviderEvent = TextDelta | Usage | Finish | Queued | PromptProgress | ModelSwitched


@dataclass(frozen=True, slots=True)
class Capabilities:
    streaming: bool = True
    json_schema: bool = False
    grammar: bool = False
    tools: bool = False


@runtime_checkable
class ModelProvider(Protocol):
    """One LLM behind one registry name.

    `stream` is an async generator: closing it (``aclose``) must stop generation.
    Failures are raised as `ProviderError` (``retryable`` when a retry may help).
    """

    name: str
    capabilities: Capabilities
    context_window: int
    prompt_rate: float | None  # prompt tokens read per second when measured (local engines)

    def stream(
        self, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> AsyncIterator[ProviderEvent]: ...

    def count_tokens(self, text: str) -> int: ...

    async def aclose(self) -> None: ...


@runtime_checkable
class LocalEngine(Protocol):
    """A provider that loads its model into this process (llama.cpp): loading and its slots."""

    load_error: str | None  # why the last load failed

    @property
    def is_loaded(self) -> bool: ...

    @property
    def queue(self) -> tuple[int, int]:
        """(running, waiting) requests."""
        ...

    async def load(self) -> None: ...


@dataclass
class ModelSpec:
    """One entry of the model registry."""

    name: str
    provider: str
    model: str = ""
    base_url: str | None = None
    api_key_env: str | None = None
    context_window: int = 4096
    max_tokens: int | None = None
    temperature: float | None = None
    fallbacks: list[str] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)
    description: str = ""


def approx_token_count(text: str) -> int:
    """A cheap, provider-independent estimate (~4 characters a token)."""
    return max(1, (len(text) + 3) // 4) if text else 0
