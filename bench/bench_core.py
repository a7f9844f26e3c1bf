"""Core streaming benchmarks (issue 2): throughput, per-token CPU, delivery latency, fan-out.

Runs real `ragline serve` processes with the scripted model and real SSE clients, on SQLite
and (when reachable) PostgreSQL. Baselines measured in the same run: a hello-world endpoint
and seed 001's design (the SSE loop polls the database every 0.35 s).

    python bench/bench_core.py [--clients 1000] [--backends sqlite,postgres]
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

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.support: the process harness the tests use

from tests.support.processes import ServerProcess, server_env  # noqa: E402

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def new_run(client: httpx.AsyncClient, content: str) -> str:
    thread = (await client.post("/api/threads", json={})).json()["thread_id"]
    posted = await client.post(f"/api/threads/{thread}/messages", json={"content": content})
    return str(posted.json()["run_id"])


async def read_stream(client: httpx.AsyncClient, run_id: str, lat: list[float] | None) -> int:
    """Consume a run's SSE stream; with `lat`, record receive time minus the token's clock."""
    tokens = 0
    async with client.stream("GET", f"/api/runs/{run_id}/events") as response:
        event = ""
        async for line in response.aiter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "token":
                tokens += 1
                if lat is not None:
                    sent = float(json.loads(line[6:])["delta"])
                    lat.append(time.time() - sent)
            elif line.startswith("data: ") and event == "done":
                return tokens
    return tokens


async def throughput(server: ServerProcess, n: int = 20000) -> dict[str, float]:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=120) as client:
        await read_stream(client, await new_run(client, "[[tokens:200]] warm up"), None)
        cpu0 = server.cpu_seconds()
        start = time.perf_counter()
        run_id = await new_run(client, f"[[tokens:{n}]] go")
        got = await read_stream(client, run_id, None)
        elapsed = time.perf_counter() - start
        cpu = server.cpu_seconds() - cpu0
    return {"tokens": got, "tok_per_s": got / elapsed, "cpu_us_per_token": cpu / got * 1e6}


async def latency(server: ServerProcess, n: int = 400) -> list[float]:
    lat: list[float] = []
    async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as client:
        run_id = await new_run(client, f"[[clock]] [[delay:5]] [[tokens:{n}]]")
        await read_stream(client, run_id, lat)
    return lat[20:]  # skip start-up


async def polling_baseline(server: ServerProcess, n: int = 60) -> list[float]:
    """Seed 001's design: read new run_events from the database every 0.35 s."""
    from sqlalchemy import select

    from ragline.adapters.db.database import Database
    from ragline.adapters.db.tables import RunEvent

    db = Database(server.env["RAGLINE_DATABASE_URL"])
    lat: list[float] = []
    async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as client:
        run_id = await new_run(client, f"[[clock]] [[delay:20]] [[tokens:{n}]]")
        last, done = 0, False
        while not done:
            async with db.session() as session:  # a new session per poll, as in seed 001
                rows = (
                    await session.execute(
                        select(RunEvent.seq, RunEvent.type, RunEvent.data)
                        .where(RunEvent.run_id == run_id, RunEvent.seq > last)
                        .order_by(RunEvent.seq)
                    )
                ).all()
            now = time.time()
            for seq, type_, data in rows:
                last = seq
                if type_ == "token":
                    lat.append(now - float(data["delta"]))
                done = done or type_ == "done"
            if not done:
                await asyncio.sleep(0.35)
    await db.dispose()
    return lat


async def fan_out(server: ServerProcess, clients: int) -> dict[str, float]:
    """`clients` concurrent SSE streams on as many runs; memory per open stream."""
    limits = httpx.Limits(max_connections=clients + 10, max_keepalive_connections=clients + 10)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=300, limits=limits) as client:
        sem = asyncio.Semaphore(50)

        async def make(content: str) -> str:
            async with sem:
                return await new_run(client, content)

        # Memory: open streams on stalled runs and compare RSS.
        stalled = await asyncio.gather(*(make("[[stall]]") for _ in range(clients)))
        rss0 = server.rss_bytes()
        tasks = [asyncio.create_task(read_stream(client, r, None)) for r in stalled]
        await asyncio.sleep(3 + clients / 200)
        rss1 = server.rss_bytes()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.gather(*(client.post(f"/api/runs/{r}/cancel") for r in stalled))

        # Delivery: every client follows its own live run.
        runs = await asyncio.gather(
            *(make("[[clock]] [[delay:50]] [[tokens:20]]") for _ in range(clients))
        )
        lat: list[float] = []
        start = time.perf_counter()
        counts = await asyncio.gather(*(read_stream(client, r, lat) for r in runs))
        elapsed = time.perf_counter() - start
    return {
        "clients": clients,
        "complete": sum(1 for c in counts if c == 20),
        "lost_events": sum(20 - c for c in counts),
        "p50_ms": pct(lat, 0.5) * 1000,
        "p99_ms": pct(lat, 0.99) * 1000,
        "seconds": elapsed,
        "kb_per_stream": (rss1 - rss0) / clients / 1024,
    }


async def hello_world(server: ServerProcess, n: int = 500) -> float:
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        times = []
        for _ in range(n):
            t = time.perf_counter()
            await client.get("/healthz")
            times.append(time.perf_counter() - t)
    return pct(times, 0.5) * 1000


def pg_database() -> str | None:
    import asyncpg

    name = f"ragline_bench_{uuid.uuid4().hex[:8]}"

    async def create() -> None:
        conn = await asyncpg.connect(PG_ADMIN)
        await conn.execute(f'CREATE DATABASE "{name}"')
        await conn.close()

    try:
        asyncio.run(create())
    except (OSError, asyncpg.PostgresError):
        return None
    return f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"


def run_backend(name: str, url: str, clients: int, tmp: Path) -> None:
    server = ServerProcess(server_env(tmp / name, url), log_path=tmp / f"{name}.log")
    server.start()
    try:
        hello = asyncio.run(hello_world(server))
        tp = asyncio.run(throughput(server))
        lat = asyncio.run(latency(server))
        poll = asyncio.run(polling_baseline(server))
        fan = asyncio.run(fan_out(server, clients))
    finally:
        server.stop()
    print(f"\n== {name}")
    print(f"hello-world GET /healthz p50            {hello:8.2f} ms")
    print(f"throughput, 1 SSE client               {tp['tok_per_s']:8.0f} tokens/s")
    print(f"backend CPU per token                  {tp['cpu_us_per_token']:8.1f} µs")
    push_ms = (pct(lat, 0.5) * 1e3, pct(lat, 0.99) * 1e3)
    poll_ms = (pct(poll, 0.5) * 1e3, pct(poll, 0.99) * 1e3)
    print(f"delivery latency push  p50 / p99       {push_ms[0]:8.2f} / {push_ms[1]:.2f} ms")
    print(f"delivery latency 0.35s poll p50 / p99  {poll_ms[0]:8.2f} / {poll_ms[1]:.2f} ms")
    print(f"  push vs polling (p50)                {pct(poll, 0.5) / pct(lat, 0.5):8.0f}x faster")
    print(
        f"{fan['clients']} concurrent streams: complete {fan['complete']}, lost events "
        f"{fan['lost_events']}, p50 {fan['p50_ms']:.1f} ms, p99 {fan['p99_ms']:.1f} ms, "
        f"{fan['kb_per_stream']:.1f} KB per open stream, {fan['seconds']:.1f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--backends", default="sqlite,postgres")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="ragline-bench-"))
    for backend in args.backends.split(","):
        if backend == "sqlite":
            run_backend("sqlite", f"sqlite+aiosqlite:///{tmp / 'bench.db'}", args.clients, tmp)
        elif backend == "postgres":
            url = pg_database()
            if url is None:
                print("PostgreSQL not reachable: skipped", file=sys.stderr)
                continue
            run_backend("postgres", url, args.clients, tmp)


if __name__ == "__main__":
    main()
