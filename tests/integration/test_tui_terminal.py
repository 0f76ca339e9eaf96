"""`smtpsim tui` in a real terminal: tmux runs it, sends keys, and its screen is read back with capture-pane."""

from __future__ import annotations

import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import pytest

from tests.integration.serving import REPO, require_tool

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

SESSION = "smtpsim-tui-smoke"
WAIT = 20.0  # upper bound only: each wait returns as soon as the screen shows what it waits for


class Terminal:
    """A tmux session running one command in a window of a given size."""

    def __init__(self, tmux: str, command: list[str], width: int, height: int) -> None:
        self.tmux = tmux
        subprocess.run(
            [tmux, "new-session", "-d", "-s", SESSION, "-x", str(width), "-y", str(height), shlex.join(command)],
            cwd=REPO, check=True,
        )  # fmt: skip

    def screen(self) -> str:
        done = subprocess.run(
            [self.tmux, "capture-pane", "-p", "-t", SESSION], capture_output=True, text=True, check=False
        )
        return done.stdout

    def keys(self, *keys: str) -> None:
        subprocess.run([self.tmux, "send-keys", "-t", SESSION, *keys], check=True)

    def until(self, shows: Callable[[str], bool], what: str) -> str:
        """Read the screen until it shows what is awaited (the app draws asynchronously)."""
        deadline = time.monotonic() + WAIT
        while True:
            screen = self.screen()
            if shows(screen):
                return screen
            if time.monotonic() > deadline:
                pytest.fail(f"the terminal never showed {what}; it shows:\n{screen}")
            time.sleep(0.05)  # poll the pane; the condition, not the pause, decides

    def alive(self) -> bool:
        found = subprocess.run([self.tmux, "has-session", "-t", SESSION], capture_output=True, check=False)
        return found.returncode == 0

    def close(self) -> None:
        subprocess.run([self.tmux, "kill-session", "-t", SESSION], capture_output=True, check=False)


@pytest.fixture
def terminal() -> Iterator[Terminal]:
    tmux = require_tool("tmux")
    subprocess.run([tmux, "kill-session", "-t", SESSION], capture_output=True, check=False)
    term = Terminal(tmux, [sys.executable, "-m", "simulator.cli", "tui", "basic"], 120, 40)
    try:
        yield term
    finally:
        term.close()


def test_the_app_draws_arrows_and_reply_codes_as_keys_step_through_the_dialogue(terminal: Terminal) -> None:
    terminal.until(lambda s: "Step" in s and "basic" in s, "the footer with its keys and the scenario's name")
    terminal.keys(*["s"] * 8)
    screen = terminal.until(lambda s: "235 2.7.0" in s, "the 235 reply to AUTH after eight steps")
    assert any(arrow in screen for arrow in ("──>", "─>", "<┄", "┄┄")), screen  # the sequence diagram's arrows
    terminal.keys("d")  # run to the next delivery
    terminal.until(lambda s: "delivers" in s, "the delivery into bob's mailbox")
    terminal.keys("q")
    deadline = time.monotonic() + WAIT
    while terminal.alive() and time.monotonic() < deadline:
        time.sleep(0.05)  # tmux ends the session when the app exits
    assert not terminal.alive(), "q did not quit the app"
