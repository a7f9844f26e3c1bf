"""Scale-out benchmark (issue 11): completed runs per second and cross-process delivery.

N `ragline serve` replicas on one PostgreSQL + Redis, runs executed inline by the replica that
accepted them, or by N `ragline worker` processes (RAGLINE_RUN_EXECUTION=worker). Each run is
posted to one replica and streamed from the next, so every event crosses processes. The
scripted model's `[[clock]]` tokens carry their emission time: delivery = receipt - emission.

    python bench/bench_scale.py [--sizes 1,2,4] [--runs 200] [--concurrency 40]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.support: the process harness the tests use

from tests.support.processes import ServerProcess, WorkerProcess, server_env  # noqa: E402

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/0"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def one_run(post_to: httpx.AsyncClient, read_from: httpx.AsyncClient,
                  tokens: int, lat: list[float]) -> str:
    thread = (await post_to.post("/api/threads", json={})).json()["thread_id"]
    posted = await post_to.post(f"/api/threads/{thread}/messages",
                                json={"content": f"[[clock]] [[tokens:{tokens}]] go"})
    run_id = posted.json()["run_id"]
    status = "?"
    async with read_from.stream("GET", f"/api/runs/{run_id}/events") as response:
        event = ""
        async for line in response.aiter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "token":
                lat.append(time.time() - float(json.loads(line[6:])["delta"]))
            elif line.startswith("data: ") and event == "done":
                status = json.loads(line[6:])["status"]
                break
    return str(status)


async def measure(urls: list[str], runs: int, concurrency: int, tokens: int) -> dict[str, float]:
    clients = [httpx.AsyncClient(base_url=u, timeout=120) for u in urls]
    lat: list[float] = []
    gate = asyncio.Semaphore(concurrency)

    async def run(i: int) -> str:
        async with gate:
            return await one_run(clients[i % len(clients)], clients[(i + 1) % len(clients)],
                                 tokens, lat)

    try:
        await asyncio.gather(*(run(i) for i in range(min(10, runs))))  # warm up
        lat.clear()
        start = time.perf_counter()
        statuses = await asyncio.gather(*(run(i) for i in range(runs)))
        elapsed = time.perf_counter() - start
    finally:
        for c in clients:
            await c.aclose()
    return {
        "runs_per_s": runs / elapsed,
        "done": sum(s == "done" for s in statuses),
        "delivery_p50_ms": pct(lat, 0.50) * 1000,
        "delivery_p99_ms": pct(lat, 0.99) * 1000,
    }


async def admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def bench(size: int, mode: str, args: argparse.Namespace, tmp: Path) -> dict[str, float]:
    name = f"ragline_bench_{uuid.uuid4().hex[:10]}"
    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    queue = f"ragline-bench:{uuid.uuid4().hex[:8]}"
    env = server_env(
        tmp / name, f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}",
        RAGLINE_REDIS_URL=REDIS_URL, RAGLINE_RUN_EXECUTION=mode,
        RAGLINE_EMBEDDED_WORKER="false", RAGLINE_RUN_QUEUE=f"{queue}:runs",
        RAGLINE_INGEST_QUEUE=f"{queue}:ingest",
        RAGLINE_SCRIPTED_TOKEN_DELAY_MS=str(args.token_delay_ms),
    )
    servers = [ServerProcess(env, log_path=tmp / f"{name}-api{i}.log") for i in range(size)]
    workers = [WorkerProcess(env, log_path=tmp / f"{name}-worker{i}.log")
               for i in range(size if mode == "worker" else 0)]
    try:
        servers[0].start()  # migrates
        for w in workers:
            w.start()
        for s in servers[1:]:
            s.start()
        return asyncio.run(measure([s.base_url for s in servers], args.runs,
                                   args.concurrency, args.tokens))
    finally:
        for p in [*servers, *workers]:
            p.stop()
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1,2,4")
    parser.add_argument("--modes", default="inline,worker")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=40)
    parser.add_argument("--tokens", type=int, default=20)
    parser.add_argument("--token-delay-ms", type=float, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for mode in args.modes.split(","):
            for size in (int(s) for s in args.sizes.split(",")):
                r = bench(size, mode, args, Path(tmp))
                label = f"{size} api" + (f" + {size} workers" if mode == "worker" else " inline")
                print(f"{label:>22}: {r['runs_per_s']:6.1f} runs/s ({r['done']:.0f} done), "
                      f"delivery p50 {r['delivery_p50_ms']:.1f} ms, "
                      f"p99 {r['delivery_p99_ms']:.1f} ms", flush=True)


if __name__ == "__main__":
    main()
