"""Issue 14's done-when, as a new user does it in Chromium against a real server with auth on:
sign in, upload a PDF, ask, read a Markdown answer, open a citation at its page."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, Request, expect

from tests.doc_samples import make_pdf
from tests.e2e.test_ui_browser import RUN_TIMEOUT_MS
from tests.e2e.test_ui_chat_browser import (  # noqa: F401  (fixtures)
    open_page,
    serious_axe_violations,
    shots,
    start,
)
from tests.support.processes import ServerProcess

pytestmark = pytest.mark.browser

PAGES = [
    ["Port Ellery harbour guide", "Welcome to the harbour of Port Ellery.",
     "The harbour opens at dawn for fishing boats."],
    ["The lighthouse", "The lighthouse keeper logs every ship in a green ledger.",
     "The green ledger has recorded 4,212 ships since 1911."],
    ["Tides", "Spring tides reach six metres at the north quay.",
     "Boats wait for the evening tide to leave."],
]
ANSWER = """## Ships in the ledger

| Year | Ships |
|---|---|
| 1911 | 4,212 |

The keeper logs every ship in a green ledger [1]."""
QUESTION = f"What does the lighthouse keeper log in the green ledger? [[delay:0]] [[json:{ANSWER}]]"


def create_key(proc: ServerProcess, user: str) -> str:
    out = subprocess.run([sys.executable, "-m", "ragline", "keys", "create", "--user", user],
                         env=proc.env, capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def fresh_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, str]]:
    """Auth on and no documents: the user starts from nothing."""
    proc = start(tmp_path_factory.mktemp("new-user"), "new-user", RAGLINE_AUTH="api_key")
    try:
        yield proc, create_key(proc, "nina")
    finally:
        proc.stop()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    yield from open_page(browser)


def test_a_new_user_signs_in_uploads_a_pdf_asks_and_opens_the_citation_at_its_page(
    fresh_server: tuple[ServerProcess, str], page: Page, shots: Path, tmp_path: Path  # noqa: F811
) -> None:
    proc, key = fresh_server
    pdf = make_pdf(PAGES, title="Port Ellery harbour guide")

    page.goto(proc.base_url)
    expect(page.get_by_test_id("sign-in")).to_be_visible()
    page.get_by_test_id("api-key").fill(key)
    page.get_by_test_id("sign-in-submit").click()
    expect(page.get_by_test_id("new-thread")).to_be_visible()

    page.get_by_test_id("documents-toggle").click()
    page.get_by_test_id("upload-input").set_input_files(
        files=[{"name": "harbour-guide.pdf", "mimeType": "application/pdf", "buffer": pdf}])
    item = page.get_by_test_id("document-item")
    expect(item).to_have_count(1)
    expect(item).to_have_attribute("data-status", "ready", timeout=RUN_TIMEOUT_MS * 2)
    expect(item).to_contain_text("Port Ellery harbour guide")
    page.screenshot(path=str(shots / "new-user-documents.png"))
    page.get_by_test_id("documents-toggle").click()

    page.get_by_test_id("new-thread").click()
    page.get_by_test_id("chat-input").fill(QUESTION)
    page.get_by_test_id("chat-input").press("Enter")
    answer = page.get_by_test_id("assistant-message").last
    expect(answer).to_have_attribute("data-status", "complete", timeout=RUN_TIMEOUT_MS)
    text = answer.get_by_test_id("message-text")
    expect(text.locator("h2")).to_have_text("Ships in the ledger")
    expect(text.locator("table th").first).to_have_text("Year")
    expect(text.locator("table td").nth(1)).to_have_text("4,212")
    expect(text).not_to_contain_text("|---|")
    # The checker's claims cover the heading and the table's header row too: labels, not claims.
    expect(text.locator("h2, th").get_by_test_id("citation")).to_have_count(0)
    expect(text.locator("th").get_by_test_id("unsupported-claim")).to_have_count(0)
    expect(answer.get_by_test_id("unsupported-note")).to_have_count(0)

    file_requests: list[Request] = []
    fonts: list[str] = []
    page.on("request", lambda r: file_requests.append(r) if "/file" in r.url else None)
    page.on("requestfinished",
            lambda r: fonts.append(r.url) if "/standard_fonts/" in r.url else None)
    answer.get_by_test_id("citation").first.click()
    panel = page.get_by_test_id("passage-panel")
    expect(panel.get_by_test_id("passage-title")).to_contain_text("Port Ellery harbour guide")
    expect(panel).to_contain_text("harbour-guide.pdf")
    expect(panel.get_by_test_id("passage-text")).to_contain_text("green ledger")
    expect(panel).to_contain_text("Page 2")
    # The panel shows the original at the cited page, the passage marked (a PDF whose font is
    # not embedded: pdf.js draws it with the standard fonts that ragline serves).
    pdf_page = panel.get_by_test_id("pdf-page")
    expect(pdf_page).to_have_attribute("data-page-number", "2", timeout=RUN_TIMEOUT_MS)
    expect(pdf_page.get_by_test_id("passage-highlight").first).to_contain_text("lighthouse")
    assert fonts and all(url.startswith(f"{proc.base_url}/assets/pdfjs/") for url in fonts), fonts
    assert serious_axe_violations(page) == []
    page.screenshot(path=str(shots / "new-user-citation.png"))

    opener = panel.get_by_test_id("open-original")
    expect(opener).to_have_text("Open the original at page 2")
    with page.context.expect_page() as opened:
        opener.click()
    viewer = opened.value
    # The key travels in a header, never in a URL: the file comes as a blob opened at its page,
    # fetched once for the panel's viewer and the new tab.
    assert viewer.url.startswith("blob:") and viewer.url.endswith("#page=2"), viewer.url
    assert len(file_requests) == 1
    request = file_requests[0]
    assert request.url.endswith("/file") and key not in request.url
    assert request.headers.get("authorization") == f"Bearer {key}"
    response = request.response()
    assert response is not None and response.status == 200
    assert response.headers["content-type"] == "application/pdf"
    document_id = request.url.split("/api/documents/")[1].split("/")[0]
    viewer.wait_for_load_state()
    viewer.screenshot(path=str(shots / "new-user-pdf.png"))
    viewer.close()
    assert key not in json.dumps(page.evaluate("performance.getEntries().map(e => e.name)"))

    url = f"{proc.base_url}/api/documents/{document_id}/file"
    owner = httpx.get(url, headers={"Authorization": f"Bearer {key}"})
    assert owner.status_code == 200 and owner.content == pdf
    assert owner.headers["content-type"] == "application/pdf"
    assert httpx.get(url).status_code == 401
    stranger = create_key(proc, "oscar")
    assert httpx.get(url, headers={"Authorization": f"Bearer {stranger}"}).status_code == 404
