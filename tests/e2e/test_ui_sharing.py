"""Sharing in Chromium (issue 23). A collection: alice shares her `harbour` collection with bob's
group from the Documents panel, bob picks `alice/harbour`, asks, and sees a cited answer; alice
revokes, and bob's next question in the same chat gets no passage of it: he is told the
collection is not found, and it is no longer among his collections. Two browser contexts, each
signed in with its own API key; scripted model (the answers are dictated, the citations are
placed by the claim check against the retrieved passages). A chat: alice makes a public live
link, someone without an account opens it and reads the cited answer with its source withheld, a
later answer shows up through the same link, and once alice revokes it the link says so."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.test_ui_chat_browser import ask, open_page, start
from tests.support.processes import ServerProcess

pytestmark = pytest.mark.browser

PASSAGE = "# Harbour\n\nThe harbour of Ostend holds twelve fishing ships and two ferries.\n"


def cli(proc: ServerProcess, *args: str) -> str:
    out = subprocess.run([sys.executable, "-m", "ragline", *args], env=proc.env,
                         capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, Any]]:
    proc = start(tmp_path_factory.mktemp("sharing"), "sharing", RAGLINE_AUTH="api_key")
    try:
        keys = {user: cli(proc, "keys", "create", "--user", user) for user in ("alice", "bob")}
        cli(proc, "groups", "create", "crew")
        cli(proc, "groups", "add", "crew", "bob")
        with httpx.Client(base_url=proc.base_url, timeout=60,
                          headers={"Authorization": f"Bearer {keys['alice']}"}) as client:
            posted = client.post("/api/documents", data={"collection": "harbour"},
                                 files={"file": ("harbour.md", PASSAGE.encode(), "text/markdown")})
            assert posted.status_code == 202, posted.text
            deadline = time.monotonic() + 120
            while (job := client.get(f"/api/jobs/{posted.json()['job_id']}").json())[
                    "status"] != "ready":
                assert job["status"] != "failed" and time.monotonic() < deadline, job
                time.sleep(0.3)
        yield proc, keys
    finally:
        proc.stop()



@pytest.fixture
def alice(browser: Browser, world: tuple[ServerProcess, Any]) -> Iterator[Page]:
    yield from open_page(browser, key=world[1]["alice"])


@pytest.fixture
def bob(browser: Browser, world: tuple[ServerProcess, Any]) -> Iterator[Page]:
    yield from open_page(browser, key=world[1]["bob"])


def open_documents(page: Page, collection: str) -> None:
    page.get_by_test_id("documents-toggle").click()
    page.get_by_label("Close documents").wait_for()
    page.get_by_test_id("collection-picker").last.select_option(collection)


def test_a_group_member_reads_a_shared_collection_until_the_owner_revokes_it(
    world: tuple[ServerProcess, Any], alice: Page, bob: Page
) -> None:
    proc = world[0]
    alice.goto(proc.base_url)
    open_documents(alice, "harbour")
    shares = alice.get_by_test_id("shares")
    expect(shares).to_contain_text("Only you can read harbour")
    alice.get_by_test_id("share-kind").select_option("group")
    alice.get_by_test_id("share-name").fill("crew")
    alice.get_by_test_id("share-role").select_option("reader")
    alice.get_by_test_id("share-submit").click()
    expect(alice.get_by_test_id("share-item")).to_have_count(1)
    expect(alice.get_by_test_id("share-item")).to_contain_text("crew (group)")
    expect(alice.get_by_test_id("share-item")).to_contain_text("reader")

    bob.goto(proc.base_url)
    bob.get_by_test_id("new-thread").click()
    bob.get_by_test_id("collection-picker").first.select_option("alice/harbour")
    answer = ask(bob, "How many fishing ships does the harbour hold? "
                      "[[say:The harbour of Ostend holds twelve fishing ships.]]")
    expect(answer).to_contain_text("twelve fishing ships")
    expect(answer.get_by_test_id("citation")).to_have_count(1)
    expect(answer.get_by_test_id("source-item")).to_have_count(1)
    expect(answer.get_by_test_id("source-item")).to_contain_text("Harbour")
    # bob sees the collection as shared, with no controls over who else reads it
    open_documents(bob, "alice/harbour")
    expect(bob.get_by_test_id("document-item")).to_have_count(1)
    expect(bob.get_by_test_id("shares")).to_have_count(0)
    bob.get_by_label("Close documents").click()

    alice.get_by_test_id("revoke-share").click()
    expect(shares).to_contain_text("Only you can read harbour")

    # bob's next question: the collection is gone for him, and he is told so
    bob.get_by_test_id("chat-input").fill("And how many ferries? [[say:It holds two ferries.]]")
    bob.get_by_test_id("chat-input").press("Enter")
    expect(bob.get_by_role("alert")).to_contain_text("collection 'alice/harbour' not found")
    expect(bob.get_by_test_id("assistant-message")).to_have_count(1)
    thread_id = bob.url.split("#thread=", 1)[1]
    got = httpx.get(f"{proc.base_url}/api/threads/{thread_id}/messages", timeout=30,
                    headers={"Authorization": f"Bearer {world[1]['bob']}"}).json()["items"]
    assert not any("ferries" in m["content"] and m["role"] == "assistant" for m in got)
    assert sum(1 for m in got if m.get("sources")) == 1  # the answer from before the revocation
    listed = httpx.get(f"{proc.base_url}/api/collections", timeout=30,
                       headers={"Authorization": f"Bearer {world[1]['bob']}"}).json()["items"]
    assert "alice/harbour" not in {c["name"] for c in listed}


def test_a_public_link_shows_the_chat_to_anyone_without_the_sources_until_revoked(
    world: tuple[ServerProcess, Any], alice: Page, browser: Browser
) -> None:
    proc = world[0]
    alice.goto(proc.base_url)
    alice.get_by_test_id("new-thread").click()
    alice.get_by_test_id("collection-picker").first.select_option("harbour")
    answer = ask(alice, "How many ferries does the harbour have? "
                        "[[say:The harbour of Ostend holds two ferries.]]")
    expect(answer.get_by_test_id("citation")).to_have_count(1)

    alice.get_by_test_id("links").locator("summary").click()
    alice.get_by_test_id("link-live").check()
    alice.get_by_test_id("link-public").check()
    alice.get_by_test_id("link-create").click()
    url = alice.get_by_test_id("link-url").input_value()
    assert url.startswith(f"{proc.base_url}/shared/rls_")
    expect(alice.get_by_test_id("link-item")).to_have_count(1)

    for anonymous in open_page(browser):  # a browser with no key: nobody signed in
        anonymous.goto(url)
        shared = anonymous.get_by_test_id("shared-thread")
        expect(shared.get_by_test_id("shared-assistant")).to_contain_text("two ferries")
        expect(shared.get_by_test_id("citation")).to_have_count(1)
        expect(shared.get_by_test_id("source-withheld")).to_have_count(1)
        expect(shared).not_to_contain_text("harbour.md")
        # live: alice's next answer shows up on the next visit
        ask(alice, "And fishing ships? [[say:It holds twelve fishing ships.]]")
        anonymous.reload()
        expect(shared.get_by_test_id("shared-assistant")).to_have_count(2)

        alice.get_by_test_id("link-revoke").click()
        expect(alice.get_by_test_id("link-item")).to_have_count(0)
        anonymous.reload()
        expect(anonymous.get_by_role("alert")).to_contain_text("does not exist or was revoked")
