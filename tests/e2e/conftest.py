"""Fixtures the browser tests share: one Debian Chromium per test module."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium through Playwright (`executable_path`: no browser download). The modules that
    use it skip themselves when Chromium or the UI bundle is missing (test_ui_browser.py)."""
    from playwright.sync_api import sync_playwright

    from tests.e2e.test_ui_browser import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()
