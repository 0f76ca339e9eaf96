"""Fixtures for the integration tests: a real `smtpsim serve` per test on 127.0.0.1, and a headless browser."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.integration.serving import Served, require_tool, start_serve

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """`smtpsim serve --spool TMP/spool`, stopped with SIGTERM afterwards; it must exit 0 and log no traceback."""
    server = start_serve(tmp_path)
    try:
        yield server
    finally:
        server.terminate()
        code = server.wait()
        stderr = server.stderr
    assert code == 0, f"smtpsim serve exited {code}; stderr:\n{stderr}"
    assert "Traceback" not in stderr, stderr


# Root needs --no-sandbox; the rest stop Chromium's own background traffic (update checks,
# sync, QUIC probes), which this machine's closed network would refuse and which a test that
# asserts "no network requests" must never see.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One headless Debian Chromium for the whole test session, driven by playwright.

    Never `playwright install`: the browser is the system's, so a missing one skips locally
    and fails in CI (where .ci/run installs it).
    """
    executable = require_tool("chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh page in its own browser context (no cookies or storage shared between tests)."""
    context = browser.new_context()
    try:
        yield context.new_page()
    finally:
        context.close()
