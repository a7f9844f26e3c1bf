"""The web UI in a real Chromium against a real server: chat, stop, errors, persistence."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
STATIC_INDEX = Path(__file__).resolve().parents[2] / "src" / "ragline" / "static" / "index.html"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
RUN_TIMEOUT_MS = 30_000

if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)", allow_module_level=True)
if not STATIC_INDEX.exists():
    pytest.skip(
        "the UI bundle is missing: run `npm ci && npm run build` in web/", allow_module_level=True
    )

from playwright.sync_api import Browser, Page, expect  # noqa: E402

pytestmark = pytest.mark.browser



@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield page
        assert errors == [], f"uncaught errors in the page: {errors}"
    finally:
        context.close()


def send(page: Page, text: str) -> None:
    page.get_by_test_id("chat-input").fill(text)
    page.get_by_test_id("send").click()


def selected_thread_id(page: Page) -> str:
    item = page.locator('[data-testid="thread-item"][aria-current="page"]')
    expect(item).to_have_count(1)
    thread_id = item.get_attribute("data-thread-id")
    assert thread_id
    return thread_id


def screenshot(page: Page, name: str) -> None:
    """Saves a screenshot when RAGLINE_UI_SCREENSHOTS names a folder (for looking at the UI)."""
    folder = os.environ.get("RAGLINE_UI_SCREENSHOTS")
    if folder:
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def test_answer_streams_and_persists_across_reload(live_server: Any, page: Page) -> None:
    page.goto(live_server.base_url)
    page.get_by_test_id("new-thread").click()
    question = "What does ragline do with my documents?"

    send(page, question)
    thread_id = selected_thread_id(page)  # created with its first message

    answer = page.get_by_test_id("assistant-message").last
    expect(answer).to_have_attribute("data-status", "complete", timeout=RUN_TIMEOUT_MS)
    expect(page.get_by_test_id("send")).to_be_visible()
    expect(page.get_by_test_id("stop")).to_have_count(0)
    streamed = answer.get_by_test_id("message-text").inner_text().strip()
    assert len(streamed.split()) >= 50  # the scripted model answers with 50+ tokens
    screenshot(page, "answer")

    page.goto(live_server.base_url)  # a fresh page load: nothing kept in memory
    page.locator(f'[data-testid="thread-item"][data-thread-id="{thread_id}"]').click()

    expect(page.get_by_test_id("user-message")).to_have_count(1)
    expect(page.get_by_test_id("user-message")).to_have_text(question)
    expect(page.get_by_test_id("assistant-message")).to_have_count(1)
    persisted = page.get_by_test_id("assistant-message").get_by_test_id("message-text")
    expect(persisted).to_have_text(streamed)


def test_stop_cancels_the_running_answer(live_server: Any, page: Page) -> None:
    page.goto(live_server.base_url)
    page.get_by_test_id("new-thread").click()

    send(page, "Tell me everything [[stall]]")  # the scripted model emits one token, then waits

    answer = page.get_by_test_id("assistant-message").last
    expect(answer.get_by_test_id("message-text")).not_to_be_empty(timeout=RUN_TIMEOUT_MS)
    page.get_by_test_id("stop").click()
    expect(answer).to_have_attribute("data-status", "cancelled", timeout=RUN_TIMEOUT_MS)
    expect(page.get_by_test_id("send")).to_be_visible()


def test_failed_run_shows_the_error(live_server: Any, page: Page) -> None:
    page.goto(live_server.base_url)
    page.get_by_test_id("new-thread").click()

    send(page, "Please fail [[fail]]")

    answer = page.get_by_test_id("assistant-message").last
    expect(answer).to_have_attribute("data-status", "failed", timeout=RUN_TIMEOUT_MS)
    expect(answer.get_by_role("alert")).not_to_be_empty()
