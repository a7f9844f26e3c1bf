"""What parallel test processes (pytest-xdist workers) must not share.

Each worker gets its own Redis database (queues, rate-limit counters and caches are keys) and
its own range of ports. Pub/sub channels are global in Redis, but they only carry run ids, which
are unique. Every test that uses Redis reads `REDIS_URL` (or the `redis_url` fixture).
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

BASE_REDIS_URL = os.environ.get("RAGLINE_TEST_REDIS", "redis://127.0.0.1:6379/0")
REDIS_DATABASES = 16  # Redis's default `databases`


def worker_index() -> int | None:
    """0, 1, ... in an xdist worker ("gw0", "gw1", ...); None in a plain pytest run."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    return int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else None


def redis_url(base: str = BASE_REDIS_URL, index: int | None = None) -> str:
    """`base` in a plain run; in worker n, database base + 8 + n (mod 16), so workers share
    nothing and stay clear of the low databases that `make serve`/`prod-local` use."""
    index = worker_index() if index is None else index
    if index is None:
        return base
    parts = urlsplit(base)
    path = parts.path.strip("/")
    db = int(path) if path.isdigit() else 0
    db = (db + 8 + index % 8) % REDIS_DATABASES
    return urlunsplit(parts._replace(path=f"/{db}"))


REDIS_URL = redis_url()
