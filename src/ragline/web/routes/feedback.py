"""Feedback on answers (API.md §8): `POST` and `GET /api/messages/{message_id}/feedback`."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from ragline.services import feedback as svc
from ragline.services.feedback import Feedback
from ragline.telemetry.metrics import FEEDBACK
from ragline.web.deps import ContainerDep, CurrentUser

router = APIRouter(prefix="/api/messages", tags=["feedback"])


class FeedbackIn(BaseModel):
    rating: Literal["up", "down"]
    comment: str | None = Field(default=None, max_length=4000)


class FeedbackOut(BaseModel):
    message_id: str
    rating: Literal["up", "down"] | None  # None: not rated yet
    comment: str | None


def _out(message_id: str, found: Feedback | None) -> FeedbackOut:
    if found is None:
        return FeedbackOut(message_id=message_id, rating=None, comment=None)
    return FeedbackOut(message_id=found.message_id, rating=found.rating,
                       comment=found.comment)


@router.post("/{message_id}/feedback", response_model=FeedbackOut)
async def give_feedback(
    message_id: str, body: FeedbackIn, container: ContainerDep, user: CurrentUser
) -> FeedbackOut:
    """Rate an answer (one rating per user and answer: posting again replaces it)."""
    found = await svc.give_feedback(container.db, user.user_id, message_id, body.rating,
                                    body.comment)
    FEEDBACK.labels(rating=body.rating).inc()
    return _out(message_id, found)


@router.get("/{message_id}/feedback", response_model=FeedbackOut)
async def get_feedback(message_id: str, container: ContainerDep, user: CurrentUser
                       ) -> FeedbackOut:
    """The caller's rating of an answer (`rating` null when not rated yet)."""
    return _out(message_id, await svc.get_feedback(container.db, user.user_id, message_id))
