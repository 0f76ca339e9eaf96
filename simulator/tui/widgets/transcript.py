"""The transcript pane: one row per trace event; the highlighted row is what the inspector shows."""

from __future__ import annotations

from collections.abc import Sequence

from textual.message import Message
from textual.widgets import DataTable

from simulator.trace import TraceEvent

# Rows kept: a long run's millions of events would make the table the slow part of a step.
WINDOW = 1000


def _arrow(event: TraceEvent) -> str:
    if event.src == event.dst:
        return event.src
    return f"{event.src} → {event.dst}"


class Transcript(DataTable[str]):
    """The trace as a table (newest WINDOW events), following the newest event unless the learner moved away."""

    DEFAULT_CSS = """
    Transcript { height: 1fr; }
    """

    class EventSelected(Message):
        """The learner highlighted an event (or stepping moved the highlight to the newest one)."""

        def __init__(self, seq: int) -> None:
            super().__init__()
            self.seq = seq

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False)
        self._first = 0  # seq of the first row
        self._count = 0  # rows in the table

    def on_mount(self) -> None:
        # What happened comes before who: at 80 columns the summary is what must stay in view.
        self.add_column("#", key="seq")
        self.add_column("time", key="time")
        self.add_column("what", key="summary")
        self.add_column("who", key="who")
        self.add_column("proto", key="protocol")

    def show(self, trace: Sequence[TraceEvent]) -> None:
        """Bring the rows in line with the trace: the newest WINDOW events, the highlight on the last."""
        total = len(trace)
        first = max(total - WINDOW, 0)
        if first < self._first or first > self._first + self._count:
            # Rows cannot be put back above the first one, and a long jump ahead shares none: start over.
            self.clear()
            self._first, self._count = first, 0
        while self._first + self._count > total:  # stepped back: drop the undone rows
            self._count -= 1
            self.remove_row(str(self._first + self._count))
        while self._first < first:  # the window moved on: drop its oldest rows
            self.remove_row(str(self._first))
            self._first += 1
            self._count -= 1
        for event in trace[self._first + self._count :]:
            self.add_row(
                str(event.seq), f"{event.time:.3f}", event.summary, _arrow(event), event.protocol, key=str(event.seq)
            )
            self._count += 1
        if self._count:
            self.move_cursor(row=self._count - 1, animate=False, scroll=True)

    def select(self, seq: int) -> None:
        """Highlight event `seq` if it has a row."""
        if self._first <= seq < self._first + self._count:
            self.move_cursor(row=seq - self._first, scroll=True)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.post_message(self.EventSelected(int(event.row_key.value)))
