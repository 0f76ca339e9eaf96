"""A Static for text that is redrawn on every step: it does the least work Textual allows."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class TextPane(Static):
    """Shows a Rich Text; unchanged text costs nothing, and a change in place needs no new layout.

    Every pane of the main screen is redrawn after each step, but most change little or not at
    all. A layout pass covers the whole screen, so the pane keeps its height: a shorter text is
    padded with blank lines to the tallest one shown so far, and only a taller one lays the screen
    out again. That keeps a step's redraw cheap (bench/bench_tui.py measures it).
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._text: Text | None = None
        self._lines = -1

    def show_text(self, text: Text) -> None:
        if self._text is not None and text == self._text:
            return
        self._text = text
        lines = text.plain.count("\n")
        taller = lines > self._lines
        if not taller:
            text = text.copy()
            text.append("\n" * (self._lines - lines))
        self.update(text, layout=taller)
        self._lines = max(lines, self._lines)

    def reset_height(self) -> None:
        """Let the next text set the height afresh (after a resize, or a new scenario)."""
        self._lines = -1
        self._text = None
