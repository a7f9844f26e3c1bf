"""Many concurrent conversations (issue 25): a load client that does not share the server's core.

The server is pinned to one set of cores and this client to another (`taskset`), so the
client's parsing no longer slows the server it measures. Each stream is one run of the
scripted model (`[[clock]] [[delay:D]] [[tokens:T]]`): each token carries the time it was
emitted, so delivery = received - emitted. The client speaks raw HTTP/1.0 over asyncio
sockets (httpx costs more CPU per event than the server does to send it).

Per size it reports runs/s, delivery p50/p99, 202-to-`done` lag p50/p99, the peak of
simultaneously open streams, RSS per open stream, and checks that every stream got every
event exactly once (seq 1..n with no gap or repeat) and ended with `done`.

    python bench/bench_streams.py [--sizes 100,300,1000] [--backends postgres,sqlite]
        [--server-cpus 0] [--client-cpus 1] [--replicas 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.support: the process harness the tests use

from bench.bench_core import pct, pg_database  # noqa: E402
from tests.support.processes import ServerProcess, server_env  # noqa: E402

REDIS_URL = "redis://127.0.0.1:6379/0"


async def http(port: int, method: str, path: str, body: dict[str, object] | None = None
               ) -> tuple[int, bytes]:
    """One HTTP/1.0 request (the server closes the connection after the response)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    payload = json.dumps(body).encode() if body is not None else b""
    writer.write(
        f"{method} {path} HTTP/1.0\r\nHost: bench\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n".encode() + payload
    )
    raw = await reader.read()
    writer.close()
    head, _, rest = raw.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), rest


@dataclass
class Stream:
    run_id: str = ""
    posted_at: float = 0.0
    done_at: float = 0.0
    seqs: list[int] = field(default_factory=list)
    tokens: int = 0
    status: str = ""


@dataclass
class Load:
    open_now: int = 0
    peak: int = 0
    clocked: bool = True  # tokens carry their emission time
    latencies: list[float] = field(default_factory=list)


async def follow(port: int, stream: Stream, load: Load) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET /api/runs/{stream.run_id}/events HTTP/1.0\r\nHost: bench\r\n\r\n".encode())
    load.open_now += 1
    load.peak = max(load.peak, load.open_now)
    buf = b""
    headers_seen = False
    try:
        while chunk := await reader.read(65536):
            now = time.time()
            buf += chunk
            if not headers_seen:
                if b"\r\n\r\n" not in buf:
                    continue
                buf = buf.partition(b"\r\n\r\n")[2]
                headers_seen = True
            *frames, buf = buf.split(b"\n\n")
            for frame in frames:
                seq, kind, data = 0, "", b""
                for line in frame.split(b"\n"):
                    if line.startswith(b"id: "):
                        seq = int(line[4:])
                    elif line.startswith(b"event: "):
                        kind = line[7:].decode()
                    elif line.startswith(b"data: "):
                        data = line[6:]
                if not seq:
                    continue  # a ping
                stream.seqs.append(seq)
                if kind == "token":
                    stream.tokens += 1
                    delta = json.loads(data)["delta"]
                    if load.clocked:
                        load.latencies.append(now - float(delta))
                elif kind == "done":
                    stream.status = json.loads(data)["status"]
                    stream.done_at = time.perf_counter()
    finally:
        load.open_now -= 1
        writer.close()


async def one(ports: list[int], i: int, thread_id: str, prompt: str, gate: asyncio.Semaphore,
              load: Load) -> Stream:
    stream = Stream()
    async with gate:  # POSTs in flight at once (a browser-like client opens few at a time)
        code, body = await http(ports[i % len(ports)], "POST",
                                f"/api/threads/{thread_id}/messages", {"content": prompt})
    stream.posted_at = time.perf_counter()
    if code != 202:
        stream.status = f"http {code}"
        return stream
    stream.run_id = json.loads(body)["run_id"]
    await follow(ports[(i + 1) % len(ports)], stream, load)  # streamed from the next replica
    return stream


def sample_rss(servers: list[ServerProcess]) -> int:
    return sum(s.rss_bytes() for s in servers)


async def measure(servers: list[ServerProcess], streams: int, tokens: int, delay_ms: int,
                  post_concurrency: int) -> dict[str, float]:
    ports = [s.port for s in servers]
    gate = asyncio.Semaphore(50)

    async def thread() -> str:
        async with gate:
            return str(json.loads((await http(ports[0], "POST", "/api/threads", {}))[1])
                       ["thread_id"])

    threads = await asyncio.gather(*(thread() for _ in range(streams)))
    # warm-up: a few runs, so first-use costs (imports, pools) stay out of the figures
    warm = Load(clocked=False)
    await asyncio.gather(*(one(ports, i, threads[i], "[[tokens:3]] warm", gate, warm)
                           for i in range(min(5, streams))))
    rss0 = sample_rss(servers)
    cpu0 = sum(s.cpu_seconds() for s in servers)
    load = Load()
    rss_peak = [rss0, 0]

    async def watch_rss() -> None:
        while True:
            await asyncio.sleep(0.2)
            if load.open_now >= rss_peak[1]:
                rss_peak[:] = [sample_rss(servers), load.open_now]

    prompt = f"[[clock]] [[delay:{delay_ms}]] [[tokens:{tokens}]] go"
    watcher = asyncio.create_task(watch_rss())
    start = time.perf_counter()
    post_gate = asyncio.Semaphore(post_concurrency)
    done = await asyncio.gather(*(one(ports, i, threads[i], prompt, post_gate, load)
                                  for i in range(streams)))
    elapsed = time.perf_counter() - start
    watcher.cancel()
    cpu = sum(s.cpu_seconds() for s in servers) - cpu0
    exact = sum(
        1 for s in done
        if s.status == "done" and s.tokens == tokens and s.seqs == list(range(1, len(s.seqs) + 1))
    )
    lags = [s.done_at - s.posted_at for s in done if s.done_at]
    return {
        "streams": streams, "runs_per_s": streams / elapsed, "seconds": elapsed,
        "ended_done": sum(s.status == "done" for s in done), "exactly_once": exact,
        "duplicates": sum(len(s.seqs) - len(set(s.seqs)) for s in done),
        "peak_open": load.peak,
        "delivery_p50_ms": pct(load.latencies, 0.5) * 1e3,
        "delivery_p99_ms": pct(load.latencies, 0.99) * 1e3,
        "lag_p50_ms": pct(lags, 0.5) * 1e3, "lag_p99_ms": pct(lags, 0.99) * 1e3,
        "kb_per_stream": (rss_peak[0] - rss0) / max(1, rss_peak[1]) / 1024,
        "server_cpu_s": cpu,
    }


def pin(pid: int, cpus: str) -> None:
    subprocess.run(["taskset", "-a", "-cp", cpus, str(pid)], check=True, capture_output=True)


def run_backend(name: str, url: str, args: argparse.Namespace, tmp: Path) -> None:
    extra = {"RAGLINE_REDIS_URL": REDIS_URL} if args.replicas > 1 else {}
    servers = [
        ServerProcess(server_env(tmp / f"{name}{i}", url, **extra),
                      log_path=tmp / f"{name}{i}.log")
        for i in range(args.replicas)
    ]
    try:
        for server in servers:
            server.start()
            assert server.proc is not None
            pin(server.proc.pid, args.server_cpus)
        for size in [int(s) for s in args.sizes.split(",")]:
            r = asyncio.run(measure(servers, size, args.tokens, args.delay_ms,
                                    args.post_concurrency))
            print(
                f"{name:8} x{args.replicas} {r['streams']:5} streams: {r['runs_per_s']:6.1f} runs/s"
                f" in {r['seconds']:.1f} s, peak open {r['peak_open']}, "
                f"delivery p50/p99 {r['delivery_p50_ms']:.1f}/{r['delivery_p99_ms']:.1f} ms, "
                f"202->done p50/p99 {r['lag_p50_ms']:.0f}/{r['lag_p99_ms']:.0f} ms, "
                f"ended done {r['ended_done']}/{size}, exactly once {r['exactly_once']}/{size}, "
                f"duplicates {r['duplicates']}, {r['kb_per_stream']:.1f} KB/open stream, "
                f"server CPU {r['server_cpu_s']:.1f} s",
                flush=True,
            )
    finally:
        for server in servers:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100,300,1000")
    parser.add_argument("--backends", default="postgres,sqlite")
    parser.add_argument("--tokens", type=int, default=50)
    parser.add_argument("--delay-ms", type=int, default=20)
    parser.add_argument("--replicas", type=int, default=1)
    parser.add_argument("--post-concurrency", type=int, default=100)
    parser.add_argument("--server-cpus", default="0")
    parser.add_argument("--client-cpus", default="1")
    args = parser.parse_args()
    os.sched_setaffinity(0, {int(c) for c in args.client_cpus.split(",")})
    print(f"uptime: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    tmp = Path(tempfile.mkdtemp(prefix="ragline-streams-"))
    for backend in args.backends.split(","):
        if backend == "sqlite":
            run_backend("sqlite", f"sqlite+aiosqlite:///{tmp / 'bench.db'}", args, tmp)
        elif backend == "postgres":
            url = pg_database()
            if url is None:
                print("PostgreSQL not reachable: skipped", file=sys.stderr)
                continue
            run_backend("postgres", url, args, tmp)
    print(f"uptime: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")


if __name__ == "__main__":
    main()
