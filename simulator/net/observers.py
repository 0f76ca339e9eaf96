"""Who else is on a link: a passive observer that records the bytes, and boxes that rewrite them.

A `Tap` is an eavesdropper on the link between two hosts: it keeps every write that
crosses the link, in both directions, exactly as it travels (after any box in the
middle has changed it), and changes nothing. What it could read is what the lesson
is about: commands and passwords before STARTTLS, only TLS records after it.

A `Middlebox` sits on the path and may rewrite a write before it arrives: the
man in the middle that strips STARTTLS from an EHLO reply, or appends a command to
the client's STARTTLS (see simulator.faults). The network asks every box in turn.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from simulator.net.network import TCPConnection


@dataclass(frozen=True)
class Observed:
    """One write as an observer on the link saw it.

    Attributes:
        side: "client" or "server", whichever wrote it; a datagram counts as the client's.
        conn: the TCP connection's id; None for a datagram (DNS over UDP).
        port: the server's port (the destination port of a datagram).
    """

    time: float
    src: str
    dst: str
    side: str
    conn: int | None
    port: int
    protocol: str
    data: bytes


@dataclass
class Tap:
    """A passive observer on the link between two hosts (a switch's mirror port, a Wi-Fi sniffer)."""

    name: str
    between: frozenset[str]
    seen: list[Observed] = field(default_factory=list)

    def on_path(self, a: str, b: str) -> bool:
        return frozenset((a, b)) == self.between

    def record(self, observed: Observed) -> None:
        self.seen.append(observed)

    @property
    def wire(self) -> bytes:
        """Every byte it saw, in the order it saw them: what a capture file of the link would hold."""
        return b"".join(o.data for o in self.seen)


class Middlebox(Protocol):
    """Something on the path that may change a write before the peer receives it."""

    def rewrite(self, conn: TCPConnection, side: str, data: bytes) -> bytes:
        """The bytes that go on from here; `side` is "client" or "server", the side that wrote them."""
        ...
