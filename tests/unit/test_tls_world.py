"""STARTTLS in the simulated world: real TLS records on the wire, the plaintext in the notes, certificate faults."""

from __future__ import annotations

import base64
import pickle
from typing import Literal

import pytest

from simulator import sim as sim_module
from simulator.net.network import TCPConnection
from simulator.net.record import Note
from simulator.nodes.tls_channel import ClientTLS, TLSChannel
from simulator.protocol.tls import records
from simulator.scenarios import ScenarioError, check, load, parse
from simulator.scenarios.schema import ScenarioSpec
from simulator.sim import Simulation
from simulator.trace import TraceEvent
from tests.unit.test_sim import masked, observable

SCENARIO = "starttls-submission"
# What AUTH PLAIN carries for alice (RFC 4616 §2): NUL, user, NUL, password, in base64.
AUTH_PLAIN = base64.b64encode(b"\0alice@example.com\0wonderland")


def finished(spec: ScenarioSpec | str = SCENARIO, until: float | None = None) -> Simulation:
    sim = Simulation(SCENARIO, 1, spec) if isinstance(spec, ScenarioSpec) else Simulation.from_scenario(spec, 1)
    sim.run(until=until)
    return sim


def changed(spec: ScenarioSpec, **hosts: dict[str, object]) -> ScenarioSpec:
    """The scenario with some hosts' fields changed, by host name (dots written as underscores)."""
    updates = {name.replace("_", "."): update for name, update in hosts.items()}
    return spec.model_copy(
        update={"host": [h.model_copy(update=updates[h.name]) if h.name in updates else h for h in spec.host]}
    )


def with_mx(
    certificate: Literal["ok", "expired", "wrong-host", "untrusted"],
    outbound: Literal["never", "opportunistic", "required"],
) -> ScenarioSpec:
    """The scenario with another certificate on mx.example.org and another relay policy on smtp.example.com."""
    return changed(
        load(SCENARIO),
        mx_example_org={"certificate": certificate},
        smtp_example_com={"starttls_outbound": outbound},
    )


def tls_events(sim: Simulation) -> list[TraceEvent]:
    return [e for e in sim.trace if e.kind == "tls"]


def test_the_scenario_delivers_over_tls_on_both_hops() -> None:
    sim = finished()
    assert check(sim) == []
    (message,) = sim.mailbox("bob@example.org")
    assert b"with ESMTPSA" in message.content  # RFC 3848: submitted over TLS, authenticated
    handshakes = tls_events(sim)
    assert [(e.src, e.dst) for e in handshakes] == [
        ("laptop.example.com", "smtp.example.com"),
        ("smtp.example.com", "mx.example.org"),
    ]
    pickle.dumps(sim.world)  # every TLS connection is over: nothing live is left to stop a checkpoint


def test_a_world_with_a_live_tls_connection_is_not_checkpointed() -> None:
    sim = Simulation.from_scenario(SCENARIO, 1)
    sim.run(until=lambda e: e.kind == "tls")
    with pytest.raises(sim_module.LiveTLSError):
        pickle.dumps(sim.world)
    count = len(sim._checkpoints)
    sim._checkpoint()
    assert len(sim._checkpoints) == count and sim._no_checkpoint_before > len(sim.trace)


def test_the_password_is_on_the_wire_only_as_ciphertext_but_in_the_notes() -> None:
    sim = finished()
    assert not any(AUTH_PLAIN in e.data or b"wonderland" in e.data for e in sim.trace)
    carrying = [e for e in sim.trace if any(AUTH_PLAIN in n.data for n in e.notes)]
    assert len(carrying) == 1
    (auth,) = carrying
    assert auth.kind == "send" and auth.summary.startswith("[TLS] AUTH PLAIN")
    assert [r.type_name for r in records(auth.data)] == ["application_data"]
    assert len(auth.data) > len(auth.notes[0].data)  # record header and AEAD tag around the plaintext


def test_without_tls_the_same_password_crosses_the_wire_in_clear() -> None:
    sim = finished("basic")
    assert any(AUTH_PLAIN in e.data for e in sim.trace)


def test_every_write_after_the_servers_220_is_tls_records() -> None:
    sim = finished()
    first_conn = sim.trace[0].conn
    writes = [e for e in sim.trace if e.kind == "send" and e.conn == first_conn]
    ready = next(i for i, e in enumerate(writes) if e.summary.startswith("220 2.0.0"))
    for event in writes[ready + 1 :]:
        assert event.summary.startswith("[TLS]"), event.summary
        parsed = records(event.data)
        assert parsed and all(r.complete for r in parsed)
        assert sum(5 + r.length for r in parsed) == len(event.data)
    hello = writes[ready + 1]
    assert hello.summary == "[TLS] ClientHello (server name smtp.example.com)"
    assert [r.type_name for r in records(hello.data)] == ["handshake"]


def test_auth_is_offered_only_after_starttls() -> None:
    sim = finished()
    ehlo_replies = [e for e in sim.trace if e.src == "smtp.example.com" and e.summary.endswith("250 smtp.example.com")]
    assert [e.summary for e in ehlo_replies] == ["250 smtp.example.com", "[TLS] 250 smtp.example.com"]
    before, after = ehlo_replies[0], ehlo_replies[-1]
    assert b"STARTTLS" in before.data and b"AUTH" not in before.data
    assert any(b"AUTH PLAIN" in n.data for n in after.notes) and not any(b"STARTTLS" in n.data for n in after.notes)


def test_the_handshake_event_names_version_cipher_and_certificate() -> None:
    first, second = tls_events(finished())
    assert first.protocol == "TLS" and first.conn is not None
    assert first.summary.startswith("TLS 1.3 handshake with smtp.example.com: TLS_")
    assert "certificate O=smtpsim world, CN=smtp.example.com issued by O=smtpsim world, CN=smtpsim world CA" in (
        first.summary
    )
    assert "RFC 3207" in first.rfc and "RFC 8446" in first.rfc
    # The relay encrypts without checking (opportunistic, RFC 7435), and says so.
    assert second.summary.endswith("certificate not verified")


@pytest.mark.parametrize(
    ("certificate", "reason"),
    [
        ("expired", "certificate has expired"),
        ("wrong-host", "Hostname mismatch, certificate is not valid for 'mx.example.org'"),
        ("untrusted", "unable to get local issuer certificate"),
    ],
)
def test_a_bad_certificate_makes_a_checking_relay_defer_with_the_ssl_error(certificate: str, reason: str) -> None:
    spec = with_mx(certificate, "required")  # type: ignore[arg-type]
    sim = finished(spec, until=60)
    (outcome,) = sim.outcome()
    assert outcome.status == "queued" and outcome.where == "smtp.example.com"
    assert outcome.detail == f"451 4.7.5 TLS handshake failed: {reason}"
    failed = tls_events(sim)[-1]
    assert failed.summary == f"TLS handshake with mx.example.org failed: {reason}"
    alert = sim.trace[failed.seq - 1]  # the refusal on the wire: a clear-text alert record (RFC 8446 §6.2)
    assert alert.src == "smtp.example.com" and alert.summary.startswith("[TLS] alert (fatal ")
    assert [r.type_name for r in records(alert.data)] == ["alert"]
    after = [e for e in sim.trace if e.seq > failed.seq and e.conn == failed.conn and e.kind == "send"]
    assert all(e.summary.startswith("[TLS]") for e in after)  # nothing is said in clear on that connection
    assert any(e.kind == "defer" and e.src == "smtp.example.com" for e in sim.trace)
    assert sim.queue("smtp.example.com")[0].recipients[0].last_reply is not None
    assert sim.mailbox("bob@example.org") == []


def test_an_opportunistic_relay_delivers_despite_an_expired_certificate() -> None:
    sim = finished(with_mx("expired", "opportunistic"))
    assert [o.status for o in sim.outcome()] == ["delivered"]
    assert tls_events(sim)[-1].summary.endswith("certificate not verified")


def test_a_client_that_requires_tls_checks_the_msa_certificate() -> None:
    sim = finished(changed(load(SCENARIO), smtp_example_com={"certificate": "wrong-host"}), until=60)
    assert tls_events(sim)[0].summary.startswith("TLS handshake with smtp.example.com failed: Hostname mismatch")
    assert not any(AUTH_PLAIN in e.data or any(AUTH_PLAIN in n.data for n in e.notes) for e in sim.trace)
    assert any(e.kind == "defer" and e.src == "laptop.example.com" for e in sim.trace)


class _PipeliningIntruder:
    """A client that pipelines a command after STARTTLS / STLS in clear text, then does the handshake.

    Args:
        steps: (what the server's write starts with, what to answer) in order; the answer
            None means: start TLS now.
        after: what to send once TLS is up.
    """

    def __init__(self, sim: Simulation, steps: list[tuple[bytes, bytes | None]], after: bytes) -> None:
        self.sim, self.steps, self.after = sim, list(steps), after
        self.conn: TCPConnection | None = None
        self.tls: TLSChannel | None = None
        self.clear = b""
        self.secure = b""

    def connection_made(self, conn: TCPConnection, side: str) -> None:
        self.conn = conn

    def data_received(self, data: bytes) -> None:
        net, conn = self.sim.world.network, self.conn
        assert conn is not None
        if self.tls is not None:
            self.secure += self.tls.receive(data)
            if self.tls.just_established:
                self.tls.send([Note(self.after, "after TLS", "", "")], ("", ""))
            return
        self.clear += data
        if self.steps and data.startswith(self.steps[0][0]):
            _, answer = self.steps.pop(0)
            if answer is not None:
                net.send(conn, "client", [Note(answer, "intruder", "", "")], ("", ""))
            else:
                pki = self.sim.world.pki
                assert pki is not None
                self.tls = TLSChannel.client(net, conn, ClientTLS(pki, verify=True))

    def eof_received(self) -> None:
        pass

    def connection_lost(self, reason: str) -> None:
        pass


PIPELINED = {
    "SMTP": (
        25,
        [
            (b"220 mx", b"EHLO intruder.example.net\r\n"),
            (b"250-mx", b"STARTTLS\r\nMAIL FROM:<mallory@example.net>\r\n"),
            (b"220 2.0.0", None),
        ],
        b"EHLO intruder.example.net\r\n",
        b"250-mx.example.org\r\n",
        (b"2.1.0", b"503"),  # what an answer to the pipelined MAIL FROM would contain
    ),
    "POP3": (110, [(b"+OK mx", b"STLS\r\nNOOP\r\n"), (b"+OK Begin", None)], b"CAPA\r\n", b"+OK", (b"-ERR",)),
    "IMAP": (
        143,
        [(b"* OK", b"a1 STARTTLS\r\na2 NOOP\r\n"), (b"a1 OK", None)],
        b"a3 CAPABILITY\r\n",
        b"* CAPABILITY",
        (b"a2 ",),
    ),
}


@pytest.mark.parametrize("protocol", sorted(PIPELINED))
def test_plaintext_pipelined_after_starttls_is_discarded(protocol: str) -> None:
    port, steps, after, answer, never = PIPELINED[protocol]
    sim = Simulation.from_scenario(SCENARIO, 1)
    intruder = _PipeliningIntruder(sim, steps, after)
    sim.world.network.connect("laptop.example.com", "mx.example.org", port, intruder, protocol)
    sim.run(until=30)
    assert intruder.tls is not None and intruder.tls.established
    assert intruder.secure.startswith(answer)  # the answer to what was sent over TLS comes first
    for marker in never:  # the command pipelined in clear was answered neither in clear nor over TLS
        assert marker not in intruder.clear and marker not in intruder.secure


@pytest.mark.parametrize(
    ("profile", "password"), [("imap", b"LOGIN bob@example.org builder"), ("pop3-leave-on-server", b"PASS builder")]
)
def test_devices_read_mail_over_stls_and_starttls(profile: str, password: bytes) -> None:
    spec = changed(
        load(SCENARIO), laptop_example_org={"starttls": "required", "check_at": [10.0], "retrieval": profile}
    )
    sim = finished(spec)
    device = sim.devices["laptop.example.org"]
    assert [m.subject for m in device.messages.values()] == ["Over TLS"]
    handshake = tls_events(sim)[-1]
    assert handshake.src == "laptop.example.org" and handshake.summary.startswith("TLS 1.3 handshake with mx.example")
    assert not any(password in e.data for e in sim.trace)
    assert any(password in n.data for e in sim.trace for n in e.notes)


@pytest.mark.parametrize("profile", ["imap", "pop3-download-delete"])
def test_a_device_refuses_a_certificate_for_another_host(profile: str) -> None:
    spec = changed(
        load(SCENARIO),
        laptop_example_org={"starttls": "required", "check_at": [10.0], "retrieval": profile},
        mx_example_org={"certificate": "wrong-host"},
        smtp_example_com={"starttls_outbound": "opportunistic"},
    )
    sim = finished(spec)
    device = sim.devices["laptop.example.org"]
    assert device.messages == {}
    assert device.reports[-1].failure.startswith("TLS handshake failed: Hostname mismatch")
    assert len(sim.mailbox("bob@example.org")) == 1  # nothing was fetched, let alone deleted
    assert not any(b"builder" in e.data or any(b"builder" in n.data for n in e.notes) for e in sim.trace)


def test_back_steps_over_a_tls_session(monkeypatch: pytest.MonkeyPatch) -> None:
    # Checkpoint as often as allowed, so that some fall while a TLS connection is live.
    monkeypatch.setattr(sim_module, "COST_RATIO", 0.0)
    monkeypatch.setattr(sim_module, "MIN_STEPS", 1)
    monkeypatch.setattr(sim_module, "TLS_RETRY_STEPS", 1)
    monkeypatch.setattr(sim_module, "MAX_CHECKPOINTS", 10_000)
    reference = finished()
    sim = Simulation.from_scenario(SCENARIO, 1)
    before = [observable(sim)]
    while sim.step() is not None:
        before.append(observable(sim))
    assert len(before) == len(reference.trace) + 1
    assert sim._no_checkpoint_before > 0  # some checkpoints were skipped: a TLS connection was live
    assert len(sim._checkpoints) > 3
    for k in range(len(reference.trace), 0, -1):
        sim.back()
        assert observable(sim) == before[k - 1], k
        again = sim.step()
        assert masked(again) == masked(reference.trace[k - 1])
        assert observable(sim) == before[k]
        sim.back()
    assert sim.back() is None and sim.trace == []


def test_tls_options_are_checked() -> None:
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
"""
    with pytest.raises(ScenarioError, match=r"host\[2\].submission_requires_tls: expected starttls = true"):
        parse(base + "submission_requires_tls = true\n")
    with pytest.raises(ScenarioError, match=r"host\[2\].certificate: expected starttls or implicit_tls = true"):
        parse(base + 'certificate = "expired"\n')
    with pytest.raises(ScenarioError, match=r"host\[2\].certificate: expected 'ok', 'expired'"):
        parse(base + 'starttls = true\ncertificate = "revoked"\n')
