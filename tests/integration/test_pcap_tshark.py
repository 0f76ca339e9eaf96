"""tshark (Wireshark's dissectors) reads the exported pcaps as what the trace says went over the wire.

Each test exports a scenario's run, has Debian's tshark decode it, and compares what
tshark found (SMTP commands and reply codes, POP and IMAP requests, DNS question names)
with the units in the trace, in order. tshark must find nothing to warn about: no
malformed packet, no expert warning or error, nothing on stderr.

Two of tshark's habits are allowed for: as root it says so on stderr (CI runs as root),
and its SMTP dissector warns about AUTH PLAIN unless told to decode base64
(`smtp.decryption`), so the tests tell it to.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import dns.message
import pytest

from simulator.sim import Simulation
from simulator.trace import TraceEvent
from simulator.views.pcap import export_pcap
from tests.integration.serving import require_tool

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

ROOT_NOTICE = 'Running as user "root" and group "root". This could be dangerous.'
DECODE_AUTH = ("-o", "smtp.decryption:TRUE")
# tshark trusts TCP and UDP checksums unless asked (they are often offloaded to the NIC); ask.
CHECK_SUMS = tuple(f"-o{name}.check_checksum:TRUE" for name in ("ip", "tcp", "udp"))
SEPARATOR = "\x1f"  # between a frame's several values of one field: no protocol line holds it


def tshark(*args: str) -> str:
    """Run tshark; fail on anything it says on stderr, bar the notice that it runs as root."""
    done = subprocess.run([require_tool("tshark"), *args], capture_output=True, text=True, timeout=50, check=False)
    assert done.returncode == 0, done.stderr
    complaints = [line for line in done.stderr.splitlines() if line.strip() and line.strip() != ROOT_NOTICE]
    assert complaints == []
    return done.stdout


def fields(pcap: Path, field: str, *options: str) -> list[str]:
    """Every value of a field, in frame order (a frame with several, as a pipelined write has, gives each)."""
    layout = ("-T", "fields", "-E", f"aggregator={SEPARATOR}", "-e", field)
    out = tshark("-r", str(pcap), *DECODE_AUTH, *options, "-Y", field, *layout)
    return [value for line in out.splitlines() for value in line.split(SEPARATOR) if value]


def assert_clean(pcap: Path, *options: str) -> None:
    expert = tshark("-r", str(pcap), *DECODE_AUTH, *CHECK_SUMS, *options, "-q", "-z", "expert")
    assert "Errors (" not in expert and "Warns (" not in expert, expert
    assert "Sequence                TCP  Connection establish request (SYN)" in expert  # it did analyse
    detail = tshark("-r", str(pcap), *DECODE_AUTH, *CHECK_SUMS, *options, "-V")
    assert "malformed" not in detail.lower()
    assert "Expert Info (Warning" not in detail and "Expert Info (Error" not in detail


def exported(tmp_path: Path, scenario: str, *, keylog: bool = False) -> tuple[Simulation, Path, Path]:
    sim = Simulation.from_scenario(scenario, 1, keylog=keylog)
    sim.run()
    pcap, keys = tmp_path / f"{scenario}.pcap", tmp_path / f"{scenario}.keys"
    export_pcap(sim, pcap, keys if keylog else None)
    return sim, pcap, keys


# --- what the trace says -------------------------------------------------------------------------


def readable_units(trace: list[TraceEvent], protocol: str) -> list[tuple[str, bytes]]:
    """(side, bytes) of each protocol unit on the protocol's connections, TLS records left out.

    A write of TLS application data has its plaintext units as notes; a write of handshake
    records or alerts has none, and only ciphertext to offer.
    """
    clients = {e.conn: e.src for e in trace if e.kind == "connect" and e.protocol == protocol}
    units: list[tuple[str, bytes]] = []
    for e in trace:
        if e.kind != "send" or e.conn not in clients or (e.summary.startswith("[TLS]") and not e.notes):
            continue
        side = "client" if e.src == clients[e.conn] else "server"
        units.extend((side, unit.data) for unit in e.units)
    return units


def smtp_dialogue(trace: list[TraceEvent]) -> tuple[list[str], list[str]]:
    """The SMTP commands (their verbs) and reply codes in the trace, in order.

    After 354 the client's next unit is the message, after 334 a SASL response: neither is a command.
    """
    commands, codes, awaiting = [], [], False
    for side, data in readable_units(trace, "SMTP"):
        if side == "server":
            codes.append(data[:3].decode())
            awaiting = data[:3] in (b"354", b"334")
        elif awaiting:
            awaiting = False
        else:
            commands.append(data.split()[0].decode().upper())
    return commands, codes


def verbs(commands: list[str]) -> list[str]:
    """tshark 4.0 keeps the first four letters of STARTTLS as its command; every other SMTP verb has four."""
    return [c[:4] for c in commands]


def client_lines(trace: list[TraceEvent], protocol: str) -> list[bytes]:
    return [data.rstrip(b"\r\n") for side, data in readable_units(trace, protocol) if side == "client"]


def question_names(trace: list[TraceEvent]) -> list[str]:
    names = []
    for e in trace:
        if e.kind == "send" and e.protocol == "DNS":
            (question,) = dns.message.from_wire(e.data).question
            names.append(question.name.to_text(omit_final_dot=True))
    return names


# --- the tests ------------------------------------------------------------------------------------


def test_basic_decodes_as_the_smtp_dialogue_and_dns_questions_of_the_trace(tmp_path: Path) -> None:
    sim, pcap, _ = exported(tmp_path, "basic")
    assert_clean(pcap)
    commands, codes = smtp_dialogue(sim.trace)
    assert commands[:3] == ["EHLO", "AUTH", "MAIL"] and "DATA" in commands and "QUIT" in commands
    assert verbs(fields(pcap, "smtp.req.command")) == verbs(commands)
    assert fields(pcap, "smtp.response.code") == codes
    assert fields(pcap, "smtp.auth.username") == ["alice@example.com"]  # AUTH PLAIN, decoded
    names = question_names(sim.trace)
    assert names == ["example.org", "example.org", "mx.example.org", "mx.example.org"]  # query, answer, twice
    assert fields(pcap, "dns.qry.name") == names


def test_pop3_vs_imap_decodes_as_the_imap_requests_and_smtp_dialogue_of_the_trace(tmp_path: Path) -> None:
    sim, pcap, _ = exported(tmp_path, "pop3-vs-imap")
    assert_clean(pcap)
    requests = [line.decode() for line in client_lines(sim.trace, "IMAP")]
    assert len(requests) == 19 and requests[0] == "A0001 LOGIN bob@example.org builder"
    assert fields(pcap, "imap.request") == requests
    commands, codes = smtp_dialogue(sim.trace)
    assert verbs(fields(pcap, "smtp.req.command")) == verbs(commands)
    assert fields(pcap, "smtp.response.code") == codes
    assert fields(pcap, "dns.qry.name") == question_names(sim.trace)


def test_pop3_decodes_as_the_pop_commands_of_the_trace(tmp_path: Path) -> None:
    sim, pcap, _ = exported(tmp_path, "pop3-download-delete")
    assert_clean(pcap)
    commands = [line.split()[0].decode() for line in client_lines(sim.trace, "POP3")]
    assert {"USER", "PASS", "UIDL", "RETR", "DELE", "QUIT"} <= set(commands)
    assert fields(pcap, "pop.request.command") == commands


def test_with_the_key_log_tshark_reads_the_smtp_commands_inside_starttls(tmp_path: Path) -> None:
    sim, pcap, keys = exported(tmp_path, "starttls-submission", keylog=True)
    # Without the keys only what precedes the handshake is readable, on both hops.
    assert verbs(fields(pcap, "smtp.req.command")) == ["EHLO", "STAR", "EHLO", "STAR"]
    with_keys = ("-o", f"tls.keylog_file:{keys}")
    assert_clean(pcap, *with_keys)
    decrypted = verbs(fields(pcap, "smtp.req.command", *with_keys))
    commands, codes = smtp_dialogue(sim.trace)  # the plaintext units inside the TLS writes included
    assert decrypted == verbs(commands)
    assert decrypted[:6] == ["EHLO", "STAR", "EHLO", "AUTH", "MAIL", "RCPT"]  # alice's submission
    assert fields(pcap, "smtp.response.code", *with_keys) == codes
    assert fields(pcap, "smtp.auth.username", *with_keys) == ["alice@example.com"]
