"""Maps domain errors and framework errors to the contract's error shape."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ragline.domain import errors as e
from ragline.web.hygiene import InputHygieneMiddleware

log = logging.getLogger(__name__)

STATUS: dict[type[e.RaglineError], int] = {
    e.NotFound: 404,
    e.Conflict: 409,
    e.Unprocessable: 422,
    e.InvalidInput: 400,
    e.TooLarge: 413,
    e.UnsupportedType: 415,
    e.Unauthorized: 401,
    e.Forbidden: 403,
    e.RateLimited: 429,
    e.Unavailable: 503,
    e.ProviderError: 502,
    e.OutputInvalid: 422,
}
HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
              405: "method_not_allowed", 409: "conflict", 413: "too_large",
              415: "unsupported_media_type", 422: "validation_error", 429: "rate_limited"}


class ErrorDetail(BaseModel):
    code: str = Field(description="snake_case, stable: what went wrong")
    message: str = Field(description="a human sentence")
    details: Any = None


class ErrorOut(BaseModel):
    """Every error answer (docs/api.md, conventions)."""

    error: ErrorDetail


ERROR_STATUSES = {
    400: "bad input", 401: "no or bad credentials", 403: "not allowed",
    404: "unknown or not yours", 409: "conflict", 413: "too large",
    415: "unsupported media type", 422: "invalid input", 429: "rate limited (see Retry-After)",
    503: "a dependency is down",
}


def error_responses(model: type[BaseModel] = ErrorOut) -> dict[int | str, dict[str, Any]]:
    """The error answers every operation may give, for the OpenAPI document."""
    return {status: {"model": model, "description": text}
            for status, text in ERROR_STATUSES.items()}


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}


def status_for(exc: e.RaglineError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def first_problem(exc: RequestValidationError, default: str) -> tuple[str, str]:
    """Where the first problem of a validation error is (its dotted location, without `body`;
    "" for the request as a whole) and what it is."""
    errors = exc.errors()
    first = errors[0] if errors else {"loc": (), "msg": default}
    where = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
    return where, str(first.get("msg"))


def domain_headers(exc: e.RaglineError) -> dict[str, str]:
    """`Retry-After` on 429, `WWW-Authenticate` on 401."""
    headers = {}
    if isinstance(exc, e.RateLimited):
        headers["Retry-After"] = str(max(1, round(exc.retry_after)))
    if isinstance(exc, e.Unauthorized):
        headers["WWW-Authenticate"] = "Bearer"
    return headers


def core_domain_error(exc: e.RaglineError) -> JSONResponse:
    return JSONResponse(error_body(exc.code, exc.message, exc.details), status_for(exc),
                        headers=domain_headers(exc))


def core_validation_error(exc: RequestValidationError) -> JSONResponse:
    details = [
        {"loc": list(err.get("loc", ())), "msg": err.get("msg"), "type": err.get("type")}
        for err in exc.errors()
    ]
    where, problem = first_problem(exc, "invalid request")
    return JSONResponse(
        error_body("validation_error", f"{where or 'request'}: {problem}", details), 422
    )


def core_http_error(exc: StarletteHTTPException) -> JSONResponse:
    code = HTTP_CODES.get(exc.status_code, "error")
    return JSONResponse(error_body(code, str(exc.detail)), exc.status_code, headers=exc.headers)


class ShapedErrorRoute(APIRoute):
    """The routes of a surface whose clients expect their own error shape (OpenAI's, LangGraph's):
    a subclass overrides how the three kinds of error render (by default: the core contract's
    shape, as the app's handlers render everything else)."""

    def validation_error(self, exc: RequestValidationError) -> Response:
        return core_validation_error(exc)

    def domain_error(self, exc: e.RaglineError) -> Response:
        return core_domain_error(exc)

    def http_error(self, exc: StarletteHTTPException) -> Response:
        return core_http_error(exc)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                return self.validation_error(exc)
            except e.RaglineError as exc:
                return self.domain_error(exc)
            except StarletteHTTPException as exc:  # e.g. a body that is not UTF-8 JSON
                return self.http_error(exc)

        return route

class UnhandledErrorMiddleware:
    """An unexpected error becomes a JSON 500 on a connection that stays usable.

    Starlette's catch-all handler answers and then re-raises, so the server closes the
    keep-alive connection without `Connection: close`; this answers without re-raising.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception as exc:
            if started:
                raise
            log.exception("unhandled error", exc_info=exc)
            response = JSONResponse(
                error_body("internal_error", "an unexpected error occurred"), 500
            )
            await response(scope, receive, send)


HttpErrorRenderer = Callable[[StarletteHTTPException], Response]


def install_error_handlers(app: FastAPI,
                           surfaces: Mapping[str, HttpErrorRenderer] | None = None) -> None:
    """Domain and framework errors in the contract's shape; added first, so innermost.
    `surfaces`: path prefixes whose clients expect their own shape, also for a path no route
    matches (`/v1/models/a%0Ab` is OpenAI's 404, not ours)."""
    shaped = dict(surfaces or {})
    app.add_middleware(UnhandledErrorMiddleware)
    app.add_middleware(InputHygieneMiddleware)

    @app.exception_handler(e.RaglineError)
    async def _domain(_request: Request, exc: e.RaglineError) -> JSONResponse:
        return core_domain_error(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return core_validation_error(exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        for prefix, render in shaped.items():
            if request.url.path.startswith(prefix):
                return render(exc)
        return core_http_error(exc)

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return JSONResponse(error_body("internal_error", "an unexpected error occurred"), 500)
