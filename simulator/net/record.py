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
    """One protocol unit inside a write (a command, a reply, a message body) and what it means.

    A write of TLS records (RFC 8446 §5.2) is one note whose `data` is the ciphertext on the
    wire and whose `inner` holds the plaintext units it carries, each with its own meaning:
    what the two ends read, while an observer on the link sees only `data`.
    """

    data: bytes
    summary: str
    explain: str
    rfc: str
    inner: tuple[Note, ...] = ()

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            **data_field(self.data), "summary": self.summary, "explain": self.explain, "rfc": self.rfc,
        }  # fmt: skip
        if self.inner:
            out["inner"] = [n.to_dict() for n in self.inner]
        return out


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
        summary: str, explain: str, rfc: str, *, port: int | None = None,
    ) -> None: ...  # fmt: skip

    def write(
        self, src: str, dst: str, conn: int | None, protocol: str, notes: list[Note], batch: tuple[str, str]
    ) -> None: ...
