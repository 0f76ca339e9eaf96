"""Messages that cross the app: from a background run back to the screen that started it."""

from __future__ import annotations

from textual.message import Message


class RunProgress(Message):
    """A background run moved on: how far it got, posted from its worker thread."""

    def __init__(self, steps: int, done: int, total: int | None) -> None:
        """Args:
        steps: trace events stepped so far in this run.
        done: messages settled (delivered, bounced, rejected) of `total`, or steps when `total` is None.
        total: what `done` counts up to; None when the run's length is not known ahead.
        """
        super().__init__()
        self.steps = steps
        self.done = done
        self.total = total
