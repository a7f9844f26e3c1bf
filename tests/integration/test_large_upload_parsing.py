"""Large files parse and chunk in a child process (pure-Python parsing of megabytes would hold
the GIL and stall the server's event loop); the result is the same as in a thread."""

from __future__ import annotations

import pytest

from ragline.services import ingest

TEXT = ("Heading line\n\n" + "The journal records every change before it is applied. " * 40
        + "\n\n") * 20


async def test_large_file_parses_in_a_child_process_with_the_same_result(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = TEXT.encode()
    in_thread = await ingest.parse_and_chunk("notes.txt", data, "text/plain", 220, 40)
    monkeypatch.setattr(ingest, "PROCESS_PARSE_BYTES", 1024)
    in_child = await ingest.parse_and_chunk("notes.txt", data, "text/plain", 220, 40)
    assert ingest._pool is not None
    assert in_child == in_thread and len(in_child[1]) > 5


async def test_parse_errors_cross_the_process_boundary(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ingest, "PROCESS_PARSE_BYTES", 16)
    with pytest.raises(Exception, match="binary") as caught:
        await ingest.parse_and_chunk("blob.txt", b"\x00" * 4096, "text/plain", 220, 40)
    assert caught.type.__name__ == "ParseError"
