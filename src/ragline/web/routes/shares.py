"""Sharing a collection with users and groups (API.md §8): `PUT`, `DELETE` and
`GET /api/collections/{name}/shares`. Only the owner manages shares; a reader addresses the
collection as `OWNER/NAME` (services/sharing.py)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from ragline.services import sharing
from ragline.web.deps import ContainerDep, CurrentUser

router = APIRouter(prefix="/api/collections", tags=["sharing"])


class ShareIn(BaseModel):
    user: str | None = Field(default=None, max_length=200)
    group: str | None = Field(default=None, max_length=200)
    role: Literal["reader", "editor"] = "reader"


class ShareTarget(BaseModel):
    user: str | None = Field(default=None, max_length=200)
    group: str | None = Field(default=None, max_length=200)


class ShareOut(BaseModel):
    user: str | None
    group: str | None
    role: str


@router.put("/{name}/shares", response_model=ShareOut)
async def put_share(name: str, body: ShareIn, container: ContainerDep, user: CurrentUser
                    ) -> ShareOut:
    async with container.db.session() as session:
        await sharing.share(session, user.user_id, name, user=body.user, group=body.group,
                            role=body.role)
    return ShareOut(user=body.user, group=body.group, role=body.role)


@router.delete("/{name}/shares", status_code=204)
async def delete_share(name: str, body: ShareTarget, container: ContainerDep,
                       user: CurrentUser) -> Response:
    async with container.db.session() as session:
        await sharing.unshare(session, user.user_id, name, user=body.user, group=body.group)
    return Response(status_code=204)


@router.get("/{name}/shares")
async def list_shares(name: str, container: ContainerDep, user: CurrentUser
                      ) -> dict[str, Any]:
    async with container.db.session() as session:
        return {"items": await sharing.list_shares(session, user.user_id, name)}
