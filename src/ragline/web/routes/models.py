"""The model registry for clients such as the web UI's model picker: `GET /api/models`."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from ragline.web.deps import ContainerDep, CurrentUser

router = APIRouter(prefix="/api", tags=["models"])


class ModelInfo(BaseModel):
    name: str
    provider: str
    default: bool
    context_window: int
    description: str


class ModelInfoList(BaseModel):
    items: list[ModelInfo]


@router.get("/models", response_model=ModelInfoList)
async def list_models(container: ContainerDep, _user: CurrentUser) -> ModelInfoList:
    """Every registered model, the default first."""
    registry = container.models
    default = registry.default_model
    names = sorted(registry.names(), key=lambda n: (n != default, n))
    items = []
    for name in names:
        spec = registry.spec(name)
        items.append(ModelInfo(name=name, provider=spec.provider, default=name == default,
                               context_window=spec.context_window, description=spec.description))
    return ModelInfoList(items=items)
