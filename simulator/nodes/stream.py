"""A sans-IO engine on one end of a simulated TCP connection: the glue POP3 and IMAP share.

A session feeds the bytes that arrive into its engine, lets its node answer the
engine's events, writes the engine's output as one traced write, closes when the
engine is done, and keeps the one timer a real host keeps for a silent peer.
Subclasses say which engine and what its output means; they decide nothing else.
When the engine asks for TLS (STLS, RFC 2595 §4; STARTTLS, RFC 3501 §6.2.1), the
session puts a TLSChannel between the connection and the engine. On an implicit-TLS
port (995, 993; RFC 8314 §3) the channel is there from the first byte, and the
engine, configured as already secure, speaks once the handshake is done.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from simulator.net.kernel import TIMER, Timer
from simulator.net.network import Network, TCPConnection
from simulator.net.record import Note
from simulator.nodes.tls_channel import IMPLICIT_TLS_RFC, ClientTLS, ServerTLS, TLSChannel


class StreamSession(ABC):
    """One end ("client" or "server") of one connection, driving one engine.

    Class attributes a subclass sets:
        protocol: the trace's protocol name ("SMTP", "POP3", "IMAP").
        batch: (explanation, RFC) for a write that holds several units.
        timeout: seconds of silence from the peer before this end gives up (`_timeout()` may vary it).
        timeout_summary: the trace's line when it does, with {host} and {peer} filled in.
        timeout_note: (explanation, RFC) shown with it.
    """

    protocol = ""
    batch = ("", "")
    timeout = 600.0
    timeout_summary = "{host} gives up on a silent {peer}"
    timeout_note = ("", "")
    starttls_rfc = ""  # where the protocol's STARTTLS is specified, for the handshake's trace event

    def __init__(
        self,
        network: Network,
        host: str,
        side: str,
        *,
        tls: ServerTLS | ClientTLS | None = None,
        implicit_tls: bool = False,
    ) -> None:
        """One end of a connection.

        Args:
            tls: the certificate a server presents, or a client's trust and checking policy.
            implicit_tls: TLS starts with the first byte (RFC 8314 §3), before the engine says
                anything; needs `tls`.
        """
        if implicit_tls and tls is None:
            raise ValueError("implicit TLS needs a TLS configuration")
        self.network, self.host, self.side = network, host, side
        self.implicit_tls = implicit_tls
        self.conn: TCPConnection | None = None
        self._timer: Timer | None = None
        self._deadline = 0.0
        self._done = False
        self.tls_config = tls
        self.tls: TLSChannel | None = None
        self._wants_tls = False  # the engine asked for the handshake (a subclass sets it in _react)

    @property
    def done(self) -> bool:
        return self._done

    def arm(self) -> None:
        """Start the timer before anything is said: on a client it also bounds the connect."""
        self._restart_timer()

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

    def _timeout(self) -> float:
        """Seconds this end now waits for the peer: `timeout`, unless the protocol waits longer at some point."""
        return self.timeout

    def _silent(self) -> bool:
        """Whether this end has stopped answering altogether (a hung server): it writes nothing."""
        return False

    def _autologout(self) -> bool:
        """A server that says goodbye to a silent client does so here; True if it did (then it closes)."""
        return False

    def _started(self) -> None:  # noqa: B027 - optional hook
        """The connection is open (the engine may greet)."""

    def _tls_started(self) -> None:  # noqa: B027 - optional hook
        """The TLS handshake is done: the engine starts over (RFC 2595 §4, RFC 3501 §6.2.1)."""

    def _tls_failed(self, reason: str) -> None:  # noqa: B027 - optional hook
        """The TLS handshake failed on this side, for this reason (a client reports it)."""

    def _finished(self, reason: str) -> None:  # noqa: B027 - optional hook
        """The session is over, whatever the reason ("" for an orderly end)."""

    # --- the network's endpoint interface -------------------------------------------------------

    @property
    def tls_rfc(self) -> str:
        """Where this connection's way into TLS is specified, for the handshake's trace event."""
        return IMPLICIT_TLS_RFC if self.implicit_tls else self.starttls_rfc

    def connection_made(self, conn: TCPConnection, side: str) -> None:
        self.conn = conn
        self._started()
        if self.implicit_tls:
            # The first bytes are the TLS handshake: the engine's greeting waits inside it.
            self._start_tls(conn)
            self._restart_timer()
            return
        self._pump()

    def data_received(self, data: bytes) -> None:
        if self._done:
            return
        if self.tls is not None:
            data = self._unwrap(data)
            if self._done or not data:
                return
        self._feed(data)
        self._pump()

    def eof_received(self) -> None:
        if self._done:
            return
        if self.tls is not None:
            plaintext = self._unwrap(b"")
            if self._done:
                return
            if plaintext:
                self._feed(plaintext)
        self._feed(b"")
        self._pump()

    def connection_lost(self, reason: str) -> None:
        if self._done:
            return
        self.tls = None
        self._feed(b"")
        self._react()
        self._notes()  # nothing can be written any more
        self._finish(reason)

    # --- the loop -----------------------------------------------------------------------------

    def _pump(self) -> None:
        if self._done or self._silent():
            return
        self._react()
        if self._done:
            return  # answering an event ended the session (a fault hung up)
        self._write(self._notes())
        if self._wants_tls and self.tls is None and self.conn is not None and not self._engine_closed():
            self._start_tls(self.conn)
        if self._engine_closed():
            if self.conn is not None:
                if self.tls is not None:
                    self.tls.close()
                    self.tls = None
                self.network.close(self.conn, self.side)
            self._finish("")
        else:
            self._restart_timer()

    def _write(self, notes: list[Note]) -> None:
        """One write of the engine's units: in clear, or inside TLS records once TLS is on."""
        if not notes or self.conn is None:
            return
        if self.tls is not None:
            self.tls.send(notes, self.batch)
        else:
            self.network.send(self.conn, self.side, notes, self.batch)

    def _start_tls(self, conn: TCPConnection) -> None:
        """The engine's go-ahead is on the wire: from now on every byte is a TLS record."""
        self._wants_tls = False
        config = self.tls_config
        if isinstance(config, ServerTLS) and self.side == "server":
            self.tls = TLSChannel.server(self.network, conn, config)
        elif isinstance(config, ClientTLS) and self.side == "client":
            self.tls = TLSChannel.client(self.network, conn, config)

    def _unwrap(self, data: bytes) -> bytes:
        """TLS records in, plaintext out; the engine hears when the handshake has finished."""
        channel, conn = self.tls, self.conn
        assert channel is not None and conn is not None
        plaintext = channel.receive(data)
        if channel.failed:
            self.tls = None
            short = channel.trace_failure(self.tls_rfc) if self.side == "client" else ""
            if self.side == "server":
                channel.trace_refusal(self.tls_rfc)
            self.network.close(conn, self.side)
            self._feed(b"")
            self._react()
            self._notes()  # nothing more goes out on this connection
            if short:
                self._tls_failed(short)
            self._finish(f"TLS handshake failed: {short}" if short else "TLS handshake failed")
            return b""
        if channel.just_established:
            if self.side == "client":
                channel.trace_handshake(self.tls_rfc)
            if not self.implicit_tls:
                self._tls_started()  # after STARTTLS the engine starts over; an implicit-TLS one never left
            self._pump()
        return plaintext

    def _finish(self, reason: str) -> None:
        if self._done:
            return
        self._done = True
        self.tls = None  # whatever TLS state is left dies with the session
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._finished(reason)

    def _restart_timer(self) -> None:
        # Move the deadline, not the timer: one timer per session, re-armed when it fires early,
        # instead of a cancelled timer left in the heap for every write.
        kernel = self.network.kernel
        seconds = self._timeout()
        self._deadline = kernel.now + seconds
        if self._timer is not None and self._timer.active:
            if self._timer.time <= self._deadline:
                return  # it fires first and re-arms itself for the new deadline
            self._timer.cancel()  # the deadline came closer (a shorter wait): fire at it
        self._timer = kernel.schedule(seconds, self._timed_out, priority=TIMER)

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
            self.timeout_summary.format(host=self.host, peer=peer), explain, rfc,
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
