"""Our sans-IO SMTP client engine over a real socket, against aiosmtpd as the peer.

aiosmtpd is an independent server implementation: if our client frames,
pipelines or reads replies wrongly, it notices. The adapter below is the whole
of the I/O: write what the engine wants sent, read, feed the engine, repeat.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from simulator.protocol.smtp import events as ev
from simulator.protocol.smtp.client import ClientConfig, OutgoingMessage, SMTPClient

pytestmark = [pytest.mark.integration, pytest.mark.timeout(10)]

HOST = "127.0.0.1"
IO_TIMEOUT = 5.0  # upper bound on one read; the exchange never waits this long when all is well

CONTENT = (
    b"From: Alice <alice@example.com>\r\n"
    b"To: Bob <bob@example.org>, Carol <carol@example.org>\r\n"
    b"Subject: Through aiosmtpd\r\n"
    b"\r\n"
    b".a line that starts with a dot\r\n"
    b".\r\n"
    b"Sm\xc3\xb6rg\xc3\xa5sbord\r\n"
)
UNKNOWN = "550 5.1.1 <{}>: Recipient address rejected: User unknown"


# --- the peer ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    mail_from: str
    mail_options: list[str]
    rcpt_tos: list[str]
    content: bytes


@dataclass
class Handler:
    """aiosmtpd hooks: refuse some recipients, record every message, optionally offer PIPELINING."""

    refuse: frozenset[str] = frozenset()
    pipelining: bool = True
    received: list[Received] = field(default_factory=list)

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname  # aiosmtpd leaves this to the hook once one is defined
        if self.pipelining:
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if address in self.refuse:
            return UNKNOWN.format(address)
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert envelope.mail_from is not None and isinstance(envelope.original_content, bytes)
        self.received.append(
            Received(
                envelope.mail_from, list(envelope.mail_options), list(envelope.rcpt_tos), envelope.original_content
            )
        )
        return f"250 2.0.0 Ok: queued as Q{len(self.received)}"


class FreePortController(Controller):
    """aiosmtpd's Controller on port 0: learn the port the OS chose before the readiness probe."""

    def _trigger_server(self) -> None:
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]


@contextlib.contextmanager
def aiosmtpd_server(handler: Handler) -> Iterator[int]:
    controller = FreePortController(handler, hostname=HOST, port=0, enable_SMTPUTF8=True, ready_timeout=5.0)
    controller.start()
    try:
        yield controller.port
    finally:
        controller.stop()


# --- the adapter: sans-IO engine <-> asyncio streams -----------------------------------------


@dataclass
class Exchange:
    writes: list[bytes] = field(default_factory=list)
    events: list[ev.Event] = field(default_factory=list)

    @property
    def results(self) -> list[ev.MessageResult]:
        return [e for e in self.events if isinstance(e, ev.MessageResult)]


async def drive(client: SMTPClient, port: int) -> Exchange:
    """Pump bytes between the engine and a TCP connection until the engine says it is closed."""
    exchange = Exchange()
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        while True:
            data = client.data_to_send()
            if data:
                exchange.writes.append(data)
                writer.write(data)
                await writer.drain()
            exchange.events.extend(client.events())
            if client.closed:
                return exchange
            client.receive_data(await asyncio.wait_for(reader.read(65536), IO_TIMEOUT))
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


def run_client(port: int, *messages: OutgoingMessage, config: ClientConfig | None = None) -> Exchange:
    client = SMTPClient(config or ClientConfig(local_hostname="laptop.example.com"))
    for message in messages:
        client.send_message(message)
    client.quit()
    return asyncio.run(drive(client, port))


def statuses(result: ev.MessageResult) -> dict[str, tuple[str, int]]:
    return {r.recipient: (r.status, r.reply.code) for r in result.recipients}


# --- tests ------------------------------------------------------------------------------------


def test_pipelined_multi_recipient_one_refused() -> None:
    handler = Handler(refuse=frozenset({"nobody@example.org"}))
    recipients = ("bob@example.org", "nobody@example.org", "carol@example.org")
    with aiosmtpd_server(handler) as port:
        session = run_client(port, OutgoingMessage("alice@example.com", recipients, CONTENT))

    # RFC 2920: the whole envelope and DATA in one write, then the content after 354.
    envelope = (
        f"MAIL FROM:<alice@example.com> SIZE={len(CONTENT)} BODY=8BITMIME\r\n"
        "RCPT TO:<bob@example.org>\r\n"
        "RCPT TO:<nobody@example.org>\r\n"
        "RCPT TO:<carol@example.org>\r\n"
        "DATA\r\n"
    ).encode()
    assert session.writes == [
        b"EHLO laptop.example.com\r\n",
        envelope,
        b"From: Alice <alice@example.com>\r\n"
        b"To: Bob <bob@example.org>, Carol <carol@example.org>\r\n"
        b"Subject: Through aiosmtpd\r\n"
        b"\r\n"
        b"..a line that starts with a dot\r\n"
        b"..\r\n"
        b"Sm\xc3\xb6rg\xc3\xa5sbord\r\n"
        b".\r\n",
        b"QUIT\r\n",
    ]
    [result] = session.results
    assert statuses(result) == {
        "bob@example.org": ("sent", 250),
        "nobody@example.org": ("failed", 550),
        "carol@example.org": ("sent", 250),
    }
    assert [r.reply.enhanced for r in result.recipients] == ["2.0.0", "5.1.1", "2.0.0"]
    assert result.sent == ("bob@example.org", "carol@example.org")
    assert not any(isinstance(e, ev.SessionFailed) for e in session.events)

    [got] = handler.received
    assert got.mail_from == "alice@example.com"
    assert got.rcpt_tos == ["bob@example.org", "carol@example.org"]
    assert got.content == CONTENT
    assert sorted(got.mail_options) == sorted([f"SIZE={len(CONTENT)}", "BODY=8BITMIME"])


def test_without_pipelining_one_command_per_write() -> None:
    handler = Handler(pipelining=False)
    # CHUNKING is asked for but aiosmtpd does not offer it: the client must fall back to DATA.
    config = ClientConfig(local_hostname="laptop.example.com", chunking=True)
    with aiosmtpd_server(handler) as port:
        session = run_client(port, OutgoingMessage("alice@example.com", ("bob@example.org",), CONTENT), config=config)

    commands = [w for w in session.writes if w.isascii()]
    assert commands == [
        b"EHLO laptop.example.com\r\n",
        f"MAIL FROM:<alice@example.com> SIZE={len(CONTENT)} BODY=8BITMIME\r\n".encode(),
        b"RCPT TO:<bob@example.org>\r\n",
        b"DATA\r\n",
        b"QUIT\r\n",
    ]
    [result] = session.results
    assert statuses(result) == {"bob@example.org": ("sent", 250)}
    assert [r.content for r in handler.received] == [CONTENT]


def test_every_recipient_refused_nothing_delivered_session_ends_cleanly() -> None:
    handler = Handler(refuse=frozenset({"nobody@example.org", "noone@example.org"}))
    with aiosmtpd_server(handler) as port:
        session = run_client(
            port,
            OutgoingMessage("alice@example.com", ("nobody@example.org", "noone@example.org"), CONTENT),
            OutgoingMessage("alice@example.com", ("bob@example.org",), b"Subject: second\r\n\r\nstill delivered\r\n"),
        )

    first, second = session.results
    assert statuses(first) == {"nobody@example.org": ("failed", 550), "noone@example.org": ("failed", 550)}
    assert statuses(second) == {"bob@example.org": ("sent", 250)}
    # The pipelined DATA got aiosmtpd's 503 (no valid recipients), so no content followed; the
    # client cleared the open transaction with RSET and the next message still went through.
    replies = [(e.command.split(" ")[0], e.reply.code) for e in session.events if isinstance(e, ev.ReplyReceived)]
    assert replies[2:7] == [("MAIL", 250), ("RCPT", 550), ("RCPT", 550), ("DATA", 503), ("RSET", 250)]
    assert session.writes[2:4] == [
        b"RSET\r\n",
        b"MAIL FROM:<alice@example.com> SIZE=36\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n",
    ]
    assert session.writes[-1] == b"QUIT\r\n"
    assert [(r.rcpt_tos, r.content) for r in handler.received] == [
        (["bob@example.org"], b"Subject: second\r\n\r\nstill delivered\r\n")
    ]
    assert not any(isinstance(e, ev.SessionFailed) for e in session.events)


def test_smtputf8_sender() -> None:
    handler = Handler()
    with aiosmtpd_server(handler) as port:
        session = run_client(port, OutgoingMessage("ålice@example.com", ("bob@example.org",), CONTENT))

    assert f"MAIL FROM:<ålice@example.com> SIZE={len(CONTENT)} BODY=8BITMIME SMTPUTF8\r\n".encode() in b"".join(
        session.writes
    )
    [result] = session.results
    assert statuses(result) == {"bob@example.org": ("sent", 250)}
    [got] = handler.received
    assert got.mail_from == "ålice@example.com"
    assert "SMTPUTF8" in got.mail_options
    assert got.content == CONTENT
