"""SMTP sessions on simulated TCP: the glue between a connection and an engine.

Both sides are `StreamSession`s, as the POP3 and IMAP sessions are: the base moves
bytes, writes, runs TLS and keeps the one timer a real host keeps (RFC 5321
§4.5.3.2); these classes say what the SMTP engines' events and output mean.
Decisions stay with the node: the server session asks an SMTPService, the client
session reports results to its owner.

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

from simulator.net.network import Network
from simulator.net.record import Note
from simulator.nodes.smtp_service import SMTPService
from simulator.nodes.stream import StreamSession
from simulator.nodes.tls_channel import ClientTLS
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


class ServerSession(StreamSession):
    """The server side of one SMTP connection."""

    protocol = "SMTP"
    batch = SERVER_BATCH
    timeout = SERVER_IDLE_TIMEOUT
    timeout_summary = "{host} gives up on an idle client"
    timeout_note = ("The client said nothing for 5 minutes; the server closes the session.", "RFC 5321 §4.5.3.2")
    starttls_rfc = RFC_STARTTLS

    def __init__(self, network: Network, service: SMTPService, host: str) -> None:
        # Port 465 (a service whose connections are TLS already): the handshake comes first.
        implicit = service.config.tls_active and service.tls is not None
        super().__init__(network, host, "server", tls=service.tls, implicit_tls=implicit)
        self.service = service
        self.engine: SMTPServer | None = None
        self.peer = ("", "")

    def _started(self) -> None:
        assert self.conn is not None
        client = self.network.hosts[self.conn.client]
        self.peer = (client.name, client.ip)
        open_from_peer = self.network.open_between.get((self.conn.client, self.host), 0)
        self.engine = self.service.connect(self.peer, open_from_peer)

    def _silent(self) -> bool:
        """A server that has stopped answering: the bytes are read and ignored, nothing is said."""
        interceptors = self.service.interceptors
        return bool(interceptors) and any(i.mute(self.host) for i in interceptors)

    def _feed(self, data: bytes) -> None:
        if self.engine is not None and not self._silent():
            self.engine.receive_data(data)

    def _react(self) -> None:
        engine, conn = self.engine, self.conn
        if engine is None or conn is None:
            return
        interceptors = self.service.interceptors
        for event in engine.events():
            if isinstance(event, ev.StartTLS):
                self._wants_tls = True  # after the 220 goes out, every byte is a TLS record (RFC 3207 §4)
            self.service.handle(engine, event, self.peer)
            if interceptors and any(i.drop_after(self.host, event) for i in interceptors):
                # The connection dies before the replies leave: for DataComplete the message
                # is already stored, the client never hears the 250 (RFC 1047).
                engine.outgoing()
                self.network.reset(conn, "server", "connection lost")
                self._finish("connection lost")
                return

    def _notes(self) -> list[Note]:
        if self.engine is None:
            return []
        return [Note(o.data, o.reply.first_line(), o.reply.explain, o.reply.rfc) for o in self.engine.outgoing()]

    def _engine_closed(self) -> bool:
        return self.engine is None or self.engine.closed

    def _tls_started(self) -> None:
        if self.engine is not None:
            self.engine.tls_started()  # both sides forget what was said before TLS (RFC 3207 §4.2)

    def _autologout(self) -> bool:
        if self.engine is None or self.engine.closed:
            return False
        self.engine.shutdown()  # 421, then close
        return True

    def _finished(self, reason: str) -> None:
        # Whatever was half received is simply gone: nothing is stored without its 250.
        self.engine = None

    def shutdown(self) -> None:
        """The service stops: 421 to the client, then close (RFC 5321 §3.8)."""
        if self.engine is not None and not self.engine.closed:
            self.engine.shutdown()
            self._pump()


@dataclass(frozen=True)
class SessionOutcome:
    """How a client session ended: per-message results and why it stopped."""

    results: tuple[ev.MessageResult, ...]
    failure: str = ""  # "connection refused", "timeout", ... or "" when the session ran
    greeting: int = 0  # the greeting's reply code; 0 when none came


class ClientSession(StreamSession):
    """The client side of one SMTP connection, driving an SMTPClient engine."""

    protocol = "SMTP"
    batch = CLIENT_BATCH
    timeout = COMMAND_TIMEOUT
    timeout_summary = "{host} gives up waiting for {peer}"
    timeout_note = (
        "No reply within the RFC's timeout: the client aborts the connection and will retry later.",
        "RFC 5321 §4.5.3.2",
    )
    starttls_rfc = RFC_STARTTLS

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
        super().__init__(network, host, "client", tls=tls, implicit_tls=implicit_tls)
        self.engine = engine
        self.on_done = on_done
        self.results: list[ev.MessageResult] = []
        self.failure = ""
        self.greeting = 0
        self._tls_failure: Reply | None = None
        self._waiting_for_dot = False

    def start(self, server: str, port: int) -> None:
        self.conn = self.network.connect(self.host, server, port, self, "SMTP")
        self.arm()  # also bounds the connect (Postfix smtp_connect_timeout is 30 s)

    def _feed(self, data: bytes) -> None:
        self.engine.receive_data(data)

    def _react(self) -> None:
        for event in self.engine.events():
            if isinstance(event, ev.MessageResult):
                self.results.append(event)
            elif isinstance(event, ev.Greeting):
                self.greeting = event.reply.code
            elif isinstance(event, ev.TLSReady):
                self._wants_tls = True

    def _notes(self) -> list[Note]:
        outputs = self.engine.outgoing()
        self._waiting_for_dot = any("message" in o.summary for o in outputs)
        return [Note(o.data, o.summary, o.explain, o.rfc) for o in outputs]

    def _engine_closed(self) -> bool:
        return self.engine.closed

    def _timeout(self) -> float:
        # RFC 5321 §4.5.3.2: the reply to the final dot may take longer than any other.
        return FINAL_DOT_TIMEOUT if self._waiting_for_dot else COMMAND_TIMEOUT

    def _tls_started(self) -> None:
        self.engine.tls_started()  # forget the old capabilities, EHLO again (RFC 3207 §4.2)

    def _tls_failed(self, reason: str) -> None:
        self.failure = f"TLS handshake failed: {reason}"
        self._tls_failure = tls_failed_reply(reason)

    def _finished(self, reason: str) -> None:
        if not self.failure:
            self.failure = reason
        results = tuple(self._with_tls_failure(r) for r in self.results)
        self.on_done(SessionOutcome(results, self.failure, self.greeting))

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
