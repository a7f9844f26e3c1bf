"""`GET /api/audit`: who shared, revoked, deleted, exported or imported what (admins only)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from ragline.services import audit
from ragline.web.deps import ContainerDep, CurrentUser
from ragline.web.pagination import CursorParam, decode_cursor, page

router = APIRouter(prefix="/api/audit", tags=["audit"])


class AuditEntryOut(BaseModel):
    id: str
    at: str
    actor: str
    actor_id: str
    action: str
    target_id: str
    target: str
    detail: dict[str, Any]


class AuditPage(BaseModel):
    items: list[AuditEntryOut]
    next_cursor: str | None = None


@router.get("", response_model=AuditPage)
async def list_audit(
    container: ContainerDep,
    user: CurrentUser,
    actor: Annotated[str | None, Query(max_length=200)] = None,
    action: Annotated[str | None, Query(max_length=40)] = None,
    target_id: Annotated[str | None, Query(max_length=36)] = None,
    before: Annotated[datetime | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=audit.MAX_LIMIT)] = 100,
    cursor: CursorParam = None,
) -> AuditPage:
    """Newest first; the next page with `cursor` = `next_cursor` (entries of the same instant
    are neither skipped nor repeated), or entries older than a time with `before`. 403 for
    non-admins."""
    audit.require_admin(user.is_admin)
    older_than = decode_cursor(cursor) if cursor else None
    async with container.db.session() as session:
        items = await audit.entries(session, actor=actor, action=action, target_id=target_id,
                                    before=before, older_than=older_than,
                                    limit=limit + 1)
    shown = page(items, limit, lambda i: (datetime.fromisoformat(i["at"]), i["id"]))
    return AuditPage(items=[AuditEntryOut(**i) for i in shown["items"]],
                     next_cursor=shown["next_cursor"])
