"""The domain error tree. Services raise these; only the web edge maps them to HTTP."""

from __future__ import annotations

from typing import Any


class RaglineError(Exception):
    code = "error"

    def __init__(self, message: str, *, code: str | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details


class NotFound(RaglineError):
    code = "not_found"


class Conflict(RaglineError):
    code = "conflict"


class InvalidInput(RaglineError):
    code = "invalid_input"


class Unprocessable(InvalidInput):
    """Well-formed but unacceptable input (empty or oversized content): HTTP 422."""

    code = "validation_error"


class TooLarge(RaglineError):
    code = "too_large"


class UnsupportedType(RaglineError):
    code = "unsupported_media_type"


class Unauthorized(RaglineError):
    code = "unauthorized"


class Forbidden(RaglineError):
    code = "forbidden"


class RateLimited(RaglineError):
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unavailable(RaglineError):
    code = "unavailable"


class ProviderError(RaglineError):
    """A model provider failed. `retryable` errors may be retried before the first token."""

    code = "provider_error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, code=code)
        self.retryable = retryable
        self.retry_after = retry_after


class OutputInvalid(RaglineError):
    """Structured output still failed validation after every repair attempt."""

    code = "llm_output_invalid"
