"""POST /api/users."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from ragline.web.deps import ContainerDep, CurrentUser

router = APIRouter(prefix="/api/users", tags=["users"])


class UserIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)


class UserOut(BaseModel):
    user_id: str
    name: str


@router.post("", status_code=201, response_model=UserOut)
async def post_user(body: UserIn, container: ContainerDep, _user: CurrentUser) -> UserOut:
    user = await container.identity.create_user(body.name)
    return UserOut(user_id=user.user_id, name=user.name)
