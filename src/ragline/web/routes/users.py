"""POST /api/users."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from ragline.services.threads import create_user
from ragline.web.deps import ContainerDep, CurrentUser

router = APIRouter(prefix="/api/users", tags=["users"])


class UserIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)


class UserOut(BaseModel):
    user_id: str
    name: str


@router.post("", status_code=201, response_model=UserOut)
async def post_user(body: UserIn, container: ContainerDep, _user: CurrentUser) -> UserOut:
    async with container.db.session() as session:
        user = await create_user(session, body.name)
        return UserOut(user_id=user.id, name=user.name)
