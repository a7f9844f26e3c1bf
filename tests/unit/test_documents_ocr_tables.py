"""Scanned PDF pages are OCRed (Debian's tesseract); tables in PDFs and DOCX become Markdown."""

from __future__ import annotations

import pytest

from ragline.adapters.parse import parse
from ragline.adapters.parse.ocr import available
from ragline.adapters.parse.tables import markdown_table
from tests.doc_samples import make_docx, make_pdf, make_scanned_pdf, make_table_pdf

needs_tesseract = pytest.mark.skipif(
    not available(), reason="tesseract is not installed (make test installs tesseract-ocr)")


def test_markdown_table_pads_rows_escapes_pipes_and_drops_empty_rows() -> None:
    assert markdown_table([["Name", "Note"], ["a|b"], [None, ""], ["c", "d\n e"]]) == (
        "| Name | Note |\n| --- | --- |\n| a\\|b |  |\n| c | d e |")


def test_pdf_table_becomes_a_markdown_table_between_its_paragraphs() -> None:
    data = make_table_pdf("Fleet maintenance schedule",
                          [["Vehicle", "Interval"], ["Van", "12000 km"], ["Truck", "20000 km"]],
                          "Intervals are reviewed every spring.")
    parsed = parse("fleet.pdf", data)
    assert parsed.sections[0].text == (
        "Fleet maintenance schedule\n\n| Vehicle | Interval |\n| --- | --- |\n"
        "| Van | 12000 km |\n| Truck | 20000 km |\n\nIntervals are reviewed every spring.")


def test_docx_table_becomes_a_markdown_table() -> None:
    parsed = parse("t.docx", make_docx("T", [("Plans", ["Two plans."])],
                                       table=[["Plan", "Cost"], ["Basic", "10"]]))
    assert parsed.sections[-1].text.endswith("| Plan | Cost |\n| --- | --- |\n| Basic | 10 |")


def test_scanned_pages_are_listed_for_the_ocr_stage_when_ocr_is_left_to_the_caller() -> None:
    data = make_scanned_pdf(["The lighthouse keeper logs the lamp every evening."])
    parsed = parse("scan.pdf", data, ocr=False)
    assert (parsed.pages, parsed.scanned, parsed.sections) == (1, (1,), [])


@needs_tesseract
def test_image_only_pdf_is_read_by_ocr() -> None:
    data = make_scanned_pdf(["The lighthouse keeper logs the lamp", "every evening at nineteen."])
    parsed = parse("scan.pdf", data)
    assert parsed.sections[0].page == 1
    assert "lighthouse keeper logs the lamp" in parsed.sections[0].text
    assert parsed.title == "The lighthouse keeper logs the lamp"


@needs_tesseract
def test_blank_scanned_pdf_still_has_no_extractable_text() -> None:
    from ragline.adapters.parse import ParseError

    with pytest.raises(ParseError, match="no extractable text"):
        parse("blank.pdf", make_pdf([[], []]))
