"""What a thread's read-only link shows (services/thread_links.py): `GET /api/shared/{token}`,
to anyone for a public link, to any signed-in user otherwise; sources the viewer may not read
are withheld. The UI renders it at `/shared/{token}`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ragline.services import thread_links
from ragline.web.deps import ContainerDep, OptionalUser

router = APIRouter(prefix="/api/shared", tags=["threads"])


@router.get("/{token}")
async def open_link(token: str, container: ContainerDep, viewer: OptionalUser
                    ) -> dict[str, Any]:
    return await thread_links.open_link(container.db, token,
                                        viewer.user_id if viewer else None)
