"""The outbound queue: what a relay still has to deliver, recipient by recipient.

The retry schedule follows Postfix's defaults (postconf(5)): the first retry
after minimal_backoff_time (300 s), then the wait doubles up to
maximal_backoff_time (4000 s); after maximal_queue_lifetime (5 days) the
message bounces. The delay notice after 4 h is Sendmail's habit (Postfix's
delay_warning_time is off unless set): a lesson wants to show one.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

from simulator.protocol.smtp.events import MailParams, RcptParams
from simulator.protocol.smtp.replies import Reply


@dataclass(frozen=True)
class RetrySchedule:
    """When to try again, and when to give up; seconds."""

    first_retry: float = 300.0
    max_backoff: float = 4000.0
    lifetime: float = 5 * 86400.0
    delay_warning: float = 4 * 3600.0

    def backoff(self, attempts: int) -> float:
        """The wait after the attempts so far: 300, 600, 1200, 2400, 4000, 4000, ..."""
        return float(min(self.first_retry * 2 ** max(attempts - 1, 0), self.max_backoff))


@dataclass
class RecipientState:
    """Where one recipient of a queued message stands.

    status: "queued" (not tried or deferred), "delivered", "bounced".
    """

    address: str
    params: RcptParams = field(default_factory=RcptParams)
    status: str = "queued"
    last_reply: Reply | None = None
    remote_mta: str | None = None
    attempts: int = 0
    notified: bool = False  # the sender has had its bounce for this recipient


@dataclass
class QueueEntry:
    """One message in the queue."""

    queue_id: str
    sender: str
    content: bytes = field(repr=False)
    params: MailParams
    recipients: list[RecipientState]
    arrived: float
    next_attempt: float
    attempts: int = 0
    delay_warned: bool = False
    in_flight: bool = False
    # RFC 1047: a resend after a connection lost between the final dot and the reply.
    resend_after_lost_reply: bool = False

    @property
    def pending(self) -> list[RecipientState]:
        return [r for r in self.recipients if r.status == "queued"]

    @property
    def done(self) -> bool:
        return not self.pending


@dataclass
class OutboundQueue:
    """The entries, and a heap of (next attempt, order, queue id) so that a queue run costs
    only what is due, not the whole queue (stale heap items are skipped when popped)."""

    schedule: RetrySchedule = field(default_factory=RetrySchedule)
    entries: dict[str, QueueEntry] = field(default_factory=dict)
    _heap: list[tuple[float, int, str]] = field(default_factory=list)
    _order: int = 0

    def add(self, entry: QueueEntry) -> None:
        self.entries[entry.queue_id] = entry
        self._push(entry)

    def reschedule(self, entry: QueueEntry, when: float) -> None:
        entry.next_attempt = when
        self._push(entry)

    def remove(self, entry: QueueEntry) -> None:
        self.entries.pop(entry.queue_id, None)

    def _push(self, entry: QueueEntry) -> None:
        self._order += 1
        heapq.heappush(self._heap, (entry.next_attempt, self._order, entry.queue_id))

    def _live(self, item: tuple[float, int, str]) -> QueueEntry | None:
        entry = self.entries.get(item[2])
        if entry is None or entry.in_flight or entry.done or entry.next_attempt != item[0]:
            return None
        return entry

    def due(self, now: float) -> list[QueueEntry]:
        """Take the entries whose time has come, oldest first."""
        found: dict[str, QueueEntry] = {}
        while self._heap and self._heap[0][0] <= now:
            entry = self._live(heapq.heappop(self._heap))
            if entry is not None:
                found.setdefault(entry.queue_id, entry)
        return list(found.values())

    def next_wakeup(self) -> float | None:
        while self._heap and self._live(self._heap[0]) is None:
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None
