"""Implicit TLS on ports 465, 993 and 995 (RFC 8314 §3): TLS from the first byte, then the protocol inside it."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator import scenarios
from simulator.protocol.tls import records
from simulator.scenarios import ScenarioError, check, load, parse
from simulator.scenarios.schema import ScenarioSpec
from simulator.sim import Simulation
from simulator.trace import TraceEvent
from tests.unit.test_tls_world import changed

SCENARIO = "implicit-tls"
PASSWORDS = (b"wonderland", b"builder")


def finished(spec: ScenarioSpec | None = None) -> Simulation:
    sim = Simulation(SCENARIO, 1, spec) if spec is not None else Simulation.from_scenario(SCENARIO, 1)
    sim.run()
    return sim


def connection_to(sim: Simulation, port: int) -> list[TraceEvent]:
    """Every write on the first connection to `port`, in order."""
    connect = next(e for e in sim.trace if e.kind == "connect" and e.summary.endswith(f"port {port}"))
    return [e for e in sim.trace if e.kind == "send" and e.conn == connect.conn]


def test_the_scenario_submits_and_reads_over_implicit_tls() -> None:
    sim = finished()
    assert check(sim) == []
    ports = [e.summary.rsplit(" ", 1)[1] for e in sim.trace if e.kind == "connect" and e.protocol != "DNS"]
    assert ports == ["465", "25", "993", "995"]


@pytest.mark.parametrize(
    ("port", "greeting"), [(465, "[TLS] 220 smtp.example.com"), (993, "[TLS] * OK"), (995, "[TLS] +OK")]
)
def test_every_byte_on_an_implicit_tls_port_is_a_tls_record(port: int, greeting: str) -> None:
    writes = connection_to(finished(), port)
    assert writes[0].summary.startswith("[TLS] ClientHello")
    for event in writes:
        parsed = records(event.data)
        assert parsed and sum(5 + r.length for r in parsed) == len(event.data), event.summary
        assert event.summary.startswith("[TLS]"), event.summary
    # The handshake comes first; the server's greeting is the first thing said inside TLS.
    said = [e for e in writes if e.notes or not e.summary.startswith(("[TLS] ClientHello", "[TLS] Server"))]
    first_unit = next(e for e in said if not e.summary.startswith(("[TLS] Finished", "[TLS] NewSessionTicket")))
    assert first_unit.summary.startswith(greeting)


def test_no_password_or_command_ever_crosses_a_mail_program_connection_in_clear() -> None:
    sim = finished()
    for port in (465, 993, 995):
        for event in connection_to(sim, port):
            assert not any(p in event.data for p in PASSWORDS)
            assert b"EHLO" not in event.data and b"LOGIN" not in event.data and b"USER" not in event.data
    notes = [n.data for port in (465, 993, 995) for e in connection_to(sim, port) for n in e.notes]
    assert any(b"builder" in n for n in notes)  # the devices did log in, inside TLS


def test_the_implicit_tls_port_offers_auth_and_no_starttls() -> None:
    ehlo_reply = next(e for e in connection_to(finished(), 465) if e.summary.startswith("[TLS] 250 smtp.example.com"))
    inside = b"".join(n.data for n in ehlo_reply.notes)
    assert b"AUTH PLAIN" in inside and b"STARTTLS" not in inside


def test_a_bad_certificate_on_port_465_defers_the_message_and_nothing_leaks() -> None:
    spec = changed(load(SCENARIO), smtp_example_com={"certificate": "expired"})
    sim = Simulation(SCENARIO, 1, spec)
    sim.run(until=60)
    failure = next(e for e in sim.trace if e.kind == "tls")
    assert failure.summary == "TLS handshake with smtp.example.com failed: certificate has expired"
    assert "RFC 8314 §3" in failure.rfc
    assert any(e.kind == "defer" and e.src == "laptop.example.com" for e in sim.trace)
    assert not any(b"wonderland" in e.data or any(b"wonderland" in n.data for n in e.notes) for e in sim.trace)
    assert sim.mailbox("bob@example.org") == []


@pytest.mark.parametrize("device", ["laptop.example.org", "phone.example.org"])
def test_a_reading_device_refuses_a_certificate_for_another_host(device: str) -> None:
    sim = finished(changed(load(SCENARIO), mx_example_org={"certificate": "wrong-host"}))
    reader = sim.devices[device]
    assert reader.messages == {}
    assert reader.reports[-1].failure.startswith("TLS handshake failed: Hostname mismatch")
    assert not any(b"builder" in e.data or any(b"builder" in n.data for n in e.notes) for e in sim.trace)


def test_implicit_tls_options_are_checked() -> None:
    text = (Path(scenarios.__file__).parent / f"{SCENARIO}.toml").read_text()
    without = text.replace("implicit_tls = true             # and port 465", "implicit_tls = false  # not 465")
    assert without != text
    with pytest.raises(ScenarioError, match=r"host\[1\].implicit_tls: expected implicit_tls = true on smtp"):
        parse(without)
    base = """
description = "x"
[[host]]
name = "ns.example.net"
ip = "192.0.2.53"
role = "dns"
[[host]]
name = "mx.example.org"
ip = "192.0.2.25"
role = "mail-server"
domains = ["example.org"]
imap = true
implicit_tls = true
certificate = "untrusted"
[[user]]
address = "bob@example.org"
password = "builder"
[[host]]
name = "phone.example.org"
ip = "192.0.2.11"
role = "client"
user = "bob@example.org"
retrieval = "imap"
implicit_tls = true
"""
    assert parse(base).mail_servers()[0].certificate == "untrusted"  # an implicit-TLS server presents one too
    with pytest.raises(ScenarioError, match=r"host\[3\].starttls: expected 'never' with implicit_tls = true"):
        parse(base + 'starttls = "required"\n')
