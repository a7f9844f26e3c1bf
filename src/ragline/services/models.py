"""The model registry: names to providers, and resilient streaming over them.

`stream` retries a failing model (exponential backoff with full jitter, honouring Retry-After)
until its first token, then walks the model's fallback chain, announcing each switch with a
`ModelSwitched` event. Once text has flowed, errors propagate: the caller keeps the partial text.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import aclosing, asynccontextmanager
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from ragline.domain.errors import InvalidInput, ProviderError
from ragline.domain.llm import (
    ChatMessage,
    Finish,
    GenerationParams,
    LocalEngine,
    ModelProvider,
    ModelSpec,
    ModelSwitched,
    ProviderEvent,
    TextDelta,
    Usage,
)
from ragline.services.model_specs import load_model_specs
from ragline.services.retry_policy import RetryPolicy, next_event, timeout_after
from ragline.telemetry import hooks

if TYPE_CHECKING:
    from ragline.config import Settings

ProviderFactory = Callable[[ModelSpec, "Settings"], ModelProvider]
PROVIDER_GROUP = "ragline.providers"


class ModelRegistry:
    def __init__(
        self,
        settings: Settings,
        specs: Mapping[str, ModelSpec] | None = None,
        *,
        factories: Mapping[str, ProviderFactory] | None = None,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.settings = settings
        self._specs = dict(specs) if specs is not None else load_model_specs(settings)
        self._factories = dict(factories or {})
        self._entry_points = {ep.name: ep for ep in entry_points(group=PROVIDER_GROUP)}
        self._policy = policy or RetryPolicy()
        self._sleep = sleep
        self._rand = rand
        self._providers: dict[str, ModelProvider] = {}
        self._validate()

    def _validate(self) -> None:
        known_providers = self._factories.keys() | self._entry_points.keys()
        for spec in self._specs.values():
            if spec.provider not in known_providers:
                raise InvalidInput(
                    f"model {spec.name!r}: unknown provider {spec.provider!r} "
                    f"(installed: {', '.join(sorted(known_providers))})"
                )
            for fallback in spec.fallbacks:
                if fallback not in self._specs or fallback == spec.name:
                    raise InvalidInput(f"model {spec.name!r}: bad fallback {fallback!r}")
        if self.default_model not in self._specs:
            raise InvalidInput(f"the default model {self.default_model!r} is not registered")

    @property
    def default_model(self) -> str:
        return self.settings.default_model

    def names(self) -> list[str]:
        return list(self._specs)

    def spec(self, name: str) -> ModelSpec:
        try:
            return self._specs[name]
        except KeyError:
            raise InvalidInput(
                f"unknown model {name!r}; available: {', '.join(self._specs)}",
                code="unknown_model",
            ) from None

    def policy(self, name: str) -> RetryPolicy:
        return self._policy.with_options(self.spec(name).options)

    def provider(self, name: str) -> ModelProvider:
        """The provider behind `name`, created on first use and kept."""
        provider = self._providers.get(name)
        if provider is None:
            spec = self.spec(name)
            try:
                factory = (
                    self._factories.get(spec.provider) or self._entry_points[spec.provider].load()
                )
                provider = factory(spec, self.settings)
            except ProviderError:
                raise
            except Exception as exc:
                raise ProviderError(
                    f"model {name!r}: provider {spec.provider!r} failed to start: {exc}",
                    code="provider_unavailable",
                ) from exc
            self._providers[name] = provider
        return provider

    async def stream(
        self, name: str, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> AsyncGenerator[ProviderEvent, None]:
        chain = [name, *self.spec(name).fallbacks]
        error = ProviderError(f"model {name!r} produced nothing")
        for index, model in enumerate(chain):
            if index:
                hooks.provider_fell_back(chain[index - 1], model)
                yield ModelSwitched(model, f"{chain[index - 1]} failed: {error.message}")
            policy = self.policy(model)
            attempt = 0
            while True:
                started = False
                try:
                    provider = self.provider(model)
                    with hooks.ModelCall(model) as call:
                        async with _closing(provider.stream(messages, params)) as events:
                            timeout = policy.first_token_timeout
                            while event := await next_event(events, timeout, started=started):
                                started = started or isinstance(event, TextDelta | Usage | Finish)
                                timeout = timeout_after(event, policy, started)
                                call.observe(event)
                                yield event
                    return
                except ProviderError as exc:
                    hooks.provider_failed(model, exc.code)
                    if started:
                        raise
                    error = exc
                except Exception as exc:
                    wrapped = ProviderError(f"model {model!r} failed: {exc!r}")
                    hooks.provider_failed(model, wrapped.code)
                    if started:
                        raise wrapped from exc
                    error = wrapped
                retry_after = error.retry_after
                delay = policy.delay(attempt, retry_after, self._rand) if error.retryable else None
                if delay is None:
                    break
                attempt += 1
                hooks.provider_retried(model)
                await self._sleep(delay)
        raise error

    def resolve(self, *names: str | None) -> str:
        """The first name given, else the default; an unknown name is a 400 (`unknown_model`)."""
        name = next((n for n in names if n), None) or self.default_model
        self.spec(name)
        return str(name)

    def prompt_rate(self, name: str) -> float | None:
        """Prompt tokens/s the model's engine has measured (None for remote or unused models)."""
        provider = self._providers.get(name)
        return provider.prompt_rate if provider is not None else None

    async def complete(
        self, name: str, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> tuple[str, Usage, str]:
        """The whole answer at once: (text, usage, the model that produced it)."""
        parts: list[str] = []
        usage: Usage | None = None
        used = name
        async with aclosing(self.stream(name, messages, params)) as events:
            async for event in events:
                if isinstance(event, TextDelta):
                    parts.append(event.text)
                elif isinstance(event, Usage):
                    usage = event
                elif isinstance(event, ModelSwitched):
                    used = event.model
        text = "".join(parts)
        if usage is None:
            count = self.provider(used).count_tokens
            usage = Usage(sum(count(m.content) for m in messages), count(text))
        return text, usage, used

    async def start(self) -> None:
        """Load the default model now when `load_model_at_startup` asks for it."""
        if self.settings.load_model_at_startup:
            provider = self.provider(self.default_model)
            if isinstance(provider, LocalEngine):
                await provider.load()

    def readiness(self) -> dict[str, Any]:
        """Which models are loaded; `ready` is whether the default model can answer now."""
        models: dict[str, Any] = {}
        for name, spec in self._specs.items():
            provider = self._providers.get(name)
            engine = provider if isinstance(provider, LocalEngine) else None
            loaded = provider is not None and (engine is None or engine.is_loaded)
            entry: dict[str, Any] = {"provider": spec.provider, "loaded": loaded}
            if engine is not None and engine.load_error:
                entry["error"] = engine.load_error
            if engine is not None:
                entry["running"], entry["waiting"] = engine.queue
            models[name] = entry
        default = models[self.default_model]
        ready = default["loaded"] if self.settings.load_model_at_startup else "error" not in default
        return {"ready": bool(ready), "default_model": self.default_model, "models": models}

    async def stop(self) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        providers, self._providers = list(self._providers.values()), {}
        for provider in providers:
            await provider.aclose()


@asynccontextmanager
async def _closing(
    events: AsyncIterator[ProviderEvent],
) -> AsyncIterator[AsyncIterator[ProviderEvent]]:
    """Close a provider's stream (its `aclose`) however the block is left."""
    try:
        yield events
    finally:
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            await aclose()
