"""The chat UI in Chromium against real servers (scripted model): Markdown rendered safely,
citations that open their passage, API-key sign-in, progress while waiting, axe-core checks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.test_ui_browser import RUN_TIMEOUT_MS
from tests.support.processes import ServerProcess, server_env

pytestmark = pytest.mark.browser

AXE_JS = Path(__file__).resolve().parents[2] / "web" / "node_modules" / "axe-core" / "axe.min.js"
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}
PASSAGE = (
    "# Harbour lights\n\nThe lighthouse keeper of Port Ellery logs every ship in a green ledger. "
    "The ledger has recorded 4,212 ships since 1911.\n"
)
ANSWER = """## Ships

| Year | Ships |
|---|---|
| 1911 | 12 |

```python
def count(ledger):
    return len(ledger)
```

The keeper logs every ship [1]. <script>window.__pwned = 1</script>
<img src=x onerror="window.__pwned = 2">"""


def start(tmp: Path, name: str, **extra: str) -> ServerProcess:
    env = server_env(tmp / name, f"sqlite+aiosqlite:///{tmp / name}.db", **extra)
    server = ServerProcess(env, log_path=tmp / f"{name}.log")
    server.start()
    return server


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Screenshots go to the test's tmp output (and to RAGLINE_UI_SCREENSHOTS when set)."""
    folder = Path(os.environ.get("RAGLINE_UI_SCREENSHOTS") or tmp_path_factory.mktemp("screens"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, str]]:
    """Auth on (API keys), a slowed-down scripted model (`[[delay:0]]` speeds one answer up),
    and one small document ingested in the `harbour` collection."""
    tmp = tmp_path_factory.mktemp("ui")
    proc = start(tmp, "ui", RAGLINE_AUTH="api_key", RAGLINE_SCRIPTED_TOKEN_DELAY_MS="250")
    try:
        out = subprocess.run([sys.executable, "-m", "ragline", "keys", "create", "--user", "ada"],
                             env=proc.env, capture_output=True, text=True, check=True)
        key = out.stdout.strip().splitlines()[-1]
        with httpx.Client(base_url=proc.base_url, timeout=60,
                          headers={"Authorization": f"Bearer {key}"}) as client:
            posted = client.post("/api/documents", data={"collection": "harbour"},
                                 files={"file": ("harbour.md", PASSAGE.encode(), "text/markdown")})
            assert posted.status_code == 202, posted.text
            deadline = time.monotonic() + 120
            job_url = f"/api/jobs/{posted.json()['job_id']}"
            while (job := client.get(job_url).json())["status"] != "ready":
                assert job["status"] != "failed" and time.monotonic() < deadline, job
                time.sleep(0.3)
        yield proc, key
    finally:
        proc.stop()



@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    yield from open_page(browser)


@pytest.fixture
def signed_in(browser: Browser, server: tuple[ServerProcess, str]) -> Iterator[Page]:
    """A page whose tab already holds the API key (as after signing in)."""
    yield from open_page(browser, key=server[1])


def open_page(browser: Browser, key: str | None = None) -> Iterator[Page]:
    context = browser.new_context(viewport=DESKTOP)
    if key:
        context.add_init_script(f"sessionStorage.setItem('ragline.apiKey', {json.dumps(key)})")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield page
        assert errors == [], f"uncaught errors in the page: {errors}"
    finally:
        context.close()


def serious_axe_violations(page: Page) -> list[dict[str, Any]]:
    page.add_script_tag(path=str(AXE_JS))
    result = page.evaluate(
        "async () => await axe.run(document, {runOnly: {type: 'tag', values: "
        "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}, resultTypes: ['violations']})"
    )
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["html"][:120] for n in v["nodes"][:3]]}
        for v in result["violations"] if v["impact"] in ("serious", "critical")
    ]


def both_widths(page: Page, shots: Path, name: str) -> None:
    page.screenshot(path=str(shots / f"{name}-desktop.png"))
    page.set_viewport_size(PHONE)
    page.screenshot(path=str(shots / f"{name}-phone.png"))
    page.set_viewport_size(DESKTOP)


def ask(page: Page, text: str) -> Any:
    """Send `text` as a user would (once the Send button is enabled) and wait for its answer."""
    answers = page.get_by_test_id("assistant-message")
    before = answers.count()
    page.get_by_test_id("chat-input").fill(text)
    expect(page.get_by_test_id("send")).to_be_enabled()
    page.get_by_test_id("chat-input").press("Enter")
    expect(answers).to_have_count(before + 1, timeout=RUN_TIMEOUT_MS)
    answer = answers.last
    expect(answer).to_have_attribute("data-status", "complete", timeout=RUN_TIMEOUT_MS)
    return answer


def test_markdown_answer_renders_safely_and_its_citation_opens_the_passage(
    server: tuple[ServerProcess, str], signed_in: Page, shots: Path
) -> None:
    page = signed_in
    page.goto(server[0].base_url)
    page.get_by_test_id("new-thread").click()
    page.get_by_test_id("collection-picker").select_option("harbour")

    answer = ask(page, f"How many ships? [[delay:0]] [[json:{ANSWER}]]")

    text = answer.get_by_test_id("message-text")
    expect(text.locator("h2")).to_have_text("Ships")
    # (an unsupported claim also carries a screen-reader note after its text)
    expect(text.locator("table td").first).to_contain_text("1911")
    expect(text.locator("pre code.hljs .hljs-keyword").first).to_have_text("def")
    expect(text).to_contain_text("<script>window.__pwned = 1</script>")  # shown, as text
    assert text.locator("script, img").count() == 0
    assert page.evaluate("window.__pwned") is None

    answer.get_by_test_id("citation").first.click()
    panel = page.get_by_test_id("passage-panel")
    expect(panel).to_be_visible()
    expect(panel.get_by_test_id("passage-text")).to_contain_text("green ledger")
    expect(panel.get_by_test_id("passage-title")).to_contain_text("Harbour lights")
    assert serious_axe_violations(page) == []
    both_widths(page, shots, "answer-passage")

    page.keyboard.press("Escape")  # the panel closes from the keyboard
    expect(panel).to_have_count(0)
    both_widths(page, shots, "answer")
    answer.get_by_test_id("source-item").first.click()  # a source opens it too
    expect(page.get_by_test_id("passage-text")).to_contain_text("4,212 ships")
    with page.context.expect_page() as opened:  # a non-PDF original opens as plain text
        panel.get_by_test_id("open-original").click()
    original = opened.value
    original.wait_for_load_state()
    assert original.url.startswith("blob:")
    assert original.evaluate("document.contentType") == "text/plain"
    expect(original.locator("body")).to_contain_text("# Harbour lights")
    original.close()

    first_run = answer.get_attribute("data-run-id")
    page.get_by_test_id("regenerate").click()  # the answer is replaced, not appended
    regenerated = page.get_by_test_id("assistant-message")
    expect(regenerated).not_to_have_attribute("data-run-id", first_run or "")
    expect(regenerated).to_have_attribute("data-status", "complete", timeout=RUN_TIMEOUT_MS)
    expect(page.get_by_test_id("user-message")).to_have_count(1)

    page.get_by_test_id("edit-last").click()
    box = page.get_by_test_id("chat-input")
    expect(box).to_have_value(f"How many ships? [[delay:0]] [[json:{ANSWER}]]")
    # (a question its passages match: one that none matches declines without the model)
    edited = "How many keepers log ships in the green ledger? [[delay:0]] [[say:Two keepers.]]"
    box.fill(edited)
    box.press("Enter")
    expect(page.get_by_test_id("user-message")).to_have_count(1)
    expect(page.get_by_test_id("user-message")).to_have_text(edited)
    expect(page.get_by_test_id("assistant-message").get_by_test_id("message-text")).to_have_text(
        "Two keepers.", timeout=RUN_TIMEOUT_MS)


def test_empty_state_and_documents_pass_axe(
    server: tuple[ServerProcess, str], signed_in: Page, shots: Path
) -> None:
    page = signed_in
    page.goto(server[0].base_url)
    page.get_by_test_id("new-thread").click()
    expect(page.get_by_test_id("empty-state")).to_be_visible()
    page.get_by_test_id("collection-picker").select_option("harbour")
    page.get_by_test_id("documents-toggle").click()
    expect(page.locator('[data-testid="document-item"][data-status="ready"]')).to_have_count(1)
    assert serious_axe_violations(page) == []
    both_widths(page, shots, "documents")


def test_sign_in_with_an_api_key_and_progress_while_the_model_is_slow(
    server: tuple[ServerProcess, str], page: Page, shots: Path
) -> None:
    proc, key = server
    page.goto(proc.base_url)
    expect(page.get_by_test_id("sign-in")).to_be_visible()
    assert serious_axe_violations(page) == []
    both_widths(page, shots, "sign-in")

    page.get_by_test_id("api-key").fill("not-a-key")
    page.get_by_test_id("sign-in-submit").click()
    expect(page.get_by_role("alert")).to_contain_text("not accepted")
    page.get_by_test_id("api-key").fill(key)
    page.get_by_test_id("sign-in-submit").click()
    expect(page.get_by_test_id("new-thread")).to_be_visible()
    assert key not in json.dumps(page.evaluate("performance.getEntries().map(e => e.name)"))

    page.get_by_test_id("new-thread").click()
    page.get_by_test_id("chat-input").fill("Tell me slowly [[tokens:16]]")
    page.get_by_test_id("chat-input").press("Enter")
    progress = page.get_by_test_id("run-progress")
    expect(progress).to_be_visible(timeout=RUN_TIMEOUT_MS)
    expect(progress.get_by_role("status")).not_to_be_empty()
    page.screenshot(path=str(shots / "progress-desktop.png"))
    answer = page.get_by_test_id("assistant-message").last
    expect(answer).to_have_attribute("data-status", "complete", timeout=RUN_TIMEOUT_MS)
    expect(progress).to_have_count(0)
    assert len(answer.get_by_test_id("message-text").inner_text().split()) == 16

    page.reload()  # the key stays in this tab's session
    expect(page.get_by_test_id("new-thread")).to_be_visible()
    expect(page.get_by_test_id("sign-in")).to_have_count(0)


def claims_stream() -> str:
    """A run's log as the claims checker (issue 13) reports it: one claim supported, one not."""
    supported, unsupported = "Port Ellery keeps a green ledger [1].", "The keeper owns a red boat."
    content = f"{supported} {unsupported}"
    source = {"document_id": "d1", "source": "harbour.md", "title": "Harbour lights", "page": 2,
              "chunk_id": "c1", "score": 0.9,
              "text": "The keeper logs every ship in a green ledger."}
    claims = [
        {"text": supported, "start": 0, "end": len(supported), "sources": [1], "supported": True,
         "score": 0.8},
        {"text": unsupported, "start": len(supported) + 1, "end": len(content), "sources": [],
         "supported": False, "score": 0.1},
    ]
    events = [
        ("status", {"status": "running", "stage": "reading", "progress": 0.5}),
        ("sources", {"sources": [source]}),
        ("token", {"delta": content}),
        ("final", {"message_id": "m1", "content": content, "sources": [source], "claims": claims,
                   "usage": {"prompt_tokens": 1, "completion_tokens": 1}, "model": "scripted"}),
        ("done", {"status": "done"}),
    ]
    return "".join(f"id: {i}\nevent: {t}\ndata: {json.dumps(d)}\n\n"
                   for i, (t, d) in enumerate(events, 1))


def test_unsupported_claims_are_marked_hideable_and_citations_work_by_keyboard(
    server: tuple[ServerProcess, str], signed_in: Page, shots: Path
) -> None:
    page = signed_in
    page.route("**/api/runs/*/events", lambda route: route.fulfill(
        status=200, headers={"content-type": "text/event-stream"}, body=claims_stream()))
    page.goto(server[0].base_url)
    page.get_by_test_id("new-thread").click()
    answer = ask(page, "What does the keeper do? [[delay:0]]")

    flagged = answer.get_by_test_id("unsupported-claim")
    expect(flagged).to_contain_text("The keeper owns a red boat.")
    expect(flagged).to_have_attribute("title", "Not supported by the sources")
    page.screenshot(path=str(shots / "claims-desktop.png"))
    page.get_by_test_id("hide-unsupported").check()
    expect(flagged).to_have_count(0)
    expect(answer.get_by_test_id("unsupported-note")).to_contain_text("hidden")

    citation = answer.get_by_test_id("citation").first
    citation.focus()
    page.keyboard.press("Enter")
    panel = page.get_by_test_id("passage-panel")
    expect(panel.get_by_test_id("passage-text")).to_contain_text("green ledger")
    expect(panel).to_contain_text("Page 2")
    expect(panel.get_by_role("button", name="Close source")).to_be_focused()
    page.keyboard.press("Escape")
    expect(panel).to_have_count(0)
    expect(citation).to_be_focused()
