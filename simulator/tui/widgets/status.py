"""The status line: scenario, seed, position in the trace, simulated time, and a background run's progress."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import ProgressBar

from simulator.tui.widgets.text_pane import TextPane


class StatusLine(Horizontal):
    """One line under the panes; the progress bar shows only while a background run goes."""

    DEFAULT_CSS = """
    StatusLine { height: 1; }
    StatusLine > #status-text { width: 1fr; }
    StatusLine > ProgressBar { width: auto; display: none; }
    StatusLine.-running > ProgressBar { display: block; }
    """

    def compose(self) -> ComposeResult:
        yield TextPane(id="status-text")
        yield ProgressBar(id="status-progress", show_eta=False)

    def show(self, text: str) -> None:
        self.query_one("#status-text", TextPane).show_text(Text(text))

    def start(self, total: int | None) -> None:
        """A background run begins: show the bar, indeterminate when `total` is None."""
        self.query_one(ProgressBar).update(total=total, progress=0)
        self.add_class("-running")

    def progress(self, done: int, total: int | None) -> None:
        self.query_one(ProgressBar).update(total=total, progress=done)

    def stop(self) -> None:
        self.remove_class("-running")
