"""A world: the kernel, the network and the nodes of one scenario, as one copyable object.

Everything the simulation can observe or step back over lives here, and
nothing here holds a closure, so `copy.deepcopy(world)` is a faithful
checkpoint.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from simulator.mail import dns
from simulator.mail.headers import message_id_of
from simulator.mail.ledger import Ledger
from simulator.net.certificates import WorldPKI
from simulator.net.kernel import Kernel
from simulator.net.network import Network
from simulator.nodes.device import MailDevice
from simulator.nodes.mail_client import MailClient
from simulator.nodes.mail_server import MailServer
from simulator.nodes.smtp_service import Interceptor
from simulator.protocol.smtp.client import OutgoingMessage
from simulator.trace import Tracer

if TYPE_CHECKING:
    from simulator.console import ConsoleEndpoint


@dataclass
class World:
    kernel: Kernel
    tracer: Tracer
    rng: random.Random
    network: Network
    dns_db: dns.DNSDatabase
    ledger: Ledger
    servers: dict[str, MailServer] = field(default_factory=dict)
    clients: dict[str, MailClient] = field(default_factory=dict)  # by the address that uses them
    devices: dict[str, MailDevice] = field(default_factory=dict)  # devices that read mail, by host name
    faults: list[Interceptor] = field(default_factory=list)  # simulator.faults.Fault instances
    submitted: int = 0
    pki: WorldPKI | None = None  # the world's CA and host certificates, when some host runs TLS
    consoles: dict[int, ConsoleEndpoint] = field(default_factory=dict)  # connections typed by hand, by number

    def submit(self, sender: str, recipients: list[str], content: bytes, at: float | None) -> str:
        """The sender's mail client submits a message (now, or at simulated time `at`)."""
        client = self.clients.get(sender.lower())
        if client is None:
            raise KeyError(f"{sender!r} has no mail client in this world; senders: {', '.join(self.clients)}")
        self.submitted += 1
        content = _with_message_id(content, f"<m{self.submitted}@{client.name}>")
        message_id = message_id_of(content)
        self.ledger.submitted(message_id, sender, recipients)
        message = OutgoingMessage(sender, tuple(recipients), content)
        delay = 0.0 if at is None else max(at - self.kernel.now, 0.0)
        self.kernel.schedule(delay, client.submit, message_id, message)
        return message_id

    def check_mail(self, device: str, at: float | None) -> None:
        """The device checks its mailbox (now, or at simulated time `at`)."""
        found = self.devices.get(device)
        if found is None:
            raise KeyError(f"no device named {device!r} reads mail in this world; devices: {', '.join(self.devices)}")
        self.kernel.schedule(0.0 if at is None else max(at - self.kernel.now, 0.0), found.check_mail)


def _with_message_id(content: bytes, fallback: str) -> bytes:
    """Give the message a Message-ID if it has none, so it can be followed hop by hop."""
    if message_id_of(content):
        return content
    if not content.endswith(b"\r\n"):
        content += b"\r\n"
    if b"\r\n\r\n" not in content and not content.startswith(b"\r\n"):
        content = content + b"\r\n"
    return f"Message-ID: {fallback}\r\n".encode() + content


def new_world(seed: int, *, show_tcp: bool = False) -> World:
    kernel = Kernel()
    tracer = Tracer(kernel)
    rng = random.Random(seed)
    network = Network(kernel, tracer, rng, show_tcp=show_tcp)
    return World(kernel, tracer, rng, network, dns.DNSDatabase(), Ledger())
