"""The response shape of a sync job, shared by the sync router and `GET /api/jobs/{id}`."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

from ragline.services.documents import SyncJob


class SyncJobOut(BaseModel):
    job_id: str
    kind: Literal["sync"] = "sync"
    document_id: None = None
    collection_id: str
    status: str
    progress: float
    error: str | None
    attempts: int
    counts: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None


def sync_job_out(job: SyncJob) -> SyncJobOut:
    return SyncJobOut(job_id=job.id, collection_id=job.collection_id, status=job.status,
                      progress=job.progress, error=job.error, attempts=job.attempts,
                      counts=job.counts, created_at=job.created_at, updated_at=job.updated_at,
                      finished_at=job.finished_at)
