"""How the terminal app feels: its first frame, one step's redraw, and keys while a big world runs.

Prints, measured in the same run:
  * the first frame after launch, in a real terminal (tmux): from starting `smtpsim tui basic`
    until its footer is on the screen; beside it, a minimal Textual app launched the same way,
    the floor any Textual app pays (Python, Textual, the terminal);
  * one step's redraw on a world of about 200 events (in-process, headless): the time from the
    key press until the app is idle again;
  * while a 10,000-message world runs in the app's background worker: how long a key press
    takes to be handled (the speed key, which redraws the status line), several times during the run.
"""

from __future__ import annotations

import asyncio
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from textual import events

from simulator.sim import Simulation
from simulator.tui.app import SmtpsimApp

REPO = Path(__file__).resolve().parents[1]
SESSION = "smtpsim-bench"
MINIMAL_APP = """
from textual.app import App
from textual.widgets import Footer, Static

class Minimal(App):
    BINDINGS = [("s", "noop", "Step")]
    def compose(self):
        yield Static("hello")
        yield Footer()

Minimal().run()
"""


def first_frame(command: list[str], marker: str, tries: int = 3) -> float:
    """Median seconds from launching `command` in tmux until `marker` shows on its screen."""
    tmux = shutil.which("tmux")
    if tmux is None:
        raise SystemExit("tmux is needed for the first-frame figure (apt-get install tmux)")
    times = []
    for _ in range(tries):
        subprocess.run([tmux, "kill-session", "-t", SESSION], capture_output=True, check=False)
        start = time.perf_counter()
        subprocess.run(
            [tmux, "new-session", "-d", "-s", SESSION, "-x", "120", "-y", "40", shlex.join(command)],
            cwd=REPO,
            check=True,
        )
        while True:
            screen = subprocess.run(
                [tmux, "capture-pane", "-p", "-t", SESSION], capture_output=True, text=True, check=False
            ).stdout
            if marker in screen:
                times.append(time.perf_counter() - start)
                break
            if time.perf_counter() - start > 30:
                raise SystemExit(f"no first frame within 30 s; the screen shows:\n{screen}")
            time.sleep(0.005)
        subprocess.run([tmux, "kill-session", "-t", SESSION], capture_output=True, check=False)
    return statistics.median(times)


def with_messages(count: int) -> Simulation:
    """`basic` with `count` messages in all, one a second."""
    sim = Simulation.from_scenario("basic", seed=1)
    for i in range(count - 1):
        sim.submit("alice@example.com", ["bob@example.org"], f"Subject: {i}\r\n\r\nhello\r\n", at=1.0 + i)
    return sim


def world_of(events: int) -> Simulation:
    """A fresh `basic` with enough messages that a full run makes at least `events` trace events."""
    count = 1
    while with_messages(count).run() < events:
        count += 1
    return with_messages(count)


async def redraw_per_step(steps: int = 60) -> tuple[list[float], list[float]]:
    """CPU seconds per step (the step and its redraw), and per press of a key bound to nothing.

    CPU time, not wall time: the test harness waits for the screen's next refresh tick, which
    would count idle waiting as cost; the key bound to nothing shows what the harness itself uses.
    """
    app = SmtpsimApp(world_of(200))
    costs, idle = [], []
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        for _ in range(steps):
            start = time.process_time()
            await pilot.press("s")
            await pilot.pause()
            costs.append(time.process_time() - start)
            start = time.process_time()
            await pilot.press("z")
            await pilot.pause()
            idle.append(time.process_time() - start)
    return costs, idle


async def keys_while_loading(messages: int = 10_000, presses: int = 8) -> tuple[list[float], float]:
    """Seconds from a key press to its action running, while the load test runs in the background."""
    app = SmtpsimApp(Simulation.from_scenario("basic", seed=1), load_messages=messages)
    costs: list[float] = []
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        screen = app.screen
        handled = asyncio.Event()
        original = screen.action_faster  # type: ignore[attr-defined]

        def faster() -> None:  # the speed key's action, noting when it ran
            original()
            handled.set()

        screen.action_faster = faster  # type: ignore[attr-defined]
        start_run = time.perf_counter()
        await pilot.press("l")  # the load test: submit and run in the background worker
        for _ in range(presses):
            await asyncio.sleep(0.25)  # let the worker run between presses
            handled.clear()
            start = time.perf_counter()
            app.post_message(events.Key("plus", "+"))
            await handled.wait()
            costs.append(time.perf_counter() - start)
        await app.workers.wait_for_complete()
        total = time.perf_counter() - start_run
    return costs, total


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        minimal = Path(tmp) / "minimal.py"
        minimal.write_text(MINIMAL_APP)
        ours = first_frame([sys.executable, "-m", "simulator.cli", "tui", "basic"], "Step")
        floor = first_frame([sys.executable, str(minimal)], "Step")
    print(f"first frame, smtpsim tui basic:      {ours * 1000:7.0f} ms")
    print(f"first frame, a minimal Textual app:  {floor * 1000:7.0f} ms   (ratio {ours / floor:.2f})")
    costs, idle = asyncio.run(redraw_per_step())
    print(f"one step and its redraw (CPU), 200 events: median {statistics.median(costs) * 1000:5.1f} ms, "
          f"worst {max(costs) * 1000:5.1f} ms of {len(costs)}")  # fmt: skip
    print(f"a key bound to nothing (the harness):     median {statistics.median(idle) * 1000:5.1f} ms")
    presses, total = asyncio.run(keys_while_loading())
    print(f"a key while 10,000 messages run:     median {statistics.median(presses) * 1000:5.1f} ms, "
          f"worst {max(presses) * 1000:5.1f} ms of {len(presses)} (the run took {total:.0f} s)")  # fmt: skip


if __name__ == "__main__":
    main()
