"""One SMTP client engine talking to one SMTP service over an in-memory connection.

The smallest simulation there is: no network, no queue, just the two engines
passing bytes, with every write recorded as a trace event. Each write costs
one link latency of simulated time, so the transcript shows the round trips
that pipelining saves.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from simulator.nodes.smtp_service import SMTPService
from simulator.nodes.smtp_session import CLIENT_BATCH, SERVER_BATCH
from simulator.protocol.smtp import events as ev
from simulator.protocol.smtp.client import SMTPClient
from simulator.protocol.smtp.server import SMTPServer
from simulator.trace import Note, TraceEvent, write_event


@dataclass
class Dialogue:
    """Run `client` against `service` until both are done.

    Attributes:
        latency: one-way delay of the simulated link, in seconds.
    """

    client: SMTPClient
    client_name: str
    service: SMTPService
    server_name: str
    port: int = 25
    latency: float = 0.005
    conn: int = 1
    trace: list[TraceEvent] = field(default_factory=list)
    results: list[ev.MessageResult] = field(default_factory=list)
    now: float = 0.0

    def _record(self, kind: str, src: str, dst: str, note: tuple[str, str, str], data: bytes = b"") -> None:
        """Append a trace event; `note` is (summary, explanation, RFC reference)."""
        summary, explain, rfc = note
        self.trace.append(
            TraceEvent(len(self.trace), self.now, kind, src, dst, self.conn, "SMTP", data, summary, explain, rfc)
        )

    def run(self, max_rounds: int = 10_000) -> list[TraceEvent]:
        server = self.service.connect()
        opened = f"{self.client_name} connects to {self.server_name} port {self.port}"
        self._record(
            "connect", self.client_name, self.server_name,
            (opened, "A TCP connection opens; the server speaks first.", "RFC 5321 §3.1"),
        )  # fmt: skip
        for _ in range(max_rounds):
            progressed = self._server_turn(server)
            progressed = self._client_turn(server) or progressed
            if (server.closed and self.client.closed) or not progressed:
                break
        self.now += self.latency
        self._record(
            "close", self.client_name, self.server_name,
            ("the connection closes", "Both sides close the TCP connection.", "RFC 5321 §3.8"),
        )  # fmt: skip
        return self.trace

    def _server_turn(self, server: SMTPServer) -> bool:
        for event in server.events():
            self.service.handle(server, event)
            if isinstance(event, ev.DataComplete):
                who = ", ".join(r.address for r in event.envelope.recipients)
                self._record("store", self.server_name, self.server_name, _stored_note(self.server_name, who))
        outputs = server.outgoing()
        if not outputs:
            if server.closed and not self.client.closed:
                self.client.receive_data(b"")
                return True
            return False
        self.now += self.latency
        notes = [Note(o.data, o.reply.first_line(), o.reply.explain, o.reply.rfc) for o in outputs]
        ends = (self.server_name, self.client_name, self.conn, "SMTP")
        self.trace.append(write_event(len(self.trace), self.now, ends, notes, SERVER_BATCH))
        self.client.receive_data(b"".join(n.data for n in notes))
        if server.closed:
            self.client.receive_data(b"")
        return True

    def _client_turn(self, server: SMTPServer) -> bool:
        for event in self.client.events():
            if isinstance(event, ev.MessageResult):
                self.results.append(event)
        outputs = self.client.outgoing()
        if not outputs:
            return False
        self.now += self.latency
        notes = [Note(o.data, o.summary, o.explain, o.rfc) for o in outputs]
        ends = (self.client_name, self.server_name, self.conn, "SMTP")
        self.trace.append(write_event(len(self.trace), self.now, ends, notes, CLIENT_BATCH))
        server.receive_data(b"".join(n.data for n in notes))
        return True


def _stored_note(server: str, recipients: str) -> tuple[str, str, str]:
    return (
        f"{server} stores the message for {recipients}",
        "The server has the message safe before it answers 250: the responsibility is now its own.",
        "RFC 5321 §6.1",
    )
