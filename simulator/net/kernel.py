"""The discrete-event kernel: a clock and a heap of things to do.

Modelled on simpy's core (not its generator processes, which cannot be
copied): a heap of (time, priority, seq, action). `seq` makes ties FIFO, so one
scenario with one seed always runs the same way.

Actions are bound methods (or functools.partial of them) with their arguments,
never lambdas or closures: the simulator snapshots the whole world with
copy.deepcopy to step back, and deepcopy rebinds methods to the copied objects
but would leave a closure pointing at the originals.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass

# Lower runs first at the same instant: the network delivers before timers fire,
# so a reply that arrives exactly at a timeout still counts (as in a real stack,
# where the socket is readable before the timer is checked).
DELIVERY = 0
NORMAL = 1
TIMER = 2


@dataclass(slots=True)
class Timer:
    """Something scheduled, and the handle to cancel it."""

    time: float
    action: Callable[..., None]
    args: tuple[object, ...] = ()
    cancelled: bool = False

    @property
    def active(self) -> bool:
        return not self.cancelled

    def cancel(self) -> None:
        # A cancelled timer can wait in the heap for minutes of simulated time (an idle
        # timeout that was reset); let go of what it would have run, so that a finished
        # session is freed now and not when its old timer finally comes up.
        self.cancelled = True
        self.action, self.args = _nothing, ()


def _nothing() -> None:
    """What a cancelled timer holds instead of its action."""


class Kernel:
    """Simulated time and the ordered list of what happens next."""

    def __init__(self) -> None:
        self.now = 0.0
        # (time, priority, seq, entry): tuples so that heap order is compared in C.
        self._heap: list[tuple[float, int, int, Timer]] = []
        self._seq = 0

    def schedule(self, delay: float, action: Callable[..., None], *args: object, priority: int = NORMAL) -> Timer:
        """Run `action(*args)` `delay` simulated seconds from now."""
        if delay < 0:
            raise ValueError(f"cannot schedule in the past (delay {delay})")
        self._seq += 1
        timer = Timer(self.now + delay, action, args)
        heapq.heappush(self._heap, (timer.time, priority, self._seq, timer))
        return timer

    def peek(self) -> float | None:
        """The time of the next live action, or None when nothing is left."""
        while self._heap and self._heap[0][3].cancelled:
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None

    def step(self) -> bool:
        """Run the next action; False when there is none."""
        heap = self._heap
        while heap:
            entry = heapq.heappop(heap)[3]
            if not entry.cancelled:
                self.now = entry.time
                entry.action(*entry.args)
                return True
        return False

    def compact(self) -> None:
        """Drop cancelled actions (idle timers that were reset), so a snapshot carries none."""
        live = [item for item in self._heap if not item[3].cancelled]
        if len(live) != len(self._heap):
            heapq.heapify(live)
            self._heap = live

    def __len__(self) -> int:
        return sum(1 for item in self._heap if not item[3].cancelled)
