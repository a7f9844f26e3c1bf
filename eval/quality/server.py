"""A real `ragline serve` for a run without `--server` (the test suite's process harness)."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console

ROOT = Path(__file__).resolve().parents[2]  # the repository (tests/support lives there)
LOCAL_MODEL = "qwen2.5-coder-1.5b-instruct"


@contextmanager
def own_server(model: str, console: Console, keep: bool) -> Iterator[str]:
    """A real `ragline serve` with a fresh data dir and SQLite database under a temp dir."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests.support.processes import ServerProcess, server_env

    root = Path(tempfile.mkdtemp(prefix="ragline-eval-"))
    extra = {"RAGLINE_DEFAULT_MODEL": model, "RAGLINE_LOG_LEVEL": "WARNING"}
    model_dir = _user_model_dir()
    if model_dir:
        extra["RAGLINE_MODEL_DIR"] = model_dir
    # trying a prompt: `RAGLINE_PROMPTS_DIR=dir make eval`
    if os.environ.get("RAGLINE_PROMPTS_DIR"):
        extra["RAGLINE_PROMPTS_DIR"] = os.environ["RAGLINE_PROMPTS_DIR"]
    env = server_env(root / "data", f"sqlite+aiosqlite:///{root / 'ragline.db'}", **extra)
    server = ServerProcess(env, log_path=root / "server.log")
    console.log(f"starting ragline serve (model {model}) with its data under {root}")
    server.start(timeout=180)
    try:
        yield server.base_url
    finally:
        server.stop()
        if keep:
            console.log(f"kept {root} (server log: {root / 'server.log'})")
        else:
            shutil.rmtree(root, ignore_errors=True)


def _user_model_dir() -> str | None:
    if os.environ.get("RAGLINE_MODEL_DIR"):
        return os.environ["RAGLINE_MODEL_DIR"]
    try:
        from ragline.config import Settings

        return str(Settings().model_dir)  # also reads `.env`
    except Exception:  # invalid unrelated settings: the server's default applies
        return None
