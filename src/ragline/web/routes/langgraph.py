"""The LangGraph Agent Protocol at the server root (API.md §8, docs/api.md §3), so that
`langgraph_sdk.get_client(url=...)` works against ragline: assistants `rag` and `chat`,
threads with their state and history, and runs streamed from ragline's run-event log."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine
from contextlib import aclosing
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, StreamingResponse
from sse_starlette.sse import EventSourceResponse

from ragline.bootstrap import Container
from ragline.domain.jsonenc import dumps
from ragline.services import langgraph_runs as lg
from ragline.services import langgraph_state as lgs
from ragline.services import threads as svc
from ragline.services.conversation import answer_batches
from ragline.web.deps import ContainerDep, CurrentUser, Principal
from ragline.web.errors import error_responses
from ragline.web.langgraph_schema import (
    AssistantCount,
    AssistantOut,
    AssistantSearch,
    HistoryRequest,
    LangGraphError,
    LangGraphRoute,
    LangGraphRun,
    LangGraphThread,
    RunCreate,
    StateAtCheckpoint,
    StateUpdate,
    ThreadCount,
    ThreadCreate,
    ThreadPatch,
    ThreadSearch,
    ThreadStateOut,
    refuse,
    stream_modes,
)
from ragline.web.langgraph_stream import RunStream, parse_cursor, sse
from ragline.web.sse import event_stream

router = APIRouter(tags=["langgraph"], route_class=LangGraphRoute,
                   responses=error_responses(LangGraphError))
SSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/event-stream": {}}, "description": "the run's stream parts"}}
KEEPALIVE_SECONDS = 5.0  # waiting answers send a newline this often (JSON ignores it)


def _services(container: ContainerDep) -> lg.Services:
    return lg.Services(container.db, container.runs, container.models, container.documents,
                       container.settings.max_message_bytes)


ServicesDep = Annotated[lg.Services, Depends(_services)]
LastEventId = Annotated[str | None, Header(max_length=40)]


def _no_select(select: list[str] | None) -> None:
    if select:
        raise refuse("select", "answers always carry every field")


# Assistants


@router.post("/assistants/search", response_model=list[AssistantOut])
async def search_assistants(body: AssistantSearch, container: ContainerDep, user: CurrentUser
                            ) -> list[dict[str, Any]]:
    _no_select(body.select)
    found = [a.view(container.models.default_model) for a in lgs.ASSISTANTS.values()]
    found = [a for a in found if (body.graph_id in (None, a["graph_id"]))
             and (body.name in (None, a["name"])) and lgs.matches(a["metadata"],
                                                                   body.metadata or {})]
    found.sort(key=lambda a: a[body.sort_by or "assistant_id"],
               reverse=body.sort_order == "desc")
    return found[body.offset: body.offset + body.limit]


@router.post("/assistants/count", response_model=int)
async def count_assistants(body: AssistantCount, container: ContainerDep, user: CurrentUser
                           ) -> int:
    search = AssistantSearch(metadata=body.metadata, graph_id=body.graph_id, name=body.name)
    return len(await search_assistants(search, container, user))


@router.get("/assistants/{assistant_id}", response_model=AssistantOut)
async def get_assistant(assistant_id: str, container: ContainerDep, user: CurrentUser
                        ) -> dict[str, Any]:
    return lgs.assistant(assistant_id).view(container.models.default_model)


# Threads


@router.post("/threads", response_model=LangGraphThread)
async def create_thread(body: ThreadCreate, container: ContainerDep, user: CurrentUser
                        ) -> dict[str, Any]:
    body.refuse_unsupported()
    metadata = {**(body.metadata or {}), **({"graph_id": body.graph_id} if body.graph_id else {})}
    thread = await lg.create_thread(container.db, user.user_id, metadata)
    return lgs.thread_json(thread, "idle", None)


@router.post("/threads/search", response_model=list[LangGraphThread])
async def search_threads(body: ThreadSearch, container: ContainerDep, user: CurrentUser
                         ) -> list[dict[str, Any]]:
    body.refuse_unsupported()
    _no_select(body.select)
    return await lg.search_threads(
        container.db, user.user_id, metadata=body.metadata, ids=body.ids, status=body.status,
        limit=body.limit, offset=body.offset, sort_by=body.sort_by or "created_at",
        sort_order=body.sort_order or "desc")


@router.post("/threads/count", response_model=int)
async def count_threads(body: ThreadCount, container: ContainerDep, user: CurrentUser) -> int:
    search = ThreadSearch(metadata=body.metadata, values=body.values, status=body.status)
    search.refuse_unsupported()
    return await lg.count_threads(container.db, user.user_id, metadata=body.metadata,
                                  status=body.status)


@router.get("/threads/{thread_id}", response_model=LangGraphThread)
async def get_thread(thread_id: str, container: ContainerDep, user: CurrentUser
                     ) -> dict[str, Any]:
    return (await lgs.thread_view(container.db, user.user_id, thread_id)).view()


@router.patch("/threads/{thread_id}", response_model=LangGraphThread)
async def patch_thread(thread_id: str, body: ThreadPatch, container: ContainerDep,
                       user: CurrentUser) -> dict[str, Any]:
    if body.ttl is not None:
        raise refuse("ttl", "threads are kept until deleted")
    await lg.update_metadata(container.db, user.user_id, thread_id, body.metadata)
    return (await lgs.thread_view(container.db, user.user_id, thread_id)).view()


@router.delete("/threads/{thread_id}", status_code=204)
async def delete_thread(thread_id: str, container: ContainerDep, user: CurrentUser) -> Response:
    await svc.delete_thread(container.db, container.runs, user.user_id, thread_id)
    return Response(status_code=204)


@router.post("/threads/{thread_id}/copy", response_model=LangGraphThread)
async def copy_thread(thread_id: str, container: ContainerDep, user: CurrentUser
                      ) -> dict[str, Any]:
    """A new thread with every message of this one (ragline's fork); both go on apart."""
    copy = await lg.copy_thread(container.db, user.user_id, thread_id)
    return (await lgs.thread_view(container.db, user.user_id, copy.id)).view()


@router.get("/threads/{thread_id}/state", response_model=ThreadStateOut)
async def get_state(thread_id: str, container: ContainerDep, user: CurrentUser,
                    subgraphs: bool = False,
                    select: Annotated[list[str] | None, Query()] = None) -> dict[str, Any]:
    _no_select(select)
    return (await lgs.thread_view(container.db, user.user_id, thread_id)).state()


@router.post("/threads/{thread_id}/state", status_code=422, response_model=LangGraphError)
async def update_state(thread_id: str, body: StateUpdate, container: ContainerDep,
                       user: CurrentUser) -> dict[str, Any]:
    """Refused: a ragline thread's messages are written by its runs only."""
    await lgs.thread_view(container.db, user.user_id, thread_id)
    raise refuse("update_state", "a thread's messages come from its runs (fork with "
                 "POST /threads/{thread_id}/copy, or rewind with DELETE "
                 "/api/threads/{thread_id}/messages/{message_id})")


@router.get("/threads/{thread_id}/state/{checkpoint_id}", response_model=ThreadStateOut)
async def get_state_at(thread_id: str, checkpoint_id: str, container: ContainerDep,
                       user: CurrentUser, subgraphs: bool = False,
                       select: Annotated[list[str] | None, Query()] = None) -> dict[str, Any]:
    _no_select(select)
    view = await lgs.thread_view(container.db, user.user_id, thread_id)
    return view.state(checkpoint_id)


@router.post("/threads/{thread_id}/state/checkpoint", response_model=ThreadStateOut)
async def post_state_at(thread_id: str, body: StateAtCheckpoint, container: ContainerDep,
                        user: CurrentUser) -> dict[str, Any]:
    _no_select(body.select)
    view = await lgs.thread_view(container.db, user.user_id, thread_id)
    return view.state(body.checkpoint.checkpoint_id)


@router.post("/threads/{thread_id}/history", response_model=list[ThreadStateOut])
async def post_history(thread_id: str, body: HistoryRequest, container: ContainerDep,
                       user: CurrentUser) -> list[dict[str, Any]]:
    _no_select(body.select)
    view = await lgs.thread_view(container.db, user.user_id, thread_id)
    start = body.checkpoint.checkpoint_id if body.checkpoint else None
    return view.history(limit=body.limit, before=body.before_id, start=start,
                        metadata=body.metadata)


@router.get("/threads/{thread_id}/history", response_model=list[ThreadStateOut])
async def get_history(thread_id: str, container: ContainerDep, user: CurrentUser,
                      limit: Annotated[int, Query(ge=1, le=1000)] = 10,
                      before: Annotated[str | None, Query(max_length=64)] = None,
                      ) -> list[dict[str, Any]]:
    view = await lgs.thread_view(container.db, user.user_id, thread_id)
    return view.history(limit=limit, before=before)


# Runs on a thread


def _locations(thread_id: str, run_id: str, then: str) -> dict[str, str]:
    run = f"/threads/{thread_id}/runs/{run_id}"
    return {"Location": f"{run}/{then}", "Content-Location": run}


@router.post("/threads/{thread_id}/runs", response_model=LangGraphRun)
async def create_run(thread_id: str, body: RunCreate, services: ServicesDep,
                     user: CurrentUser, response: Response) -> dict[str, Any]:
    """A background run: join it, stream it, or poll it."""
    run_id = await lg.start_run(services, user.user_id, thread_id, body.plan(stateless=False))
    response.headers["Content-Location"] = f"/threads/{thread_id}/runs/{run_id}"
    run, thread = await lgs.owned_run(services.db, user.user_id, thread_id, run_id)
    return lgs.run_json(run, thread)


@router.post("/threads/{thread_id}/runs/stream", response_class=EventSourceResponse,
             responses=SSE)
async def stream_run(thread_id: str, body: RunCreate, services: ServicesDep,
                     container: ContainerDep, user: CurrentUser) -> Response:
    plan = body.plan(stateless=False)
    run_id = await lg.start_run(services, user.user_id, thread_id, plan)
    return await _stream(container, user, thread_id, run_id, plan.stream_modes, None,
                         cancel_on_exit=body.on_disconnect == "cancel")


@router.post("/threads/{thread_id}/runs/wait", response_model=dict[str, Any])
async def wait_run(thread_id: str, body: RunCreate, services: ServicesDep,
                   container: ContainerDep, user: CurrentUser) -> Response:
    """The thread's values once the run has ended (`{"__error__": ...}` if it failed)."""
    run_id = await lg.start_run(services, user.user_id, thread_id, body.plan(stateless=False))
    return await _wait(container, user, thread_id, run_id,
                       cancel_on_exit=body.on_disconnect == "cancel")


@router.get("/threads/{thread_id}/runs", response_model=list[LangGraphRun])
async def list_runs(
    thread_id: str, container: ContainerDep, user: CurrentUser,
    limit: Annotated[int, Query(ge=1, le=1000)] = 10, offset: Annotated[int, Query(ge=0)] = 0,
    status: Literal["pending", "running", "error", "success", "timeout",
                    "interrupted"] | None = None,
    select: Annotated[list[str] | None, Query()] = None,
) -> list[dict[str, Any]]:
    _no_select(select)
    return await lgs.list_runs(container.db, user.user_id, thread_id, limit=limit,
                               offset=offset, status=status)


@router.get("/threads/{thread_id}/runs/{run_id}", response_model=LangGraphRun)
async def get_run(thread_id: str, run_id: str, container: ContainerDep, user: CurrentUser
                  ) -> dict[str, Any]:
    run, thread = await lgs.owned_run(container.db, user.user_id, thread_id, run_id)
    return lgs.run_json(run, thread)


@router.post("/threads/{thread_id}/runs/{run_id}/cancel", status_code=202, response_model=None,
             responses={200: {"content": {"application/json": {}},
                              "description": "with `wait`: the thread's values afterwards"}})
async def cancel_run(
    thread_id: str, run_id: str, services: ServicesDep, container: ContainerDep,
    user: CurrentUser, wait: bool = False,
    action: Literal["interrupt", "rollback"] = "interrupt",
) -> Response:
    """Stop the run (its partial answer is kept); `action=rollback` also deletes the run with
    its question and answer, when it is the thread's latest."""
    await lg.cancel_run(services, user.user_id, thread_id, run_id, action)
    if not wait:
        return Response(status_code=202)
    view = await lgs.thread_view(container.db, user.user_id, thread_id)
    return JSONResponse(jsonable_encoder(view.state()["values"]), headers=_locations(
        thread_id, run_id, "join"))


@router.get("/threads/{thread_id}/runs/{run_id}/join", response_model=dict[str, Any])
async def join_run(thread_id: str, run_id: str, container: ContainerDep, user: CurrentUser,
                   cancel_on_disconnect: bool = False) -> Response:
    return await _wait(container, user, thread_id, run_id, cancel_on_exit=cancel_on_disconnect)


@router.get("/threads/{thread_id}/runs/{run_id}/stream", response_class=EventSourceResponse,
            responses=SSE)
async def join_stream(
    thread_id: str, run_id: str, container: ContainerDep, user: CurrentUser,
    stream_mode: Annotated[list[str] | None, Query()] = None,
    cancel_on_disconnect: bool = False, last_event_id: LastEventId = None,
) -> Response:
    """The run's stream from its start, or after `Last-Event-ID`; by default in the stream
    modes the run was created with."""
    after = parse_cursor(last_event_id)
    return await _stream(container, user, thread_id, run_id, _query_modes(stream_mode), after,
                         cancel_on_exit=cancel_on_disconnect)


def _query_modes(given: list[str] | None) -> tuple[str, ...]:
    """`?stream_mode=a&stream_mode=b`, or one JSON array (as LangGraph's server reads it)."""
    modes: list[str] = []
    for value in given or []:
        if value.startswith("["):
            try:
                parsed = orjson.loads(value)
            except orjson.JSONDecodeError:
                parsed = [value]
            modes += [str(m) for m in parsed] if isinstance(parsed, list) else [value]
        elif value:
            modes.append(value)
    return stream_modes(modes)


# Stateless runs: a thread of their own, deleted when the run ends (`on_completion: keep`
# keeps it)


@router.post("/runs", response_model=LangGraphRun)
async def create_stateless_run(body: RunCreate, services: ServicesDep, request: Request,
                               user: CurrentUser, response: Response) -> dict[str, Any]:
    thread_id, run_id = await _start_stateless(services, user, body)
    if body.on_completion != "keep":
        _in_background(request, lg.delete_when_finished(services, user.user_id, thread_id,
                                                        run_id))
    response.headers["Content-Location"] = f"/threads/{thread_id}/runs/{run_id}"
    run, thread = await lgs.owned_run(services.db, user.user_id, thread_id, run_id)
    return lgs.run_json(run, thread)


@router.post("/runs/stream", response_class=EventSourceResponse, responses=SSE)
async def stream_stateless_run(body: RunCreate, services: ServicesDep, container: ContainerDep,
                               request: Request, user: CurrentUser) -> Response:
    thread_id, run_id = await _start_stateless(services, user, body)
    cleanup = _cleanup(request, services, user, thread_id, run_id, body)
    return await _stream(container, user, thread_id, run_id, body.modes(), None,
                         cancel_on_exit=body.on_disconnect == "cancel", cleanup=cleanup)


@router.post("/runs/wait", response_model=dict[str, Any])
async def wait_stateless_run(body: RunCreate, services: ServicesDep, container: ContainerDep,
                             request: Request, user: CurrentUser) -> Response:
    thread_id, run_id = await _start_stateless(services, user, body)
    cleanup = _cleanup(request, services, user, thread_id, run_id, body)
    return await _wait(container, user, thread_id, run_id,
                       cancel_on_exit=body.on_disconnect == "cancel", cleanup=cleanup)


async def _start_stateless(services: lg.Services, user: Principal, body: RunCreate
                           ) -> tuple[str, str]:
    return await lg.start_stateless(services, user.user_id, body.plan(stateless=True),
                                    temporary=body.on_completion != "keep")


Cleanup = tuple[Request, lg.Services, Principal, str, str] | None


def _cleanup(request: Request, services: lg.Services, user: Principal, thread_id: str,
             run_id: str, body: RunCreate) -> Cleanup:
    if body.on_completion == "keep":
        return None
    return request, services, user, thread_id, run_id


async def _clean_up(cleanup: Cleanup, ended: bool) -> None:
    """Delete a stateless run's thread: now if its run ended, else once it has."""
    if cleanup is None:
        return
    request, services, user, thread_id, run_id = cleanup
    if ended:
        await svc.delete_thread(services.db, services.runs, user.user_id, thread_id)
    else:
        _in_background(request, lg.delete_when_finished(services, user.user_id, thread_id,
                                                        run_id))


def _in_background(request: Request, work: Coroutine[Any, Any, None]) -> None:
    """Runs `work` after the answer; the app holds the task until it is done."""
    tasks: set[asyncio.Task[None]] = getattr(request.app.state, "langgraph_tasks", set())
    request.app.state.langgraph_tasks = tasks
    task = asyncio.get_running_loop().create_task(work)
    tasks.add(task)
    task.add_done_callback(tasks.discard)


# Streaming and waiting, from the run's event log


async def _view(container: Container, user: Principal, thread_id: str, run_id: str,
                modes: tuple[str, ...]) -> RunStream:
    run, thread = await lgs.owned_run(container.db, user.user_id, thread_id, run_id)
    return RunStream(
        run_id=run.id, thread_id=thread_id, model=run.model,
        assistant_id=lgs.assistant_of(run, thread),
        modes=modes or tuple(lgs.run_stream_modes(thread, run_id)),
        history=await lgs.run_history(container.db, run))


async def _stream(container: Container, user: Principal, thread_id: str, run_id: str,
                  modes: tuple[str, ...], after: Any, *, cancel_on_exit: bool,
                  cleanup: Cleanup = None) -> Response:
    view = await _view(container, user, thread_id, run_id, modes)
    batches = answer_batches(container.db, container.bus, container.runs, run_id,
                             cancel_on_exit=cancel_on_exit)

    async def body() -> AsyncIterator[bytes]:
        ended = False
        try:
            async with aclosing(sse(view, batches, after)) as chunks:
                async for chunk in chunks:
                    yield chunk
            ended = True
        finally:
            await _clean_up(cleanup, ended)

    response = event_stream(body(), container.settings.sse_ping_seconds)
    query = urlencode([("stream_mode", m) for m in sorted(view.modes)])
    response.headers.update(_locations(thread_id, run_id, f"stream?{query}"))
    return response


async def _wait(container: Container, user: Principal, thread_id: str, run_id: str, *,
                cancel_on_exit: bool, cleanup: Cleanup = None) -> Response:
    """The result once the run has ended; a newline every few seconds until then, as
    LangGraph's server sends, so that proxies keep the connection."""
    view = await _view(container, user, thread_id, run_id, ())
    batches = answer_batches(container.db, container.bus, container.runs, run_id,
                             cancel_on_exit=cancel_on_exit)

    async def fold() -> dict[str, Any]:
        async with aclosing(batches):
            async for batch in batches:
                for record in batch:
                    view.feed(record)
        return view.result()

    async def body() -> AsyncIterator[bytes]:
        task = asyncio.get_running_loop().create_task(fold())
        ended = False
        try:
            while not task.done():
                await asyncio.wait([task], timeout=KEEPALIVE_SECONDS)
                if not task.done():
                    yield b"\n"
            yield dumps(task.result()).encode()
            ended = True
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await _clean_up(cleanup, ended)

    return StreamingResponse(body(), media_type="application/json",
                             headers=_locations(thread_id, run_id, "join"))
