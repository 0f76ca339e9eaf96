"""A passive observer on a link: it keeps exactly the bytes that cross it, and a view a learner can read."""

from __future__ import annotations

import base64
from importlib import resources

import pytest

from simulator.net.observers import Tap
from simulator.scenarios import ScenarioError, check, load, parse
from simulator.scenarios.schema import ObserverSpec
from simulator.sim import Simulation
from simulator.views.eavesdropper import render_observed

ALICE_PLAIN = base64.b64encode(b"\0alice@example.com\0wonderland")
CAROL_PLAIN = base64.b64encode(b"\0carol@example.com\0looking-glass")


def _run(name: str = "eavesdropper") -> Simulation:
    sim = Simulation.from_scenario(name)
    sim.run()
    assert check(sim) == []
    return sim


def _tap(sim: Simulation, name: str) -> Tap:
    (tap,) = (t for t in sim.world.network.taps if t.name == name)
    return tap


@pytest.fixture(scope="module")
def eavesdropped() -> Simulation:
    return _run()


def test_without_tls_the_observer_holds_the_password_in_base64(eavesdropped: Simulation) -> None:
    wire = _tap(eavesdropped, "cafe-wifi").wire
    assert b"AUTH PLAIN " + ALICE_PLAIN + b"\r\n" in wire
    assert b"Bob, the door code is 4711." in wire  # and the message itself
    shown = render_observed(_tap(eavesdropped, "cafe-wifi"))
    assert "user alice@example.com, password wonderland" in shown


def test_after_starttls_neither_the_password_nor_the_message_is_on_the_wire(eavesdropped: Simulation) -> None:
    tap = _tap(eavesdropped, "office-lan")
    wire = tap.wire
    assert b"STARTTLS\r\n" in wire and b"220 2.0.0 Ready to start TLS\r\n" in wire  # the upgrade itself is visible
    secrets = (b"looking-glass", CAROL_PLAIN, CAROL_PLAIN[:12], b"carol@example.com\0", b"combination is 1865")
    for secret in (*secrets, b"\nAUTH "):  # not even the AUTH command: only the offer in the EHLO reply
        assert secret not in wire
    # Yet both ends did talk: the server authenticated her inside TLS, and Bob has the message.
    assert any(b"combination is 1865" in m.content for m in eavesdropped.mailbox("bob@example.org"))


def test_the_observer_sees_each_write_as_it_was_sent_in_both_directions(eavesdropped: Simulation) -> None:
    tap = _tap(eavesdropped, "cafe-wifi")
    sent = [e for e in eavesdropped.trace if e.kind == "send" and {e.src, e.dst} == set(tap.between)]
    assert [(o.src, o.dst, o.data) for o in tap.seen] == [(e.src, e.dst, e.data) for e in sent]
    assert {o.side for o in tap.seen} == {"client", "server"}
    assert tap.seen[0].data == b"220 smtp.example.com ESMTP\r\n" and tap.seen[0].side == "server"


def test_the_view_shows_only_tls_records_after_the_upgrade(eavesdropped: Simulation) -> None:
    shown = render_observed(_tap(eavesdropped, "office-lan"))
    after = shown.split("220 2.0.0 Ready to start TLS", 1)[1]
    body = [line for line in after.splitlines() if line.startswith("    ")]
    assert body and all(line.startswith("    [TLS") for line in body)
    assert "ClientHello in clear, server name smtp.example.com" in after  # SNI is not encrypted
    assert "application_data, TLS 1.2" in after  # TLS 1.3 records carry the 1.2 record version
    assert "password" not in shown


def test_an_observer_changes_nothing() -> None:
    watched = _run()
    spec = load("eavesdropper").model_copy(update={"observer": []})
    unwatched = Simulation("eavesdropper", 1, spec)
    unwatched.run()
    assert not unwatched.world.network.taps
    # TLS ciphertext differs from run to run; everything else is the same.
    assert [(e.kind, e.src, e.dst, e.summary) for e in watched.trace] == [
        (e.kind, e.src, e.dst, e.summary) for e in unwatched.trace
    ]


def test_stepping_back_takes_back_what_the_observer_saw() -> None:
    sim = Simulation.from_scenario("eavesdropper")
    while len(_tap(sim, "cafe-wifi").seen) < 4:
        sim.step()
    sim.back()
    assert len(_tap(sim, "cafe-wifi").seen) == 3


def test_dns_datagrams_on_an_observed_link_are_seen_too() -> None:
    spec = load("eavesdropper")
    watcher = ObserverSpec(name="resolver-link", between=["smtp.example.com", "ns.example.net"])
    sim = Simulation("eavesdropper", 1, spec.model_copy(update={"observer": [*spec.observer, watcher]}))
    sim.run()
    tap = _tap(sim, "resolver-link")
    assert tap.seen and all(o.conn is None and o.protocol == "DNS" for o in tap.seen)
    assert b"\x07example\x03org" in tap.seen[0].data  # the name asked about travels in clear
    assert "octets of DNS in clear text" in render_observed(tap)


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        ('between = ["laptop.example.com", "nowhere.example"]', "observer[1].between: expected names of [[host]]"),
        ('between = ["laptop.example.com"]', "observer[1].between: expected two different host names"),
    ],
)
def test_an_observer_on_a_link_that_does_not_exist_is_a_one_line_error(table: str, problem: str) -> None:
    source = (resources.files("simulator.scenarios") / "eavesdropper.toml").read_text()
    text = source.replace('between = ["laptop.example.com", "smtp.example.com"]', table, 1)
    assert text != source
    with pytest.raises(ScenarioError) as info:
        parse(text, "mine.toml")
    assert problem in str(info.value)
