"""The console facade: lines typed by hand to the world's servers, without any UI."""

from __future__ import annotations

import base64

import pytest

from simulator import Simulation, faults
from simulator.console import CONSOLE_HOST, REPLY_WAIT, Console, ConsoleError, describe_exchange, services
from simulator.trace import TraceEvent

MESSAGE = ["From: learner@console.localhost", "To: bob@example.org", "Subject: typed by hand", "", "Hello Bob.", "."]


def replies(events: list[TraceEvent]) -> list[str]:
    """The first line of every reply unit the server wrote in these events."""
    return [u.summary for e in events if e.kind == "send" and e.src != CONSOLE_HOST for u in e.units]


def smtp_to_mx(sim: Simulation) -> Console:
    console = Console(sim, "mx.example.org", 25)
    console.connect()
    return console


def test_services_are_the_typeable_ports_of_the_mail_servers() -> None:
    sim = Simulation.from_scenario("basic")
    found = {(s.host, s.port, s.protocol) for s in services(sim)}
    assert found == {
        ("smtp.example.com", 25, "SMTP"),
        ("smtp.example.com", 587, "SMTP"),
        ("mx.example.org", 25, "SMTP"),
        ("mx.example.org", 110, "POP3"),
        ("mx.example.org", 143, "IMAP"),
    }


def test_a_typed_smtp_dialogue_delivers_into_the_mailbox_and_is_in_the_trace() -> None:
    sim = Simulation.from_scenario("basic")
    sim.run()
    before = len(sim.mailbox("bob@example.org"))
    console = Console(sim, "mx.example.org", 25)
    greeting = console.connect()
    assert replies(greeting) == ["220 mx.example.org ESMTP"]
    answers = []
    for line in ["EHLO console.localhost", "MAIL FROM:<learner@console.localhost>", "RCPT TO:<bob@example.org>"]:
        answers.append(replies(console.send(line))[0][:3])
    answers.append(replies(console.send("DATA"))[0][:3])
    for line in MESSAGE[:-1]:
        assert replies(console.send(line)) == []  # the server reads the message without a word
    end = console.send(".")
    assert replies(end)[0].startswith("250 2.0.0 Ok: queued as")
    assert any(e.kind == "deliver" for e in end)  # the MX's own step, at the instant it answered
    answers.append(replies(console.send("QUIT"))[0][:3])
    assert answers == ["250", "250", "250", "354", "221"]
    assert not console.is_open
    messages = sim.mailbox("bob@example.org")
    assert len(messages) == before + 1
    assert b"Subject: typed by hand" in messages[-1].content
    typed = [e for e in sim.trace if e.src == CONSOLE_HOST and e.kind == "send"]
    assert typed[0].data == b"EHLO console.localhost\r\n" and typed[0].conn == console.conn
    assert next(e.kind for e in sim.trace if e.conn == console.conn) == "connect"
    assert sim.trace[-1].kind == "close" and sim.trace[-1].conn == console.conn


def test_a_bad_command_gets_500_with_its_explanation() -> None:
    sim = Simulation.from_scenario("basic")
    console = smtp_to_mx(sim)
    console.send("EHLO console.localhost")
    lines = describe_exchange(console.send(""))
    assert lines[0].who == "client" and "empty line" in lines[0].explain
    reply = lines[1]
    assert reply.who == "server" and reply.lines == ("500 5.5.2 Error: bad syntax",)
    assert reply.explain and reply.rfc.startswith("RFC 5321")
    unknown = replies(console.send("FOO"))
    assert unknown == ["502 5.5.2 Error: command not recognized"]


def test_the_hint_follows_the_smtp_state_table_and_what_the_server_advertised() -> None:
    sim = Simulation.from_scenario("basic")
    console = smtp_to_mx(sim)
    greeted = console.expects()
    assert greeted.state == "GREETED" and greeted.verbs == ("EHLO", "HELO")
    console.send("EHLO console.localhost")
    ready = console.expects()
    assert ready.state == "READY" and ready.verbs[0] == "MAIL FROM:"
    # Port 25 of the MX offers neither AUTH nor STARTTLS in this world: the hint does not either.
    assert "AUTH" not in ready.verbs + ready.also and "STARTTLS" not in ready.verbs + ready.also
    assert ready.also[-1] == "QUIT" and "MAIL FROM" in ready.text
    console.send("MAIL FROM:<learner@console.localhost>")
    assert console.expects().verbs == ("RCPT TO:",)
    console.send("RCPT TO:<bob@example.org>")
    assert console.expects().verbs == ("DATA", "BDAT")
    console.send("DATA")
    waiting = console.expects()
    assert waiting.state == "DATA" and waiting.verbs == () and "only a dot" in waiting.other
    console.send(".")
    console.send("QUIT")
    assert console.expects().state == "CLOSED"


def test_the_submission_port_hint_offers_auth_after_ehlo() -> None:
    sim = Simulation.from_scenario("basic")
    console = Console(sim, "smtp.example.com", 587)
    console.connect()
    console.send("EHLO console.localhost")
    assert "AUTH" in console.expects().verbs
    console.send("HELO console.localhost")  # HELO offers no extensions (RFC 5321 §4.1.1.1)
    assert "AUTH" not in console.expects().verbs


def test_a_pop3_dialogue_and_its_hints() -> None:
    sim = Simulation.from_scenario("basic")
    sim.run()
    console = Console(sim, "mx.example.org", 110)
    assert replies(console.connect())[0].startswith("+OK")
    assert console.expects().verbs[:2] == ("USER", "PASS")
    console.send("USER bob@example.org")
    assert replies(console.send("PASS builder")) == ["+OK Logged in."]
    logged_in = console.expects()
    assert logged_in.state == "TRANSACTION" and logged_in.also[:2] == ("STAT", "LIST")
    assert replies(console.send("STAT"))[0].startswith("+OK 1 ")
    assert replies(console.send("RETR 1"))[0].startswith("+OK")
    assert replies(console.send("QUIT"))[0].startswith("+OK")
    assert not console.is_open


def test_an_imap_dialogue_its_tags_and_hints() -> None:
    sim = Simulation.from_scenario("basic")
    sim.run()
    console = Console(sim, "mx.example.org", 143)
    console.connect()
    assert console.next_tag == "a1" and console.expects().verbs == ("AUTHENTICATE", "LOGIN")
    assert replies(console.send("a1 LOGIN bob@example.org builder"))[-1].startswith("a1 OK")
    assert console.next_tag == "a2" and console.expects().verbs == ("SELECT", "EXAMINE")
    selected = replies(console.send("a2 SELECT INBOX"))
    assert "* 1 EXISTS" in selected and selected[-1].startswith("a2 OK")
    assert console.expects().state == "SELECTED" and console.expects().also[:1] == ("CHECK",)
    assert console.complete("a3 fe") == "a3 FETCH"
    assert replies(console.send("a3 FETCH 1 (FLAGS)"))[-1].startswith("a3 OK")
    untagged = describe_exchange(console.send("LOGOUT"))
    assert "tag" in untagged[0].explain  # no tag: the note says so before the server's BAD
    assert replies(console.send("a4 LOGOUT"))[0].startswith("* BYE")


def test_completion_offers_the_protocols_verbs() -> None:
    sim = Simulation.from_scenario("basic")
    smtp = Console(sim, "mx.example.org", 25)
    assert smtp.complete("MA") == "MAIL FROM:"
    assert smtp.complete("rc") == "RCPT TO:"
    assert smtp.complete("MAIL FROM:") is None and smtp.complete("") is None
    assert smtp.complete("XYZ") is None
    pop3 = Console(sim, "mx.example.org", 110)
    assert pop3.complete("RE") == "RETR"
    imap = Console(sim, "mx.example.org", 143)
    assert imap.complete("a") == "a1 " and imap.complete("a1 CAP") == "a1 CAPABILITY"
    imap.connect()  # then what the server expects comes first: LOGIN before LOGOUT
    assert imap.complete("a1 LOG") == "a1 LOGIN"


@pytest.mark.parametrize(
    ("host", "port", "expected"),
    [
        ("nowhere.example", 25, "not a mail server"),
        ("ns.example.net", 53, "not a mail server"),
        ("mx.example.org", 26, "25, 110, 143"),
        ("mx.example.org", 993, "TLS"),
    ],
)
def test_a_bad_host_or_port_is_a_clear_error(host: str, port: int, expected: str) -> None:
    sim = Simulation.from_scenario("basic")
    with pytest.raises(ConsoleError, match=expected):
        Console(sim, host, port)


def test_lines_on_a_closed_or_missing_connection_are_errors() -> None:
    sim = Simulation.from_scenario("basic")
    console = Console(sim, "mx.example.org", 25)
    with pytest.raises(ConsoleError, match="closed"):
        console.send("EHLO x")  # never opened
    console.connect()
    with pytest.raises(ConsoleError, match="one line"):
        console.send("EHLO x\r\nQUIT")
    with pytest.raises(ConsoleError, match="already"):
        console.connect()
    console.send("QUIT")
    with pytest.raises(ConsoleError, match="closed"):
        console.send("NOOP")
    assert console.hang_up() == []


def test_a_server_that_is_down_refuses_the_connection() -> None:
    sim = Simulation.from_scenario("basic")
    sim.inject(faults.NodeDown(node="mx.example.org", at=0, duration=3600))
    with pytest.raises(ConsoleError, match="refused"):
        Console(sim, "mx.example.org", 25).connect()
    assert any(e.kind == "refused" and e.dst == CONSOLE_HOST for e in sim.trace)


def test_hanging_up_closes_the_connection_in_the_trace() -> None:
    sim = Simulation.from_scenario("basic")
    console = smtp_to_mx(sim)
    events = console.hang_up()
    assert events[-1].kind == "close" and not console.is_open


def test_back_after_a_console_session_replays_it_exactly() -> None:
    sim = Simulation.from_scenario("basic")
    sim.run()
    console = smtp_to_mx(sim)
    for line in ["EHLO console.localhost", "MAIL FROM:<learner@console.localhost>", "RCPT TO:<bob@example.org>"]:
        console.send(line)
    everything = [e.to_dict() for e in sim.trace]
    last = sim.back()
    assert last is not None and [e.to_dict() for e in sim.trace] == everything[:-1]
    assert console.state() == "MAIL"  # the RCPT TO is on the wire, its 250 not yet back
    assert sim.step() is not None and [e.to_dict() for e in sim.trace] == everything
    assert console.state() == "RCPT"
    console.send("DATA")  # the console goes on from the replayed world
    for line in MESSAGE:
        console.send(line)
    assert b"typed by hand" in sim.mailbox("bob@example.org")[-1].content


def test_back_before_the_connection_opened_undoes_it() -> None:
    sim = Simulation.from_scenario("basic")
    sim.run()
    opened_at = len(sim.trace)
    console = smtp_to_mx(sim)
    console.send("EHLO console.localhost")
    while len(sim.trace) >= opened_at:  # to before the step at which it was opened
        sim.back()
    assert not console.is_open and console.state() is None
    with pytest.raises(ConsoleError, match="closed"):
        console.send("NOOP")
    sim.run()
    assert len(sim.trace) == opened_at  # nothing of the console is left to happen
    assert all(CONSOLE_HOST not in (e.src, e.dst) for e in sim.trace)


def test_a_sasl_answer_after_the_go_ahead_is_no_command_and_takes_no_tag() -> None:
    sim = Simulation.from_scenario("basic")
    console = Console(sim, "mx.example.org", 143)
    console.connect()
    assert replies(console.send("a1 AUTHENTICATE PLAIN"))[0].startswith("+")
    answer = base64.b64encode(b"\0bob@example.org\0builder").decode()
    exchange = describe_exchange(console.send(answer))
    assert "SASL" in exchange[0].explain and exchange[-1].lines[0].startswith("a1 OK")
    assert console.next_tag == "a2" and console.expects().state == "AUTHENTICATED"


def test_a_server_that_never_answers_is_reported_after_the_wait() -> None:
    sim = Simulation.from_scenario("basic")
    console = smtp_to_mx(sim)
    assert not console.unanswered
    sim.inject(faults.parse("silent:mx.example.org"))
    began = sim.now
    assert replies(console.send("EHLO console.localhost")) == []
    assert console.unanswered and console.is_open
    assert REPLY_WAIT <= sim.now - began < REPLY_WAIT + 1  # a bounded wait, in simulated time only


def test_back_works_over_a_long_console_session() -> None:
    # Long enough for checkpoints to be taken while the typed connection is open.
    sim = Simulation.from_scenario("basic")
    console = smtp_to_mx(sim)
    for _ in range(60):
        console.send("NOOP")
    everything = [e.to_dict() for e in sim.trace]
    for _ in range(3):
        sim.back()
    assert [e.to_dict() for e in sim.trace] == everything[:-3]
    assert console.is_open and console.state() == "GREETED"
    sim.run()
    # Three steps back is before the last NOOP was typed, so that line is undone (the NOOP before
    # it and its reply replay as they were); left alone, the server then times out.
    assert [e.to_dict() for e in sim.trace[: len(everything) - 2]] == everything[:-2]
    assert sim.trace[len(everything) - 2].kind == "timeout"


def test_a_typed_bdat_chunk_is_counted_and_answered_once_its_last_octet_is_in() -> None:
    sim = Simulation.from_scenario("basic")
    sim.run()
    before = len(sim.mailbox("bob@example.org"))
    console = smtp_to_mx(sim)
    for line in ["EHLO console.localhost", "MAIL FROM:<learner@console.localhost>", "RCPT TO:<bob@example.org>"]:
        console.send(line)
    lines = ["Subject: in chunks", "", "Hello Bob."]
    size = sum(len(line) + 2 for line in lines)
    assert replies(console.send(f"BDAT {size} LAST")) == []  # the server waits for the octets
    assert not console.unanswered, "no answer was due yet"
    first = console.send(lines[0])
    typed = next(e for e in first if e.src == CONSOLE_HOST)
    assert typed.rfc == "RFC 3030 §2" and f"{size} still to come" in typed.explain
    assert replies(first) == [] and replies(console.send(lines[1])) == []
    assert not console.unanswered
    during = console.expects()
    assert during.meaning == "reading a BDAT chunk" and "12 more octets" in during.other and "no dot" in during.other
    last = console.send(lines[2])
    assert replies(last)[0].startswith("250 2.0.0 Ok: queued as")
    assert replies(console.send("NOOP"))[0].startswith("250"), "after the chunk, lines are commands again"
    assert len(sim.mailbox("bob@example.org")) == before + 1


def test_vrfy_of_an_unknown_user_says_nothing_about_bounces() -> None:
    console = smtp_to_mx(Simulation.from_scenario("basic"))
    console.send("EHLO console.localhost")
    answer = next(e for e in console.send("VRFY nobody@example.org") if e.src != CONSOLE_HOST)
    assert answer.summary.startswith("550 5.1.1 <nobody@example.org>: Recipient address rejected")
    assert "nobody gets a bounce" in answer.explain


def test_a_line_of_a_message_that_starts_with_bdat_is_just_a_line() -> None:
    console = smtp_to_mx(Simulation.from_scenario("basic"))
    opening = ["EHLO console.localhost", "MAIL FROM:<learner@console.localhost>", "RCPT TO:<bob@example.org>"]
    for line in [*opening, "DATA"]:
        console.send(line)
    body = console.send("BDAT 100 is what the other way of sending looks like")
    typed = next(e for e in body if e.src == CONSOLE_HOST)
    assert typed.rfc == "RFC 5321 §4.5.2", "a line of the message, not a chunk"
    assert replies(console.send("."))[0].startswith("250 2.0.0 Ok: queued as")
    noop = console.send("NOOP")
    assert next(e for e in noop if e.src == CONSOLE_HOST).rfc.startswith("RFC 5321 §4.1.1.9")


def test_between_chunks_the_console_expects_another_bdat_and_never_a_dot() -> None:
    console = smtp_to_mx(Simulation.from_scenario("basic"))
    for line in ["EHLO console.localhost", "MAIL FROM:<learner@console.localhost>", "RCPT TO:<bob@example.org>"]:
        console.send(line)
    console.send("BDAT 4")
    console.send("Hi")
    between = console.expects()
    assert between.state == "BDAT" and "BDAT" in between.verbs + between.also
    assert "dot" not in between.other and "BDAT and its size" in between.other


@pytest.mark.parametrize(
    ("who", "line", "refused"),
    [
        ("server", "550 5.1.1 <nobody@example.org>: Recipient address rejected", True),
        ("server", "451 4.7.1 Greylisted", True),
        ("server", "250 2.1.5 Ok", False),
        ("server", "-ERR Unknown command: RETR", True),
        ("server", "+OK Logged in.", False),
        ("server", "a1 NO [AUTHENTICATIONFAILED] Authentication failed.", True),
        ("server", "a2 BAD Error in IMAP command", True),
        ("server", "* NO [ALERT] the disk is nearly full", False),  # untagged: a warning, not an answer
        ("server", "a3 OK Select completed.", False),
        ("client", "550 typed by the learner", False),
    ],
)
def test_a_dialogue_line_knows_a_refusal_in_each_protocol(who: str, line: str, refused: bool) -> None:
    from simulator.console import DialogueLine

    assert DialogueLine(who, (line,), "", "").refused is refused
