"""Quality of grounded conversation, end to end through the HTTP API (API.md §1, §2).

    python -m ragline.evaluation [--server URL] [--limit N] [--model NAME]

Without `--server` a real `ragline serve` starts on a free port with a fresh data dir and SQLite
database under a temporary directory (the local model by default; the model files are the
user's `RAGLINE_MODEL_DIR`). The corpus is uploaded with `POST /api/documents` into one
collection, then every question is asked in a thread bound to that collection (a follow-up in
the thread of the question it follows) and its run's event stream is read to `done`.

Measured:
- retrieval Recall@5 (document level) of `POST /api/search` with the raw question, for single
  questions and the first questions of follow-up pairs;
- answer fact accuracy: the share of answerable answers that contain the expected facts;
- unanswerable questions: the share declined ("the documents do not cover it") and the share
  whose `final.sources` is empty;
- follow-ups: the share whose condensed query retrieves a relevant document, read from the
  follow-up run's `sources` event (the pipeline retrieves with the condensed query);
- latency: time to the `sources` event (condense + retrieval), to the first token, and to `done`.

Only the HTTP contract is used, so it runs against any ragline server. A JSON report with every
answer is written too (its path is printed).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import httpx
from httpx_sse import connect_sse
from rich.console import Console
from rich.table import Table

EVAL_DIR = Path(__file__).resolve().parents[2] / "eval"
DEFAULT_CORPUS = EVAL_DIR / "corpus" / "sqlite"
DEFAULT_QUESTIONS = EVAL_DIR / "questions.jsonl"
DEFAULT_COLLECTION = "eval-sqlite"
LOCAL_MODEL = "qwen2.5-coder-1.5b-instruct"
CORPUS_SUFFIXES = {".html", ".htm", ".md", ".markdown", ".txt", ".pdf", ".docx"}
CONTENT_TYPES = {
    ".html": "text/html", ".htm": "text/html", ".md": "text/markdown",
    ".markdown": "text/markdown", ".txt": "text/plain", ".pdf": "application/pdf",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}
JOB_DONE = {"ready", "done", "succeeded", "completed"}
JOB_FAILED = {"failed", "error", "cancelled"}
TOP_K = 5

QuestionType = Literal["single", "followup", "unanswerable"]
ExpectMode = Literal["any", "all"]


# ---------------------------------------------------------------------------------------------
# Questions and scoring (pure)


@dataclass(frozen=True)
class EvalQuestion:
    id: str
    question: str
    type: QuestionType
    relevant: tuple[str, ...] = ()
    expect: tuple[str, ...] = ()
    expect_mode: ExpectMode = "any"
    follow_of: str | None = None
    paraphrase: bool = False  # worded unlike its document (reported apart)

    @property
    def answerable(self) -> bool:
        return self.type != "unanswerable"


def load_questions(path: Path) -> list[EvalQuestion]:
    """JSON lines; a follow-up must come after the question it follows."""
    questions: list[EvalQuestion] = []
    seen: set[str] = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            question = _parse_question(json.loads(line), seen)
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{number}: {exc}") from exc
        seen.add(question.id)
        questions.append(question)
    if not questions:
        raise ValueError(f"{path} holds no questions")
    return questions


def _parse_question(item: dict[str, Any], seen: set[str]) -> EvalQuestion:
    qid, text, kind = str(item["id"]), str(item["question"]), item.get("type", "single")
    if kind not in ("single", "followup", "unanswerable"):
        raise ValueError(f"unknown type {kind!r}")
    if qid in seen:
        raise ValueError(f"duplicate id {qid!r}")
    mode = item.get("expect_mode", "any")
    if mode not in ("any", "all"):
        raise ValueError(f"expect_mode must be 'any' or 'all', not {mode!r}")
    relevant = tuple(str(s) for s in item.get("relevant") or ())
    expect = tuple(str(s) for s in item.get("expect") or ())
    follow_of = item.get("follow_of")
    if kind == "followup" and (not follow_of or follow_of not in seen):
        raise ValueError(f"follow-up {qid!r} must follow an earlier question (follow_of)")
    if kind != "unanswerable" and (not relevant or not expect):
        raise ValueError(f"answerable question {qid!r} needs `relevant` and `expect`")
    return EvalQuestion(qid, text, kind, relevant, expect, mode,
                        str(follow_of) if follow_of else None, bool(item.get("paraphrase")))


def conversations(questions: Sequence[EvalQuestion]) -> list[list[EvalQuestion]]:
    """A thread per question that follows nothing; follow-ups join their question's thread."""
    threads: list[list[EvalQuestion]] = []
    where: dict[str, int] = {}
    for q in questions:
        if q.follow_of is not None and q.follow_of in where:
            index = where[q.follow_of]
            threads[index].append(q)
        else:
            index = len(threads)
            threads.append([q])
        where[q.id] = index
    return threads


def select(threads: Sequence[list[EvalQuestion]], limit: int | None) -> list[list[EvalQuestion]]:
    """At most `limit` questions, whole conversations, taken in turn from each kind of
    conversation (follow-up pairs, singles, unanswerables) so a quick run samples all kinds."""
    if limit is None:
        return list(threads)
    groups: dict[str, list[list[EvalQuestion]]] = {}
    for thread in threads:
        kind = "followup" if len(thread) > 1 else thread[0].type
        groups.setdefault(kind, []).append(thread)
    queues = [list(reversed(g)) for g in groups.values()]
    chosen: list[list[EvalQuestion]] = []
    total = 0
    while total < limit and any(queues):
        for queue in queues:
            if queue and total < limit:
                thread = queue.pop()
                chosen.append(thread)
                total += len(thread)
    order = {id(t): i for i, t in enumerate(threads)}
    return sorted(chosen, key=lambda t: order[id(t)])


def source_name(source: str) -> str:
    """Compare documents by file name: `library/x.html`, `./x.html` and `x.html` are one."""
    return source.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]


def distinct_documents(sources: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(source_name(s) for s in sources))


def hit(sources: Iterable[str], relevant: Iterable[str]) -> bool:
    wanted = {source_name(s) for s in relevant}
    return any(source_name(s) in wanted for s in sources)


def recall(sources: Sequence[str], relevant: Sequence[str], k: int = TOP_K) -> float:
    """Document-level recall: the share of the relevant documents among the first k found."""
    wanted = {source_name(s) for s in relevant}
    if not wanted:
        return 0.0
    return len(wanted.intersection(distinct_documents(sources)[:k])) / len(wanted)


def _fold(text: str) -> str:
    return text.replace("\u2019", "'").replace("\u2018", "'").casefold()


def contains_expected(answer: str, expect: Sequence[str], mode: ExpectMode = "any") -> bool:
    """Case-insensitive substrings; `any` needs one of them, `all` every one."""
    folded = _fold(answer)
    found = [_fold(e) in folded for e in expect]
    return bool(found) and (all(found) if mode == "all" else any(found))


# A decline names the documents (or says it does not know): strong phrases anywhere, or a
# negation in a sentence that talks about the documents/context.
_STRONG_DECLINE = re.compile(
    r"not (?:covered|mentioned)|no (?:relevant |specific |such )?(?:information|mention)"
    r"|(?:cannot|can't|could not|couldn't|unable to|not able to) (?:find|locate|answer|provide)"
    r"|(?:do|does|did) ?(?:not|n't) (?:seem to )?cover"
    r"|not (?:in|within|part of) (?:the|these|your|my) (?:provided |given )?(?:documents?|passages?"
    r"|context|sources?|documentation)"
    r"|outside (?:of )?(?:the )?scope|\bi (?:do not|don't) know\b"
    r"|(?:do|does) ?(?:not|n't) have (?:any )?(?:relevant |specific )?information"
)
_DOCS = re.compile(r"\b(?:documents?|docs|documentation|passages?|context|sources?|provided)\b")
_WEAK_DECLINE = re.compile(
    r"(?:do|does|did) ?(?:not|n't) (?:contain|mention|include|provide|discuss|address|describe"
    r"|explain|say|answer)|not (?:found|provided|available|included|discussed|described|addressed)"
    r"|there is no|nothing (?:about|on|regarding)|neither"
)
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")


def is_decline(answer: str) -> bool:
    """Does the answer say that the documents do not cover the question?"""
    text = _fold(answer)
    if _STRONG_DECLINE.search(text):
        return True
    return any(_DOCS.search(s) and _WEAK_DECLINE.search(s) for s in _SENTENCE.split(text))


_CITATION = re.compile(r"\[(\s*\d+(?:\s*[,;]\s*\d+)*\s*)\]")


def citations(answer: str) -> list[int]:
    """Passage numbers cited as [1], [2][3] or [1, 2]."""
    numbers: list[int] = []
    for group in _CITATION.findall(answer):
        numbers.extend(int(n) for n in re.findall(r"\d+", group))
    return numbers


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (q in 0..100)."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


# ---------------------------------------------------------------------------------------------
# Results


@dataclass
class Turn:
    """One question asked in a thread and the run that answered it."""

    id: str
    type: QuestionType
    question: str
    thread_id: str = ""
    run_id: str = ""
    status: str = ""
    error: str | None = None
    answer: str = ""
    sources: list[str] = field(default_factory=list)  # final.sources, in order
    streamed_sources: list[str] | None = None  # the `sources` event (None: there was none)
    sources_before_tokens: bool | None = None
    t_sources: float | None = None  # seconds from posting the message
    t_first_token: float | None = None
    t_total: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    # scores
    search_sources: list[str] = field(default_factory=list)  # POST /api/search, raw question
    search_recall: float | None = None
    search_hit: bool | None = None
    answer_source_hit: bool | None = None  # a relevant document among the run's sources
    facts_ok: bool | None = None
    declined: bool = False
    cited: list[int] = field(default_factory=list)
    valid_citations: bool = False  # at least one, and all point at a passage that was given
    claims: list[dict[str, Any]] | None = None  # final.claims (None: the server sent none)
    claims_accounted: bool | None = None  # every claim supported with a valid source, or flagged


def score_turn(turn: Turn, q: EvalQuestion) -> None:
    retrieved = turn.streamed_sources if turn.streamed_sources is not None else turn.sources
    turn.declined = is_decline(turn.answer)
    turn.cited = citations(turn.answer)
    turn.valid_citations = bool(turn.cited) and all(1 <= n <= len(turn.sources)
                                                    for n in turn.cited)
    if turn.claims is not None:
        turn.claims_accounted = all(
            (c.get("supported") is True and bool(c.get("sources"))
             and all(1 <= n <= len(turn.sources) for n in c["sources"]))
            or (c.get("supported") is False and not c.get("sources"))
            for c in turn.claims)
    if q.answerable:
        turn.answer_source_hit = hit(retrieved, q.relevant)
        turn.facts_ok = turn.status == "done" and contains_expected(
            turn.answer, q.expect, q.expect_mode)


def _share(flags: Sequence[bool]) -> float | None:
    return sum(flags) / len(flags) if flags else None


def summarize(turns: Sequence[Turn], questions: dict[str, EvalQuestion]) -> dict[str, Any]:
    """The headline figures: each a share (0..1) or seconds, with how many turns it counts."""
    firsts = [t for t in turns if t.search_recall is not None and t.type != "followup"]
    paraphrased = [t for t in firsts if questions[t.id].paraphrase]
    followups = [t for t in turns if t.type == "followup"]
    answerable = [t for t in turns if t.type != "unanswerable"]
    singles = [t for t in turns if t.type == "single"]
    unanswerable = [t for t in turns if t.type == "unanswerable"]
    answered = [t for t in turns if t.t_first_token is not None]

    def latency(values: list[float]) -> dict[str, float | int | None]:
        return {"p50": percentile(values, 50), "p99": percentile(values, 99), "n": len(values)}

    ttft = [t.t_first_token for t in answered if t.t_first_token is not None]
    pre = [t.t_sources for t in answered if t.t_sources is not None]
    shares = [t.t_sources / t.t_first_token for t in answered
              if t.t_sources is not None and t.t_first_token]
    return {
        "questions": len(turns),
        "failed_runs": sum(t.status != "done" for t in turns),
        "retrieval_recall_at_5": {
            "value": _mean([t.search_recall for t in firsts if t.search_recall is not None]),
            "n": len(firsts)},
        "retrieval_recall_at_5_paraphrased": {
            "value": _mean([t.search_recall for t in paraphrased if t.search_recall is not None]),
            "n": len(paraphrased)},
        "retrieval_hit_at_5": {
            "value": _share([bool(t.search_hit) for t in firsts]), "n": len(firsts)},
        "answer_fact_accuracy": {
            "value": _share([bool(t.facts_ok) for t in answerable]), "n": len(answerable)},
        "answer_fact_accuracy_single": {
            "value": _share([bool(t.facts_ok) for t in singles]), "n": len(singles)},
        "answer_fact_accuracy_followup": {
            "value": _share([bool(t.facts_ok) for t in followups]), "n": len(followups)},
        "answerable_with_valid_citations": {
            "value": _share([t.valid_citations for t in answerable]), "n": len(answerable)},
        "answerable_claims_accounted": {
            "value": _share([bool(t.claims_accounted) for t in answerable
                             if t.claims_accounted is not None]),
            "n": sum(t.claims_accounted is not None for t in answerable)},
        "answerable_claims_supported": {
            "value": _share([bool(c.get("supported")) for t in answerable
                             for c in t.claims or []]),
            "n": sum(len(t.claims or []) for t in answerable)},
        "answerable_wrongly_declined": {
            "value": _share([t.declined for t in answerable]), "n": len(answerable)},
        "answerable_sources_hit": {
            "value": _share([bool(t.answer_source_hit) for t in answerable]),
            "n": len(answerable)},
        "unanswerable_declined": {
            "value": _share([t.declined for t in unanswerable]), "n": len(unanswerable)},
        "unanswerable_empty_sources": {
            "value": _share([not t.sources for t in unanswerable]), "n": len(unanswerable)},
        "followup_condensed_hit": {
            "value": _share([bool(t.answer_source_hit) for t in followups]), "n": len(followups)},
        "followup_raw_question_hit_at_5": {
            "value": _share([bool(t.search_hit) for t in followups]), "n": len(followups)},
        "sources_before_first_token": {
            "value": _share([bool(t.sources_before_tokens) for t in answered]),
            "n": len(answered)},
        "latency_s": {
            "time_to_sources": latency(pre),
            "time_to_sources_followups": latency(
                [t.t_sources for t in followups if t.t_sources is not None]),
            "time_to_first_token": latency(ttft),
            "total": latency([t.t_total for t in answered if t.t_total is not None]),
            "pre_token_share_of_ttft": latency(shares),
        },
        "mean_prompt_tokens": _mean([float(t.prompt_tokens) for t in turns if t.prompt_tokens]),
        "mean_completion_tokens": _mean(
            [float(t.completion_tokens) for t in turns if t.completion_tokens]),
        "question_ids": sorted(questions),
    }


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


# ---------------------------------------------------------------------------------------------
# The HTTP client (API.md only)


class EvalError(RuntimeError):
    pass


class ApiClient:
    def __init__(self, base_url: str, api_key: str | None = None, timeout: float = 60.0) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.http = httpx.Client(
            base_url=base_url.rstrip("/"), headers=headers,
            timeout=httpx.Timeout(timeout, read=max(timeout, 120.0)),
        )

    def close(self) -> None:
        self.http.close()

    def _json(self, response: httpx.Response, *ok: int) -> Any:
        if response.status_code not in ok:
            raise EvalError(f"{response.request.method} {response.request.url.path} answered "
                            f"{response.status_code}: {response.text[:500]}")
        return response.json() if response.content else None

    def ensure_collection(self, name: str) -> None:
        response = self.http.post("/api/collections", json={"name": name})
        if response.status_code not in (200, 201, 409):
            self._json(response, 201)

    def upload(self, path: Path, collection: str) -> dict[str, Any]:
        content_type = CONTENT_TYPES.get(path.suffix.lower(), "application/octet-stream")
        response = self.http.post(
            "/api/documents",
            files={"file": (path.name, path.read_bytes(), content_type)},
            data={"collection": collection, "source": path.name},
        )
        body: dict[str, Any] = self._json(response, 200, 201, 202)
        return body

    def job(self, job_id: str) -> dict[str, Any]:
        body: dict[str, Any] = self._json(self.http.get(f"/api/jobs/{job_id}"), 200)
        return body

    def document(self, document_id: str) -> dict[str, Any]:
        body: dict[str, Any] = self._json(self.http.get(f"/api/documents/{document_id}"), 200)
        return body

    def search(self, query: str, collection: str, top_k: int = TOP_K) -> list[dict[str, Any]]:
        response = self.http.post("/api/search", json={
            "query": query, "collection": collection, "top_k": top_k, "mode": "hybrid"})
        results: list[dict[str, Any]] = self._json(response, 200)["results"]
        return results

    def create_thread(self, collection: str, title: str, model: str | None,
                      temperature: float | None = None) -> str:
        body: dict[str, Any] = {"collection": collection, "title": title}
        if model:
            body["model"] = model
        if temperature is not None:  # ragline reads sampling options from thread metadata
            body["metadata"] = {"sampling": {"temperature": temperature}}
        return str(self._json(self.http.post("/api/threads", json=body), 200, 201)["thread_id"])

    def ask(self, turn: Turn, content: str, run_timeout: float) -> None:
        """Post the message and read its run's events to `done`, timing them."""
        start = time.perf_counter()
        posted = self._json(self.http.post(
            f"/api/threads/{turn.thread_id}/messages", json={"content": content}), 200, 201, 202)
        turn.run_id = str(posted["run_id"])
        deltas: list[str] = []
        after = 0
        for _attempt in range(4):  # resume with Last-Event-ID if the stream drops
            try:
                for event, data, seq in self._events(turn.run_id, after):
                    after = max(after, seq)
                    now = time.perf_counter() - start
                    if event == "sources":
                        turn.t_sources = now
                        turn.streamed_sources = [str(s.get("source", "")) for s in
                                                 data.get("sources") or []]
                        turn.sources_before_tokens = turn.t_first_token is None
                    elif event == "token":
                        if turn.t_first_token is None:
                            turn.t_first_token = now
                        deltas.append(str(data.get("delta", "")))
                    elif event == "final":
                        turn.answer = str(data.get("content", ""))
                        turn.sources = [str(s.get("source", "")) for s in
                                        data.get("sources") or []]
                        if "claims" in data:
                            turn.claims = list(data.get("claims") or [])
                        usage = data.get("usage") or {}
                        turn.prompt_tokens = usage.get("prompt_tokens")
                        turn.completion_tokens = usage.get("completion_tokens")
                    elif event == "error":
                        turn.error = f"{data.get('code')}: {data.get('message')}"
                    elif event == "done":
                        turn.status = str(data.get("status", ""))
                        turn.t_total = now
                        break
                    if now > run_timeout:
                        raise EvalError(f"run {turn.run_id} took longer than {run_timeout} s")
                if turn.status:
                    break
            except (httpx.TransportError, httpx.RemoteProtocolError):
                continue
        if not turn.status:
            turn.status = "incomplete"
        if not turn.answer and deltas:
            turn.answer = "".join(deltas)

    def _events(self, run_id: str, after: int) -> Iterator[tuple[str, dict[str, Any], int]]:
        headers = {"Last-Event-ID": str(after)} if after else {}
        with connect_sse(self.http, "GET", f"/api/runs/{run_id}/events",
                         headers=headers) as source:
            if source.response.status_code != 200:
                source.response.read()
                self._json(source.response, 200)
            for sse in source.iter_sse():
                if not sse.event or not sse.data:
                    continue
                try:
                    data = json.loads(sse.data)
                except ValueError:
                    continue
                seq = int(sse.id) if sse.id and sse.id.isdigit() else after
                yield sse.event, data if isinstance(data, dict) else {}, seq


# ---------------------------------------------------------------------------------------------
# The run


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


def corpus_files(folder: Path) -> list[Path]:
    files = sorted(p for p in folder.rglob("*") if p.is_file()
                   and p.suffix.lower() in CORPUS_SUFFIXES and p.name.lower() != "readme.md")
    if not files:
        raise EvalError(f"no documents under {folder}")
    return files


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


@contextmanager
def own_server(model: str, console: Console, keep: bool) -> Iterator[str]:
    """A real `ragline serve` with a fresh data dir and SQLite database under a temp dir."""
    from tests.support.processes import ServerProcess, server_env

    root = Path(tempfile.mkdtemp(prefix="ragline-eval-"))
    extra = {"RAGLINE_DEFAULT_MODEL": model, "RAGLINE_LOG_LEVEL": "WARNING"}
    model_dir = _user_model_dir()
    if model_dir:
        extra["RAGLINE_MODEL_DIR"] = model_dir
    env = server_env(root / "data", f"sqlite+aiosqlite:///{root / 'ragline.db'}", **extra)
    server = ServerProcess(env, log_path=root / "server.log")
    console.log(f"starting ragline serve (model {model}) with its data under {root}")
    server.start(timeout=180)
    try:
        yield server.base_url
    finally:
        server.stop()
        if keep:
            console.log(f"kept {root} (server log: {root / 'server.log'})")
        else:
            shutil.rmtree(root, ignore_errors=True)


def _user_model_dir() -> str | None:
    if os.environ.get("RAGLINE_MODEL_DIR"):
        return os.environ["RAGLINE_MODEL_DIR"]
    try:
        from ragline.config import Settings

        return str(Settings().model_dir)  # also reads `.env`
    except Exception:  # invalid unrelated settings: the server's default applies
        return None


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


# ---------------------------------------------------------------------------------------------
# Output


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _sec(value: float | int | None) -> str:
    return "-" if value is None else f"{value:.2f} s"


def summary_table(summary: dict[str, Any]) -> Table:
    table = Table(title="ragline grounded conversation: evaluation", title_justify="left")
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column("n", justify="right")
    rows = [
        ("retrieval Recall@5 (search, singles + follow-up firsts)", "retrieval_recall_at_5"),
        ("  paraphrased questions only", "retrieval_recall_at_5_paraphrased"),
        ("retrieval Hit@5 (any relevant document in top 5)", "retrieval_hit_at_5"),
        ("answer fact accuracy (answerable)", "answer_fact_accuracy"),
        ("  singles", "answer_fact_accuracy_single"),
        ("  follow-ups", "answer_fact_accuracy_followup"),
        ("answers with valid \\[n] citations (answerable)", "answerable_with_valid_citations"),
        ("answers with claims all supported+sourced or flagged", "answerable_claims_accounted"),
        ("  claims supported (share of all claims)", "answerable_claims_supported"),
        ("answerable answers wrongly declined", "answerable_wrongly_declined"),
        ("answer sources include a relevant document", "answerable_sources_hit"),
        ("unanswerable correctly declined", "unanswerable_declined"),
        ("unanswerable with empty final.sources", "unanswerable_empty_sources"),
        ("follow-up condensed-query hit (sources event)", "followup_condensed_hit"),
        ("follow-up raw question Hit@5 (no condensing)", "followup_raw_question_hit_at_5"),
        ("sources event before first token", "sources_before_first_token"),
    ]
    for label, key in rows:
        item = summary[key]
        table.add_row(label, _pct(item["value"]), str(item["n"]))
    table.add_section()
    latency = summary["latency_s"]
    for label, key in [
        ("time to sources (condense + retrieval)", "time_to_sources"),
        ("  follow-ups only (with condensing)", "time_to_sources_followups"),
        ("time to first token", "time_to_first_token"),
        ("total per answer", "total"),
    ]:
        item = latency[key]
        table.add_row(f"{label} p50 / p99", f"{_sec(item['p50'])} / {_sec(item['p99'])}",
                      str(item["n"]))
    share = latency["pre_token_share_of_ttft"]
    table.add_row("pre-token pipeline share of TTFT p50 / p99",
                  f"{_pct(share['p50'])} / {_pct(share['p99'])}", str(share["n"]))
    table.add_section()
    table.add_row("failed or incomplete runs", str(summary["failed_runs"]),
                  str(summary["questions"]))
    mean_prompt, mean_completion = summary["mean_prompt_tokens"], summary["mean_completion_tokens"]
    table.add_row("mean prompt / completion tokens",
                  f"{mean_prompt or 0:.0f} / {mean_completion or 0:.0f}", "")
    return table


def detail_table(turns: Sequence[dict[str, Any]]) -> Table:
    table = Table(title="per question", title_justify="left")
    table.add_column("id", no_wrap=True)
    for column in ("type", "search", "sources", "verdict", "cites", "ttft", "total"):
        table.add_column(column)
    for t in turns:
        if t["type"] == "unanswerable":
            verdict = "declined" if t["declined"] else "[red]answered"
            sources = "empty" if not t["sources"] else f"{len(t['sources'])}"
        else:
            verdict = "ok" if t["facts_ok"] else "[red]missing"
            if t["declined"]:
                verdict += " (declined)"
            sources = "hit" if t["answer_source_hit"] else "[red]miss"
        search = "-" if t["search_hit"] is None else ("hit" if t["search_hit"] else "miss")
        table.add_row(t["id"], t["type"], search, sources, verdict,
                      ",".join(map(str, t["cited"])) or "-", _sec(t["t_first_token"]),
                      _sec(t["t_total"]))
    return table


def default_report_path() -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    base = Path("data") if Path("data").is_dir() else Path(tempfile.gettempdir())
    return base / "eval" / f"report-{stamp}.json"


def parse_args(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m ragline.evaluation",
        description="Evaluate grounded conversation end to end through the HTTP API.")
    parser.add_argument("--server", help="a running ragline server (default: start one)")
    parser.add_argument("--limit", type=int, help="ask at most N questions (whole pairs)")
    parser.add_argument("--model", help=f"model for the threads (own server: {LOCAL_MODEL})")
    parser.add_argument("--temperature", type=float,
                        help="sampling temperature for the answers (default: the server's)")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--questions", type=Path, default=DEFAULT_QUESTIONS)
    parser.add_argument("--collection", default=DEFAULT_COLLECTION)
    parser.add_argument("--report", type=Path, help="JSON report path")
    parser.add_argument("--api-key", default=os.environ.get("RAGLINE_API_KEY"),
                        help="bearer credential for servers with auth (env RAGLINE_API_KEY)")
    parser.add_argument("--ingest-timeout", type=float, default=1800.0)
    parser.add_argument("--run-timeout", type=float, default=900.0)
    parser.add_argument("--keep", action="store_true", help="keep the own server's data dir")
    args = parser.parse_args(argv)
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be positive")
    return Options(
        server=args.server, limit=args.limit, model=args.model, temperature=args.temperature,
        corpus=args.corpus,
        questions=args.questions, collection=args.collection, report=args.report,
        api_key=args.api_key, ingest_timeout=args.ingest_timeout,
        run_timeout=args.run_timeout, keep=args.keep,
    )


def main(argv: Sequence[str] | None = None) -> int:
    opts = parse_args(argv)
    console = Console(log_path=False)
    if not console.is_terminal:  # a log file: wide enough for the tables
        console = Console(log_path=False, width=140)
    try:
        if opts.server:
            report = evaluate(opts.server, opts, console)
        else:
            with own_server(opts.model or LOCAL_MODEL, console, opts.keep) as url:
                report = evaluate(url, opts, console)
    except (EvalError, ValueError, RuntimeError, httpx.HTTPError) as exc:
        console.print(f"[red]evaluation failed: {exc}")
        return 1
    path = opts.report or default_report_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    console.print(detail_table(report["turns"]))
    console.print(summary_table(report["summary"]))
    console.print(f"report: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
