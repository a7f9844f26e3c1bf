"""A real `ragline serve` process on a free port, for tests and benchmarks."""

from __future__ import annotations

import itertools
import os
import random
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support.isolation import worker_index

# Ports below Linux's ephemeral range (32768-60999), so no outgoing connection takes one between
# `free_port` and the server's bind; each xdist worker draws from its own block.
PORT_BASE, PORT_BLOCK, PORT_BLOCKS = 20000, 1000, 12
_port_offsets = itertools.count(random.SystemRandom().randrange(PORT_BLOCK))


def free_port() -> int:
    """A port nothing listens on now, from this process's block (each worker has its own)."""
    low = PORT_BASE + ((worker_index() or 0) % PORT_BLOCKS) * PORT_BLOCK
    for _ in range(PORT_BLOCK):
        port = low + next(_port_offsets) % PORT_BLOCK
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {low}-{low + PORT_BLOCK - 1}")


def server_env(data_dir: Path, database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGLINE_")}
    env.update(
        RAGLINE_DATA_DIR=str(data_dir),
        RAGLINE_DATABASE_URL=database_url,
        RAGLINE_DEFAULT_MODEL="scripted",
        RAGLINE_LOG_JSON="false",
        RAGLINE_LOG_LEVEL="WARNING",
        RAGLINE_EMBEDDER_WARMUP="false",  # most servers never embed: load the model on demand
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
    )
    if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1:
        # `make test` runs two workers on two cores: an engine with two threads beside a busy
        # worker waits on the thread the other worker holds; one thread each does not.
        env["RAGLINE_LLAMA_THREADS"] = "1"
    env.update(extra)
    return env


@dataclass
class _ChildProcess:
    """A ragline command in a child process, stopped politely or killed."""

    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None

    def kill(self) -> None:
        """SIGKILL: the process dies without any chance to clean up."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@dataclass
class ServerProcess(_ChildProcess):
    port: int = field(default_factory=free_port)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self, timeout: float = 120.0, port_retries: int = 3) -> None:
        """Start and wait for /healthz; a port someone else bound meanwhile: another port."""
        logged = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "ragline", "serve", "--port", str(self.port)],
                env=self.env, stdout=log, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                with self.log_path.open("rb") as log:
                    log.seek(logged)
                    said = log.read().decode(errors="replace")
                if port_retries > 0 and "address already in use" in said.lower():
                    self.port = free_port()
                    return self.start(timeout, port_retries - 1)
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server did not start: {self.log_path.read_text()[-3000:]}")

    def cpu_seconds(self) -> float:
        """User + system CPU time the server process has used so far."""
        assert self.proc is not None
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks

    def rss_bytes(self) -> int:
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0


@dataclass
class WorkerProcess(_ChildProcess):
    """A real `ragline worker` process (runs and ingestion jobs off the Redis queues)."""

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "ragline", "worker"],
                env=self.env, stdout=log, stderr=subprocess.STDOUT,
            )
