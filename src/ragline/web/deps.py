"""FastAPI dependencies, declared once as Annotated aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from ragline.bootstrap import Container
from ragline.services import key_scopes
from ragline.services.documents import DocumentService
from ragline.services.identity import Principal
from ragline.telemetry import logs

__all__ = [
    "ContainerDep", "CurrentUser", "DocumentsDep", "OptionalUser", "Principal", "api_key_principal",
    "resolve_principal",
]


def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]


def get_documents(container: ContainerDep) -> DocumentService:
    return container.documents


DocumentsDep = Annotated[DocumentService, Depends(get_documents)]

_bearer = HTTPBearer(auto_error=False)
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False)


async def resolve_principal(container: Container, token: str | None) -> Principal:
    """The caller; its key's collection scope holds for the rest of this request."""
    principal = await container.identity.principal(token)
    logs.bind(user_id=principal.user_id)  # for this request's log lines; the middleware resets
    key_scopes.enter(principal)
    return principal


async def api_key_principal(container: Container, key: str) -> Principal:
    principal = await container.identity.api_key_principal(key)
    key_scopes.enter(principal)
    return principal


def _header_token(bearer: HTTPAuthorizationCredentials | None, api_key: str | None
                  ) -> str | None:
    return bearer.credentials if bearer is not None else api_key


async def current_user(
    request: Request,
    container: ContainerDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key)],
    access_token: Annotated[str | None, Query(include_in_schema=False)] = None,
) -> Principal:
    """Header credentials; `?access_token=` too, because browsers' EventSource can't set headers.
    A read-only key's request that would change something is refused here (403)."""
    token = _header_token(bearer, api_key) or access_token
    principal = await resolve_principal(container, token)
    route = request.scope.get("route")
    key_scopes.check_method(principal, request.method, getattr(route, "path", None))
    return principal


CurrentUser = Annotated[Principal, Depends(current_user)]


async def optional_user(
    container: ContainerDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key)],
) -> Principal | None:
    """The caller, or None for a request without credentials while auth is on (what a public
    link shows to anyone). Credentials that are wrong are still 401."""
    token = _header_token(bearer, api_key)
    if not token and container.identity.auth != "none":
        return None
    return await resolve_principal(container, token)


OptionalUser = Annotated[Principal | None, Depends(optional_user)]
