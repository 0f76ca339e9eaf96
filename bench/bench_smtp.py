"""How fast the SMTP engines move mail, against real SMTP software in the same run.

Prints messages per second for:
  * our client engine and server engine in memory (no sockets: the engine cost),
  * Python's smtplib sending to aiosmtpd over loopback (a peer: two real
    implementations plus the kernel),
and the ratio of the two. The machine is noisy, so only the ratio means much.
"""

from __future__ import annotations

import smtplib
import socket
import time

from aiosmtpd.controller import Controller

from simulator.dialogue import Dialogue
from simulator.nodes.smtp_service import SMTPService
from simulator.protocol.smtp.client import ClientConfig, OutgoingMessage, SMTPClient
from simulator.protocol.smtp.server import ServerConfig

MESSAGES = 300
BODY = b"Subject: bench\r\n\r\n" + b"A line of text that is about as long as a line of mail.\r\n" * 40


def ours() -> float:
    service = SMTPService(
        ServerConfig(hostname="mx.example.org"),
        local_domains=frozenset({"example.org"}),
        users={"bob@example.org": "x"},
    )
    client = SMTPClient(ClientConfig(local_hostname="bench.example.com"))
    for _ in range(MESSAGES):
        client.send_message(OutgoingMessage("alice@example.com", ("bob@example.org",), BODY))
    client.quit()
    start = time.perf_counter()
    dialogue = Dialogue(client, "bench", service, "mx")
    dialogue.run()
    elapsed = time.perf_counter() - start
    assert len(service.stored) == MESSAGES, len(service.stored)
    return MESSAGES / elapsed


class _Sink:
    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        self.count += 1
        return "250 2.0.0 Ok"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def peer() -> float:
    sink = _Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        start = time.perf_counter()
        with smtplib.SMTP(controller.hostname, controller.port) as smtp:
            for _ in range(MESSAGES):
                smtp.sendmail("alice@example.com", ["bob@example.org"], BODY)
        elapsed = time.perf_counter() - start
    finally:
        controller.stop()
    assert sink.count == MESSAGES, sink.count
    return MESSAGES / elapsed


def main() -> None:
    ours_rate = max(ours() for _ in range(3))
    peer_rate = max(peer() for _ in range(3))
    print(f"smtpsim engines, in memory:     {ours_rate:8.0f} messages/s")
    print(f"smtplib -> aiosmtpd, loopback:  {peer_rate:8.0f} messages/s")
    print(f"ratio (ours / peer):            {ours_rate / peer_rate:8.2f}")


if __name__ == "__main__":
    main()
