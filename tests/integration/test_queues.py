"""The Redis queues: with no separate worker the server consumes them itself."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from ragline.adapters.queue import JobQueue, build_broker
from ragline.bootstrap import build_container
from ragline.config import Settings
from tests.fakes import FakeModels
from tests.support.isolation import REDIS_URL

pytestmark = pytest.mark.redis


async def test_a_queue_consumer_takes_ids_off_redis() -> None:
    seen: asyncio.Queue[str] = asyncio.Queue()

    async def handle(item_id: str) -> None:
        await seen.put(item_id)

    queue = JobQueue(build_broker(REDIS_URL, f"ragline-test:{uuid.uuid4().hex}"), handle,
                     concurrency=2, task_name="ragline.test")
    await queue.start()
    consumer = asyncio.create_task(queue.consume())
    try:
        await queue.enqueue("job-1")
        assert await asyncio.wait_for(seen.get(), 10) == "job-1"
    finally:
        consumer.cancel()
        await asyncio.gather(consumer, return_exceptions=True)
        await queue.stop(0)


def test_uploads_are_not_stuck_without_a_worker_the_server_consumes(tmp_path: Path) -> None:
    """With Redis set and no `ragline worker`, uploads stayed pending: `serve` now consumes
    the queues itself unless told that workers do (RAGLINE_EMBEDDED_WORKER=false)."""
    base = {"data_dir": tmp_path, "redis_url": REDIS_URL}
    alone = build_container(Settings(**base), models=FakeModels())
    assert alone.consume and alone.executes_runs
    with_workers = build_container(
        Settings(**base, embedded_worker=False, run_execution="worker"), models=FakeModels()
    )
    assert not with_workers.consume and not with_workers.executes_runs
    assert with_workers.run_queue is not None
    without_redis = build_container(Settings(data_dir=tmp_path), models=FakeModels())
    assert not without_redis.consume  # the in-process broker runs jobs as they are sent
