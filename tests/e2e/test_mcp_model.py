"""`ask` over MCP with the real local model (API.md §7): a grounded answer from a real server."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from eval.quality.scoring import citations
from tests.e2e.mcp_support import HANDBOOK, VACATION, http_session, upload
from tests.support.processes import ServerProcess

pytestmark = pytest.mark.model


async def test_ask_with_the_local_model_cites_the_handbook(
    make_server: Callable[..., ServerProcess], model_dir: Path, tmp_path: Path
) -> None:
    server = make_server(
        f"sqlite+aiosqlite:///{tmp_path / 'model.db'}",
        RAGLINE_DEFAULT_MODEL="qwen2.5-coder-1.5b-instruct",
        RAGLINE_MODEL_DIR=str(model_dir),
        RAGLINE_RETRIEVAL_TOP_K="2",  # a short prompt and a short answer: small CPUs
        RAGLINE_ANSWER_MAX_TOKENS="40",
    )
    with httpx.Client(base_url=server.base_url, timeout=60) as client:
        document_id = upload(client, "handbook.pdf", HANDBOOK, "default")
    async with http_session(server.base_url) as session:  # auth off: the local user
        result = await session.call_tool("ask", {"question": VACATION})
    assert not result.is_error, result.content
    answer = result.structured_content
    assert answer["sources"] and answer["sources"][0]["document_id"] == document_id
    assert answer["sources"][0]["page"] == 2
    assert "25" in answer["answer"] or "twenty-five" in answer["answer"].lower(), answer
    cited = citations(answer["answer"])
    assert cited and all(1 <= n <= len(answer["sources"]) for n in cited), answer["answer"]
