"""Who is calling: users, API keys, JWT subjects and the local user, in one place.

The web layer reads a token and calls `Identity.principal`; `ragline keys create` calls
`create_api_key`; the composition root starts it, which makes sure the local user exists.
A key's scope (read-only, collections, expiry) rides on its `Principal`; what the scope allows
is decided in services/key_scopes.py.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ragline.adapters.db.database import Database
from ragline.adapters.db.tables import ApiKey, User
from ragline.domain.errors import InvalidInput, Unauthorized
from ragline.services import audit

LOCAL_USER_NAME = "local"
LOCAL_USER_ID = "00000000-0000-4000-8000-000000000001"
LAST_USED_EVERY = timedelta(minutes=1)  # `last_used_at` is written at most this often per key


@dataclass(frozen=True)
class Principal:
    """Who is calling: every query is scoped by `user_id`; a scoped key narrows it further
    (`read_only`; `collections`: the names it may use, None for all)."""

    user_id: str
    is_admin: bool = False
    read_only: bool = False
    collections: tuple[str, ...] | None = None


@dataclass(frozen=True)
class UserInfo:
    user_id: str
    name: str


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_api_key() -> str:
    return "rl_" + secrets.token_urlsafe(32)


async def create_user(session: AsyncSession, name: str, *, is_admin: bool = False) -> User:
    user = User(name=name, is_admin=is_admin)
    session.add(user)
    await session.flush()
    return user


async def ensure_local_user(db: Database) -> str:
    """The user every request acts as while auth is off: one for every process sharing the
    database. It has a fixed id, so replicas starting together on a fresh database create it
    once; a database from before that keeps its oldest local user."""
    for _attempt in range(2):
        try:
            async with db.session() as session:
                user = await session.scalar(
                    select(User).where(User.name == LOCAL_USER_NAME, User.is_admin.is_(True))
                    .order_by(User.created_at, User.id).limit(1)
                )
                if user is None:
                    user = User(id=LOCAL_USER_ID, name=LOCAL_USER_NAME, is_admin=True)
                    session.add(user)
                    await session.flush()
                return user.id
        except IntegrityError:  # another process inserted it first: read theirs
            continue
    raise RuntimeError("could not create the local user")


@dataclass(frozen=True)
class KeyScope:
    read_only: bool = False
    collections: tuple[str, ...] | None = None
    expires_in_days: float | None = None


@dataclass(frozen=True)
class KeyInfo:
    prefix: str
    user: str
    is_admin: bool
    read_only: bool
    collections: tuple[str, ...] | None
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None


async def create_api_key(db: Database, user_name: str, *, admin: bool = False,
                         scope: KeyScope | None = None) -> str:
    """A new key for the user of this name (created if missing); only its hash is stored."""
    scope = scope or KeyScope()
    if scope.expires_in_days is not None and scope.expires_in_days <= 0:
        raise InvalidInput("--expires-in must be a positive number of days",
                           code="invalid_expiry")
    if scope.collections is not None and not all(n.strip() for n in scope.collections):
        raise InvalidInput("a collection name must not be blank", code="invalid_collection_name")
    expires = (None if scope.expires_in_days is None
               else datetime.now(UTC) + timedelta(days=scope.expires_in_days))
    key = new_api_key()
    async with db.session() as session:
        found = await session.scalar(select(User).where(User.name == user_name))
        if found is None:
            found = await create_user(session, user_name, is_admin=admin)
        collections = (None if scope.collections is None
                       else [n.strip() for n in scope.collections])
        session.add(ApiKey(user_id=found.id, key_hash=hash_key(key), prefix=key[:8],
                           is_admin=admin, read_only=scope.read_only, collections=collections,
                           expires_at=expires))
        await audit.record(session, audit.OPERATOR, "key.create", target_id=found.id,
                           target=user_name, prefix=key[:8], admin=admin or None,
                           read_only=scope.read_only or None, collections=collections,
                           expires_at=expires.isoformat() if expires else None)
    return key


async def list_api_keys(db: Database, user_name: str | None = None) -> list[KeyInfo]:
    """Every key (or one user's), oldest first; never the key itself."""
    query = select(ApiKey, User.name).join(User, User.id == ApiKey.user_id)
    if user_name is not None:
        query = query.where(User.name == user_name)
    async with db.session() as session:
        rows = (await session.execute(query.order_by(ApiKey.created_at, ApiKey.id))).all()
    return [KeyInfo(k.prefix, name, k.is_admin, k.read_only,
                    None if k.collections is None else tuple(k.collections), k.created_at,
                    k.expires_at, k.last_used_at) for k, name in rows]


class Identity:
    """Resolves callers for one auth mode (`none`, `api_key`, `jwt`)."""

    def __init__(self, db: Database, auth: str, jwt_secret: str = "") -> None:
        self.db = db
        self.auth = auth
        self.jwt_secret = jwt_secret
        self.local_user_id = ""

    async def start(self) -> None:
        self.local_user_id = await ensure_local_user(self.db)

    async def stop(self) -> None:
        return None

    def local(self) -> Principal:
        return Principal(self.local_user_id, is_admin=True)

    async def principal(self, token: str | None) -> Principal:
        """The caller of a request carrying `token` (none while auth is off)."""
        if self.auth == "none":
            return self.local()
        if not token:
            raise Unauthorized("missing credentials: send Authorization: Bearer <key> or X-API-Key")
        if self.auth == "jwt":
            return await self.jwt_principal(token)
        return await self.api_key_principal(token)

    async def api_key_principal(self, key: str) -> Principal:
        """The key's user with its scope; an unknown or expired key is 401."""
        now = datetime.now(UTC)
        async with self.db.session() as session:
            found = await session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(key)))
            if found is None:
                raise Unauthorized("invalid API key")
            if found.expires_at is not None and found.expires_at <= now:
                raise Unauthorized("this API key has expired")
            if found.last_used_at is None or found.last_used_at <= now - LAST_USED_EVERY:
                # conditional: of concurrent requests in the same minute, one writes
                await session.execute(update(ApiKey).where(
                    ApiKey.id == found.id,
                    or_(ApiKey.last_used_at.is_(None),
                        ApiKey.last_used_at <= now - LAST_USED_EVERY),
                ).values(last_used_at=now))
        return Principal(found.user_id, found.is_admin, read_only=found.read_only,
                         collections=None if found.collections is None
                         else tuple(found.collections))

    async def jwt_principal(self, token: str) -> Principal:
        """A verified token's subject; its first request creates the user (the identity
        provider vouches for it)."""
        try:
            claims = jwt.decode(token, self.jwt_secret, algorithms=["HS256"])
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"invalid token: {exc}") from exc
        user_id = str(claims.get("sub") or "")
        if not user_id or len(user_id) > 36:
            raise Unauthorized("invalid token: `sub` must be a user id of at most 36 characters")
        async with self.db.session() as session:
            user = await session.get(User, user_id)
            if user is None:
                user = User(id=user_id, name=str(claims.get("name") or user_id))
                session.add(user)
        return Principal(user.id, bool(claims.get("admin")) or user.is_admin)

    async def create_user(self, name: str, *, is_admin: bool = False) -> UserInfo:
        """A new user (`POST /api/users`)."""
        async with self.db.session() as session:
            user = await create_user(session, name, is_admin=is_admin)
            return UserInfo(user.id, user.name)
