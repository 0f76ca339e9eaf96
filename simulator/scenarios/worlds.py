"""The built-in worlds, built in code (the default world of ARCHITECTURE and its variants)."""

from __future__ import annotations

from collections.abc import Callable

from simulator.nodes.dns_server import DNSServer
from simulator.nodes.mail_client import MailClient
from simulator.nodes.mail_server import MailServer
from simulator.world import World, new_world

USERS = {"alice@example.com": "wonderland", "bob@example.org": "builder"}

FIRST_MESSAGE = (
    b"From: Alice <alice@example.com>\r\n"
    b"To: Bob <bob@example.org>\r\n"
    b"Subject: Lunch on Friday?\r\n"
    b"Message-ID: <lunch@laptop.example.com>\r\n"
    b"\r\n"
    b"Hi Bob, are you free for lunch on Friday?\r\n"
    b".. and a line that starts with a dot, to show dot-stuffing.\r\n"
    b"Alice\r\n"
)


def default_world(seed: int, *, show_tcp: bool = False) -> World:
    """alice's laptop -> smtp.example.com (MSA + MTA) -> DNS -> mx.example.org (MX + mailboxes)."""
    world = new_world(seed, show_tcp=show_tcp)
    net, db = world.network, world.dns_db
    for name, ip in (
        ("laptop.example.com", "192.0.2.10"),
        ("smtp.example.com", "192.0.2.25"),
        ("ns.example.net", "192.0.2.53"),
        ("mx.example.org", "198.51.100.25"),
    ):
        net.add_host(name, ip)
        db.add_a(name, ip)
    db.add_mx("example.com", 10, "smtp.example.com")
    db.add_mx("example.org", 10, "mx.example.org")
    DNSServer(net, "ns.example.net", db)
    world.servers["smtp.example.com"] = MailServer(
        net, "smtp.example.com", dns_server="ns.example.net", ledger=world.ledger,
        local_domains=frozenset({"example.com"}), users={"alice@example.com": USERS["alice@example.com"]},
        mx=True, submission=True,
    )  # fmt: skip
    world.servers["mx.example.org"] = MailServer(
        net, "mx.example.org", dns_server="ns.example.net", ledger=world.ledger,
        local_domains=frozenset({"example.org"}), users={"bob@example.org": USERS["bob@example.org"]},
    )  # fmt: skip
    world.clients["alice@example.com"] = MailClient(
        net, "laptop.example.com", msa="smtp.example.com", username="alice@example.com",
        password=USERS["alice@example.com"], ledger=world.ledger,
    )  # fmt: skip
    return world


def _basic(seed: int) -> World:
    world = default_world(seed)
    world.submit("alice@example.com", ["bob@example.org"], FIRST_MESSAGE, None)
    return world


BUILDERS: dict[str, Callable[[int], World]] = {"basic": _basic}


def build_world(scenario: str, seed: int) -> World:
    """Build a built-in world; KeyError names the ones that exist."""
    try:
        builder = BUILDERS[scenario]
    except KeyError:
        raise KeyError(f"unknown scenario {scenario!r}; built-in: {', '.join(sorted(BUILDERS))}") from None
    return builder(seed)
