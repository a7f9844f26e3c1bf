"""FastAPI dependencies, declared once as Annotated aliases."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Annotated

import jwt
from fastapi import Depends, Query, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select

from ragline.adapters.db.tables import ApiKey, User
from ragline.bootstrap import Container
from ragline.domain.errors import Unauthorized
from ragline.telemetry import logs


def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]


@dataclass(frozen=True)
class Principal:
    """Who is calling: every query is scoped by `user_id`."""

    user_id: str
    is_admin: bool = False


_bearer = HTTPBearer(auto_error=False)
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def resolve_principal(container: Container, token: str | None) -> Principal:
    principal = await _principal(container, token)
    logs.bind(user_id=principal.user_id)  # for this request's log lines; the middleware resets
    return principal


async def _principal(container: Container, token: str | None) -> Principal:
    settings = container.settings
    if settings.auth == "none":
        return Principal(container.local_user_id, is_admin=True)
    if not token:
        raise Unauthorized("missing credentials: send Authorization: Bearer <key> or X-API-Key")
    if settings.auth == "jwt":
        try:
            claims = jwt.decode(token, settings.jwt_secret, algorithms=["HS256"])
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"invalid token: {exc}") from exc
        user_id = str(claims.get("sub") or "")
        if not user_id or len(user_id) > 36:
            raise Unauthorized("invalid token: `sub` must be a user id of at most 36 characters")
        async with container.db.session() as session:
            user = await session.get(User, user_id)
            if user is None:  # first request of a user the identity provider vouches for
                user = User(id=user_id, name=str(claims.get("name") or user_id))
                session.add(user)
        return Principal(user.id, bool(claims.get("admin")) or user.is_admin)
    return await api_key_principal(container, token)


async def api_key_principal(container: Container, key: str) -> Principal:
    async with container.db.session() as session:
        found = await session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(key)))
    if found is None:
        raise Unauthorized("invalid API key")
    return Principal(found.user_id, found.is_admin)


async def current_user(
    container: ContainerDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key)],
    access_token: Annotated[str | None, Query(include_in_schema=False)] = None,
) -> Principal:
    """Header credentials; `?access_token=` too, because browsers' EventSource can't set headers."""
    token = bearer.credentials if bearer is not None else api_key or access_token
    return await resolve_principal(container, token)


CurrentUser = Annotated[Principal, Depends(current_user)]
