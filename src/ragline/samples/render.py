"""CVs to HTML (Jinja2, one template per layout) and to PDF (WeasyPrint, real text)."""

from __future__ import annotations

import io
from functools import lru_cache

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from ragline.samples.cv_schema import CV

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _month(value: str) -> str:
    year, month = value.split("-")
    return f"{MONTHS[int(month) - 1]} {year}"


@lru_cache(maxsize=1)
def _environment() -> Environment:
    env = Environment(loader=PackageLoader("ragline.samples", "templates"),
                      autoescape=select_autoescape(["html", "j2"]), undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["month"] = _month
    return env


# The pages each layout takes: one page for a short career, more as jobs add up. The bounds
# hold for the prose's bounded lengths (two or three bullets a job, a few sentences of summary).
# "classic" (one column) and "sidebar" (two columns) fit two jobs on a page; "ledger" (tables,
# whose rows never split across pages) needs a second page sooner and a third for four long jobs.
PAGE_LIMITS: dict[str, tuple[tuple[int, int], ...]] = {  # (up to this many jobs, most pages)
    "classic": ((2, 1), (4, 2)),
    "sidebar": ((2, 1), (4, 2)),
    "ledger": ((1, 2), (3, 2), (4, 3)),
}


def expected_pages(layout: str, jobs: int) -> range:
    """The page counts a CV of `jobs` jobs may have in `layout`."""
    for most_jobs, most_pages in PAGE_LIMITS[layout]:
        if jobs <= most_jobs:
            return range(1, most_pages + 1)
    return range(1, PAGE_LIMITS[layout][-1][1] + 1)


def render_html(cv: CV, layout: str) -> str:
    return _environment().get_template(f"{layout}.html.j2").render(cv=cv)


def render_pdf(html: str) -> bytes:
    """Blocking (about a quarter of a second a page): call it from a thread."""
    from weasyprint import HTML

    pdf: bytes = HTML(string=html).write_pdf()
    return pdf


def pdf_text(pdf: bytes) -> tuple[int, str]:
    """(pages, text) of a PDF, to check it holds real text."""
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(pdf))
    return len(reader.pages), "\n".join(page.extract_text() or "" for page in reader.pages)
