"""Built-in scenarios: small worlds a lesson can start from, each a TOML file in this package.

`smtpsim list` shows them; `loader` reads, validates and builds them (and a teacher's own files);
`schema` is the file format.
"""

from __future__ import annotations

from dataclasses import dataclass

from simulator.nodes.smtp_service import SMTPService
from simulator.protocol.smtp.server import ServerConfig
from simulator.scenarios.loader import ScenarioError, UnknownScenario, build, builtin_names, check, load, parse
from simulator.scenarios.schema import ScenarioSpec

__all__ = [
    "FIRST_MESSAGE",
    "Scenario",
    "ScenarioError",
    "ScenarioSpec",
    "UnknownScenario",
    "build",
    "builtin_names",
    "builtin_scenarios",
    "check",
    "load",
    "mx_service",
    "parse",
]

# A message for the in-memory dialogue tests: a Date, a blank line in the body, and a line
# that starts with a dot.
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
    """A built-in scenario as `smtpsim list` shows it."""

    name: str
    description: str


def builtin_scenarios() -> list[Scenario]:
    """Every built-in scenario with its description, by name."""
    return [Scenario(name, " ".join(load(name).description.split())) for name in builtin_names()]


def mx_service() -> SMTPService:
    """mx.example.org of the default world as a bare SMTP service, for in-memory dialogues."""
    spec = load("basic")
    (mx,) = (s for s in spec.mail_servers() if s.name == "mx.example.org")
    return SMTPService(
        ServerConfig(hostname=mx.name, auth_mechanisms=()),
        local_domains=frozenset(mx.domains),
        users={u.address: u.password or "" for u in spec.user if u.address.rpartition("@")[2] in mx.domains},
    )
