"""`ragline sync DIR --collection NAME --watch` as a user runs it: an edit is synced within 10 s."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.support.processes import server_env


def _lines(proc: subprocess.Popen[str]) -> queue.Queue[str]:
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def _next_summary(lines: queue.Queue[str], within: float) -> str:
    deadline = time.monotonic() + within
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=left)
        except queue.Empty:
            break
        if line.startswith("sync notes:"):
            return line
    raise TimeoutError(f"no sync summary within {within}s")


def test_watch_picks_up_an_edit_within_ten_seconds(tmp_path: Path) -> None:
    env = server_env(tmp_path / "data", f"sqlite+aiosqlite:///{tmp_path / 'ragline.db'}",
                     PYTHONUNBUFFERED="1", COLUMNS="200")
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "office.txt").write_text("The office opens at eight in the morning.")
    proc = subprocess.Popen(
        [sys.executable, "-m", "ragline", "sync", str(folder), "--collection", "notes",
         "--watch"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = _lines(proc)
        first = _next_summary(lines, 90)
        assert "added 1, changed 0, deleted 0, unchanged 0" in first
        time.sleep(1)  # the watcher is set up right after the first summary
        (folder / "office.txt").write_text("The office now opens at nine in the morning.")
        edited = time.monotonic()
        second = _next_summary(lines, 10)
        assert "added 0, changed 1, deleted 0, unchanged 0" in second
        assert time.monotonic() - edited < 10
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0
