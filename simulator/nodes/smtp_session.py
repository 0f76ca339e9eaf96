"""SMTP sessions on simulated TCP: the glue between a connection and an engine.

A session moves bytes between the network and a sans-IO engine, turns the
engine's output into trace notes, and keeps the timers a real host keeps (RFC
5321 §4.5.3.2). Decisions stay with the node: the server session asks an
SMTPService, the client session reports results to its owner.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from simulator.net.kernel import TIMER, Kernel, Timer
from simulator.net.network import Network, TCPConnection
from simulator.net.record import Note
from simulator.nodes.smtp_service import SMTPService
from simulator.protocol.smtp import events as ev
from simulator.protocol.smtp.client import SMTPClient
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

    def connection_made(self, conn: TCPConnection, side: str) -> None:
        self.conn = conn
        client = self.network.hosts[conn.client]
        self.peer = (client.name, client.ip)
        open_from_peer = self.network.open_between.get((conn.client, self.host), 0)
        self.engine = self.service.connect(self.peer, open_from_peer)
        self._pump()

    def data_received(self, data: bytes) -> None:
        if self._muted():
            return  # a server that has stopped answering: the bytes are read and ignored
        if self.engine is not None:
            self.engine.receive_data(data)
            self._pump()

    def eof_received(self) -> None:
        if self.engine is not None:
            self.engine.receive_data(b"")
            self._pump()

    def connection_lost(self, reason: str) -> None:
        # Whatever was half received is simply gone: nothing is stored without its 250.
        self.engine = None
        self._stop_timer()

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
        for event in engine.events():
            self.service.handle(engine, event, self.peer)
            if interceptors and any(i.drop_after(self.host, event) for i in interceptors):
                # The connection dies before the replies leave: for DataComplete the message
                # is already stored, the client never hears the 250 (RFC 1047).
                engine.outgoing()
                self.engine = None
                self._stop_timer()
                self.network.reset(conn, "server", "connection lost")
                return
        outputs = engine.outgoing()
        notes = [Note(o.data, o.reply.first_line(), o.reply.explain, o.reply.rfc) for o in outputs]
        self.network.send(conn, "server", notes, SERVER_BATCH)
        if engine.closed:
            self._stop_timer()
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
        self, network: Network, engine: SMTPClient, host: str, on_done: Callable[[SessionOutcome], None]
    ) -> None:
        self.network = network
        self.engine = engine
        self.host = host
        self.on_done = on_done
        self.conn: TCPConnection | None = None
        self.results: list[ev.MessageResult] = []
        self.failure = ""
        self.greeting = 0
        self._timer: Timer | None = None
        self._deadline = 0.0
        self._done = False

    def start(self, server: str, port: int) -> None:
        self.conn = self.network.connect(self.host, server, port, self, "SMTP")
        self._restart_timer(COMMAND_TIMEOUT)  # also bounds the connect (Postfix smtp_connect_timeout is 30 s)

    def connection_made(self, conn: TCPConnection, side: str) -> None:
        self.conn = conn
        self._restart_timer(COMMAND_TIMEOUT)

    def data_received(self, data: bytes) -> None:
        self.engine.receive_data(data)
        self._pump()

    def eof_received(self) -> None:
        self.engine.receive_data(b"")
        self._pump()

    def connection_lost(self, reason: str) -> None:
        if not self.failure:
            self.failure = reason
        self.engine.receive_data(b"")
        self._pump()
        self._finish()

    def _pump(self) -> None:
        for event in self.engine.events():
            if isinstance(event, ev.MessageResult):
                self.results.append(event)
            elif isinstance(event, ev.Greeting):
                self.greeting = event.reply.code
        outputs = self.engine.outgoing()
        if self.conn is not None and outputs:
            notes = [Note(o.data, o.summary, o.explain, o.rfc) for o in outputs]
            self.network.send(self.conn, "client", notes, CLIENT_BATCH)
        if self.engine.closed:
            if self.conn is not None:
                self.network.close(self.conn, "client")
            self._finish()
        elif not self._done:
            waiting_for_dot = any("message" in o.summary for o in outputs)
            self._restart_timer(FINAL_DOT_TIMEOUT if waiting_for_dot else COMMAND_TIMEOUT)

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
        if self._timer is not None:
            self._timer.cancel()
        self.on_done(SessionOutcome(tuple(self.results), self.failure, self.greeting))
