"""OCR of PDF pages without a text layer: the page rendered by pdfium, read by Debian's
tesseract (`tesseract-ocr`, `tesseract-ocr-eng`) in a subprocess. Nothing is downloaded."""

from __future__ import annotations

import io
import os
import shutil
import subprocess

from ragline.adapters.parse.base import ParseError, clean_text

DPI = 200  # enough for body text; tesseract's accuracy drops below ~150 dpi
TIMEOUT_SECONDS = 120


def available() -> bool:
    return shutil.which("tesseract") is not None


def render_page(data: bytes, page_number: int, dpi: int = DPI) -> bytes:
    """PNG bytes of one page (numbered from 1)."""
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(data)
    try:
        page = document[page_number - 1]
        image = page.render(scale=dpi / 72).to_pil().convert("L")
        page.close()
    finally:
        document.close()
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def ocr_page(data: bytes, page_number: int, language: str = "eng") -> str:
    """Blocking: the text tesseract reads on the page ('' for a blank page)."""
    if not available():
        raise ParseError("the PDF has no extractable text on some pages and OCR is not "
                         "installed (install Debian's tesseract-ocr and tesseract-ocr-eng)")
    image = render_page(data, page_number)
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}  # one core per page; jobs run side by side
    try:
        done = subprocess.run(
            ["tesseract", "stdin", "stdout", "-l", language, "--psm", "3"],
            input=image, capture_output=True, timeout=TIMEOUT_SECONDS, env=env, check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise ParseError(f"OCR of page {page_number} took longer than {TIMEOUT_SECONDS} s") from exc
    if done.returncode != 0:
        reason = done.stderr.decode("utf-8", "replace").strip()[-300:]
        raise ParseError(f"OCR of page {page_number} failed: {reason}")
    return clean_text(done.stdout.decode("utf-8", "replace"))
