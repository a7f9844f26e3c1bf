"""Chunking follows the structure: sections never mix, sizes and overlap are respected."""

from __future__ import annotations

import itertools

from ragline.adapters.parse.base import Section
from ragline.services.chunking import chunk_sections, count_tokens


def _sentences(prefix: str, n: int, words: int = 9) -> str:
    return " ".join(f"{prefix}{i} " + " ".join(["word"] * (words - 2)) + "." for i in range(n))


def test_small_sections_become_one_chunk_each_with_their_page_and_headings() -> None:
    sections = [
        Section("Intro text.", 1, ("Guide",)),
        Section("Install steps.", 1, ("Guide", "Install")),
        Section("More steps.", 2, ("Guide", "Install")),
    ]
    chunks = chunk_sections(sections, target=100, overlap=10)
    assert [(c.ord, c.text, c.page, c.heading) for c in chunks] == [
        (0, "Intro text.", 1, "Guide"),
        (1, "Install steps.", 1, "Guide > Install"),
        (2, "More steps.", 2, "Guide > Install"),
    ]


def test_paragraphs_are_packed_up_to_the_target_and_never_split_when_they_fit() -> None:
    paragraphs = [_sentences(f"p{i}s", 2) for i in range(6)]  # 20 tokens each
    chunks = chunk_sections([Section("\n\n".join(paragraphs))], target=50, overlap=0)
    assert all(count_tokens(c.text) <= 50 for c in chunks)
    assert [c.text.count("\n\n") + 1 for c in chunks] == [2, 2, 2]
    assert "\n\n".join(c.text for c in chunks) == "\n\n".join(paragraphs)


def test_consecutive_chunks_of_a_section_overlap_by_whole_sentences() -> None:
    text = _sentences("s", 30)  # 30 sentences of 10 tokens in one paragraph
    chunks = chunk_sections([Section(text, 4, ("H",))], target=60, overlap=20)
    assert len(chunks) > 3
    for previous, current in itertools.pairwise(chunks):
        assert count_tokens(current.text) <= 60
        tail = previous.text.split(". ")[-2:]
        assert current.text.startswith(tail[0].strip())
    assert {c.page for c in chunks} == {4}
    covered = " ".join(c.text for c in chunks)
    assert all(f"s{i} " in covered for i in range(30))


def test_overlap_never_crosses_sections() -> None:
    chunks = chunk_sections(
        [Section(_sentences("a", 10), 1), Section(_sentences("b", 10), 2)], target=40, overlap=15
    )
    for chunk in chunks:
        assert not ("a" in chunk.text.split()[0] and chunk.page == 2)
    assert chunks[0].text.startswith("a0")
    first_b = next(c for c in chunks if c.page == 2)
    assert first_b.text.startswith("b0")


def test_a_giant_sentence_is_cut_into_word_windows() -> None:
    giant = " ".join(f"w{i}" for i in range(500))
    chunks = chunk_sections([Section(giant)], target=100, overlap=0)
    assert len(chunks) == 5
    assert all(count_tokens(c.text) <= 100 for c in chunks)
    assert " ".join(c.text for c in chunks) == giant


def test_empty_sections_make_no_chunks() -> None:
    assert chunk_sections([Section(""), Section("\n\n \n\n")], target=50, overlap=5) == []
