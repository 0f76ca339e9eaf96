"""The attack demonstrations: each succeeds with `vulnerable` switched on and fails with the default.

STARTTLS stripping (a man in the middle), SMTP smuggling (two servers that disagree on
where DATA ends) and STARTTLS command injection (CVE-2011-0411) on SMTP, POP3 and IMAP:
in a whole world through the built-in scenarios, and engine by engine.
"""

from __future__ import annotations

from typing import Any

import pytest

from simulator import faults
from simulator.mail.headers import crlf_line_ends
from simulator.protocol.imap.server import Credentials, StartTLS
from simulator.protocol.imap.server import ServerConfig as IMAPConfig
from simulator.protocol.pop3 import events as pop3_ev
from simulator.protocol.pop3.server import ServerConfig as POP3Config
from simulator.protocol.smtp import events as ev
from simulator.protocol.smtp.server import ServerConfig
from simulator.scenarios import ScenarioSpec, check, load, parse
from simulator.sim import Simulation
from tests.unit import test_imap_server, test_pop3_server, test_smtp_server

BARE_LF_REFUSED = "550 5.5.2 Error: bare <LF> received"


@pytest.fixture(params=["whole", "bytewise"])
def bytewise(request: pytest.FixtureRequest) -> bool:
    return bool(request.param == "bytewise")


def _with(spec: ScenarioSpec, host: str, **changes: Any) -> ScenarioSpec:
    hosts = [h.model_copy(update=changes) if h.name == host else h for h in spec.host]
    return spec.model_copy(update={"host": hosts})


def _run(name: str, spec: ScenarioSpec | None = None, until: float | None = None) -> Simulation:
    sim = Simulation(name, 1, spec) if spec is not None else Simulation.from_scenario(name, 1)
    sim.run(until)
    return sim


def _subjects(sim: Simulation, address: str) -> list[bytes]:
    out = []
    for message in sim.mailbox(address):
        (subject,) = [line for line in message.content.split(b"\r\n") if line.startswith(b"Subject: ")]
        out.append(subject.removeprefix(b"Subject: "))
    return out


def _outcome(sim: Simulation, message: int = 0) -> tuple[str, str, str]:
    first = sim.outcome()[message]
    return first.status, first.where, first.detail


# --- STARTTLS stripping ---------------------------------------------------------------------------------


def test_stripping_downgrades_an_opportunistic_relay_to_clear_text() -> None:
    sim = _run("starttls-stripping")
    assert check(sim) == []
    wire = sim.world.network.taps[0].wire
    assert b"250-XXXXXXXX\r\n" in wire and b"STARTTLS" not in wire  # same length, offer gone
    assert b"Please keep them to yourself." in wire  # the observer reads the message
    # mx.example.org did offer it: the server's own write, in the trace, still says so.
    assert any(e.src == "mx.example.org" and b"250-STARTTLS\r\n" in e.data for e in sim.trace)
    assert any(e.kind == "fault" and "overwrites STARTTLS" in e.summary for e in sim.trace)


def test_a_relay_that_requires_tls_defers_instead_of_sending_in_clear() -> None:
    spec = _with(load("starttls-stripping"), "smtp.example.com", starttls_outbound="required")
    sim = _run("starttls-stripping", spec, until=3600)  # the attacker never leaves: after 5 days it bounces
    status, where, detail = _outcome(sim)
    assert (status, where) == ("queued", "smtp.example.com")
    assert detail.startswith("451 4.7.4 TLS is required, but was not offered")
    assert sim.mailbox("bob@example.org") == []
    wire = sim.world.network.taps[0].wire
    assert b"MAIL FROM" not in wire and b"keep them to yourself" not in wire


def test_without_the_man_in_the_middle_the_relay_encrypts() -> None:
    spec = load("starttls-stripping").model_copy(update={"fault": []})
    sim = _run("starttls-stripping", spec)
    assert check(sim) == []
    assert b"keep them to yourself" not in sim.world.network.taps[0].wire


# --- SMTP smuggling -----------------------------------------------------------------------------------


def test_smuggling_delivers_a_second_message_with_a_forged_from() -> None:
    sim = _run("smtp-smuggling")
    assert check(sim) == []
    assert _subjects(sim, "bob@example.org") == [b"Hello", b"Urgent: wire the money today"]
    smuggled = sim.mailbox("bob@example.org")[1].content
    assert b"From: The CEO <ceo@example.com>\r\n" in smuggled
    assert b"Return-Path: <ceo@example.com>\r\n" in smuggled  # the smuggled MAIL FROM
    assert b"Received: from smtp.example.com (smtp.example.com [192.0.2.25])" in smuggled  # example.com's relay
    # What crossed the wire between the two servers: the bare LF, passed on as it came.
    relayed = b"".join(e.data for e in sim.trace if e.src == "smtp.example.com" and e.dst == "mx.example.org")
    assert b"Just saying hello.\n.\r\nMAIL FROM:<ceo@example.com>\r\n" in relayed


def test_a_submission_server_with_the_default_refuses_the_bare_lf() -> None:
    spec = _with(load("smtp-smuggling"), "smtp.example.com", vulnerable=[])
    sim = _run("smtp-smuggling", spec)
    status, where, detail = _outcome(sim)
    assert (status, where, detail) == ("rejected", "laptop.example.com", BARE_LF_REFUSED)
    assert sim.mailbox("bob@example.org") == []


def test_a_receiving_server_with_the_default_refuses_what_a_sloppy_relay_passes_on() -> None:
    spec = _with(load("smtp-smuggling"), "mx.example.org", vulnerable=[])
    sim = _run("smtp-smuggling", spec)
    status, where, detail = _outcome(sim)
    assert (status, where, detail) == ("bounced", "smtp.example.com", BARE_LF_REFUSED)
    assert sim.mailbox("bob@example.org") == []
    assert any(e.src == "mx.example.org" and e.data == (BARE_LF_REFUSED + "\r\n").encode() for e in sim.trace)


def test_the_relay_never_emits_a_bare_lf_unless_it_is_switched_to() -> None:
    assert crlf_line_ends(b"a\nb\r\nc\rd\r\n") == b"a\r\nb\r\nc\r\nd\r\n"
    assert crlf_line_ends(b"already\r\nfine\r\n") == b"already\r\nfine\r\n"
    assert crlf_line_ends(b"hello.\n.\r\nMAIL FROM:<x@y>\r\n") == b"hello.\r\n.\r\nMAIL FROM:<x@y>\r\n"


@pytest.mark.parametrize(
    ("mode", "wire", "content"),
    [
        # Postfix before 3.9: a bare LF ends a line, so <LF>.<CR><LF> ends DATA and a command follows.
        ("line-end", b"hello\n.\r\nRSET\r\n", b"hello\r\n"),
        ("line-end", b"hello\n.\nRSET\r\n", b"hello\r\n"),
        # Exchange Online before its fix: the bare LF is kept, only CRLF.CRLF ends, no dot is unstuffed.
        ("keep", b"hello\n.\r\nRSET\r\n.\r\n", b"hello\n.\r\nRSET\r\n"),
        ("keep", b"a\rb\r\n..x\r\n.\r\n", b"a\rb\r\n.x\r\n"),
    ],
)
def test_the_two_sloppy_readings_of_a_bare_lf(mode: str, wire: bytes, content: bytes, bytewise: bool) -> None:
    config = ServerConfig(bare_newline=mode)  # type: ignore[arg-type]
    node = test_smtp_server.session(bytewise, config, test_smtp_server.TRANSACTION + b"DATA\r\n")
    node.feed(wire)
    (message,) = node.messages
    assert message.content == content
    assert (node.of(ev.Rset) != []) == (mode == "line-end")


def test_by_default_a_bare_lf_in_data_is_refused(bytewise: bool) -> None:
    node = test_smtp_server.session(bytewise, ServerConfig(), test_smtp_server.TRANSACTION + b"DATA\r\n")
    assert node.feed(b"hello\n.\r\nRSET\r\n.\r\n") == test_smtp_server.BARE_LF
    assert node.messages == [] and node.of(ev.Rset) == []


# --- STARTTLS command injection ---------------------------------------------------------------------------


def test_injection_through_a_vulnerable_mx_delivers_the_attackers_message() -> None:
    sim = _run("command-injection")
    assert check(sim) == []
    assert sorted(_subjects(sim, "bob@example.org")) == [b"Injected before TLS", b"Minutes of the meeting"]
    (injected,) = [m for m in sim.mailbox("bob@example.org") if b"Injected" in m.content]
    assert b"with ESMTPS id" in injected.content  # logged as if it had come over TLS


def test_injection_fails_against_the_default_mx() -> None:
    spec = _with(load("command-injection"), "mx.example.org", vulnerable=[])
    sim = _run("command-injection", spec)
    assert _subjects(sim, "bob@example.org") == [b"Minutes of the meeting"]
    assert _outcome(sim)[:2] == ("delivered", "mx.example.org")
    # The injection did happen on the wire; the server threw it away.
    assert b"Injected before TLS" in sim.world.network.taps[0].wire


# Bob's laptop reads his mail with opportunistic STLS / STARTTLS while a man in the middle appends a
# logout to it: against a vulnerable server the session ends as soon as TLS is up.
RETRIEVAL_WORLD = """
description = "A man in the middle injects a logout after STARTTLS on the retrieval link."
[[host]]
name = "laptop.example.com"
ip = "192.0.2.10"
role = "client"
user = "alice@example.com"
msa = "smtp.example.com"
[[host]]
name = "smtp.example.com"
ip = "192.0.2.25"
role = "mail-server"
domains = ["example.com"]
submission = true
[[host]]
name = "ns.example.net"
ip = "192.0.2.53"
role = "dns"
[[host]]
name = "mx.example.org"
ip = "198.51.100.25"
role = "mail-server"
domains = ["example.org"]
imap = true
pop3 = true
starttls = true
vulnerable = VULNERABLE
[[host]]
name = "laptop.example.org"
ip = "198.51.100.10"
role = "client"
user = "bob@example.org"
retrieval = "RETRIEVAL"
starttls = "opportunistic"
check_at = [60]
[[user]]
address = "alice@example.com"
password = "wonderland"
[[user]]
address = "bob@example.org"
password = "builder"
[dns]
mx = [{ domain = "example.org", host = "mx.example.org" }]
[[fault]]
spec = "inject-starttls:laptop.example.org/mx.example.org"
[[message]]
from = "alice@example.com"
to = ["bob@example.org"]
subject = "Hi"
body = "Hello Bob"
"""


@pytest.mark.parametrize("retrieval", ["imap", "pop3-leave-on-server"])
@pytest.mark.parametrize("vulnerable", [True, False])
def test_injection_on_the_retrieval_link_logs_the_reader_out_only_when_vulnerable(
    retrieval: str, vulnerable: bool
) -> None:
    weak = '["command-injection"]' if vulnerable else "[]"
    spec = parse(RETRIEVAL_WORLD.replace("VULNERABLE", weak).replace("RETRIEVAL", retrieval))
    sim = _run("injected-retrieval", spec)
    assert any(e.kind == "fault" and "appends" in e.summary for e in sim.trace)  # attacked either way
    shows = len(sim.devices["laptop.example.org"].messages)
    assert shows == (0 if vulnerable else 1)
    logged_out = any(e.kind == "retrieve" and "could not check mail" in e.summary for e in sim.trace)
    assert logged_out == vulnerable


@pytest.mark.parametrize("retrieval", ["imap", "pop3-leave-on-server"])
@pytest.mark.parametrize("starttls", ["opportunistic", "required"])
def test_stripping_stls_and_starttls_exposes_an_opportunistic_readers_password(retrieval: str, starttls: str) -> None:
    text = RETRIEVAL_WORLD.replace("VULNERABLE", "[]").replace("RETRIEVAL", retrieval)
    text = text.replace("inject-starttls", "strip-starttls").replace('"opportunistic"', f'"{starttls}"')
    text += '[[observer]]\nbetween = ["laptop.example.org", "mx.example.org"]\n'
    sim = _run("stripped-retrieval", parse(text))
    wire = sim.world.network.taps[0].wire
    assert any(e.kind == "fault" and "overwrites" in e.summary for e in sim.trace)
    exposed = b"builder" in wire
    assert exposed == (starttls == "opportunistic")
    assert len(sim.devices["laptop.example.org"].messages) == (1 if exposed else 0)  # required: no login at all


INJECTED_SMTP = b"STARTTLS\r\nRSET\r\nMAIL FROM:<attacker@evil.example>\r\n"


@pytest.mark.parametrize("vulnerable", [True, False])
def test_smtp_engine_runs_injected_commands_only_when_vulnerable(vulnerable: bool) -> None:
    config = ServerConfig(starttls=True, keep_plaintext_after_starttls=vulnerable)
    node = test_smtp_server.session(config=config, prefix=test_smtp_server.EHLO)
    assert node.feed(INJECTED_SMTP) == test_smtp_server.READY_TLS
    node.server.tls_started()
    out = node.feed(test_smtp_server.EHLO)  # the real client's first words inside TLS
    senders = [e.sender.mailbox for e in node.of(ev.MailFrom) if isinstance(e, ev.MailFrom)]
    if vulnerable:
        assert out.startswith(b"250 2.0.0 Ok\r\n503 5.5.1 Error: send HELO/EHLO first\r\n")
        assert node.of(ev.Rset) == [ev.Rset()]
    else:
        assert out == test_smtp_server.EHLO_AFTER_TLS
        assert senders == [] and node.of(ev.Rset) == []


def test_smtp_engine_injected_transaction_after_ehlo_runs_when_vulnerable() -> None:
    config = ServerConfig(starttls=True, keep_plaintext_after_starttls=True)
    node = test_smtp_server.session(config=config, prefix=test_smtp_server.EHLO)
    node.feed(b"STARTTLS\r\nEHLO evil.example\r\nMAIL FROM:<attacker@evil.example>\r\n")
    node.server.tls_started()
    node.feed(b"NOOP\r\n")
    assert [e.sender.mailbox for e in node.of(ev.MailFrom) if isinstance(e, ev.MailFrom)] == ["attacker@evil.example"]


@pytest.mark.parametrize("vulnerable", [True, False])
def test_pop3_engine_runs_injected_commands_only_when_vulnerable(vulnerable: bool) -> None:
    node = test_pop3_server.Node(POP3Config(stls=True, keep_plaintext_after_stls=vulnerable))
    assert node.send(b"STLS\r\nUSER bob\r\nPASS builder\r\n") == b"+OK Begin TLS negotiation now.\r\n"
    node.server.tls_started()
    out = node.send(b"CAPA\r\n")
    if vulnerable:  # the attacker's login ran inside the victim's TLS session
        assert out.startswith(b"+OK\r\n+OK Logged in.\r\n")
        assert len(node.of(pop3_ev.Credentials)) == 1
    else:
        assert out.startswith(b"+OK\r\nCAPA\r\n")  # only the client's own command is answered
        assert node.of(pop3_ev.Credentials) == []


@pytest.mark.parametrize("vulnerable", [True, False])
def test_imap_engine_runs_injected_commands_only_when_vulnerable(vulnerable: bool) -> None:
    node = test_imap_server.Node(config=IMAPConfig(starttls=True, keep_plaintext_after_starttls=vulnerable))
    assert node.send(b"t STARTTLS\r\nx LOGIN bob builder\r\n") == b"t OK Begin TLS negotiation now.\r\n"
    assert node.of(StartTLS) == [StartTLS("t")]
    node.server.tls_started()
    out = node.send(b"c CAPABILITY\r\n")
    if vulnerable:  # logged in to the attacker's choice of account before the client said a word
        assert node.of(Credentials) == [Credentials("x", "bob", "builder")]
        assert out.startswith(b"x OK ")
    else:
        assert node.of(Credentials) == []
        assert out.startswith(b"* CAPABILITY ")


# --- the fault specs -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec",
    [
        "strip-starttls:smtp.example.com/mx.example.org",
        "strip-starttls:smtp.example.com/mx.example.org,at=10,for=3600",
        "inject-starttls:smtp.example.com/mx.example.org=bob@example.org",
        "inject-starttls:laptop.example.org/mx.example.org",
    ],
)
def test_man_in_the_middle_specs_round_trip(spec: str) -> None:
    assert faults.parse(spec).spec() == spec


@pytest.mark.parametrize("kind", ["strip-starttls", "inject-starttls"])
def test_man_in_the_middle_needs_a_link(kind: str) -> None:
    with pytest.raises(faults.FaultSpecError, match="names a link as HOST/HOST"):
        faults.parse(f"{kind}:mx.example.org")
