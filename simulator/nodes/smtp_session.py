"""SMTP sessions on simulated TCP: the glue between a connection and an engine.

A session moves bytes between the network and a sans-IO engine, turns the
engine's output into trace notes, and keeps the timers a real host keeps (RFC
5321 §4.5.3.2). Decisions stay with the node: the server session asks an
SMTPService, the client session reports results to its owner.

When the engines agree on STARTTLS (RFC 3207 §4), a TLSChannel goes between the
connection and the engine on both ends: after the server's 220 every byte is a TLS
record. A client whose handshake fails closes the connection and defers its
messages with OpenSSL's reason (451 4.7.5), as Postfix does; it never falls back to
clear text on that connection.

On the implicit-TLS port 465 (RFC 8314 §3.3) the channel is there from the first byte:
the server's 220 greeting is the first thing said inside TLS.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from simulator.net.kernel import TIMER, Kernel, Timer
from simulator.net.network import Network, TCPConnection
from simulator.net.record import Note
from simulator.nodes.smtp_service import SMTPService
from simulator.nodes.tls_channel import IMPLICIT_TLS_RFC, ClientTLS, TLSChannel
from simulator.protocol.smtp import events as ev
from simulator.protocol.smtp.client import LOST_CONNECTION, SMTPClient
from simulator.protocol.smtp.replies import Reply
from simulator.protocol.smtp.server import SMTPServer

CLIENT_BATCH = (
    "Several commands in one write: with PIPELINING the client does not wait for each reply.",
    "RFC 2920 §3.1",
)
SERVER_BATCH = ("The server answers a pipelined group in one write, one reply per command, in order.", "RFC 2920 §3.2")

# RFC 5321 §4.5.3.2: how long a client waits for each reply. One figure for the
# commands (5 minutes) and the longer one after the final dot (10 minutes).
COMMAND_TIMEOUT = 300.0
FINAL_DOT_TIMEOUT = 600.0
# Postfix smtpd_timeout: how long a server waits for the client.
SERVER_IDLE_TIMEOUT = 300.0
RFC_STARTTLS = "RFC 3207 §4"


def tls_failed_reply(reason: str) -> Reply:
    """What a client records for its recipients when the TLS handshake failed (Postfix defers, 4.7.5)."""
    return Reply(
        451, "4.7.5", (f"TLS handshake failed: {reason}",),
        "The TLS handshake failed: the client does not send the message over a connection it cannot trust, "
        "nor in clear text; it keeps the message and tries again later.",
        "RFC 3207 §4.1; RFC 8314 §3; RFC 3463 §3.8",
    )  # fmt: skip


class ServerSession:
    """The server side of one SMTP connection."""

    def __init__(self, network: Network, service: SMTPService, host: str) -> None:
        self.network = network
        self.service = service
        self.host = host
        self.engine: SMTPServer | None = None
        self.conn: TCPConnection | None = None
        self.peer = ("", "")
        self._idle: Timer | None = None
        self._deadline = 0.0
        self.tls: TLSChannel | None = None

    def connection_made(self, conn: TCPConnection, side: str) -> None:
        self.conn = conn
        client = self.network.hosts[conn.client]
        self.peer = (client.name, client.ip)
        open_from_peer = self.network.open_between.get((conn.client, self.host), 0)
        self.engine = self.service.connect(self.peer, open_from_peer)
        if self.service.config.tls_active and self.service.tls is not None:
            # Implicit TLS: the handshake comes first; the greeting waits inside it (RFC 8314 §3.3).
            self.tls = TLSChannel.server(self.network, conn, self.service.tls)
            self._restart_timer(self.network.kernel)
            return
        self._pump()

    def data_received(self, data: bytes) -> None:
        if self._muted():
            return  # a server that has stopped answering: the bytes are read and ignored
        if self.engine is not None:
            if self.tls is not None:
                data = self._unwrap(data)
                if self.engine is None or not data:
                    return
            self.engine.receive_data(data)
            self._pump()

    def eof_received(self) -> None:
        if self.engine is not None and self.tls is not None:
            self._unwrap(b"")
        if self.engine is not None:
            self.engine.receive_data(b"")
            self._pump()

    def connection_lost(self, reason: str) -> None:
        # Whatever was half received is simply gone: nothing is stored without its 250.
        self.engine = None
        self.tls = None
        self._stop_timer()

    def _unwrap(self, data: bytes) -> bytes:
        """TLS records in, plaintext out; the engine hears when the handshake is done (RFC 3207 §4.2)."""
        channel, engine, conn = self.tls, self.engine, self.conn
        assert channel is not None and engine is not None and conn is not None
        plaintext = channel.receive(data)
        if channel.failed:
            # The client refused the handshake (its alert said why), or sent what is not TLS.
            channel.trace_refusal(IMPLICIT_TLS_RFC if self.service.config.tls_active else RFC_STARTTLS)
            self.engine, self.tls = None, None
            self._stop_timer()
            self.network.close(conn, "server")
            return b""
        if channel.just_established:
            if self.service.config.tls_active:
                self._pump()  # the greeting, now that it can go out encrypted
            else:
                engine.tls_started()
                self._restart_timer(self.network.kernel)
        return plaintext

    def shutdown(self) -> None:
        """The service stops: 421 to the client, then close (RFC 5321 §3.8)."""
        if self.engine is not None and not self.engine.closed:
            self.engine.shutdown()
            self._pump()

    def _muted(self) -> bool:
        interceptors = self.service.interceptors
        return bool(interceptors) and any(i.mute(self.host) for i in interceptors)

    def _pump(self) -> None:
        engine, conn = self.engine, self.conn
        if engine is None or conn is None or self._muted():
            return  # a hung server: it says nothing, not even its own timeout
        interceptors = self.service.interceptors
        starttls = False
        for event in engine.events():
            if isinstance(event, ev.StartTLS):
                starttls = True
            self.service.handle(engine, event, self.peer)
            if interceptors and any(i.drop_after(self.host, event) for i in interceptors):
                # The connection dies before the replies leave: for DataComplete the message
                # is already stored, the client never hears the 250 (RFC 1047).
                engine.outgoing()
                self.engine, self.tls = None, None
                self._stop_timer()
                self.network.reset(conn, "server", "connection lost")
                return
        outputs = engine.outgoing()
        notes = [Note(o.data, o.reply.first_line(), o.reply.explain, o.reply.rfc) for o in outputs]
        if self.tls is not None:
            self.tls.send(notes, SERVER_BATCH)
        else:
            self.network.send(conn, "server", notes, SERVER_BATCH)
        if starttls and self.tls is None and self.service.tls is not None:
            # The 220 is out: every byte after it is a TLS record (RFC 3207 §4).
            self.tls = TLSChannel.server(self.network, conn, self.service.tls)
        if engine.closed:
            self._stop_timer()
            if self.tls is not None:
                self.tls.close()
                self.tls = None
            self.network.close(conn, "server")
            self.engine = None
        else:
            self._restart_timer(self.network.kernel)

    def _restart_timer(self, kernel: Kernel) -> None:
        # Move the deadline, not the timer: one timer per session, re-armed when it fires
        # early, instead of a cancelled timer left in the heap for every reply.
        self._deadline = kernel.now + SERVER_IDLE_TIMEOUT
        if self._idle is None or not self._idle.active:
            self._idle = kernel.schedule(SERVER_IDLE_TIMEOUT, self._timed_out, priority=TIMER)

    def _stop_timer(self) -> None:
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None

    def _timed_out(self) -> None:
        kernel = self.network.kernel
        if kernel.now < self._deadline:
            self._idle = kernel.schedule(self._deadline - kernel.now, self._timed_out, priority=TIMER)
            return
        self._idle = None
        if self.engine is not None and self.conn is not None:
            self.network.tracer.emit(
                "timeout", self.host, self.conn.client, self.conn.id, "SMTP", b"",
                f"{self.host} gives up on an idle client",
                "The client said nothing for 5 minutes; the server closes the session.", "RFC 5321 §4.5.3.2",
            )  # fmt: skip
            self.engine.shutdown()
            self._pump()


@dataclass(frozen=True)
class SessionOutcome:
    """How a client session ended: per-message results and why it stopped."""

    results: tuple[ev.MessageResult, ...]
    failure: str = ""  # "connection refused", "timeout", ... or "" when the session ran
    greeting: int = 0  # the greeting's reply code; 0 when none came


class ClientSession:
    """The client side of one SMTP connection, driving an SMTPClient engine."""

    def __init__(
        self,
        network: Network,
        engine: SMTPClient,
        host: str,
        on_done: Callable[[SessionOutcome], None],
        *,
        tls: ClientTLS | None = None,
        implicit_tls: bool = False,
    ) -> None:
        """A client session; `implicit_tls` starts TLS with the first byte (port 465, RFC 8314 §3.3)."""
        if implicit_tls and tls is None:
            raise ValueError("implicit TLS needs a TLS configuration")
        self.network = network
        self.engine = engine
        self.host = host
        self.on_done = on_done
        self.tls_config = tls
        self.implicit_tls = implicit_tls
        self.tls: TLSChannel | None = None
        self.conn: TCPConnection | None = None
        self.results: list[ev.MessageResult] = []
        self.failure = ""
        self.greeting = 0
        self._tls_failure: Reply | None = None
        self._timer: Timer | None = None
        self._deadline = 0.0
        self._done = False

    def start(self, server: str, port: int) -> None:
        self.conn = self.network.connect(self.host, server, port, self, "SMTP")
        self._restart_timer(COMMAND_TIMEOUT)  # also bounds the connect (Postfix smtp_connect_timeout is 30 s)

    def connection_made(self, conn: TCPConnection, side: str) -> None:
        self.conn = conn
        if self.implicit_tls and self.tls_config is not None:
            self.tls = TLSChannel.client(self.network, conn, self.tls_config)  # ClientHello before any SMTP
        self._restart_timer(COMMAND_TIMEOUT)

    def data_received(self, data: bytes) -> None:
        if self.tls is not None:
            data = self._unwrap(data)
            if not data:
                return
        self.engine.receive_data(data)
        self._pump()

    def eof_received(self) -> None:
        if self.tls is not None:
            plaintext = self._unwrap(b"")
            if plaintext:
                self.engine.receive_data(plaintext)
        self.engine.receive_data(b"")
        self._pump()

    def connection_lost(self, reason: str) -> None:
        if not self.failure:
            self.failure = reason
        self.tls = None
        self.engine.receive_data(b"")
        self._pump()
        self._finish()

    def _unwrap(self, data: bytes) -> bytes:
        """TLS records in, plaintext out; on the handshake's end the engine says EHLO again (RFC 3207 §4.2)."""
        channel = self.tls
        assert channel is not None
        plaintext = channel.receive(data)
        rfc = IMPLICIT_TLS_RFC if self.implicit_tls else RFC_STARTTLS
        if channel.failed:
            reason = channel.trace_failure(rfc)
            self.failure = f"TLS handshake failed: {reason}"
            self._tls_failure = tls_failed_reply(reason)
            self.tls = None
            self.engine.receive_data(b"")  # the connection is unusable: the engine gives every message up
            self._pump()
            return b""
        if channel.just_established:
            channel.trace_handshake(rfc)
            if not self.implicit_tls:
                self.engine.tls_started()  # the engine was already secure on an implicit-TLS connection
                self._pump()
        return plaintext

    def _pump(self) -> None:
        starttls = False
        for event in self.engine.events():
            if isinstance(event, ev.MessageResult):
                self.results.append(self._with_tls_failure(event))
            elif isinstance(event, ev.Greeting):
                self.greeting = event.reply.code
            elif isinstance(event, ev.TLSReady):
                starttls = True
        outputs = self.engine.outgoing()
        if self.conn is not None and outputs:
            notes = [Note(o.data, o.summary, o.explain, o.rfc) for o in outputs]
            if self.tls is not None:
                self.tls.send(notes, CLIENT_BATCH)
            else:
                self.network.send(self.conn, "client", notes, CLIENT_BATCH)
        if starttls and self.conn is not None and self.tls_config is not None and not self.engine.closed:
            self.tls = TLSChannel.client(self.network, self.conn, self.tls_config)
        if self.engine.closed:
            if self.conn is not None:
                if self.tls is not None:
                    self.tls.close()
                    self.tls = None
                self.network.close(self.conn, "client")
            self._finish()
        elif not self._done:
            waiting_for_dot = any("message" in o.summary for o in outputs)
            self._restart_timer(FINAL_DOT_TIMEOUT if waiting_for_dot else COMMAND_TIMEOUT)

    def _with_tls_failure(self, result: ev.MessageResult) -> ev.MessageResult:
        """After a failed handshake the recipients are deferred with the TLS error, not "lost connection"."""
        reply = self._tls_failure
        if reply is None:
            return result
        recipients = tuple(
            ev.RecipientResult(r.recipient, r.status, reply) if r.reply == LOST_CONNECTION else r
            for r in result.recipients
        )
        return ev.MessageResult(result.index, recipients)

    def _restart_timer(self, seconds: float) -> None:
        kernel = self.network.kernel
        self._deadline = kernel.now + seconds
        if self._timer is not None and self._timer.active and self._timer.time <= self._deadline:
            return  # it fires first and re-arms itself for the new deadline
        if self._timer is not None:
            self._timer.cancel()
        self._timer = kernel.schedule(seconds, self._timed_out, priority=TIMER)

    def _timed_out(self) -> None:
        kernel = self.network.kernel
        if self._done:
            return
        if kernel.now < self._deadline:
            self._timer = kernel.schedule(self._deadline - kernel.now, self._timed_out, priority=TIMER)
            return
        self.failure = "timeout"
        server = self.conn.server if self.conn is not None else "?"
        self.network.tracer.emit(
            "timeout", self.host, server, self.conn.id if self.conn else None, "SMTP", b"",
            f"{self.host} gives up waiting for {server}",
            "No reply within the RFC's timeout: the client aborts the connection and will retry later.",
            "RFC 5321 §4.5.3.2",
        )  # fmt: skip
        if self.conn is not None:
            self.network.reset(self.conn, "client", "timeout")
        self.engine.receive_data(b"")
        self._pump()
        self._finish()

    def _finish(self) -> None:
        if self._done:
            return
        self._done = True
        self.tls = None  # whatever TLS state is left dies with the session
        if self._timer is not None:
            self._timer.cancel()
        self.on_done(SessionOutcome(tuple(self.results), self.failure, self.greeting))
