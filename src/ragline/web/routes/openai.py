"""OpenAI-compatible API: `GET /v1/models` and `POST /v1/chat/completions` (docs/api.md §5).

Each completion is a run on a fresh thread owned by the caller (metadata `surface: openai`):
the request's earlier turns become the thread's history, its system messages and sampling
parameters go into the thread's metadata for the pipeline, and the last user message is posted.
So it is persisted and cancellable like any run, and the reply is read from the run-event log.
A streaming client that disconnects cancels its run (nobody else can rejoin it).

`rag: {"collection", "top_k"}` turns retrieval on; the passages used come back as
`ragline_sources` and the answer's checked sentences as `ragline_claims` (`final.claims`,
docs/api.md §1): top-level fields of the completion, or of the last streamed chunk (the one carrying
`finish_reason`).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import aclosing

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from ragline.bootstrap import Container
from ragline.domain.errors import InvalidInput, NotFound
from ragline.domain.runs import RunState
from ragline.services.conversation import answer_batches, collect, start_thread_with_history
from ragline.services.threads import post_message
from ragline.web.deps import ContainerDep, CurrentUser, Principal
from ragline.web.errors import error_responses
from ragline.web.openai_schema import (
    ChatCompletionRequest,
    ChatReply,
    OpenAIErrorOut,
    OpenAIRoute,
    split_messages,
)
from ragline.web.sse import event_stream

router = APIRouter(
    prefix="/v1", tags=["openai-compatible"], route_class=OpenAIRoute,
    responses=error_responses(OpenAIErrorOut),
)
LISTED_SINCE = int(time.time())


class ModelOut(BaseModel):
    id: str
    object: str = "model"
    created: int
    owned_by: str


class ModelList(BaseModel):
    object: str = "list"
    data: list[ModelOut]


def _model_out(container: Container, name: str) -> ModelOut:
    return ModelOut(id=name, created=LISTED_SINCE, owned_by=container.models.spec(name).provider)


@router.get("/models", response_model=ModelList)
async def list_models(container: ContainerDep, _user: CurrentUser) -> ModelList:
    """The registry's models, the default first."""
    default = container.models.default_model
    names = sorted(container.models.names(), key=lambda n: n != default)
    return ModelList(data=[_model_out(container, n) for n in names])


@router.get("/models/{model:path}", response_model=ModelOut)
async def get_model(model: str, container: ContainerDep, _user: CurrentUser) -> ModelOut:
    if model not in container.models.names():
        raise NotFound(f"the model {model!r} does not exist", code="model_not_found")
    return _model_out(container, model)


@router.post("/chat/completions", response_model=None)
async def chat_completions(
    body: ChatCompletionRequest, container: ContainerDep, user: CurrentUser
) -> Response:
    run_id, model = await _start_run(body, container, user)
    reply = ChatReply(run_id, model, body)
    if body.stream:
        return event_stream(_stream(reply, container), container.settings.sse_ping_seconds)
    answer = await collect(container.db, container.bus, container.runs, run_id)
    answer.raise_for_status()
    return JSONResponse(reply.completion(answer))


async def _start_run(
    body: ChatCompletionRequest, container: Container, user: Principal
) -> tuple[str, str]:
    model = container.models.resolve(body.model)
    if body.n not in (None, 1):
        raise InvalidInput("only n=1 is supported", code="invalid_request", details={"param": "n"})
    system, history, question = split_messages(body.messages)
    collection = body.rag.collection if body.rag is not None else None
    await container.documents.check_collection(user.user_id, collection)
    async with container.db.session() as session:
        thread = await start_thread_with_history(
            session, user.user_id, history, model=model, collection=collection,
            metadata=body.thread_metadata(system),
        )
    posted = await post_message(
        container.db, container.runs, owner_id=user.user_id, thread_id=thread.id,
        content=question, model=model, collection=collection,
        max_bytes=container.settings.max_message_bytes,
    )
    return posted.run_id, model


async def _stream(reply: ChatReply, container: Container) -> AsyncIterator[bytes]:
    """Role chunk, one chunk per token, the finishing chunk, usage if asked, `[DONE]`."""
    state = RunState(reply.run_id)
    yield reply.opening()
    batches = answer_batches(
        container.db, container.bus, container.runs, reply.run_id, cancel_on_exit=True
    )
    async with aclosing(batches):
        async for batch in batches:
            out = state.apply_batch(batch, reply.frames)
            if out:
                yield b"".join(out)
    yield reply.closing(state)
