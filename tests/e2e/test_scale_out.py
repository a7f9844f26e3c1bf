"""Scale-out, black box: two replicas and a worker on one PostgreSQL + Redis.

Runs execute on the worker (RAGLINE_RUN_EXECUTION=worker); the replicas only admit and stream.
Admission is decided by the database, a client may hop replicas, cancel goes through either,
and killing a replica or the worker never leaves a stream without `done`.
"""

from __future__ import annotations

import json
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from httpx_sse import connect_sse

from tests.conftest import create_pg_database, drop_pg_database
from tests.support.isolation import REDIS_URL
from tests.support.processes import ServerProcess, WorkerProcess, server_env


class Cluster:
    def __init__(self, tmp: Path, database_url: str) -> None:
        queue = f"ragline-test:{uuid.uuid4().hex[:8]}"
        self.env = server_env(
            tmp, database_url,
            RAGLINE_REDIS_URL=REDIS_URL,
            RAGLINE_RUN_EXECUTION="worker",
            RAGLINE_EMBEDDED_WORKER="false",
            RAGLINE_RUN_QUEUE=f"{queue}:runs",
            RAGLINE_INGEST_QUEUE=f"{queue}:ingest",
            RAGLINE_RUN_LEASE_SECONDS="3",
            RAGLINE_SCRIPTED_TOKEN_DELAY_MS="20",
            RAGLINE_SHUTDOWN_GRACE_SECONDS="1",
        )
        self.tmp = tmp
        self.a = ServerProcess(self.env, log_path=tmp / "a.log")
        self.b = ServerProcess(self.env, log_path=tmp / "b.log")
        self.worker = WorkerProcess(self.env, log_path=tmp / "worker.log")

    def start(self) -> None:
        self.a.start()  # the first one migrates the database
        self.worker.start()
        self.b.start()

    def stop(self) -> None:
        for proc in (self.a, self.b, self.worker):
            proc.stop()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    db = create_pg_database()
    tmp = tmp_path_factory.mktemp("scale")
    c = Cluster(tmp, db.url)
    try:
        c.start()
        yield c
    finally:
        c.stop()
        drop_pg_database(db)


def client(server: ServerProcess) -> httpx.Client:
    return httpx.Client(base_url=server.base_url, timeout=30)


def new_thread(http: httpx.Client) -> str:
    return str(http.post("/api/threads", json={}).json()["thread_id"])


def post(http: httpx.Client, thread: str, content: str, **params: Any) -> httpx.Response:
    return http.post(f"/api/threads/{thread}/messages", json={"content": content}, params=params)


def read_events(http: httpx.Client, run_id: str, after: int = 0, stop_after_tokens: int = 0
                ) -> list[tuple[int, str, dict[str, Any]]]:
    seen: list[tuple[int, str, dict[str, Any]]] = []
    headers = {"Last-Event-ID": str(after)} if after else {}
    with connect_sse(http, "GET", f"/api/runs/{run_id}/events", headers=headers) as source:
        for sse in source.iter_sse():
            seen.append((int(sse.id), sse.event, json.loads(sse.data)))
            tokens = sum(1 for e in seen if e[1] == "token")
            if stop_after_tokens and tokens >= stop_after_tokens:
                break
    return seen


def wait_status(http: httpx.Client, run_id: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = http.get(f"/api/runs/{run_id}").json()
        if run["status"] in ("done", "failed", "cancelled"):
            return dict(run)
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} did not finish")


def test_a_run_posted_to_a_replica_executes_on_the_worker(cluster: Cluster) -> None:
    with client(cluster.a) as a:
        run_id = post(a, new_thread(a), "[[tokens:5]] hi").json()["run_id"]
        log = read_events(a, run_id)  # the first run also waits for the worker to be up
    assert [e[0] for e in log] == list(range(1, len(log) + 1))
    assert log[-1][1:] == ("done", {"status": "done"})


def test_simultaneous_posts_across_replicas_admit_exactly_one(cluster: Cluster) -> None:
    with client(cluster.a) as a, client(cluster.b) as b:
        threads = [new_thread(a) for _ in range(6)]
        barrier = threading.Barrier(2)

        def race(http: httpx.Client, thread: str) -> int:
            barrier.wait()
            return post(http, thread, "[[tokens:30]] race").status_code

        for thread in threads:
            with ThreadPoolExecutor(2) as pool:
                codes = sorted(pool.map(race, [a, b], [thread, thread]))
            assert codes == [202, 409], codes


def test_enqueued_runs_take_turns_whichever_replica_admitted_them(cluster: Cluster) -> None:
    with client(cluster.a) as a, client(cluster.b) as b:
        thread = new_thread(a)
        first = post(a, thread, "[[tokens:40]] one").json()["run_id"]
        second = post(b, thread, "[[tokens:5]] two", on_active="enqueue").json()["run_id"]
        third = post(a, thread, "[[tokens:5]] three", on_active="enqueue").json()["run_id"]
        runs = [wait_status(a, r) for r in (first, second, third)]
    assert [r["status"] for r in runs] == ["done"] * 3
    assert runs[0]["finished_at"] <= runs[1]["started_at"]
    assert runs[1]["finished_at"] <= runs[2]["started_at"]


def test_client_hops_replicas_mid_stream_and_loses_nothing(cluster: Cluster) -> None:
    with client(cluster.a) as a, client(cluster.b) as b:
        run_id = post(a, new_thread(a), "[[tokens:120]] hop").json()["run_id"]
        before = read_events(a, run_id, stop_after_tokens=10)
        after = read_events(b, run_id, after=before[-1][0])
    log = before + after
    assert [e[0] for e in log] == list(range(1, len(log) + 1))
    text = "".join(e[2]["delta"] for e in log if e[1] == "token")
    assert log[-1][1] == "done" and log[-2][1] == "final" and log[-2][2]["content"] == text


def test_cancel_through_the_other_replica_reaches_the_worker(cluster: Cluster) -> None:
    with client(cluster.a) as a, client(cluster.b) as b:
        run_id = post(a, new_thread(a), "[[stall]] wait").json()["run_id"]
        read_events(a, run_id, stop_after_tokens=1)
        cancelled = b.post(f"/api/runs/{run_id}/cancel")
        assert cancelled.status_code == 202 and cancelled.json()["status"] == "cancelled"
        log = read_events(a, run_id)
    assert log[-1][1:] == ("done", {"status": "cancelled"})


def test_reconnect_at_done_closes_at_once(cluster: Cluster) -> None:
    with client(cluster.b) as b:
        run_id = post(b, new_thread(b), "[[tokens:3]] short").json()["run_id"]
        log = read_events(b, run_id)
        done_seq = log[-1][0]
        for cursor in (done_seq, done_seq + 5):
            # A stream that stayed open would only send pings: the read timeout would trip.
            reply = b.get(f"/api/runs/{run_id}/events", headers={"Last-Event-ID": str(cursor)},
                          timeout=10)
            assert reply.status_code == 200 and "event:" not in reply.text
        too_big = b.get(f"/api/runs/{run_id}/events", params={"after": str(2**63)})
        assert too_big.status_code == 400
        assert too_big.json()["error"]["code"] == "invalid_last_event_id"


def test_recovered_run_events_are_published_when_the_worker_is_killed(cluster: Cluster) -> None:
    """The worker dies mid-run: its lease runs out, a replica fails the run, and the streams
    open on both replicas get `error` and `done` (they used to get pings forever)."""
    with client(cluster.a) as a, client(cluster.b) as b:
        run_id = post(a, new_thread(a), "[[stall]] forever").json()["run_id"]
        read_events(a, run_id, stop_after_tokens=1)
        with ThreadPoolExecutor(2) as pool:
            streams = [pool.submit(read_events, http, run_id, 1) for http in (a, b)]
            time.sleep(0.5)
            cluster.worker.kill()
            logs = [s.result(timeout=60) for s in streams]
        for log in logs:
            assert [e[1] for e in log][-2:] == ["error", "done"]
            assert log[-2][2]["code"] == "interrupted" and log[-1][2] == {"status": "failed"}
        messages = a.get(f"/api/runs/{run_id}").json()
        assert messages["status"] == "failed"
    cluster.worker.start()


def test_a_killed_replica_loses_no_run_and_streams_end_elsewhere(cluster: Cluster) -> None:
    with client(cluster.a) as a, client(cluster.b) as b:
        run_id = post(a, new_thread(a), "[[tokens:150]] survive").json()["run_id"]
        before = read_events(a, run_id, stop_after_tokens=5)
        cluster.a.kill()
        rest = read_events(b, run_id, after=before[-1][0])
    log = before + rest
    assert [e[0] for e in log] == list(range(1, len(log) + 1))
    assert log[-1][1:] == ("done", {"status": "done"})


def test_sigterm_delivers_done_to_open_streams(make_server, tmp_path: Path) -> None:
    """SIGTERM: a run that ends within the grace period finishes; one that doesn't fails as
    interrupted; both streams get their `done` before the process exits."""
    server = make_server(f"sqlite+aiosqlite:///{tmp_path / 'term.db'}",
                         RAGLINE_SCRIPTED_TOKEN_DELAY_MS="50",
                         RAGLINE_SHUTDOWN_GRACE_SECONDS="3")
    with client(server) as http:
        quick = post(http, new_thread(http), "[[tokens:30]] quick").json()["run_id"]
        stuck = post(http, new_thread(http), "[[stall]] stuck").json()["run_id"]
        with ThreadPoolExecutor(2) as pool:
            streams = {r: pool.submit(read_events, http, r) for r in (quick, stuck)}
            time.sleep(0.5)
            assert server.proc is not None
            server.proc.send_signal(signal.SIGTERM)
            logs = {r: s.result(timeout=30) for r, s in streams.items()}
    assert logs[quick][-1][1:] == ("done", {"status": "done"})
    assert [e[1] for e in logs[stuck]][-2:] == ["error", "done"]
    assert logs[stuck][-2][2]["code"] == "interrupted"
    server.proc.wait(timeout=30)
