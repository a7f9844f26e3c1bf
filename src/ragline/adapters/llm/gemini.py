"""The `gemini` provider: Google Gemini through `google-genai`'s async streaming
(`generateContent?alt=sse`), over an httpx client this provider owns."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Sequence
from typing import TYPE_CHECKING, Any

import httpx

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
    from google.genai import Client

    from ragline.config import Settings


class GeminiProvider:
    capabilities = Capabilities(streaming=True, json_schema=True)
    prompt_rate: float | None = None  # remote or instant: no prompt-reading rate to plan with

    def __init__(
        self, spec: ModelSpec, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.name = spec.name
        self.spec = spec
        self.context_window = spec.context_window
        self._transport = transport
        self._http: httpx.AsyncClient | None = None
        self._client: Client | None = None
        # HTTP responses opened by each running stream, so that stopping a stream closes its
        # connection at once (the SDK's nested generators would only close it when collected).
        self._responses: dict[asyncio.Task[Any], list[httpx.Response]] = {}

    def _get_client(self) -> Client:
        if self._client is None:
            from google import genai
            from google.genai import types

            connect, read = timeouts(self.spec)
            self._http = httpx.AsyncClient(
                transport=self._transport,
                timeout=httpx.Timeout(read, connect=connect),
                event_hooks={"response": [self._opened]},
            )
            self._client = genai.Client(
                api_key=api_key(self.spec, "GEMINI_API_KEY"),
                http_options=types.HttpOptions(
                    base_url=self.spec.base_url,
                    retry_options=types.HttpRetryOptions(attempts=1),  # the registry retries
                    httpx_async_client=self._http,
                ),
            )
        return self._client

    async def _opened(self, response: httpx.Response) -> None:
        task = asyncio.current_task()
        if task is not None and task in self._responses:
            self._responses[task].append(response)

    def count_tokens(self, text: str) -> int:
        return approx_token_count(text)

    def config(self, messages: Sequence[ChatMessage], params: GenerationParams) -> dict[str, Any]:
        config: dict[str, Any] = sampling(self.spec, params)
        if "max_tokens" in config:
            config["max_output_tokens"] = config.pop("max_tokens")
        system = "\n\n".join(m.content for m in messages if m.role == "system")
        if system:
            config["system_instruction"] = system
        if params.stop:
            config["stop_sequences"] = list(params.stop)
        if params.json_schema is not None:
            config["response_mime_type"] = "application/json"
            config["response_json_schema"] = params.json_schema
        return config

    async def stream(
        self, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> AsyncGenerator[ProviderEvent, None]:
        from google.genai import errors, types

        client = self._get_client()
        contents: Any = [
            {"role": "model" if m.role == "assistant" else "user", "parts": [{"text": m.content}]}
            for m in messages
            if m.role != "system"
        ]
        usage: Usage | None = None
        finish = "stop"
        task = asyncio.current_task()
        assert task is not None
        self._responses[task] = []
        try:
            response = await client.aio.models.generate_content_stream(
                model=self.spec.model,
                contents=contents,
                config=types.GenerateContentConfig(**self.config(messages, params)),
            )
            try:
                async for chunk in response:
                    for candidate in chunk.candidates or ():
                        for part in (candidate.content.parts if candidate.content else None) or ():
                            if part.text and not part.thought:
                                yield TextDelta(part.text)
                        if candidate.finish_reason is not None:
                            reason = str(candidate.finish_reason.value)
                            finish = "length" if reason == "MAX_TOKENS" else "stop"
                    meta = chunk.usage_metadata
                    if meta is not None and meta.prompt_token_count is not None:
                        usage = Usage(meta.prompt_token_count, meta.candidates_token_count or 0)
            finally:
                await response.aclose()  # type: ignore[attr-defined]
                for opened in self._responses.pop(task, ()):
                    await opened.aclose()
        except errors.APIError as exc:
            headers = getattr(exc.response, "headers", None)
            raise status_error("gemini", exc.code, exc.message or str(exc), headers) from exc
        except httpx.TimeoutException as exc:
            raise connection_error("gemini", exc, timeout=True) from exc
        except httpx.TransportError as exc:
            raise connection_error("gemini", exc) from exc
        except ValueError as exc:  # a malformed response body
            raise ProviderError(f"gemini stream failed: {exc}", retryable=True) from exc
        if usage is not None:
            yield usage
        yield Finish(finish)

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
        self._http = self._client = None


def create(spec: ModelSpec, settings: Settings) -> GeminiProvider:
    return GeminiProvider(spec)
