"""Trace events: the one stream every view and front end reads.

A trace event is one thing that happened: a connection opened, one write on
the wire, a message stored, a connection closed. It carries the bytes (where
there are any) and a note for learners.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TraceEvent:
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

    def to_dict(self) -> dict[str, object]:
        """The JSON form: bytes as text when they are UTF-8, else as hex."""
        try:
            data: dict[str, str] = {"data": self.data.decode("utf-8")}
        except UnicodeDecodeError:
            data = {"data_hex": self.data.hex()}
        return {
            "seq": self.seq,
            "time": round(self.time, 6),
            "kind": self.kind,
            "src": self.src,
            "dst": self.dst,
            "conn": self.conn,
            "protocol": self.protocol,
            **data,
            "summary": self.summary,
            "explain": self.explain,
            "rfc": self.rfc,
        }
