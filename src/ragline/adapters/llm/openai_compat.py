"""The `openai` provider: OpenAI or any OpenAI-compatible server (vLLM, llama.cpp, Ollama...)
through the official `openai` SDK's streaming chat completions."""

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
    from openai import AsyncOpenAI

    from ragline.config import Settings

_FINISH = {"stop": "stop", "length": "length", "content_filter": "stop", "tool_calls": "stop"}


class OpenAICompatProvider:
    capabilities = Capabilities(streaming=True, json_schema=True)
    prompt_rate: float | None = None  # remote or instant: no prompt-reading rate to plan with

    def __init__(self, spec: ModelSpec, *, http_client: Any = None) -> None:
        self.name = spec.name
        self.spec = spec
        self.context_window = spec.context_window
        self._http_client = http_client
        self._client: AsyncOpenAI | None = None

    def _get_client(self) -> AsyncOpenAI:
        if self._client is None:
            import openai

            connect, read = timeouts(self.spec)
            self._client = openai.AsyncOpenAI(
                api_key=api_key(self.spec, "OPENAI_API_KEY"),
                base_url=self.spec.base_url,
                timeout=openai.Timeout(read, connect=connect),
                max_retries=0,  # the registry retries, with backoff and fallbacks
                http_client=self._http_client,
            )
        return self._client

    def count_tokens(self, text: str) -> int:
        return approx_token_count(text)

    def request(self, messages: Sequence[ChatMessage], params: GenerationParams) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.spec.model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "stream": True,
            "stream_options": {"include_usage": True},
            **sampling(self.spec, params),
        }
        if self.spec.options.get("max_completion_tokens") and "max_tokens" in body:
            body["max_completion_tokens"] = body.pop("max_tokens")
        if params.stop:
            body["stop"] = list(params.stop)
        if params.json_schema is not None:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "response", "schema": params.json_schema},
            }
        if extra := self.spec.options.get("extra_body"):
            body["extra_body"] = dict(extra)
        return body

    async def stream(
        self, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> AsyncGenerator[ProviderEvent, None]:
        import openai

        client = self._get_client()
        usage: Usage | None = None
        finish = "stop"
        try:
            response = await client.chat.completions.create(**self.request(messages, params))
            try:
                async for chunk in response:
                    for choice in chunk.choices:
                        if choice.delta is not None and choice.delta.content:
                            yield TextDelta(choice.delta.content)
                        if choice.finish_reason:
                            finish = _FINISH.get(choice.finish_reason, "stop")
                    if chunk.usage is not None:
                        usage = Usage(chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
            finally:
                await response.close()  # also when the caller stops early: ends the remote run
        except openai.APIStatusError as exc:
            raise status_error(
                "openai", exc.status_code, exc.message, exc.response.headers
            ) from exc
        except openai.APITimeoutError as exc:
            raise connection_error("openai", exc, timeout=True) from exc
        except openai.APIConnectionError as exc:
            raise connection_error("openai", exc) from exc
        except openai.APIError as exc:
            raise ProviderError(f"openai stream failed: {exc.message}", retryable=True) from exc
        if usage is not None:
            yield usage
        yield Finish(finish)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None


def create(spec: ModelSpec, settings: Settings) -> OpenAICompatProvider:
    return OpenAICompatProvider(spec)
