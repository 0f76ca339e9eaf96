"""Built-in scenarios: small worlds a lesson can start from."""

from __future__ import annotations

from dataclasses import dataclass

from simulator.nodes.smtp_service import SMTPService
from simulator.protocol.smtp.server import ServerConfig

# The default world's people (ARCHITECTURE: alice sends, bob receives).
USERS = {"alice@example.com": "wonderland", "bob@example.org": "builder"}

FIRST_MESSAGE = (
    b"From: Alice <alice@example.com>\r\n"
    b"To: Bob <bob@example.org>\r\n"
    b"Subject: Lunch on Friday?\r\n"
    b"Date: Fri, 06 Nov 2026 09:30:00 +0000\r\n"
    b"Message-ID: <first@laptop.example.com>\r\n"
    b"\r\n"
    b"Hi Bob,\r\n"
    b"\r\n"
    b"Are you free for lunch on Friday?\r\n"
    b".. and a line that starts with a dot, to show dot-stuffing.\r\n"
    b"\r\n"
    b"Alice\r\n"
)


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str


SCENARIOS: dict[str, Scenario] = {
    "basic": Scenario(
        "basic",
        "The default world: alice's laptop submits to smtp.example.com (AUTH), which looks up the MX of "
        "example.org and relays to mx.example.org, which files the message in bob's mailbox.",
    ),
}


def mx_service() -> SMTPService:
    """mx.example.org: the MX of example.org, taking mail for bob."""
    return SMTPService(
        ServerConfig(hostname="mx.example.org", auth_mechanisms=()),
        local_domains=frozenset({"example.org"}),
        users={"bob@example.org": USERS["bob@example.org"]},
    )


def get(name: str) -> Scenario:
    """Look up a built-in scenario; KeyError names the ones that exist."""
    try:
        return SCENARIOS[name]
    except KeyError:
        raise KeyError(f"unknown scenario {name!r}; built-in: {', '.join(sorted(SCENARIOS))}") from None


def serve_services() -> tuple[SMTPService, SMTPService]:
    """The services `smtpsim serve` exposes: the MX of example.org and the submission service of example.com.

    The submission service asks for AUTH and then takes mail for any address;
    accepted mail stays in its store (and the spool, if one is given).
    """
    submission = SMTPService(
        ServerConfig(hostname="smtp.example.com", auth_requires_tls=False),
        local_domains=frozenset({"example.com"}),
        users=dict(USERS),
        submission=True,
    )
    return mx_service(), submission
