"""Sample data: the demo collection of synthetic CVs, one click from the UI's empty state."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from ragline.samples.demo import DEMO_COLLECTION, DEMO_COUNT, DEMO_SEED, load_demo
from ragline.web.deps import CurrentUser, DocumentsDep

router = APIRouter(prefix="/api/samples", tags=["samples"])


class SampleCVsIn(BaseModel):
    collection: str = Field(default=DEMO_COLLECTION, min_length=1, max_length=200)
    count: int = Field(default=DEMO_COUNT, ge=1, le=20)
    seed: int = Field(default=DEMO_SEED, ge=0)


class SampleDocument(BaseModel):
    name: str = Field(description="The person the CV is about.")
    title: str
    source: str
    document_id: str
    job_id: str
    created: bool = Field(description="False: this CV was already in the collection.")


class SampleCVsOut(BaseModel):
    collection: str
    documents: list[SampleDocument]


class SamplesOut(BaseModel):
    suggest_demo: bool = Field(description="True while the caller has no document at all: "
                               "the UI's empty state offers the demo collection then.")
    demo_collection: str = DEMO_COLLECTION
    demo_loaded: bool
    demo_count: int = DEMO_COUNT


@router.get("", response_model=SamplesOut, summary="Whether to offer the demo collection")
async def samples(docs: DocumentsDep, user: CurrentUser) -> SamplesOut:
    collections = await docs.list_collections(user.user_id, limit=1000)
    loaded = any(c.name == DEMO_COLLECTION and c.documents for c in collections)
    return SamplesOut(suggest_demo=not any(c.documents for c in collections),
                      demo_loaded=loaded)


@router.post(
    "/cvs", status_code=202, response_model=SampleCVsOut,
    responses={200: {"model": SampleCVsOut, "description": "every CV was already there"}},
    summary="Load the demo collection of sample CVs",
)
async def sample_cvs(docs: DocumentsDep, user: CurrentUser,
                     body: SampleCVsIn | None = None) -> Any:
    """Generate a few synthetic CVs (template prose, no model: about half a second each) and
    queue their ingestion into `collection` (default `demo`, created if needed) through the
    normal upload path. Follow each `job_id` at `/api/jobs/{job_id}`. Calling it again adds
    nothing new; the collection's documents are removed like any others."""
    body = body or SampleCVsIn()
    loaded = await load_demo(docs, user.user_id, collection=body.collection.strip(),
                             count=body.count, seed=body.seed)
    out = SampleCVsOut(collection=body.collection.strip(),
                       documents=[SampleDocument(**vars(d)) for d in loaded])
    status = 202 if any(d.created for d in loaded) else 200
    return JSONResponse(out.model_dump(mode="json"), status_code=status)
