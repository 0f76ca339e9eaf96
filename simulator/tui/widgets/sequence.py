"""The sequence diagram pane: arrows between the hosts, growing as the learner steps."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll

from simulator.trace import TraceEvent
from simulator.tui.widgets.text_pane import TextPane
from simulator.views.sequence import render_sequence_text

# Drawing the whole trace of a long run would cost more than a step; the diagram shows its end.
WINDOW = 60


class SequenceDiagram(VerticalScroll):
    """The text sequence diagram of the trace so far, scrolled to its newest arrow."""

    DEFAULT_CSS = """
    SequenceDiagram > Static { width: auto; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._events: Sequence[TraceEvent] = ()
        self._drawn_width = 0

    def compose(self) -> ComposeResult:
        yield TextPane(id="sequence-text")

    def show(self, events: Sequence[TraceEvent]) -> None:
        """Redraw with these events (the newest WINDOW of them)."""
        self._events = events[-WINDOW:]
        self._draw()

    def on_resize(self) -> None:
        if self.size.width != self._drawn_width:
            self._draw()

    def _draw(self) -> None:
        width = max(self.scrollable_content_region.width, 40)
        self._drawn_width = self.size.width
        text = self.query_one("#sequence-text", TextPane)
        if not self._events:
            text.show_text(Text("No events yet: press s to step.", style="italic"))
            return
        first = self._events[0].seq
        head = f"(events {first} to {self._events[-1].seq}; earlier ones are in the transcript)\n" if first else ""
        text.show_text(Text(head + render_sequence_text(self._events, width=width)))
        self.scroll_end(animate=False)
