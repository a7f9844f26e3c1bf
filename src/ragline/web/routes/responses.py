"""OpenAI Responses API over ragline runs (API.md §8, docs/api.md §5): `POST /v1/responses`,
`GET /v1/responses/{id}` (`stream=true&starting_after=N` resumes), `.../cancel`.

A response is a run (`resp_<run_id>`) on a fresh thread of the caller, or on the thread of
`previous_response_id`. `background` runs go on without the client: it may poll, stream from
any sequence number, or cancel (the partial answer is kept). A plain streaming request that
disconnects cancels its run, as `/v1/chat/completions` does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from ragline.bootstrap import Container
from ragline.domain.errors import Conflict, NotFound
from ragline.domain.runs import RunState
from ragline.services import threads as svc
from ragline.services.conversation import answer_batches, collect, start_thread_with_history
from ragline.services.event_log import read_events
from ragline.services.threads import Run, Thread
from ragline.web.deps import ContainerDep, CurrentUser, Principal
from ragline.web.errors import error_responses
from ragline.web.openai_schema import OpenAIErrorOut, OpenAIRoute, split_messages
from ragline.web.responses_schema import (
    ResponseEvents,
    ResponseRequest,
    ResponseView,
    run_id_of,
)
from ragline.web.sse import event_stream, frame

router = APIRouter(
    prefix="/v1", tags=["openai-compatible"], route_class=OpenAIRoute,
    responses=error_responses(OpenAIErrorOut),
)


STREAM_OR_JSON: dict[int | str, dict[str, Any]] = {200: {
    "content": {"application/json": {}, "text/event-stream": {}},
    "description": "the response, or its events with `stream`",
}}


@router.post("/responses", response_model=None, responses=STREAM_OR_JSON)
async def create_response(
    body: ResponseRequest, container: ContainerDep, user: CurrentUser
) -> Response:
    view = await _start(body, container, user)
    if body.stream:
        return event_stream(_events(container, view, -1, cancel_on_exit=not body.background),
                            container.settings.sse_ping_seconds)
    if body.background:
        return JSONResponse(view.response(await _state(container, view.run_id)))
    state = await collect(container.db, container.bus, container.runs, view.run_id)
    return JSONResponse(view.response(state))


@router.get("/responses/{response_id}", response_model=None, responses=STREAM_OR_JSON)
async def get_response(
    response_id: str,
    container: ContainerDep,
    user: CurrentUser,
    stream: bool = False,
    starting_after: Annotated[int, Query(ge=-1, le=2**31)] = -1,
) -> Response:
    view = await _view(container, user, response_id)
    if stream:
        return event_stream(_events(container, view, starting_after, cancel_on_exit=False),
                            container.settings.sse_ping_seconds)
    return JSONResponse(view.response(await _state(container, view.run_id)))


@router.post("/responses/{response_id}/cancel", response_model=None)
async def cancel_response(response_id: str, container: ContainerDep, user: CurrentUser
                          ) -> Response:
    """Stop the run; the response keeps what it had written (`status: cancelled`). A response
    that already ended is returned as it is."""
    view = await _view(container, user, response_id)
    try:
        await svc.cancel_run(container.db, container.runs, user.user_id, view.run_id)
    except Conflict:
        pass
    state = await collect(container.db, container.bus, container.runs, view.run_id)
    return JSONResponse(view.response(state))


async def _start(body: ResponseRequest, container: Container, user: Principal) -> ResponseView:
    model = container.models.resolve(body.model)
    system, history, question = split_messages(body.messages())
    collection = body.rag.collection if body.rag is not None else None
    await container.documents.check_collection(user.user_id, collection)
    if body.previous_response_id:
        async with container.db.session() as session:
            previous = await _owned_run(session, user, body.previous_response_id)
            thread_id = previous.thread_id
            collection = collection or previous.collection
    else:
        async with container.db.session() as session:
            thread = await start_thread_with_history(
                session, user.user_id, history, model=model, collection=collection,
                metadata=body.thread_metadata(system),
            )
            thread_id = thread.id
    posted = await svc.post_message(
        container.db, container.runs, owner_id=user.user_id, thread_id=thread_id,
        content=question, model=model, collection=collection,
        max_bytes=container.settings.max_message_bytes,
    )
    async with container.db.session() as session:
        run = await svc.get_run(session, user.user_id, posted.run_id)
        created = int(run.created_at.timestamp())
    return ResponseView(posted.run_id, model, created, background=body.background,
                        rag=body.rag is not None, instructions=body.instructions)


async def _owned_run(session: AsyncSession, user: Principal, response_id: str) -> Run:
    try:
        return await svc.get_run(session, user.user_id, run_id_of(response_id))
    except NotFound as exc:
        raise NotFound(f"response {response_id} not found", code="response_not_found") from exc


async def _view(container: Container, user: Principal, response_id: str) -> ResponseView:
    async with container.db.session() as session:
        run = await _owned_run(session, user, response_id)
        thread = await session.get(Thread, run.thread_id)
    meta = (thread.meta if thread is not None else None) or {}
    return ResponseView(run.id, run.model, int(run.created_at.timestamp()),
                        background=bool(meta.get("background")), rag=run.collection is not None,
                        instructions=meta.get("system") or None)


async def _state(container: Container, run_id: str) -> RunState:
    """What the run has written so far (no waiting)."""
    state = RunState(run_id)
    async with container.db.session() as session:
        for record in await read_events(session, run_id):
            state.apply(record.event)
    return state


async def _events(container: Container, view: ResponseView, starting_after: int, *,
                  cancel_on_exit: bool) -> AsyncIterator[bytes]:
    """The stream from the log, every event numbered as every reader numbers it."""
    events = ResponseEvents(view)
    batches = answer_batches(container.db, container.bus, container.runs, view.run_id,
                             cancel_on_exit=cancel_on_exit)
    pending = events.opening()
    async with aclosing(batches):
        async for batch in batches:
            for record in batch:
                pending += events.feed(record)
            out = [frame(e, event=e["type"]) for e in pending
                   if e["sequence_number"] > starting_after]
            pending = []
            if out:
                yield b"".join(out)
