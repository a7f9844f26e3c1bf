"""Parsers turn each supported type into clean sections with pages, headings and a title."""

from __future__ import annotations

import pytest

from ragline.adapters.parse import ParseError, detect_kind, parse
from ragline.adapters.parse.text import decode
from ragline.domain.errors import UnsupportedType
from tests.doc_samples import (
    make_docx,
    make_encrypted_pdf,
    make_html,
    make_pdf,
    make_zip_bomb_docx,
)


def test_pdf_keeps_page_numbers_and_metadata_title() -> None:
    data = make_pdf([["Alpha page text (one)."], [], ["Gamma on page three."]], title="Manual")
    parsed = parse("m.pdf", data)
    assert parsed.title == "Manual"
    assert parsed.pages == 3
    assert [(s.page, s.text) for s in parsed.sections] == [
        (1, "Alpha page text (one)."),
        (3, "Gamma on page three."),
    ]


def test_pdf_without_metadata_takes_title_from_first_line() -> None:
    parsed = parse("m.pdf", make_pdf([["Quarterly report", "Revenue grew."]]))
    assert parsed.title == "Quarterly report"


def test_encrypted_pdf_is_a_readable_error() -> None:
    with pytest.raises(ParseError, match="encrypted"):
        parse("secret.pdf", make_encrypted_pdf())


@pytest.mark.parametrize("data", [b"%PDF-1.4 this is not really a pdf", b"hello, not a pdf"])
def test_corrupt_pdf_is_a_readable_error(data: bytes) -> None:
    with pytest.raises(ParseError, match="corrupt"):
        parse("broken.pdf", data)


def test_pdf_without_text_says_so() -> None:
    with pytest.raises(ParseError, match="no extractable text"):
        parse("scan.pdf", make_pdf([[], []]))


def test_html_drops_navigation_scripts_and_footer_and_keeps_headings() -> None:
    body = ("<h1>Guide</h1><p>Intro <b>text</b>.</p><h2>Install</h2><ul><li>Step one</li>"
            "<li>Step two</li></ul><h3>Linux</h3><pre>apt install x</pre>")
    parsed = parse("g.html", make_html("The Guide", body))
    assert parsed.title == "The Guide"
    text = "\n".join(s.text for s in parsed.sections)
    for gone in ("Navigation link", "tracking", "Copyright footer", "p{}"):
        assert gone not in text
    assert [s.heading_path for s in parsed.sections] == [
        ("Guide",), ("Guide", "Install"), ("Guide", "Install", "Linux"),
    ]
    assert parsed.sections[1].text == "Step one\n\nStep two"


def test_html_title_falls_back_to_first_heading_and_article_header_is_kept() -> None:
    page = (b"<html><body><header>Site banner</header><article><header><h1>Post</h1>"
            b"</header><p>Words.</p></article><div class='sidebar'>Ads</div></body></html>")
    parsed = parse("p.htm", page)
    assert parsed.title == "Post"
    assert parsed.sections[0].heading_path == ("Post",)
    assert "Site banner" not in parsed.sections[0].text
    assert "Ads" not in parsed.sections[0].text


def test_markdown_heading_paths_front_matter_and_plain_text() -> None:
    source = (b"---\ntitle: ignored\n---\n# Handbook\n\nWelcome **all**, see [docs](http://x).\n\n"
              b"## Leave\n\n- 25 days\n- carry over 5\n\n### Sick\n\nCall in.\n\n## Pay\n\n"
              b"| a | b |\n|---|---|\n| 1 | 2 |\n")
    parsed = parse("h.md", source)
    assert parsed.title == "Handbook"
    assert [s.heading_path for s in parsed.sections] == [
        ("Handbook",), ("Handbook", "Leave"), ("Handbook", "Leave", "Sick"), ("Handbook", "Pay"),
    ]
    assert parsed.sections[0].text == "Welcome all, see docs."
    assert parsed.sections[1].text == "- 25 days\n\n- carry over 5"
    assert "1 | 2" in parsed.sections[3].text
    assert "ignored" not in "".join(s.text for s in parsed.sections)


def test_text_decodes_legacy_encodings_and_splits_form_feeds() -> None:
    parsed = parse("notes.txt", "Caf\xe9 menu\fpage two".encode("cp1252"))
    assert parsed.title == "Café menu"
    assert [(s.page, s.text) for s in parsed.sections] == [(1, "Café menu"), (2, "page two")]
    assert decode(b"\xef\xbb\xbfbom") == "bom"


def test_docx_headings_tables_and_core_title() -> None:
    data = make_docx("Benefits",
                     [("Health", ["Dental is covered."]), ("Pension", ["Five percent."])],
                     table=[["Plan", "Cost"], ["Basic", "10"]])
    parsed = parse("b.docx", data)
    assert parsed.title == "Benefits"
    assert [s.heading_path for s in parsed.sections] == [("Health",), ("Pension",)]
    assert parsed.sections[1].text == (
        "Five percent.\n\n| Plan | Cost |\n| --- | --- |\n| Basic | 10 |")


def test_docx_zip_bomb_is_refused_before_inflating() -> None:
    with pytest.raises(ParseError, match="zip bomb"):
        parse("bomb.docx", make_zip_bomb_docx())


def test_docx_that_is_not_a_zip_or_not_word_is_refused() -> None:
    with pytest.raises(ParseError, match="not a valid zip"):
        parse("x.docx", b"just text")
    import io
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("xl/workbook.xml", "<x/>")
    with pytest.raises(ParseError, match="not a Word document"):
        parse("x.docx", out.getvalue())


@pytest.mark.parametrize(
    ("filename", "content_type", "data", "kind"),
    [
        ("a.PDF", None, b"%PDF-1.4", "pdf"),
        ("page.htm", None, b"<p>x</p>", "html"),
        ("readme.markdown", None, b"# x", "markdown"),
        ("notes.rst", None, b"x", "text"),
        ("upload", "application/pdf", b"x", "pdf"),
        ("upload", "text/markdown; charset=utf-8", b"x", "markdown"),
        ("upload.bin", "application/octet-stream", b"%PDF-1.7 ...", "pdf"),
        ("noext", None, b"<!DOCTYPE html><html></html>", "html"),
        ("noext", None, b"plain words", "text"),
        ("script.py", "text/x-python", b"print(1)", "text"),
        ("doc.docx", None, b"anything", "docx"),
    ],
)
def test_detect_kind(filename: str, content_type: str | None, data: bytes, kind: str) -> None:
    assert detect_kind(filename, content_type, data) == kind


@pytest.mark.parametrize(
    ("filename", "content_type", "data"),
    [
        ("photo.png", "image/png", b"\x89PNG\r\n\x1a\n\x00\x00"),
        ("old.doc", "application/msword", b"\xd0\xcf\x11\xe0"),
        ("noext", "application/octet-stream", b"\x00\x01\x02binary"),
        ("data.xyz", None, b"text but unknown extension"),
    ],
)
def test_unsupported_types_are_refused(
    filename: str, content_type: str | None, data: bytes
) -> None:
    with pytest.raises(UnsupportedType):
        detect_kind(filename, content_type, data)


def test_empty_and_whitespace_files_are_parse_errors() -> None:
    with pytest.raises(ParseError, match="empty"):
        parse("blank.txt", b"  \n\n ")


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "cp1252"])
def test_a_text_file_streamed_in_small_pieces_reads_as_the_whole_file_does(
    tmp_path, encoding: str  # type: ignore[no-untyped-def]
) -> None:
    """Ingestion reads plain text piece by piece (issue 16): same title, pages and text."""
    from ragline.adapters.parse.stream import open_sections

    pages = ["Caf\u00e9 guide\n\n" + "\n\n".join(
        f"Paragraph {p}.{i}: the   espresso machine\tneeds descaling monthly." for i in range(40)
    ) for p in range(3)]
    raw = "\f".join(pages)
    data = raw.encode("utf-16") if encoding == "utf-16" else raw.encode(encoding)
    path = tmp_path / "guide.txt"
    path.write_bytes(data)
    whole = parse("guide.txt", data)
    stream = open_sections(path, "guide.txt", "text/plain", piece_chars=500)
    pieces = list(stream.pieces())
    assert len(pieces) > 10
    assert all(sum(len(s.text) for s in piece) <= 500 for piece in pieces)
    streamed = [s for piece in pieces for s in piece]
    assert (stream.title, stream.pages) == (whole.title, whole.pages) == ("Caf\u00e9 guide", 3)
    for page in (1, 2, 3):
        assert "\n\n".join(s.text for s in streamed if s.page == page) == next(
            s.text for s in whole.sections if s.page == page)
    assert stream.fraction == 1.0


def test_streamed_text_refuses_binary_and_blank_files(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from ragline.adapters.parse.stream import open_sections

    binary, blank = tmp_path / "b.txt", tmp_path / "e.txt"
    binary.write_bytes(b"abc\x00def" * 100)
    blank.write_bytes(b" \n\n \t" * 100)
    with pytest.raises(ParseError, match="binary"):
        open_sections(binary, "b.txt", None)
    with pytest.raises(ParseError, match="empty"):
        open_sections(blank, "e.txt", None)
