"""The HTTP client: only the public API (docs/api.md §1, §2), so it runs against any server."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from httpx_sse import connect_sse

from .questions import EvalError
from .scoring import TOP_K, Turn

CONTENT_TYPES = {
    ".html": "text/html", ".htm": "text/html", ".md": "text/markdown",
    ".markdown": "text/markdown", ".txt": "text/plain", ".pdf": "application/pdf",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}


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
                        turn.source_texts = [str(s.get("text", "")) for s in
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
