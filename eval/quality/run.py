"""One evaluation: ingest the corpus, search, ask every question in its thread, summarise."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console

from .client import ApiClient
from .questions import (
    EvalError,
    EvalQuestion,
    conversations,
    corpus_files,
    load_questions,
    select,
)
from .scoring import Turn, hit, recall, score_turn, summarize

JOB_DONE = {"ready", "done", "succeeded", "completed"}
JOB_FAILED = {"failed", "error", "cancelled"}


@dataclass
class Options:
    server: str | None
    limit: int | None
    model: str | None
    temperature: float | None
    corpus: Path
    questions: Path
    collection: str
    report: Path | None
    api_key: str | None
    ingest_timeout: float
    run_timeout: float
    keep: bool


def ingest(client: ApiClient, files: Sequence[Path], collection: str, timeout: float,
           console: Console) -> list[str]:
    """Upload every file and wait for its job; returns the names of the failed ones."""
    client.ensure_collection(collection)
    pending: dict[str, tuple[str, str | None]] = {}  # name → (document_id, job_id)
    for path in files:
        body = client.upload(path, collection)
        if body.get("status") != "ready":
            pending[path.name] = (str(body["document_id"]), body.get("job_id"))
    console.log(f"uploaded {len(files)} files into {collection!r}; "
                f"{len(pending)} being ingested")
    failed: list[str] = []
    deadline = time.monotonic() + timeout
    while pending:
        for name, (document_id, job_id) in list(pending.items()):
            state = client.job(job_id) if job_id else client.document(document_id)
            status = str(state.get("status", ""))
            if status in JOB_DONE:
                del pending[name]
            elif status in JOB_FAILED:
                console.log(f"[red]ingestion of {name} failed: {state.get('error')}")
                failed.append(name)
                del pending[name]
        if pending:
            if time.monotonic() > deadline:
                raise EvalError(f"ingestion did not finish in {timeout:.0f} s: {sorted(pending)}")
            time.sleep(1.0)
    return failed


def run_questions(client: ApiClient, threads: Sequence[list[EvalQuestion]], opts: Options,
                  console: Console) -> list[Turn]:
    turns: list[Turn] = []
    by_id: dict[str, EvalQuestion] = {q.id: q for thread in threads for q in thread}
    # retrieval first: the raw question through POST /api/search
    searched: dict[str, tuple[list[str], float, bool]] = {}
    for q in by_id.values():
        if q.answerable:
            found = [str(r.get("source", "")) for r in client.search(q.question, opts.collection)]
            searched[q.id] = (found, recall(found, q.relevant), hit(found, q.relevant))
    total = len(by_id)
    for thread in threads:
        thread_id = client.create_thread(opts.collection, f"eval {thread[0].id}", opts.model,
                                         opts.temperature)
        for q in thread:
            turn = Turn(q.id, q.type, q.question, thread_id=thread_id)
            if q.id in searched:
                turn.search_sources, turn.search_recall, turn.search_hit = searched[q.id]
            try:
                client.ask(turn, q.question, opts.run_timeout)
            except EvalError as exc:
                turn.status, turn.error = "incomplete", str(exc)
            score_turn(turn, q)
            turns.append(turn)
            console.log(_progress_line(len(turns), total, turn))
    return turns


def _progress_line(done: int, count: int, turn: Turn) -> str:
    if turn.type == "unanswerable":
        verdict = "declined" if turn.declined else "answered"
    else:
        verdict = "facts ok" if turn.facts_ok else "facts MISSING"
    ttft = f"{turn.t_first_token:.1f}s" if turn.t_first_token is not None else "-"
    total = f"{turn.t_total:.1f}s" if turn.t_total is not None else "-"
    snippet = " ".join(turn.answer.split())[:100]
    return (f"[{done}/{count}] {turn.id} ({turn.type}): {verdict}; ttft {ttft}, total {total}; "
            f"{turn.status}; {snippet!r}")



def evaluate(base_url: str, opts: Options, console: Console) -> dict[str, Any]:
    questions = load_questions(opts.questions)
    threads = select(conversations(questions), opts.limit)
    chosen = {q.id: q for thread in threads for q in thread}
    client = ApiClient(base_url, opts.api_key)
    try:
        files = corpus_files(opts.corpus)
        started = time.perf_counter()
        failed = ingest(client, files, opts.collection, opts.ingest_timeout, console)
        ingest_s = time.perf_counter() - started
        console.log(f"ingested {len(files) - len(failed)}/{len(files)} documents in "
                    f"{ingest_s:.1f} s; asking {len(chosen)} questions")
        turns = run_questions(client, threads, opts, console)
    finally:
        client.close()
    return {
        "created_at": datetime.now(UTC).isoformat(),
        "server": base_url,
        "model": opts.model,
        "temperature": opts.temperature,
        "collection": opts.collection,
        "corpus": str(opts.corpus),
        "documents": len(files),
        "failed_documents": failed,
        "ingest_seconds": ingest_s,
        "questions_file": str(opts.questions),
        "summary": summarize(turns, chosen),
        "turns": [asdict(t) for t in turns],
    }
