"""The transcript's notation: who spoke, in clear or inside TLS, on which connection, at what time."""

from __future__ import annotations

import re
from functools import cache

from simulator import Simulation
from simulator.trace import TraceEvent
from simulator.views.transcript import render_transcript

STAMP = re.compile(r"^ *\d+\.\d{3}s ")


@cache
def _trace(scenario: str) -> tuple[TraceEvent, ...]:
    sim = Simulation.from_scenario(scenario, seed=1)
    sim.run()
    return tuple(sim.trace)


def _with_context(text: str) -> list[tuple[str, str]]:
    """Each line with the last line that said who is talking (a `--` line or a connect)."""
    out, context = [], ""
    for line in text.splitlines():
        if line.lstrip().startswith("-- ") or " connects to " in line:
            context = line.strip()
        out.append((context, line))
    return out


def test_tls_lines_are_marked_with_tildes_and_one_tag() -> None:
    text = render_transcript(_trace("starttls-submission"), explain=False)
    lines = text.splitlines()
    assert "   0.020s -> EHLO laptop.example.com" in lines  # before STARTTLS: in clear
    assert "   0.035s <- 220 2.0.0 Ready to start TLS" in lines
    assert "   0.040s ~> [TLS] ClientHello (server name smtp.example.com)" in lines
    assert "   0.045s <~ [TLS] ServerHello, certificate, Finished" in lines
    assert "   0.050s ~> EHLO laptop.example.com" in lines  # the same command, now inside TLS
    assert "   0.065s <~ 235 2.7.0 Authentication successful" in lines
    assert "[SMTP] [TLS]" not in text and "[TLS] [TLS]" not in text
    # The password goes only inside TLS: no AUTH line in clear on either connection.
    assert [line for line in lines if "AUTH PLAIN A" in line] == [
        "   0.060s ~> AUTH PLAIN AGFsaWNlQGV4YW1wbGUuY29tAHdvbmRlcmxhbmQ="
    ]
    # Everything the client says after the handshake, up to its QUIT, is inside TLS.
    after = lines[lines.index("   0.050s ~> EHLO laptop.example.com") : lines.index("   0.090s ~> QUIT")]
    assert not [line for line in after if re.match(r"^ +(\d+\.\d{3}s )?(->|<-) ", line) and "[DNS]" not in line]


def test_implicit_tls_marks_every_line_of_the_session() -> None:
    text = render_transcript(_trace("implicit-tls"), explain=False)
    session = [line for context, line in _with_context(text) if "port 993" in context and STAMP.match(line)]
    assert session[1].endswith("~> [TLS] ClientHello (server name mx.example.org)")
    assert all(re.match(r"^ +\d+\.\d{3}s (~>|<~|==) ", line) for line in session[1:]), session


def test_each_line_is_under_the_ends_that_speak_it() -> None:
    text = render_transcript(_trace("basic"), explain=False)
    dns_header = "-- DNS datagrams: smtp.example.com (->) and ns.example.net (<-)"
    pairs = _with_context(text)
    dns = [(context, line) for context, line in pairs if "[DNS]" in line]
    assert dns and all(context == dns_header for context, _ in dns)
    # A query and its answer are one exchange: both under the same header, the answer marked as the server's.
    assert any(line.endswith("-> [DNS] MX example.org?") for _, line in dns)
    assert any(line.endswith("<- [DNS] MX example.org? -> 10 mx.example.org") for _, line in dns)
    # The submission's QUIT comes after the MX query: the transcript says which connection it is on again.
    quit_context = next(context for context, line in pairs if line.endswith("-> QUIT"))
    assert quit_context == "-- connection 1 (SMTP): laptop.example.com (->) and smtp.example.com (<-)"
    closes = [context for context, line in pairs if line.endswith("== the connection closes")]
    assert closes and not [c for c in closes if "DNS" in c]


def test_every_write_starts_with_its_time_and_multi_line_replies_are_whole() -> None:
    events = _trace("basic")
    text = render_transcript(events, explain=False)
    stamped = [line for line in text.splitlines() if STAMP.match(line)]
    assert len(stamped) == len(events)  # one time stamp per event, sends and happenings alike
    ehlo_reply = text.split("<- 250-smtp.example.com\n", 1)[1].split("\n")[:9]
    assert [line.split("<- ", 1)[1] for line in ehlo_reply][-1] == "250 CHUNKING"


def test_explanations_follow_their_line_and_can_be_left_out() -> None:
    events = _trace("starttls-submission")
    with_notes = render_transcript(events, width=300).splitlines()
    hello = with_notes.index("   0.040s ~> [TLS] ClientHello (server name smtp.example.com)")
    assert with_notes[hello + 1].lstrip().startswith("# The TLS handshake starts, still in clear text")
    assert with_notes[hello + 1].endswith("[RFC 8446 §4.1.2; RFC 6066 §3]")
    assert "#" not in render_transcript(events, explain=False)


def test_a_trace_cut_after_the_connect_still_says_who_speaks() -> None:
    events = _trace("basic")
    ehlo = next(i for i, e in enumerate(events) if e.summary.startswith("EHLO"))
    lines = render_transcript(events[ehlo : ehlo + 2], explain=False).splitlines()
    assert lines[0] == "          -- connection 1 (SMTP): laptop.example.com (->) and smtp.example.com (<-)"
    assert lines[1] == "   0.020s -> EHLO laptop.example.com"
    assert lines[2] == "   0.025s <- 250-smtp.example.com"
