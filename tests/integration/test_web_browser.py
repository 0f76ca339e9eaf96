"""`smtpsim web` and `smtpsim notebook` for real: the servers start, answer, and stop on SIGTERM.

The lesson 01 notebook is opened through Voila in headless Debian Chromium (playwright): its
Stepper's widgets must render, and clicking Step must grow the sequence diagram. A screenshot
of the page is kept as a test artifact ($SMTPSIM_ARTIFACTS, else tests/artifacts/).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.integration.serving import start_smtpsim

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = "01-first-smtp-dialogue.ipynb"
START_TIMEOUT = 60.0  # upper bounds only: each wait ends as soon as its condition holds
RENDER_TIMEOUT_MS = 90_000  # Voila starts a kernel and runs every cell before the widgets show
STEP_TIMEOUT_MS = 30_000
EXIT_TIMEOUT = 30.0  # the server shuts its kernels down first
STEPS = 6

ARROWS = ".smtpsim-diagram g.step.arrow"
STEP_LABEL = "Step"


@dataclass
class Launched:
    """A running `smtpsim web` or `smtpsim notebook` and the URL it printed."""

    process: subprocess.Popen[bytes]
    url: str
    stderr_path: Path

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def stop(self) -> int:
        """SIGTERM, then the exit code; fails the test if the server does not exit in time."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=EXIT_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            pytest.fail(f"smtpsim did not exit within {EXIT_TIMEOUT}s of SIGTERM; stderr:\n{self.stderr}")


def launch(tmp_path: Path, *args: str) -> Launched:
    """Start `smtpsim ARGS` and block until it prints its `{"url": ...}` line."""
    stderr_path = tmp_path / f"{args[0]}.stderr"
    process, printed = start_smtpsim(list(args), stderr_path, START_TIMEOUT)
    assert list(printed) == ["url"] and printed["url"].startswith("http://127.0.0.1:"), printed
    return Launched(process, str(printed["url"]), stderr_path)


def stopped_cleanly(server: Launched) -> None:
    code = server.stop()
    stderr = server.stderr
    assert code == 0, f"exited {code} after SIGTERM; stderr:\n{stderr}"
    assert "Traceback" not in stderr, stderr


@pytest.fixture
def web(tmp_path: Path) -> Iterator[Launched]:
    """`smtpsim web --port 0` on the checkout's notebooks/ (tree mode), stopped with SIGTERM afterwards."""
    server = launch(tmp_path, "web", "--port", "0")
    try:
        yield server
    finally:
        stopped_cleanly(server)
    started, shut = server.stderr.count("Kernel started:"), server.stderr.count("Kernel shutdown:")
    assert started == shut, f"{started} kernels started, {shut} shut down; stderr:\n{server.stderr}"


def artifact(name: str) -> Path:
    folder = Path(os.environ.get("SMTPSIM_ARTIFACTS") or REPO / "tests" / "artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


@pytest.mark.timeout(300)
def test_voila_renders_lesson_01_and_step_grows_the_diagram(web: Launched, page: Page) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.set_viewport_size({"width": 1280, "height": 1600})  # Voila scrolls inside the page: make room
    page.goto(web.url)  # tree mode: the tutorials are listed
    page.get_by_text(NOTEBOOK, exact=True).wait_for(state="visible", timeout=STEP_TIMEOUT_MS)
    page.goto(f"{web.url}voila/render/{NOTEBOOK}", timeout=RENDER_TIMEOUT_MS)

    step = page.get_by_role("button", name=STEP_LABEL, exact=True)
    step.first.wait_for(state="visible", timeout=RENDER_TIMEOUT_MS)
    assert step.count() == 1, f"{step.count()} Step buttons; lesson 01 has one Stepper"
    diagram = page.locator(".smtpsim-diagram")
    diagram.first.wait_for(state="attached", timeout=RENDER_TIMEOUT_MS)
    before = page.locator(ARROWS).count()

    for _ in range(STEPS):
        step.click()
    # The kernel answers each click in turn; wait until the status line counts every step, never for a
    # fixed time. In `basic` the first event (the connection opening) is the only one drawn without an arrow.
    page.get_by_text(f"{STEPS} events").first.wait_for(state="visible", timeout=STEP_TIMEOUT_MS)
    page.wait_for_function(
        "([selector, wanted]) => document.querySelectorAll(selector).length >= wanted",
        arg=[ARROWS, before + STEPS - 1],
        timeout=STEP_TIMEOUT_MS,
    )
    after = page.locator(ARROWS).count()
    diagram.first.scroll_into_view_if_needed()
    shot = artifact("web-notebook-01.png")
    page.screenshot(path=str(shot), full_page=True)

    assert after >= before + STEPS - 1, f"{before} arrows before, {after} after {STEPS} steps ({shot})"
    assert errors == [], f"errors in the page: {errors} ({shot})"
    assert "Traceback" not in web.stderr, web.stderr


def test_web_refuses_a_missing_folder() -> None:
    missing = "/nonexistent/smtpsim-tutorials"
    result = subprocess.run(
        [sys.executable, "-m", "simulator.cli", "web", "--dir", missing],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT,
        check=False,
    )
    assert result.returncode == 2, result
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and missing in lines[0], result.stderr


@pytest.mark.timeout(180)
def test_notebook_starts_jupyterlab_that_answers(tmp_path: Path) -> None:
    server = launch(tmp_path, "notebook", "--port", "0")
    try:
        with urllib.request.urlopen(server.url, timeout=START_TIMEOUT) as response:  # follows redirects
            status, final = response.status, response.url
            body = response.read().decode("utf-8", errors="replace")
    except urllib.error.HTTPError as exc:  # pragma: no cover - only on failure
        pytest.fail(f"{server.url} answered {exc.code}; stderr:\n{server.stderr}")
    finally:
        stopped_cleanly(server)
    assert status == 200, (status, final)
    assert "/login" not in final, f"the printed URL's token did not let us in: {final}"
    assert "JupyterLab" in body or "jupyter-config-data" in body, body[:500]
