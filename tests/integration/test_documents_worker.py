"""Ingestion through Redis: a real worker process consumes the queue; a killed worker's job
is picked up again by the next one."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from ragline.config import Settings
from tests.integration.documents_support import (
    add_user,
    running_service,
    settings_for,
    wait_for_job,
)
from tests.support.isolation import REDIS_URL

pytestmark = pytest.mark.redis


class Workers:
    def __init__(self, settings: Settings, log_dir: Path) -> None:
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("RAGLINE_")}
        self.env.update(
            RAGLINE_DATA_DIR=str(settings.data_dir),
            RAGLINE_DATABASE_URL=settings.resolved_database_url,
            RAGLINE_REDIS_URL=REDIS_URL,
            RAGLINE_INGEST_QUEUE=settings.ingest_queue,
            RAGLINE_INGEST_STALE_SECONDS=str(settings.ingest_stale_seconds),
            RAGLINE_LOG_JSON="false",
        )
        self.log_dir = log_dir
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        log = (self.log_dir / f"worker-{len(self.procs)}.log").open("wb")
        proc = subprocess.Popen([sys.executable, "-m", "ragline.worker"], env=self.env,
                                stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture
def queue_settings(database_url: str, tmp_path: Path) -> Iterator[Settings]:
    queue = f"ragline:test:{uuid.uuid4().hex}"
    yield settings_for(database_url, tmp_path / "data", redis_url=REDIS_URL, ingest_queue=queue,
                       ingest_stale_seconds=2.0)
    redis.Redis.from_url(REDIS_URL).delete(queue)


@pytest.fixture
def workers(queue_settings: Settings, tmp_path: Path) -> Iterator[Workers]:
    pool = Workers(queue_settings, tmp_path)
    yield pool
    pool.stop_all()


def _long_text(paragraphs: int) -> bytes:
    return "\n\n".join(
        f"Paragraph {i} talks about topic {i} " + "with many filler words " * 40
        for i in range(paragraphs)
    ).encode()


async def test_worker_consumes_from_redis_and_a_killed_workers_job_is_retried(
    queue_settings: Settings, workers: Workers
) -> None:
    async with running_service(queue_settings) as service:
        # the worker starts on a migrated database, as after `ragline serve` (started first, on
        # a fresh PostgreSQL database it raced the service's migrations and once never consumed)
        first = workers.start()
        assert service.readiness()["queue"] == "redis"
        owner = await add_user(service.db)
        small = await service.upload(owner, filename="office.txt",
                                     data=b"The office opens at eight in the morning.")
        job = await wait_for_job(service, owner, small.job.id, within=120)
        assert job.status == "ready", job.error
        hits = await service.search(owner, "when does the office open", None, 3)
        assert hits[0]["source"] == "office.txt"

        big = await service.upload(owner, filename="long.txt", data=_long_text(60))
        deadline = time.monotonic() + 60
        while (await service.get_job(owner, big.job.id)).status != "embedding":
            assert time.monotonic() < deadline, "the job never reached the embedding stage"
            await asyncio.sleep(0.05)
        first.kill()  # SIGKILL mid-embedding: no cleanup runs in the worker
        first.wait()
        workers.start()
        job = await wait_for_job(service, owner, big.job.id, within=180)
        assert (job.status, job.attempts) == ("ready", 2), job.error
        document = (await service.get_document(owner, big.document.id)).document
        assert document.status == "ready" and document.chunks > 20
        hits = await service.search(owner, "topic 37", None, 3, "bm25")
        assert any("topic 37" in h["text"] for h in hits)
