"""The default world as a live World with nothing sent yet, read from basic.toml (its one description)."""

from __future__ import annotations

from simulator.scenarios.loader import build, load
from simulator.world import World


def default_world(seed: int, *, show_tcp: bool = False) -> World:
    """The hosts, users, DNS and links of the `basic` scenario, without its messages: what `smtpsim serve` runs."""
    spec = load("basic")
    quiet = spec.model_copy(update={"message": [], "fault": [], "expect": [], "show_tcp": show_tcp})
    return build(quiet, seed)
