"""The read-only facade methods the terminal app draws from: hosts(), engine_states(), seek()."""

from __future__ import annotations

from simulator import Simulation
from simulator.faults import NodeDown
from simulator.sim import EngineState, HostStatus
from simulator.views.state_diagram import state_table


def test_hosts_give_role_up_tls_and_queue_as_the_world_changes() -> None:
    sim = Simulation.from_scenario("starttls-submission", seed=1)
    hosts = {h.name: h for h in sim.hosts()}
    assert list(hosts) == [h.name for h in sim.spec.host]  # the file's order
    assert hosts["laptop.example.com"] == HostStatus(
        "laptop.example.com", "192.0.2.10", "client", True, "STARTTLS required", 0
    )
    assert hosts["smtp.example.com"].tls == "STARTTLS, outbound opportunistic"
    assert hosts["ns.example.net"].tls == ""
    sim.inject(NodeDown(node="mx.example.org"))
    sim.run(until=lambda e: e.kind == "queue")
    hosts = {h.name: h for h in sim.hosts()}
    assert not hosts["mx.example.org"].up
    assert hosts["smtp.example.com"].queued == 1


def test_engine_states_name_the_states_of_the_engines_tables() -> None:
    sim = Simulation.from_scenario("basic", seed=1)
    assert sim.engine_states() == []
    sim.seek(3)  # connect, 220, EHLO
    assert sim.engine_states() == [
        EngineState(1, "laptop.example.com", "smtp-client", "EHLO"),
        EngineState(1, "smtp.example.com", "smtp", "GREETED"),
    ]
    for state in sim.engine_states():
        assert state.state in state_table(state.table).state_names()
    sim.run()
    assert sim.engine_states() == []  # every connection closed


def test_engine_states_cover_pop3_and_imap_servers() -> None:
    tables: set[str] = set()
    for scenario in ("pop3-download-delete", "imap-two-devices"):
        sim = Simulation.from_scenario(scenario, seed=1)
        while sim.step() is not None:
            tables.update(s.table for s in sim.engine_states())
    assert tables == {"pop3", "imap", "smtp", "smtp-client"}


def test_seek_goes_back_and_forward_and_stops_at_the_end() -> None:
    sim = Simulation.from_scenario("basic", seed=1)
    whole = Simulation.from_scenario("basic", seed=1)
    whole.run()
    assert sim.seek(10) == 10
    assert sim.trace == whole.trace[:10]
    assert sim.seek(4) == 4
    assert sim.trace == whole.trace[:4]
    assert sim.seek(-3) == 0
    assert sim.seek(10_000) == len(whole.trace)
    assert sim.trace == whole.trace
