"""A sans-IO engine on one end of a simulated TCP connection: the glue POP3 and IMAP share.

A session feeds the bytes that arrive into its engine, lets its node answer the
engine's events, writes the engine's output as one traced write, closes when the
engine is done, and keeps the one timer a real host keeps for a silent peer.
Subclasses say which engine and what its output means; they decide nothing else.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from simulator.net.kernel import TIMER, Timer
from simulator.net.network import Network, TCPConnection
from simulator.net.record import Note


class StreamSession(ABC):
    """One end ("client" or "server") of one connection, driving one engine.

    Class attributes a subclass sets:
        protocol: the trace's protocol name ("POP3", "IMAP").
        batch: (explanation, RFC) for a write that holds several units.
        timeout: seconds of silence from the peer before this end gives up.
        timeout_note: (explanation, RFC) shown when it does.
    """

    protocol = ""
    batch = ("", "")
    timeout = 600.0
    timeout_note = ("", "")

    def __init__(self, network: Network, host: str, side: str) -> None:
        self.network, self.host, self.side = network, host, side
        self.conn: TCPConnection | None = None
        self._timer: Timer | None = None
        self._deadline = 0.0
        self._done = False

    @property
    def done(self) -> bool:
        return self._done

    # --- what a subclass provides ---------------------------------------------------------

    @abstractmethod
    def _feed(self, data: bytes) -> None:
        """Give the engine bytes from the peer; b"" when the peer has closed."""

    @abstractmethod
    def _react(self) -> None:
        """Take the engine's events and let the node answer them."""

    @abstractmethod
    def _notes(self) -> list[Note]:
        """Take what the engine wrote, one note per unit."""

    @abstractmethod
    def _engine_closed(self) -> bool:
        """Whether the engine has finished its side of the conversation."""

    def _autologout(self) -> bool:
        """A server that says goodbye to a silent client does so here; True if it did (then it closes)."""
        return False

    def _started(self) -> None:  # noqa: B027 - optional hook
        """The connection is open (the engine may greet)."""

    def _finished(self, reason: str) -> None:  # noqa: B027 - optional hook
        """The session is over, whatever the reason ("" for an orderly end)."""

    # --- the network's endpoint interface -------------------------------------------------------

    def connection_made(self, conn: TCPConnection, side: str) -> None:
        self.conn = conn
        self._started()
        self._pump()

    def data_received(self, data: bytes) -> None:
        if not self._done:
            self._feed(data)
            self._pump()

    def eof_received(self) -> None:
        if not self._done:
            self._feed(b"")
            self._pump()

    def connection_lost(self, reason: str) -> None:
        if self._done:
            return
        self._feed(b"")
        self._react()
        self._notes()  # nothing can be written any more
        self._finish(reason)

    # --- the loop -----------------------------------------------------------------------------

    def _pump(self) -> None:
        if self._done:
            return
        self._react()
        notes = self._notes()
        if notes and self.conn is not None:
            self.network.send(self.conn, self.side, notes, self.batch)
        if self._engine_closed():
            if self.conn is not None:
                self.network.close(self.conn, self.side)
            self._finish("")
        else:
            self._restart_timer()

    def _finish(self, reason: str) -> None:
        if self._done:
            return
        self._done = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._finished(reason)

    def _restart_timer(self) -> None:
        # Move the deadline, not the timer: it re-arms itself when it fires early.
        kernel = self.network.kernel
        self._deadline = kernel.now + self.timeout
        if self._timer is None or not self._timer.active:
            self._timer = kernel.schedule(self.timeout, self._timed_out, priority=TIMER)

    def _timed_out(self) -> None:
        kernel = self.network.kernel
        if self._done:
            return
        if kernel.now < self._deadline:
            self._timer = kernel.schedule(self._deadline - kernel.now, self._timed_out, priority=TIMER)
            return
        self._timer = None
        conn = self.conn
        peer = "?" if conn is None else conn.server if self.side == "client" else conn.client
        explain, rfc = self.timeout_note
        self.network.tracer.emit(
            "timeout", self.host, peer, conn.id if conn else None, self.protocol, b"",
            f"{self.host} gives up on a silent {peer}", explain, rfc,
        )  # fmt: skip
        if self._autologout():
            self._pump()  # the goodbye goes out, then FIN
            return
        if conn is not None:
            self.network.reset(conn, self.side, "timeout")
        self._feed(b"")
        self._react()
        self._notes()
        self._finish("timeout")
