"""ragline's threads and runs as the LangGraph Agent Protocol sees them (docs/api.md §3).

Two assistants (`rag`, `chat`) stand for ragline's two kinds of run. A thread's `values` are
`{"messages": [...]}` in LangChain's message-dict form; every message is a checkpoint (its id
is the message's), so `state` is the latest one and `history` walks back through them. What
LangGraph keeps per run and ragline does not (assistant, stream modes, metadata, strategy) is
kept in the thread's metadata under `langgraph.runs`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from ragline.adapters.db.database import Database
from ragline.adapters.db.tables import Message, Run, Thread
from ragline.domain.errors import NotFound
from ragline.domain.runs import ACTIVE, CANCELLED, DONE, FAILED, QUEUED, RUNNING

NODE = "generate"  # the one node of both graphs: it writes the answer into `messages`
META = "langgraph"  # the thread-metadata key for what the protocol keeps
RUN_STATUS = {QUEUED: "pending", RUNNING: "running", DONE: "success", FAILED: "error",
              CANCELLED: "interrupted"}
EPOCH = datetime(2025, 1, 1, tzinfo=UTC)  # the assistants are built in: fixed timestamps


@dataclass(frozen=True)
class Assistant:
    assistant_id: str
    description: str
    grounded: bool

    def view(self, default_model: str) -> dict[str, Any]:
        return {
            "assistant_id": self.assistant_id, "graph_id": self.assistant_id,
            "name": self.assistant_id, "description": self.description,
            "config": {"configurable": {"model": default_model}}, "context": {},
            "metadata": {"created_by": "system"}, "version": 1,
            "created_at": EPOCH, "updated_at": EPOCH,
        }


ASSISTANTS = {
    "rag": Assistant("rag", "Answers from a collection's passages, with sources and claims "
                     "(config.configurable.collection names the collection).", grounded=True),
    "chat": Assistant("chat", "Plain chat with the model, no retrieval.", grounded=False),
}


def assistant(assistant_id: str) -> Assistant:
    found = ASSISTANTS.get(assistant_id)
    if found is None:
        raise NotFound(f"assistant {assistant_id!r} not found (ragline has 'rag' and 'chat')",
                       code="assistant_not_found")
    return found


# What the protocol keeps in the thread's metadata


def protocol_meta(thread: Thread) -> dict[str, Any]:
    kept = (thread.meta or {}).get(META)
    return dict(kept) if isinstance(kept, Mapping) else {}


def user_metadata(thread: Thread) -> dict[str, Any]:
    return dict(protocol_meta(thread).get("metadata") or {})


def run_record(thread: Thread | None, run_id: str) -> dict[str, Any]:
    runs = protocol_meta(thread).get("runs") if thread is not None else None
    record = runs.get(run_id) if isinstance(runs, Mapping) else None
    return dict(record) if isinstance(record, Mapping) else {}


# Messages


def human_message(message_id: str, content: str) -> dict[str, Any]:
    return {"type": "human", "content": content, "id": message_id, "name": None,
            "example": False, "additional_kwargs": {}, "response_metadata": {}}


def ai_message_id(run_id: str | None, message_id: str) -> str:
    """An answer has its run's id, as its streamed chunks have before it is stored."""
    return f"run-{run_id}" if run_id else message_id


def ai_message(
    *, run_id: str | None, message_id: str | None, content: str,
    sources: Sequence[Mapping[str, Any]] | None, claims: Sequence[Mapping[str, Any]] | None,
    state: str = "complete",
) -> dict[str, Any]:
    """An answer; its sources (and checked claims) are in `additional_kwargs`."""
    extra: dict[str, Any] = {"sources": [dict(s) for s in sources or ()]}
    if claims is not None:
        extra["claims"] = [dict(c) for c in claims]
    return {
        "type": "ai", "content": content, "id": ai_message_id(run_id, message_id or ""),
        "name": None, "example": False, "additional_kwargs": extra,
        "response_metadata": {"ragline_message_id": message_id, "state": state},
        "tool_calls": [], "invalid_tool_calls": [], "usage_metadata": None,
    }


def lc_message(message: Message) -> dict[str, Any]:
    if message.role == "user":
        return human_message(message.id, message.content)
    return ai_message(run_id=message.run_id, message_id=message.id, content=message.content,
                      sources=message.sources, claims=message.claims, state=message.state)


def values(messages: Iterable[Message]) -> dict[str, Any]:
    return {"messages": [lc_message(m) for m in messages]}


# Threads


@dataclass
class ThreadView:
    thread: Thread
    messages: list[Message]
    runs: list[Run]  # oldest first

    @property
    def active(self) -> list[Run]:
        return [r for r in self.runs if r.status in ACTIVE]

    @property
    def status(self) -> str:
        return thread_status([r.status for r in self.runs])

    def view(self) -> dict[str, Any]:
        return thread_json(self.thread, self.status, self.messages)

    def checkpoints(self) -> list[dict[str, Any]]:
        """Every message is a checkpoint: the state after it, oldest first."""
        active = {r.user_message_id: r for r in self.active}
        states: list[dict[str, Any]] = []
        for i, message in enumerate(self.messages):
            waiting = active.get(message.id) if message.role == "user" else None
            parent = states[-1]["checkpoint"] if states else None
            states.append({
                "values": values(self.messages[: i + 1]),
                "next": [NODE] if waiting else [],
                "tasks": [_task(waiting)] if waiting else [],
                "checkpoint": self.checkpoint(message.id),
                "parent_checkpoint": parent,
                "metadata": {"source": "input" if message.role == "user" else "loop",
                             "step": i, "run_id": message.run_id, "writes": None,
                             "parents": {}},
                "created_at": message.created_at.isoformat(),
                "interrupts": [],
            })
        return states

    def checkpoint(self, checkpoint_id: str | None) -> dict[str, Any]:
        return {"thread_id": self.thread.id, "checkpoint_ns": "", "checkpoint_id": checkpoint_id,
                "checkpoint_map": None}

    def state(self, checkpoint_id: str | None = None) -> dict[str, Any]:
        """The latest checkpoint, or the one named; an empty thread has an empty state."""
        states = self.checkpoints()
        if checkpoint_id is not None:
            for state in states:
                if state["checkpoint"]["checkpoint_id"] == checkpoint_id:
                    return state
            raise NotFound(f"checkpoint {checkpoint_id} not found", code="checkpoint_not_found")
        if states:
            return states[-1]
        return {"values": {"messages": []}, "next": [], "tasks": [],
                "checkpoint": self.checkpoint(None), "parent_checkpoint": None,
                "metadata": {}, "created_at": None, "interrupts": []}

    def history(
        self, *, limit: int, before: str | None = None, start: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Newest first: from `start` (inclusive) or strictly before `before`."""
        states = self.checkpoints()[::-1]
        ids = [s["checkpoint"]["checkpoint_id"] for s in states]
        for anchor, skip in ((start, 0), (before, 1)):
            if anchor is not None:
                if anchor not in ids:
                    raise NotFound(f"checkpoint {anchor} not found", code="checkpoint_not_found")
                states = states[ids.index(anchor) + skip:]
                ids = ids[ids.index(anchor) + skip:]
        if metadata:
            states = [s for s in states if matches(s["metadata"], metadata)]
        return states[:limit]


def _task(run: Run) -> dict[str, Any]:
    return {"id": run.id, "name": NODE, "path": ["__pregel_pull", NODE], "error": None,
            "interrupts": [], "checkpoint": None, "state": None, "result": None}


def thread_status(run_statuses: Sequence[str]) -> str:
    """busy while a run is queued or running; error when the last one failed; else idle
    (its runs' statuses, oldest first)."""
    if any(s in ACTIVE for s in run_statuses):
        return "busy"
    return "error" if run_statuses and run_statuses[-1] == FAILED else "idle"


def thread_json(thread: Thread, status: str, messages: Sequence[Message] | None) -> dict[str, Any]:
    return {
        "thread_id": thread.id, "created_at": thread.created_at,
        "updated_at": thread.updated_at, "state_updated_at": thread.updated_at,
        "metadata": user_metadata(thread), "status": status, "config": {},
        "values": values(messages) if messages else None, "interrupts": {},
    }


def matches(metadata: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    return all(key in metadata and metadata[key] == value for key, value in wanted.items())


async def thread_view(db: Database, owner_id: str, thread_id: str) -> ThreadView:
    async with db.session() as session:
        thread = await session.get(Thread, thread_id)
        if thread is None or thread.owner_id != owner_id:
            raise NotFound(f"thread {thread_id} not found", code="thread_not_found")
        messages = list(await session.scalars(
            select(Message).where(Message.thread_id == thread_id)
            .order_by(Message.created_at, Message.id)))
        runs = list(await session.scalars(
            select(Run).where(Run.thread_id == thread_id).order_by(Run.created_at, Run.id)))
    return ThreadView(thread, messages, runs)


async def statuses(db: Database, thread_ids: Sequence[str]) -> dict[str, str]:
    """Each thread's status (see `thread_status`)."""
    if not thread_ids:
        return {}
    async with db.session() as session:
        rows = (await session.execute(
            select(Run.thread_id, Run.status).where(Run.thread_id.in_(list(thread_ids)))
            .order_by(Run.created_at, Run.id))).all()
    by_thread: dict[str, list[str]] = {}
    for thread_id, status in rows:
        by_thread.setdefault(thread_id, []).append(status)
    return {t: thread_status(by_thread.get(t, [])) for t in thread_ids}


# Runs


def assistant_of(run: Run, thread: Thread | None) -> str:
    """The assistant the run was created with (runs made through `/api`: by retrieval)."""
    return run_record(thread, run.id).get("assistant_id") or ("rag" if run.collection else "chat")


def run_json(run: Run, thread: Thread | None) -> dict[str, Any]:
    record = run_record(thread, run.id)
    return {
        "run_id": run.id, "thread_id": run.thread_id,
        "assistant_id": assistant_of(run, thread),
        "created_at": run.created_at,
        "updated_at": run.finished_at or run.started_at or run.created_at,
        "status": RUN_STATUS.get(run.status, "error"),
        "metadata": dict(record.get("metadata") or {}),
        "multitask_strategy": record.get("multitask_strategy"),
    }


def run_stream_modes(thread: Thread | None, run_id: str) -> list[str]:
    return list(run_record(thread, run_id).get("stream_mode") or ["values"])


async def owned_run(db: Database, owner_id: str, thread_id: str, run_id: str
                    ) -> tuple[Run, Thread]:
    """The caller's run of that thread (another owner's, or another thread's, is unknown)."""
    async with db.session() as session:
        run = await session.get(Run, run_id)
        thread = await session.get(Thread, thread_id)
    if run is None or thread is None or run.owner_id != owner_id or run.thread_id != thread_id \
            or thread.owner_id != owner_id:
        raise NotFound(f"run {run_id} not found", code="run_not_found")
    return run, thread


async def list_runs(db: Database, owner_id: str, thread_id: str, *, limit: int, offset: int,
                    status: str | None) -> list[dict[str, Any]]:
    """Newest first, as LangGraph lists them."""
    async with db.session() as session:
        thread = await session.get(Thread, thread_id)
        if thread is None or thread.owner_id != owner_id:
            raise NotFound(f"thread {thread_id} not found", code="thread_not_found")
        query = select(Run).where(Run.thread_id == thread_id)
        if status is not None:
            query = query.where(Run.status.in_(
                [ours for ours, theirs in RUN_STATUS.items() if theirs == status]))
        query = query.order_by(Run.created_at.desc(), Run.id.desc()).offset(offset).limit(limit)
        runs = list(await session.scalars(query))
    return [run_json(r, thread) for r in runs]


async def run_history(db: Database, run: Run) -> list[dict[str, Any]]:
    """What the run was asked: its question and the messages before it, as its model saw them
    (those created before the question; a run enqueued behind another does not see that one's
    answer)."""
    async with db.session() as session:
        question = await session.get(Message, run.user_message_id)
        if question is None:
            return []
        rows = await session.scalars(
            select(Message).where(Message.thread_id == run.thread_id,
                                  Message.created_at <= question.created_at)
            .order_by(Message.created_at, Message.id))
        return [lc_message(m) for m in rows]
