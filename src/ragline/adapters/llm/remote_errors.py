"""Shared by the remote providers: HTTP failures to `ProviderError`, Retry-After, API keys."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any

from ragline.domain.errors import ProviderError
from ragline.domain.llm import GenerationParams, ModelSpec

RETRYABLE_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 529})
PLACEHOLDER_KEY = "ragline-no-key"  # local OpenAI/Anthropic-compatible servers ignore the key

_CODES = {400: "bad_request", 401: "auth_failed", 403: "auth_failed", 404: "model_not_found"}


def api_key(spec: ModelSpec, default_env: str | None = None) -> str:
    """The key from `spec.api_key_env` (or `default_env`), else a placeholder.

    Without `api_key_env` nothing is read for a custom `base_url`, so a vendor's key is never
    sent to some other server by accident.
    """
    env = spec.api_key_env or (default_env if spec.base_url is None else None)
    return (os.environ.get(env) if env else None) or PLACEHOLDER_KEY


def status_error(
    provider: str, status: int, message: str, headers: Mapping[str, str] | None
) -> ProviderError:
    code = "rate_limited" if status == 429 else _CODES.get(status, "upstream_error")
    return ProviderError(
        f"{provider} answered {status}: {message}",
        code=code,
        retryable=status in RETRYABLE_STATUS,
        retry_after=retry_after(headers) if headers is not None else None,
    )


def connection_error(provider: str, exc: BaseException, *, timeout: bool = False) -> ProviderError:
    what = "timed out" if timeout else "could not be reached"
    return ProviderError(
        f"{provider} {what}: {exc}", code="timeout" if timeout else "unreachable", retryable=True
    )


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from `retry-after-ms` or `Retry-After` (seconds or an HTTP date)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    try:
        if "retry-after-ms" in lowered:
            return max(0.0, float(lowered["retry-after-ms"]) / 1000)
        value = lowered.get("retry-after")
        if value is None:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def sampling(spec: ModelSpec, params: GenerationParams) -> dict[str, Any]:
    """Params merged over the registry entry's defaults: max_tokens, temperature, top_p, seed."""
    out: dict[str, Any] = {}
    max_tokens = params.max_tokens if params.max_tokens is not None else spec.max_tokens
    temperature = params.temperature if params.temperature is not None else spec.temperature
    for key, value in (
        ("max_tokens", max_tokens),
        ("temperature", temperature),
        ("top_p", params.top_p),
        ("seed", params.seed),
    ):
        if value is not None:
            out[key] = value
    return out


def timeouts(spec: ModelSpec) -> tuple[float, float]:
    """(connect, read) seconds for the HTTP client, from the entry's options."""
    connect = float(spec.options.get("connect_timeout", 10.0))
    read = float(spec.options.get("idle_timeout", 60.0))
    return connect, read
