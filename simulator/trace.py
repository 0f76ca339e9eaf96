"""Trace events: the one stream every view and front end reads.

A trace event is one thing that happened: a connection opened, one write on
the wire, a message stored, a connection closed. It carries the bytes (where
there are any) and a note for learners.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from simulator.net.record import Note, data_field
from simulator.protocol.values import Value

__all__ = ["Note", "TraceEvent", "Tracer", "write_event"]


@dataclass(frozen=True, slots=True)
class TraceEvent(Value):
    """One observable step.

    Attributes:
        seq: position in the trace, from 0.
        time: simulated seconds since the start.
        kind: "connect", "send", "store", "close".
        src, dst: node names (for "send", who wrote and who reads).
        conn: connection number, or None.
        protocol: "SMTP" (later also POP3, IMAP, DNS, TLS).
        data: the bytes on the wire, b"" where there are none.
        summary: one line for lists and diagrams.
        explain: what it means, for a learner.
        rfc: where it is specified.
        notes: for a write holding several units (a pipelined batch, a multi-reply
            answer), each unit with its own explanation, in order; empty when the
            write is one unit, which the event's own fields describe. For a write of
            TLS records, `data` is the ciphertext and the notes are the plaintext
            units inside it (the summary then starts with "[TLS]").
        port: the server's TCP port, on the events that open a connection or fail to
            ("connect", "refused"); None elsewhere. Kept out of `to_dict`: the summary says it.
    """

    seq: int
    time: float
    kind: str
    src: str
    dst: str
    conn: int | None
    protocol: str
    data: bytes
    summary: str
    explain: str
    rfc: str
    notes: tuple[Note, ...] = field(default=(), repr=False)
    port: int | None = field(default=None, repr=False)

    @property
    def units(self) -> tuple[Note, ...]:
        """The protocol units of a write, one or more (none for events that are not writes)."""
        if self.notes or self.kind != "send":
            return self.notes
        return (Note(self.data, self.summary, self.explain, self.rfc),)

    def to_dict(self) -> dict[str, object]:
        """The JSON form: bytes as text when they are UTF-8, else as hex."""
        return {
            "seq": self.seq,
            "time": round(self.time, 6),
            "kind": self.kind,
            "src": self.src,
            "dst": self.dst,
            "conn": self.conn,
            "protocol": self.protocol,
            **data_field(self.data),
            "summary": self.summary,
            "explain": self.explain,
            "rfc": self.rfc,
            "notes": [n.to_dict() for n in self.notes],
        }


def write_event(
    seq: int, time: float, ends: tuple[str, str, int | None, str], notes: list[Note], batch: tuple[str, str]
) -> TraceEvent:
    """One write on the wire made of one or more units.

    Args:
        ends: (src, dst, conn, protocol).
        batch: (explanation, rfc) for a write of several units.
    """
    src, dst, conn, protocol = ends
    if len(notes) == 1:
        only = notes[0]
        if only.inner:
            return TraceEvent(
                seq, time, "send", src, dst, conn, protocol, only.data, only.summary, only.explain, only.rfc, only.inner
            )
        return TraceEvent(seq, time, "send", src, dst, conn, protocol, only.data, only.summary, only.explain, only.rfc)
    data = b"".join(n.data for n in notes)
    summary = "; ".join(n.summary for n in notes)
    explain, rfc = batch
    return TraceEvent(seq, time, "send", src, dst, conn, protocol, data, summary, explain, rfc, tuple(notes))


class Clock(Protocol):
    @property
    def now(self) -> float: ...


# A long run repeats the same short lines (QUIT, "221 2.0.0 Bye", "the connection closes")
# hundreds of thousands of times; the tracer keeps one copy of each. The table is emptied
# when it grows past this many entries, so lines seen once do not pile up in it.
SHARED_LIMIT = 50_000
SHARED_LENGTH = 100  # longer values (message bodies) are rarely repeated


class Tracer:
    """Keeps the trace: the one stream every view reads (implements net.record.Recorder).

    It reads the time from the kernel object itself, not from a closure, so that
    a copy of a world traces with the copy's clock.
    """

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.events: list[TraceEvent] = []
        self._texts: dict[str, str] = {}
        self._octets: dict[bytes, bytes] = {}

    def __getstate__(self) -> dict[str, object]:
        return {"clock": self.clock, "events": self.events}  # the shared-value tables are only caches

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._texts, self._octets = {}, {}

    def _text(self, value: str) -> str:
        if len(value) > SHARED_LENGTH:
            return value
        if len(self._texts) > SHARED_LIMIT:
            self._texts.clear()
        return self._texts.setdefault(value, value)

    def _bytes(self, value: bytes) -> bytes:
        if len(value) > SHARED_LENGTH:
            return value
        if len(self._octets) > SHARED_LIMIT:
            self._octets.clear()
        return self._octets.setdefault(value, value)

    def emit(
        self, kind: str, src: str, dst: str, conn: int | None, protocol: str, data: bytes,
        summary: str, explain: str, rfc: str, *, port: int | None = None,
    ) -> None:  # fmt: skip
        seq, now = len(self.events), self.clock.now
        data, summary = self._bytes(data), self._text(summary)
        self.events.append(TraceEvent(seq, now, kind, src, dst, conn, protocol, data, summary, explain, rfc, port=port))

    def write(
        self, src: str, dst: str, conn: int | None, protocol: str, notes: list[Note], batch: tuple[str, str]
    ) -> None:
        if len(notes) == 1:  # nearly every write: the sharing done inline, as this runs for most events
            only = notes[0]
            data, summary = only.data, only.summary
            if len(data) <= SHARED_LENGTH:
                data = self._octets.setdefault(data, data)
            if len(summary) <= SHARED_LENGTH:
                summary = self._texts.setdefault(summary, summary)
            if len(self._texts) > SHARED_LIMIT or len(self._octets) > SHARED_LIMIT:
                self._texts.clear()
                self._octets.clear()
            seq, now = len(self.events), self.clock.now
            self.events.append(
                TraceEvent(
                    seq, now, "send", src, dst, conn, protocol, data, summary, only.explain, only.rfc, only.inner
                )
            )
            return
        units = tuple([Note(self._bytes(n.data), self._text(n.summary), n.explain, n.rfc) for n in notes])
        data = self._bytes(b"".join(n.data for n in units))
        summary = self._text("; ".join(n.summary for n in units))
        explain, rfc = batch
        seq, now = len(self.events), self.clock.now
        self.events.append(TraceEvent(seq, now, "send", src, dst, conn, protocol, data, summary, explain, rfc, units))
