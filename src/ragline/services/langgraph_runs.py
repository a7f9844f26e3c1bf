"""LangGraph Agent Protocol use cases on ragline's threads and runs (docs/api.md §3).

A LangGraph run is a ragline run: `start_run` posts its question with `threads.post_message`,
mapping `multitask_strategy` onto the thread's run policy (`rollback` = cancel the active runs,
then delete their questions and answers, then post). What the protocol keeps per run and
ragline does not is recorded in the thread's metadata (`langgraph_state.META`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ragline.adapters.db.database import Database
from ragline.adapters.db.tables import Message, Run, Thread
from ragline.domain.errors import Conflict, NotFound, Unprocessable
from ragline.domain.llm import ChatMessage
from ragline.domain.runs import ACTIVE, TERMINAL
from ragline.services import forks, rewind
from ragline.services import threads as svc
from ragline.services.conversation import start_thread_with_history
from ragline.services.langgraph_state import (
    META,
    RUN_STATUS,
    assistant,
    matches,
    statuses,
    thread_json,
    user_metadata,
)
from ragline.services.run_manager import RunManager
from ragline.services.run_store import OnActive

if TYPE_CHECKING:
    from ragline.services.documents import DocumentService
    from ragline.services.models import ModelRegistry

Strategy = Literal["reject", "enqueue", "interrupt", "rollback"]
POLICY: dict[Strategy, OnActive] = {"reject": "reject", "enqueue": "enqueue",
                                    "interrupt": "interrupt", "rollback": "reject"}
KEEP_RUNS = 100  # run records kept in a thread's metadata; older runs get defaults
BUSY = ("Thread is already running a task. Wait for it to finish or choose a different "
        "multitask strategy.")


@dataclass(frozen=True)
class RunPlan:
    """A validated run request (web/langgraph_schema.py builds it)."""

    assistant_id: str
    question: str
    history: tuple[ChatMessage, ...] = ()
    system: str | None = None
    collection: str | None = None
    model: str | None = None
    strategy: Strategy = "enqueue"
    metadata: dict[str, Any] = field(default_factory=dict)
    stream_modes: tuple[str, ...] = ("values",)

    def record(self) -> dict[str, Any]:
        return {"assistant_id": self.assistant_id, "stream_mode": list(self.stream_modes),
                "metadata": self.metadata, "multitask_strategy": self.strategy}


@dataclass(frozen=True)
class Services:
    """What a LangGraph run needs from the composition root."""

    db: Database
    runs: RunManager
    models: ModelRegistry
    documents: DocumentService
    max_message_bytes: int


async def start_run(services: Services, owner_id: str, thread_id: str, plan: RunPlan) -> str:
    """Post the plan's question on the thread; the new run's id."""
    db = services.db
    grounded = assistant(plan.assistant_id).grounded
    thread = await svc.find_thread(db, owner_id, thread_id)
    collection = plan.collection or (thread.collection if grounded else None)
    if grounded and not collection:
        raise Unprocessable("assistant 'rag' needs config.configurable.collection (or a thread "
                            "bound to a collection)", code="collection_required")
    if not grounded and plan.collection:
        raise Unprocessable("assistant 'chat' answers without retrieval: use assistant 'rag' "
                            "to answer from a collection", code="collection_not_allowed")
    await services.documents.check_collection(owner_id, collection)
    model = services.models.resolve(plan.model, thread.model)
    if plan.history or plan.system is not None:
        await _seed(db, thread_id, plan)
    if plan.strategy == "rollback":
        await _roll_back_active(services, owner_id, thread_id)
    try:
        posted = await svc.post_message(
            db, services.runs, owner_id=owner_id, thread_id=thread_id, content=plan.question,
            model=model,
            # chat on a thread bound to a collection: "" turns its retrieval off for this run
            collection=collection if grounded else ("" if thread.collection else None),
            on_active=POLICY[plan.strategy], max_bytes=services.max_message_bytes,
        )
    except Conflict as exc:
        if exc.code == "run_active":
            raise Conflict(BUSY, code="run_active", details=exc.details) from exc
        raise
    await _record_run(db, thread_id, posted.run_id, plan)
    return posted.run_id


async def start_stateless(
    services: Services, owner_id: str, plan: RunPlan, *, temporary: bool
) -> tuple[str, str]:
    """A run on a new thread holding the plan's history: (thread id, run id)."""
    meta: dict[str, Any] = {"surface": "langgraph", META: {"metadata": {}, "temporary": temporary}}
    if plan.system is not None:
        meta["system"] = plan.system
    model = services.models.resolve(plan.model)
    async with services.db.session() as session:
        thread = await start_thread_with_history(session, owner_id, plan.history, model=model,
                                                 metadata=meta)
        thread_id = thread.id
    try:
        run_id = await start_run(services, owner_id, thread_id, _without_history(plan))
    except Exception:
        await svc.delete_thread(services.db, services.runs, owner_id, thread_id)
        raise
    return thread_id, run_id


def _without_history(plan: RunPlan) -> RunPlan:
    return RunPlan(plan.assistant_id, plan.question, (), None, plan.collection, plan.model,
                   plan.strategy, plan.metadata, plan.stream_modes)


async def delete_when_finished(services: Services, owner_id: str, thread_id: str,
                               run_id: str) -> None:
    """A stateless run's thread goes once its run has ended (`on_completion: delete`)."""
    await services.runs.store.wait_finished(run_id)
    try:
        await svc.delete_thread(services.db, services.runs, owner_id, thread_id)
    except NotFound:
        pass  # deleted meanwhile


async def cancel_run(services: Services, owner_id: str, thread_id: str, run_id: str,
                     action: Literal["interrupt", "rollback"]) -> None:
    """Stop the run; `rollback` also deletes its question and answer (and the run), which is
    possible while it is the thread's only active run and nothing came after it."""
    async with services.db.session() as session:
        run = await session.get(Run, run_id)
        if run is None or run.owner_id != owner_id or run.thread_id != thread_id:
            raise NotFound(f"run {run_id} not found", code="run_not_found")
        if run.status in TERMINAL:
            raise Conflict(f"run {run_id} already ended ({RUN_STATUS[run.status]})",
                           code="run_finished")
        if action == "rollback":
            await _check_rollback(session, thread_id, [(run.id, run.user_message_id)])
    await services.runs.cancel_anywhere(run_id)
    if action == "rollback":
        await rewind.rewind_thread(services.runs.store, owner_id, thread_id, run.user_message_id)


async def _roll_back_active(services: Services, owner_id: str, thread_id: str) -> None:
    async with services.db.session() as session:
        active = [(r.id, r.user_message_id) for r in await session.scalars(
            select(Run).where(Run.thread_id == thread_id, Run.status.in_(ACTIVE))
            .order_by(Run.created_at, Run.id))]
        if not active:
            return
        first = await _check_rollback(session, thread_id, active)
    for run_id, _ in active:
        await services.runs.cancel_anywhere(run_id)
    await rewind.rewind_thread(services.runs.store, owner_id, thread_id, first)


async def _check_rollback(session: AsyncSession, thread_id: str,
                          runs: Sequence[tuple[str, str]]) -> str:
    """The first question of `runs` (their ids and questions), when deleting every message from
    it on deletes only these runs' messages; else 422."""
    ids = {run_id for run_id, _ in runs}
    others = list(await session.scalars(select(Run.id).where(
        Run.thread_id == thread_id, Run.status.in_(ACTIVE), Run.id.not_in(ids))))
    questions = [q for _, q in runs]
    first = await session.scalar(select(Message).where(Message.id.in_(questions))
                                 .order_by(Message.created_at, Message.id).limit(1))
    if first is None:
        raise NotFound("the run's question is gone", code="message_not_found")
    later = and_(Message.thread_id == thread_id, or_(
        Message.created_at > first.created_at,
        and_(Message.created_at == first.created_at, Message.id >= first.id)))
    strangers = await session.scalar(select(Message.id).where(
        later, or_(Message.run_id.is_(None), Message.run_id.not_in(ids))).limit(1))
    if others or strangers is not None:
        raise Unprocessable(
            "rollback would delete messages of other runs (a run queued behind, or an answer "
            "that finished after this question): use interrupt instead",
            code="rollback_not_possible")
    return first.id


async def _seed(db: Database, thread_id: str, plan: RunPlan) -> None:
    """The earlier turns and system prompt of the input: only on a thread without messages."""
    async with db.session() as session:
        thread = await _locked(session, thread_id)
        if await session.scalar(select(Message.id).where(Message.thread_id == thread_id)
                                .limit(1)) is not None:
            raise Unprocessable(
                "input may hold earlier messages (or a system message) only on a thread's first "
                "run: send just the new user message", code="history_not_allowed")
        start = datetime.now(UTC) - timedelta(milliseconds=len(plan.history) + 1)
        for i, turn in enumerate(plan.history):
            session.add(Message(thread_id=thread_id, role=turn.role, content=turn.content,
                                created_at=start + timedelta(milliseconds=i)))
        if plan.system is not None:
            thread.meta = {**(thread.meta or {}), "system": plan.system}


async def _locked(session: AsyncSession, thread_id: str) -> Thread:
    """The thread's row, locked for this transaction (the row on PostgreSQL, the database's
    write lock on SQLite), so that read-modify-writes of its metadata do not lose updates."""
    await session.execute(update(Thread).where(Thread.id == thread_id)
                          .values(updated_at=Thread.updated_at))
    thread = await session.get(Thread, thread_id)
    if thread is None:
        raise NotFound(f"thread {thread_id} not found", code="thread_not_found")
    return thread


def _with_protocol(thread: Thread, **changes: Any) -> None:
    meta = dict(thread.meta or {})
    kept = dict(meta.get(META) or {})
    kept.update(changes)
    meta[META] = kept
    thread.meta = meta


async def _record_run(db: Database, thread_id: str, run_id: str, plan: RunPlan) -> None:
    async with db.session() as session:
        thread = await _locked(session, thread_id)
        kept = (thread.meta or {}).get(META) or {}
        records = dict(kept.get("runs") or {})
        records[run_id] = plan.record()
        records = dict(list(records.items())[-KEEP_RUNS:])
        # as LangGraph does: a thread names the graph and assistant that last ran on it
        metadata = {**user_metadata(thread), "graph_id": plan.assistant_id,
                    "assistant_id": plan.assistant_id}
        _with_protocol(thread, runs=records, metadata=metadata)


# Threads


async def create_thread(db: Database, owner_id: str, metadata: Mapping[str, Any]) -> Thread:
    return await svc.new_thread(db, owner_id, metadata={
        "surface": "langgraph", META: {"metadata": dict(metadata)}})


async def update_metadata(db: Database, owner_id: str, thread_id: str,
                          metadata: Mapping[str, Any]) -> Thread:
    """Merged into the thread's metadata, as LangGraph's PATCH does."""
    await svc.find_thread(db, owner_id, thread_id)
    async with db.session() as session:
        thread = await _locked(session, thread_id)
        _with_protocol(thread, metadata={**user_metadata(thread), **metadata})
        thread.updated_at = datetime.now(UTC)
        return thread


async def copy_thread(db: Database, owner_id: str, thread_id: str) -> Thread:
    """ragline's fork of every message; the copy keeps the metadata, not the run records (its
    runs stay with the original)."""
    copy = await forks.copy_thread(db, owner_id, thread_id)
    async with db.session() as session:
        thread = await _locked(session, copy.id)
        _with_protocol(thread, runs={})
        return thread


async def search_threads(
    db: Database, owner_id: str, *, metadata: Mapping[str, Any] | None,
    ids: Sequence[str] | None, status: str | None, limit: int, offset: int,
    sort_by: str, sort_order: str,
) -> list[dict[str, Any]]:
    """The caller's threads (all of them, not only those made through this API)."""
    found, states = await _matching_threads(db, owner_id, metadata=metadata, ids=ids,
                                            status=status, sort_by=sort_by,
                                            sort_order=sort_order, window=(offset, limit))
    messages: dict[str, list[Message]] = {t.id: [] for t in found}
    if found:
        async with db.session() as session:
            for m in await session.scalars(
                    select(Message).where(Message.thread_id.in_(list(messages)))
                    .order_by(Message.created_at, Message.id)):
                messages[m.thread_id].append(m)
    return [thread_json(t, states[t.id], messages[t.id]) for t in found]


async def count_threads(db: Database, owner_id: str, *, metadata: Mapping[str, Any] | None,
                        status: str | None) -> int:
    found, _ = await _matching_threads(db, owner_id, metadata=metadata, ids=None, status=status,
                                       sort_by="created_at", sort_order="desc", window=None)
    return len(found)


async def _matching_threads(
    db: Database, owner_id: str, *, metadata: Mapping[str, Any] | None,
    ids: Sequence[str] | None, status: str | None, sort_by: str, sort_order: str,
    window: tuple[int, int] | None,
) -> tuple[list[Thread], dict[str, str]]:
    """The threads that match, in order (`window`: offset and limit, None for all), and each
    one's status."""
    column = {"thread_id": Thread.id, "created_at": Thread.created_at,
              "updated_at": Thread.updated_at, "state_updated_at": Thread.updated_at,
              "status": Thread.updated_at}[sort_by]
    order = column.asc() if sort_order == "asc" else column.desc()
    query = select(Thread).where(Thread.owner_id == owner_id).order_by(order, Thread.id)
    if ids:
        query = query.where(Thread.id.in_(list(ids)))
    filtered = bool(metadata) or status is not None
    if window is not None and not filtered:
        query = query.offset(window[0]).limit(window[1])
    async with db.session() as session:
        found = list(await session.scalars(query))
    if metadata:
        found = [t for t in found if matches(user_metadata(t), metadata)]
    states = await statuses(db, [t.id for t in found])
    if status is not None:
        found = [t for t in found if states[t.id] == status]
    if window is not None and filtered:
        found = found[window[0]: window[0] + window[1]]
    if sort_by == "status":
        found.sort(key=lambda t: states[t.id], reverse=sort_order != "asc")
    return found, states
