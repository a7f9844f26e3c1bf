"""Folder sync of a collection bound to a server-side folder (docs/api.md, "Folder sync").

`{name:path}`: an editor syncs a shared collection as `OWNER/NAME`."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from ragline.web.deps import CurrentUser, DocumentsDep
from ragline.web.hygiene import check_text
from ragline.web.sync_views import SyncJobOut, sync_job_out

router = APIRouter(prefix="/api", tags=["documents"])


class SyncIn(BaseModel):
    path: str | None = Field(default=None, max_length=2000,
                             description="A folder under RAGLINE_SYNC_ROOT (relative to it, or "
                             "absolute); given once, the collection stays bound to it")
    delete: bool | None = Field(default=None, description="Remove documents whose file is "
                                "gone; remembered with the binding (default false)")


class SyncStarted(BaseModel):
    job_id: str
    status: str


class SyncStateOut(BaseModel):
    collection: str
    path: str | None
    delete: bool
    last_job: SyncJobOut | None


@router.post("/collections/{name:path}/sync", status_code=202, response_model=SyncStarted)
async def start_sync(name: str, body: SyncIn, docs: DocumentsDep,
                     user: CurrentUser) -> SyncStarted:
    """Queue a sync (progress: `GET /api/jobs/{job_id}`); 409 `sync_running` while one is."""
    check_text(body.path, "path")
    job = await docs.start_sync(user.user_id, name, path=body.path, delete=body.delete)
    return SyncStarted(job_id=job.id, status=job.status)


@router.get("/collections/{name:path}/sync", response_model=SyncStateOut)
async def sync_state(name: str, docs: DocumentsDep, user: CurrentUser) -> SyncStateOut:
    """The collection's folder binding and its last sync job."""
    collection, last = await docs.sync_state(user.user_id, name)
    return SyncStateOut(collection=collection.name, path=collection.sync_path,
                        delete=collection.sync_delete,
                        last_job=sync_job_out(last) if last is not None else None)
