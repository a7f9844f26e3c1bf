"""The `anthropic` provider: Claude (or any Anthropic Messages-compatible server, `base_url`)
through the official `anthropic` SDK's streaming Messages API."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from typing import TYPE_CHECKING, Any

from ragline.adapters.llm.remote_errors import (
    api_key,
    connection_error,
    sampling,
    status_error,
    timeouts,
)
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
    from anthropic import AsyncAnthropic

    from ragline.config import Settings

DEFAULT_MAX_TOKENS = 1024  # the Messages API requires one
_FINISH = {"max_tokens": "length", "model_context_window_exceeded": "length"}


class AnthropicProvider:
    capabilities = Capabilities(streaming=True, json_schema=True)
    prompt_rate: float | None = None  # remote or instant: no prompt-reading rate to plan with

    def __init__(self, spec: ModelSpec, *, http_client: Any = None) -> None:
        self.name = spec.name
        self.spec = spec
        self.context_window = spec.context_window
        self._http_client = http_client
        self._client: AsyncAnthropic | None = None

    def _get_client(self) -> AsyncAnthropic:
        if self._client is None:
            import anthropic

            connect, read = timeouts(self.spec)
            self._client = anthropic.AsyncAnthropic(
                api_key=api_key(self.spec, "ANTHROPIC_API_KEY"),
                base_url=self.spec.base_url,
                timeout=anthropic.Timeout(read, connect=connect),
                max_retries=0,  # the registry retries, with backoff and fallbacks
                http_client=self._http_client,
            )
        return self._client

    def count_tokens(self, text: str) -> int:
        return approx_token_count(text)

    def request(self, messages: Sequence[ChatMessage], params: GenerationParams) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.spec.model,
            "messages": [
                {"role": m.role, "content": m.content} for m in messages if m.role != "system"
            ],
            "stream": True,
            **sampling(self.spec, params),
        }
        body.setdefault("max_tokens", DEFAULT_MAX_TOKENS)
        body.pop("seed", None)  # not part of the Messages API
        system = "\n\n".join(m.content for m in messages if m.role == "system")
        if system:
            body["system"] = system
        if params.stop:
            body["stop_sequences"] = list(params.stop)
        if params.json_schema is not None:
            body["output_config"] = {
                "format": {"type": "json_schema", "schema": params.json_schema}
            }
        if extra := self.spec.options.get("extra_body"):
            body["extra_body"] = dict(extra)
        return body

    async def stream(
        self, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> AsyncGenerator[ProviderEvent, None]:
        import anthropic

        client = self._get_client()
        prompt_tokens = completion_tokens = 0
        finish = "stop"
        try:
            response = await client.messages.create(**self.request(messages, params))
            try:
                async for event in response:
                    if event.type == "message_start":
                        prompt_tokens = _input_tokens(event.message.usage)
                    elif event.type == "content_block_delta" and event.delta.type == "text_delta":
                        yield TextDelta(event.delta.text)
                    elif event.type == "message_delta":
                        completion_tokens = event.usage.output_tokens or completion_tokens
                        if event.delta.stop_reason:
                            finish = _FINISH.get(event.delta.stop_reason, "stop")
            finally:
                await response.close()  # also when the caller stops early: ends the remote run
        except anthropic.APIStatusError as exc:
            raise status_error(
                "anthropic", exc.status_code, exc.message, exc.response.headers
            ) from exc
        except anthropic.APITimeoutError as exc:
            raise connection_error("anthropic", exc, timeout=True) from exc
        except anthropic.APIConnectionError as exc:
            raise connection_error("anthropic", exc) from exc
        except anthropic.APIError as exc:
            raise ProviderError(f"anthropic stream failed: {exc.message}", retryable=True) from exc
        yield Usage(prompt_tokens, completion_tokens)
        yield Finish(finish)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None


def _input_tokens(usage: Any) -> int:
    """Anthropic counts cached prompt tokens apart; the prompt is all of them."""
    return sum(
        getattr(usage, field, None) or 0
        for field in ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")
    )


def create(spec: ModelSpec, settings: Settings) -> AnthropicProvider:
    return AnthropicProvider(spec)
