"""The default world as a live World with nothing sent yet, read from basic.toml (its one description)."""

from __future__ import annotations

from simulator.scenarios.loader import build, load
from simulator.world import World


def default_world(seed: int, *, show_tcp: bool = False, tls: bool = False) -> World:
    """The hosts, users, DNS and links of the `basic` scenario, without its messages: what `smtpsim serve` runs.

    Args:
        tls: every mail server also offers STARTTLS and listens on the implicit-TLS ports (465,
            993, 995; RFC 8314), with certificates from the world's CA that also name `localhost`
            and `127.0.0.1`, so a real client on the loopback address can verify them.
    """
    spec = load("basic")
    hosts = spec.host
    if tls:
        hosts = [
            h.model_copy(update={"starttls": True, "implicit_tls": True}) if h.role == "mail-server" else h
            for h in spec.host
        ]
    quiet = spec.model_copy(update={"message": [], "fault": [], "expect": [], "show_tcp": show_tcp, "host": hosts})
    return build(quiet, seed)
