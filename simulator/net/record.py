"""How the network reports what crosses it, without depending on the trace's storage.

The network is a lower layer than the simulation that keeps the trace, so it
talks to a `Recorder` (implemented by `simulator.trace.Tracer`) and hands it
`Note`s: one per protocol unit, each with what it means for a learner.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from simulator.protocol.values import Value


@dataclass(frozen=True, slots=True)
class Note(Value):
    """One protocol unit inside a write (a command, a reply, a message body) and what it means."""

    data: bytes
    summary: str
    explain: str
    rfc: str

    def to_dict(self) -> dict[str, str]:
        return {**data_field(self.data), "summary": self.summary, "explain": self.explain, "rfc": self.rfc}


def data_field(data: bytes) -> dict[str, str]:
    """Bytes as text when they are UTF-8, else as hex (for JSON)."""
    try:
        return {"data": data.decode("utf-8")}
    except UnicodeDecodeError:
        return {"data_hex": data.hex()}


class Recorder(Protocol):
    """Where observable events go."""

    def emit(
        self, kind: str, src: str, dst: str, conn: int | None, protocol: str, data: bytes,
        summary: str, explain: str, rfc: str,
    ) -> None: ...  # fmt: skip

    def write(
        self, src: str, dst: str, conn: int | None, protocol: str, notes: list[Note], batch: tuple[str, str]
    ) -> None: ...
