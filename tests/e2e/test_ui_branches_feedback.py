"""The chat UI in Chromium (scripted model): editing an earlier question opens a branch and
keeps the original chat, answers take thumbs up/down with a comment (stored, shown again after a
reload), and a chat exports as Markdown and JSON (issues 22, 23)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.test_ui_browser import RUN_TIMEOUT_MS
from tests.e2e.test_ui_chat_browser import ask, open_page, start
from tests.support.processes import ServerProcess

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = start(tmp_path_factory.mktemp("branches"), "branches")
    try:
        yield proc
    finally:
        proc.stop()



@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    yield from open_page(browser)


def messages(server: ServerProcess, thread_id: str) -> list[dict[str, str]]:
    got = httpx.get(f"{server.base_url}/api/threads/{thread_id}/messages", timeout=30)
    assert got.status_code == 200, got.text
    return [{"role": m["role"], "content": m["content"]} for m in got.json()["items"]]


def test_an_earlier_question_edited_in_a_branch_keeps_the_original(
    server: ServerProcess, page: Page
) -> None:
    page.goto(server.base_url)
    page.get_by_test_id("new-thread").click()
    page.get_by_test_id("collection-picker").select_option("")  # plain chat
    for n, (question, reply) in enumerate([("First?", "One."), ("Second?", "Two."),
                                            ("Third?", "Three.")]):
        ask(page, f"{question} [[say:{reply}]]")
        expect(page.get_by_test_id("assistant-message").nth(n)).to_contain_text(reply)
    original = page.url.split("#thread=", 1)[1]

    questions = page.get_by_test_id("user-message")
    questions.nth(1).hover()
    page.get_by_test_id("edit-branch").nth(1).click()  # "Second?" (the last has edit-last)
    box = page.get_by_test_id("chat-input")
    expect(box).to_have_value("Second? [[say:Two.]]")
    expect(page.get_by_test_id("branch-of")).to_be_visible()
    branch = page.url.split("#thread=", 1)[1]
    assert branch != original
    expect(page.get_by_test_id("user-message")).to_have_count(1)  # history up to the first answer

    box.fill("Second, asked differently? [[say:Two, differently.]]")
    box.press("Enter")
    answers = page.get_by_test_id("assistant-message")
    expect(answers).to_have_count(2)
    expect(answers.last).to_have_attribute("data-status", "complete", timeout=RUN_TIMEOUT_MS)
    expect(answers.last).to_contain_text("Two, differently.")

    assert [m["content"] for m in messages(server, branch)] == [
        "First? [[say:One.]]", "One.",
        "Second, asked differently? [[say:Two, differently.]]", "Two, differently.",
    ]
    assert len(messages(server, original)) == 6  # the original chat is as it was
    expect(page.get_by_test_id("branch-mark")).to_have_count(1)  # the list marks the branch

    page.get_by_test_id("branch-of").click()  # back to the chat it came from
    expect(page.get_by_test_id("user-message")).to_have_count(3)
    assert page.url.endswith(original)


def test_feedback_is_stored_and_shown_again_and_the_chat_exports(
    server: ServerProcess, page: Page, tmp_path: Path
) -> None:
    page.goto(server.base_url)
    page.get_by_test_id("new-thread").click()
    page.get_by_test_id("collection-picker").select_option("")
    answer = ask(page, "Colour? [[say:Blue.]]")
    expect(answer).to_contain_text("Blue.")
    thread = page.url.split("#thread=", 1)[1]

    answer.get_by_test_id("feedback-down").click()
    comment = answer.get_by_test_id("feedback-comment")
    comment.fill("It is green.")
    answer.get_by_test_id("feedback-send").click()
    expect(comment).to_have_count(0)
    answer_id = messages_with_ids(server, thread)[-1]
    stored = httpx.get(f"{server.base_url}/api/messages/{answer_id}/feedback", timeout=30).json()
    assert stored == {"message_id": answer_id, "rating": "down", "comment": "It is green."}

    page.reload()
    again = page.get_by_test_id("assistant-message").last
    expect(again.get_by_test_id("feedback")).to_have_attribute("data-rating", "down")
    expect(again.get_by_test_id("feedback-down")).to_have_attribute("aria-pressed", "true")
    again.get_by_test_id("feedback-up").click()  # a new rating replaces it
    expect(again.get_by_test_id("feedback")).to_have_attribute("data-rating", "up")

    page.get_by_test_id("export").locator("summary").click()
    with page.expect_download() as markdown:
        page.get_by_test_id("export-markdown").click()
    text = Path(markdown.value.path()).read_text(encoding="utf-8")
    assert "Colour? [[say:Blue.]]" in text and "Blue." in text
    page.get_by_test_id("export").locator("summary").click()
    with page.expect_download() as exported:
        page.get_by_test_id("export-json").click()
    assert markdown.value.suggested_filename.endswith(".md")
    body = json.loads(Path(exported.value.path()).read_text(encoding="utf-8"))
    imported = httpx.post(f"{server.base_url}/api/threads/import", json=body, timeout=30)
    assert imported.status_code == 201, imported.text
    assert messages(server, imported.json()["thread_id"]) == messages(server, thread)


def messages_with_ids(server: ServerProcess, thread_id: str) -> list[str]:
    got = httpx.get(f"{server.base_url}/api/threads/{thread_id}/messages", timeout=30)
    return [m["message_id"] for m in got.json()["items"]]
