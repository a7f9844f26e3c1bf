"""A citation opens its original where the passage was found (issue 24), in Chromium against a
real server (scripted model): a real three-page PDF drawn by the bundled pdf.js at the cited
page with the passage marked in its text layer, and an HTML page scrolled to its passage; all
of it offline (no request leaves the server's origin, the pdf.js worker included)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, Request, Route, expect

from ragline.samples.render import render_pdf
from tests.e2e.test_ui_browser import RUN_TIMEOUT_MS
from tests.e2e.test_ui_chat_browser import (
    ask,
    open_page,
    serious_axe_violations,
    shots,  # noqa: F401  (where screenshots go)
    start,
)
from tests.support.processes import ServerProcess

pytestmark = pytest.mark.browser

FACT = ("The Ellery lighthouse was first lit on the fourteenth of March 1911, and its keepers have "
        "logged every passing ship in the green ledger since that night.")
PAGES = [
    ("Harbour board report", "The harbour board met four times this year. Fishing quotas for cod "
     "and herring were renewed, the fish market roof was repaired, and the ferry timetable gained "
     "a winter crossing on Sundays."),
    ("History of the light", f"{FACT} The original lantern burned paraffin; an electric lamp "
     "replaced it in 1953, and the light became automatic in 1987."),
    ("Accounts", "The harbour's accounts closed with a small surplus. Mooring fees rose by two "
     "percent, and the board set money aside for dredging the inner basin next spring."),
]
HTML_SECTIONS = [(f"Chapter {i}", f"Chapter {i} describes the tides of week {i}: the water rose "
                  f"and fell {i} times, and the pilots noted each change in their books.")
                 for i in range(1, 16)]
HTML_FACT = ("The pilots of Port Ellery steer every tanker through the narrow channel at high "
             "tide, and no tanker has run aground there since 1962.")


def three_page_pdf() -> bytes:
    """A real PDF (WeasyPrint: embedded fonts, a text layer, words hyphenated at line ends)."""
    pages = "".join(
        f'<section style="break-before: page"><h1>{title}</h1><p>{text}</p></section>'
        for title, text in PAGES)
    return render_pdf(
        '<html lang="en"><head><style>@page { size: A5; margin: 2cm } '
        "p { hyphens: auto; text-align: justify; font-size: 13pt; width: 7cm }</style></head>"
        f"<body>{pages}</body></html>")


def long_html() -> bytes:
    body = "".join(f"<h2>{title}</h2><p>{text}</p>" for title, text in HTML_SECTIONS)
    return (
        "<!doctype html><html><head><title>Pilots of Port Ellery</title></head><body>"
        "<h1>Pilots of Port Ellery</h1><script>window.__pwned = 1</script>"
        '<img src="http://example.invalid/tracker.png" alt="tracker">'
        f"{body}<h2>Tankers</h2><p>{HTML_FACT}</p></body></html>"
    ).encode()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """No auth; a PDF and an HTML page ingested in the `atlas` collection."""
    tmp = tmp_path_factory.mktemp("citations")
    proc = start(tmp, "citations")
    try:
        with httpx.Client(base_url=proc.base_url, timeout=60) as client:
            jobs = []
            for name, data, mime in (("harbour-report.pdf", three_page_pdf(), "application/pdf"),
                                     ("pilots.html", long_html(), "text/html")):
                posted = client.post("/api/documents", data={"collection": "atlas"},
                                     files={"file": (name, data, mime)})
                assert posted.status_code == 202, posted.text
                jobs.append(posted.json()["job_id"])
            deadline = time.monotonic() + 180
            for job_id in jobs:
                while (job := client.get(f"/api/jobs/{job_id}").json())["status"] != "ready":
                    assert job["status"] != "failed" and time.monotonic() < deadline, job
                    time.sleep(0.3)
        yield proc
    finally:
        proc.stop()


@pytest.fixture
def page(browser: Browser, server: ServerProcess) -> Iterator[Page]:
    """A page that may reach only the server: any other request is refused and recorded."""
    pages = open_page(browser)
    page = next(pages)
    outside: list[str] = []
    failed: list[str] = []
    console_errors: list[str] = []

    def refuse(route: Route) -> None:
        outside.append(route.request.url)
        route.abort()

    def on_failed(request: Request) -> None:
        # (a closed event stream reads as aborted; a refused request is in `outside`)
        if "ERR_ABORTED" not in (request.failure or ""):
            failed.append(f"{request.url} {request.failure}")

    page.context.route(lambda url: not url.startswith(server.base_url)
                       and not url.startswith(("blob:", "data:")), refuse)
    page.on("requestfailed", on_failed)
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    yield page
    assert outside == [], f"requests left the server's origin: {outside}"
    assert failed == [], f"requests failed: {failed}"
    assert console_errors == [], f"console errors: {console_errors}"
    next(pages, None)  # open_page's own checks, and the context closed


def ask_in_atlas(page: Page, server: ServerProcess, question: str):  # type: ignore[no-untyped-def]
    page.goto(server.base_url)
    page.get_by_test_id("new-thread").click()
    page.get_by_test_id("collection-picker").select_option("atlas")
    return ask(page, question)


def test_a_citation_opens_the_pdf_at_its_page_with_the_passage_highlighted(
    server: ServerProcess, page: Page, shots: Path  # noqa: F811
) -> None:
    workers: list[str] = []
    page.on("worker", lambda w: workers.append(w.url))
    answer = ask_in_atlas(
        page, server, "When was the Ellery lighthouse first lit? [[delay:0]] "
        "[[json:The Ellery lighthouse was first lit in March 1911 [1].]]")
    expect(answer.get_by_test_id("source-item").first).to_contain_text("harbour-report.pdf, p. 2")

    citation = answer.get_by_test_id("citation").first
    citation.click()
    panel = page.get_by_test_id("passage-panel")
    viewer = panel.get_by_test_id("pdf-viewer")
    pdf_page = viewer.get_by_test_id("pdf-page")
    expect(pdf_page).to_have_attribute("data-page-number", "2", timeout=RUN_TIMEOUT_MS)
    expect(viewer.get_by_test_id("viewer-page")).to_have_text("Page 2 of 3")
    marks = pdf_page.get_by_test_id("passage-highlight")
    expect(marks.first).to_be_attached(timeout=RUN_TIMEOUT_MS)
    expect(viewer.get_by_test_id("highlight-status")).to_have_attribute("data-state", "found")
    marked = " ".join(marks.all_text_contents())
    flat = "".join(ch for ch in marked.lower() if ch.isalnum())
    for words in ("Ellery lighthouse", "first lit", "fourteenth of March 1911", "green ledger"):
        assert words.lower().replace(" ", "") in flat, (words, marked)
    assert "fishing" not in flat and "surplus" not in flat  # other pages' text is not marked
    # The marks lie over the drawn page (the text layer is laid out on the canvas), in view.
    canvas_box = pdf_page.locator("canvas").bounding_box()
    mark_box = marks.first.bounding_box()
    scroller_box = viewer.get_by_test_id("viewer-scroll").bounding_box()
    assert canvas_box and mark_box and scroller_box
    assert canvas_box["width"] > 300 and canvas_box["height"] > 400
    assert canvas_box["y"] <= mark_box["y"] <= canvas_box["y"] + canvas_box["height"]
    assert scroller_box["y"] <= mark_box["y"] <= scroller_box["y"] + scroller_box["height"]
    # pdf.js ran in its own worker, served by ragline itself.
    assert any("pdf.worker" in url and url.startswith(server.base_url) for url in workers), workers
    assert serious_axe_violations(page) == []
    page.screenshot(path=str(shots / "citation-pdf-desktop.png"))

    # Pages turn from the keyboard; the way back to the cited page is offered.
    panel.get_by_role("button", name="Next page").focus()
    page.keyboard.press("Enter")
    expect(pdf_page).to_have_attribute("data-page-number", "3")
    expect(viewer.get_by_test_id("viewer-page")).to_have_text("Page 3 of 3")
    expect(pdf_page.get_by_test_id("passage-highlight")).to_have_count(0)
    panel.get_by_role("button", name="Back to page 2").click()
    expect(pdf_page).to_have_attribute("data-page-number", "2")
    expect(pdf_page.get_by_test_id("passage-highlight").first).to_be_attached()

    page.keyboard.press("Escape")  # closes, and focus goes back to the citation
    expect(panel).to_have_count(0)
    expect(citation).to_be_focused()
    page.keyboard.press("Enter")  # and opens it again from the keyboard
    expect(page.get_by_test_id("pdf-page")).to_have_attribute("data-page-number", "2",
                                                              timeout=RUN_TIMEOUT_MS)
    expect(page.get_by_test_id("pdf-page").get_by_test_id("passage-highlight").first).to_be_attached()


def test_a_citation_opens_an_html_page_scrolled_to_the_passage_highlighted(
    server: ServerProcess, page: Page, shots: Path  # noqa: F811
) -> None:
    answer = ask_in_atlas(
        page, server, "Has a tanker run aground in the narrow channel? [[delay:0]] "
        "[[json:No tanker has run aground in the channel since 1962 [1].]]")
    expect(answer.get_by_test_id("source-item").first).to_contain_text("pilots.html")
    answer.get_by_test_id("citation").first.click()
    viewer = page.get_by_test_id("passage-panel").get_by_test_id("text-viewer")
    marks = viewer.get_by_test_id("passage-highlight")
    expect(marks.first).to_be_visible(timeout=RUN_TIMEOUT_MS)
    assert "no tanker has run aground there since 1962" in " ".join(
        marks.all_text_contents()).lower()
    # Scrolled down to it: the last chapter is in view, the first one is not.
    scroller = viewer.get_by_test_id("viewer-scroll")
    assert scroller.evaluate("el => el.scrollTop") > 0
    expect(marks.first).to_be_in_viewport()
    expect(viewer.get_by_text("Chapter 1 describes")).not_to_be_in_viewport()
    # The page's script never ran and its image never loaded (the page fixture checks requests).
    assert viewer.locator("script, img").count() == 0
    assert page.evaluate("window.__pwned") is None
    assert serious_axe_violations(page) == []
    page.screenshot(path=str(shots / "citation-html-desktop.png"))
