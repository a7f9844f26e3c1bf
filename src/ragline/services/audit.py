"""The audit log: who shared, revoked, deleted, exported or imported what, and when.

An entry is written in the session of the action it records, so an action that rolls back
leaves none and one that commits always has one. Only admins read the log (`GET /api/audit`,
`ragline audit`); entries are never changed or removed through ragline.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ragline.adapters.db.tables import AuditEntry, User
from ragline.domain.errors import Forbidden, InvalidInput

# What the log records; `action` filters take these names.
ACTIONS = (
    "collection.share", "collection.unshare", "collection.delete", "document.delete",
    "thread.delete", "thread.export", "thread.import", "thread.link", "thread.unlink",
    "group.create", "group.add_member", "group.remove_member", "key.create",
)
MAX_LIMIT = 1000
OPERATOR = "cli"  # the actor of what the operator does with the CLI (groups, keys)


async def record(session: AsyncSession, actor_id: str, action: str, *, target_id: str,
                 target: str, **detail: Any) -> None:
    """Add an entry to the session's transaction."""
    assert action in ACTIONS, action
    actor = await session.scalar(select(User.name).where(User.id == actor_id)) or actor_id
    session.add(AuditEntry(actor_id=actor_id, actor=actor, action=action, target_id=target_id,
                           target=target[:2000],
                           detail={k: v for k, v in detail.items() if v is not None}))


async def collection_label(session: AsyncSession, owner_id: str, name: str) -> str:
    """`OWNER/NAME`, as the collection's readers address it."""
    owner = await session.scalar(select(User.name).where(User.id == owner_id))
    return f"{owner or owner_id}/{name}"


def require_admin(is_admin: bool) -> None:
    if not is_admin:
        raise Forbidden("the audit log is for admins", code="admin_only")


async def entries(session: AsyncSession, *, actor: str | None = None,
                  action: str | None = None, target_id: str | None = None,
                  before: datetime | None = None, older_than: tuple[datetime, str] | None = None,
                  limit: int = 100) -> list[dict[str, Any]]:
    """Newest first; `actor` is a user name; `before`: entries older than that time;
    `older_than`: entries after the (at, id) of the last one of a page, ties included."""
    if action is not None and action not in ACTIONS:
        raise InvalidInput(f"unknown action {action!r}; one of {', '.join(ACTIONS)}",
                           code="invalid_action")
    if not 1 <= limit <= MAX_LIMIT + 1:  # a page asks for one more: is there a next page?
        raise InvalidInput(f"limit must be 1 to {MAX_LIMIT}", code="invalid_limit")
    query = select(AuditEntry)
    if actor is not None:
        query = query.where(AuditEntry.actor == actor)
    if action is not None:
        query = query.where(AuditEntry.action == action)
    if target_id is not None:
        query = query.where(AuditEntry.target_id == target_id)
    if before is not None:
        query = query.where(AuditEntry.created_at < before)
    if older_than is not None:
        stamp, id_ = older_than
        query = query.where(or_(AuditEntry.created_at < stamp,
                                and_(AuditEntry.created_at == stamp, AuditEntry.id < id_)))
    rows = await session.scalars(
        query.order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc()).limit(limit))
    return [as_dict(e) for e in rows]


def as_dict(entry: AuditEntry) -> dict[str, Any]:
    return {"id": entry.id, "at": entry.created_at.isoformat(), "actor": entry.actor,
            "actor_id": entry.actor_id, "action": entry.action, "target_id": entry.target_id,
            "target": entry.target, "detail": entry.detail or {}}
