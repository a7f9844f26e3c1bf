"""The citation placer (services/citations.py): checked `[n]` markers placed as answers stream."""

from __future__ import annotations

import pytest

from ragline.services.citations import CitationPlacer
from ragline.services.claims import Verdict

pytestmark = pytest.mark.anyio


async def fake_check(prose: str, cited: tuple[int, ...]) -> Verdict | None:
    """Passage 1 holds "two years", passage 3 "five years"; "moon" is supported by none."""
    if len(prose.split()) < 2:
        return None
    sources = [n for n, fact in ((1, "two years"), (3, "five years")) if fact in prose]
    if sources:
        return Verdict(True, sources, 0.8)
    return Verdict(False, [], 0.2)


async def place(answer: str, step: int | None = None) -> CitationPlacer:
    placer = CitationPlacer(fake_check)
    pieces = [answer] if step is None else [answer[i:i + step] for i in range(0, len(answer), step)]
    streamed = [await placer.feed(p) for p in pieces]
    streamed.append(await placer.close())
    assert "".join(streamed) == placer.text
    for claim in placer.claims:
        assert placer.text[claim.start:claim.end] == claim.text
    return placer


async def test_supported_sentence_gets_its_checked_marker_before_the_full_stop() -> None:
    placer = await place("The warranty lasts two years. Business customers get five years.")
    assert placer.text == "The warranty lasts two years [1]. Business customers get five years [3]."
    assert [c.sources for c in placer.claims] == [[1], [3]]


async def test_a_wrong_marker_from_the_model_is_replaced_by_the_supporting_passage() -> None:
    placer = await place("The warranty lasts two years [2].")
    assert placer.text == "The warranty lasts two years [1]."


async def test_unsupported_sentence_loses_the_models_marker() -> None:
    placer = await place("The warranty covers the moon [1]. It lasts two years [1].")
    assert placer.text == "The warranty covers the moon. It lasts two years [1]."
    assert [c.supported for c in placer.claims] == [False, True]


async def test_markers_after_the_full_stop_move_before_it() -> None:
    placer = await place("It lasts two years. [1] [2] And five years.")
    assert placer.text == "It lasts two years [1]. And five years [3]."


async def test_streaming_char_by_char_gives_the_same_text_as_one_delta() -> None:
    answer = ("Version 3.11 lasts two years [1][2], e.g. for everyone!\n"
              "- five years for business [3]\n- the moon\n\n```\ncode [1]. here\n```\n"
              "## Heading [4]\n| a | b [1] |\nDone [9]")
    whole = await place(answer)
    for step in (1, 2, 3, 7):
        assert (await place(answer, step)).text == whole.text
    assert whole.text == (  # a marker inside a sentence moves to its end
        "Version 3.11 lasts two years, e.g. for everyone [1]!\n"
        "- five years for business [3]\n- the moon\n\n```\ncode [1]. here\n```\n"
        "## Heading [4]\n| a | b [1] |\nDone")


async def test_brackets_that_are_not_markers_pass_through() -> None:
    placer = await place("Use list[int] for two years.")
    assert placer.text == "Use list[int] for two years [1]."


async def test_flush_raw_keeps_held_text_of_a_stopped_run() -> None:
    placer = CitationPlacer(fake_check)
    streamed = await placer.feed("It lasts two years [")
    streamed += placer.flush_raw()
    assert streamed == placer.text == "It lasts two years ["


async def test_a_failing_check_leaves_the_sentence_without_markers() -> None:
    async def broken(prose: str, cited: tuple[int, ...]) -> Verdict | None:
        raise RuntimeError("embedder down")

    placer = CitationPlacer(broken)
    text = await placer.feed("It lasts two years [1]. ") + await placer.close()
    assert text == "It lasts two years. "
    assert placer.claims == []


async def test_a_marker_arriving_after_the_full_stop_and_a_space_stays_with_its_sentence() -> None:
    placer = CitationPlacer(fake_check)
    text = "".join([await placer.feed(p) for p in ("Lasts two years. ", "[1] Then", " more.")])
    text += await placer.close()
    assert text == "Lasts two years [1]. Then more."
