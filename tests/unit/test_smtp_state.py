"""The SMTP server's state machine as a table: what is legal when, and what an illegal command gets.

The first half uses event types only (no bytes), as h11's test_state.py does. The
second half drives a real SMTPServer and checks that it follows the same table.
"""

from __future__ import annotations

import base64
from collections import deque

import pytest

from simulator.protocol.smtp import events as ev
from simulator.protocol.smtp import replies
from simulator.protocol.smtp.replies import Reply
from simulator.protocol.smtp.server import NEEDS_REPLY, ServerConfig, SMTPServer
from simulator.protocol.smtp.state import TRANSITIONS, State, TLSEstablished, sequence_error
from simulator.protocol.smtp.writers import format_reply

S = State
Kind = type[ev.Event]

# The whole table, written out by hand so that a changed transition is a failing test.
EXPECTED: dict[tuple[State, Kind], State] = {
    # Before EHLO/HELO only the stateless commands, RSET, QUIT and the greeting itself.
    (S.GREETED, ev.Noop): S.GREETED,
    (S.GREETED, ev.Help): S.GREETED,
    (S.GREETED, ev.Vrfy): S.GREETED,
    (S.GREETED, ev.Rset): S.GREETED,
    (S.GREETED, ev.Quit): S.CLOSED,
    (S.GREETED, ev.Ehlo): S.READY,
    (S.GREETED, ev.Helo): S.READY,
    # Session open, no transaction.
    (S.READY, ev.Noop): S.READY,
    (S.READY, ev.Help): S.READY,
    (S.READY, ev.Vrfy): S.READY,
    (S.READY, ev.Rset): S.READY,
    (S.READY, ev.Quit): S.CLOSED,
    (S.READY, ev.Ehlo): S.READY,
    (S.READY, ev.Helo): S.READY,
    (S.READY, ev.MailFrom): S.MAIL,
    (S.READY, ev.StartTLS): S.STARTTLS,
    (S.READY, ev.Auth): S.AUTH,
    # Sender accepted.
    (S.MAIL, ev.Noop): S.MAIL,
    (S.MAIL, ev.Help): S.MAIL,
    (S.MAIL, ev.Vrfy): S.MAIL,
    (S.MAIL, ev.Rset): S.READY,
    (S.MAIL, ev.Quit): S.CLOSED,
    (S.MAIL, ev.Ehlo): S.READY,
    (S.MAIL, ev.Helo): S.READY,
    (S.MAIL, ev.RcptTo): S.RCPT,
    # At least one recipient accepted.
    (S.RCPT, ev.Noop): S.RCPT,
    (S.RCPT, ev.Help): S.RCPT,
    (S.RCPT, ev.Vrfy): S.RCPT,
    (S.RCPT, ev.Rset): S.READY,
    (S.RCPT, ev.Quit): S.CLOSED,
    (S.RCPT, ev.Ehlo): S.READY,
    (S.RCPT, ev.Helo): S.READY,
    (S.RCPT, ev.RcptTo): S.RCPT,
    (S.RCPT, ev.Data): S.DATA,
    (S.RCPT, ev.Bdat): S.BDAT,
    # Between BDAT chunks.
    (S.BDAT, ev.Noop): S.BDAT,
    (S.BDAT, ev.Help): S.BDAT,
    (S.BDAT, ev.Vrfy): S.BDAT,
    (S.BDAT, ev.Rset): S.READY,
    (S.BDAT, ev.Quit): S.CLOSED,
    (S.BDAT, ev.Ehlo): S.READY,
    (S.BDAT, ev.Helo): S.READY,
    (S.BDAT, ev.Bdat): S.BDAT,
    (S.BDAT, ev.DataComplete): S.READY,
    # The states that read something other than commands have exactly one way out.
    (S.DATA, ev.DataComplete): S.READY,
    (S.AUTH, ev.AuthCredentials): S.READY,
    (S.STARTTLS, TLSEstablished): S.GREETED,
}

SEND_HELO_FIRST = (503, "5.5.1", "Error: send HELO/EHLO first")
NEED_MAIL = (503, "5.5.1", "Error: need MAIL command")
NEED_RCPT = (503, "5.5.1", "Error: need RCPT command")
NESTED_MAIL = (503, "5.5.1", "Error: nested MAIL command")
NO_VALID_RECIPIENTS = (554, "5.5.1", "Error: no valid recipients")
IN_TRANSACTION = (503, "5.5.1", "Error: MAIL transaction in progress")
BDAT_IN_PROGRESS = (503, "5.5.1", "Error: BDAT transaction in progress")
BAD_SEQUENCE = (503, "5.5.1", "Error: bad sequence of commands")

# (state, event type, expected reply), as Postfix's smtpd answers them
ILLEGAL: list[tuple[State, Kind, tuple[int, str, str]]] = [
    # Before EHLO/HELO (RFC 5321 §4.1.4) MAIL, AUTH and STARTTLS are told to say hello first...
    (S.GREETED, ev.MailFrom, SEND_HELO_FIRST),
    (S.GREETED, ev.StartTLS, SEND_HELO_FIRST),
    (S.GREETED, ev.Auth, SEND_HELO_FIRST),
    # ...but RCPT, DATA and BDAT are told what is missing right before them, as anywhere
    # without a transaction.
    (S.GREETED, ev.RcptTo, NEED_MAIL),
    (S.GREETED, ev.Data, NEED_RCPT),
    (S.GREETED, ev.Bdat, NEED_RCPT),
    # No transaction open.
    (S.READY, ev.RcptTo, NEED_MAIL),
    (S.READY, ev.Data, NEED_RCPT),
    (S.READY, ev.Bdat, NEED_RCPT),
    # A transaction is open: no second MAIL, no AUTH, no STARTTLS.
    (S.MAIL, ev.MailFrom, NESTED_MAIL),
    (S.RCPT, ev.MailFrom, NESTED_MAIL),
    (S.MAIL, ev.Auth, IN_TRANSACTION),
    (S.RCPT, ev.Auth, IN_TRANSACTION),
    (S.BDAT, ev.Auth, IN_TRANSACTION),
    (S.MAIL, ev.StartTLS, IN_TRANSACTION),
    (S.RCPT, ev.StartTLS, IN_TRANSACTION),
    (S.BDAT, ev.StartTLS, IN_TRANSACTION),
    # DATA or BDAT in a transaction with no accepted recipient: 554, whether or not RCPT
    # was tried (RFC 2920 §3.1: the client may have pipelined DATA behind refused RCPTs).
    (S.MAIL, ev.Data, NO_VALID_RECIPIENTS),
    (S.MAIL, ev.Bdat, NO_VALID_RECIPIENTS),
    # A BDAT transaction cannot switch to DATA or start over half-way (RFC 3030 §2).
    (S.BDAT, ev.Data, BDAT_IN_PROGRESS),
    (S.BDAT, ev.RcptTo, BDAT_IN_PROGRESS),
    (S.BDAT, ev.MailFrom, BDAT_IN_PROGRESS),
    # Events that only the engine or the host produce, out of place.
    (S.READY, ev.DataComplete, BAD_SEQUENCE),
    (S.READY, ev.AuthCredentials, BAD_SEQUENCE),
    (S.READY, TLSEstablished, BAD_SEQUENCE),
]


def _id(value: object) -> str:
    if isinstance(value, State):
        return value.name
    if isinstance(value, type):
        return value.__name__
    return str(value)


def _as_tuple(reply: Reply) -> tuple[int, str | None, str]:
    return reply.code, reply.enhanced, reply.text


# --- the table, event types only ---------------------------------------------------


def test_table_has_exactly_the_expected_keys() -> None:
    missing = set(EXPECTED) - set(TRANSITIONS)
    extra = set(TRANSITIONS) - set(EXPECTED)
    assert not missing, f"transitions missing from TRANSITIONS: {sorted(map(str, missing))}"
    assert not extra, f"unexpected transitions in TRANSITIONS: {sorted(map(str, extra))}"


@pytest.mark.parametrize(("state", "kind", "target"), [(s, k, t) for (s, k), t in EXPECTED.items()], ids=_id)
def test_transition_target(state: State, kind: Kind, target: State) -> None:
    assert TRANSITIONS[(state, kind)] is target


def test_closed_and_connected_have_no_way_out() -> None:
    # CLOSED is terminal; CONNECTED leaves only through greet(), which is not an event.
    sources = {state for state, _ in TRANSITIONS}
    assert S.CLOSED not in sources
    assert S.CONNECTED not in sources


def test_every_state_after_the_greeting_is_reachable_and_can_end() -> None:
    edges: dict[State, set[State]] = {}
    for (source, _), target in TRANSITIONS.items():
        edges.setdefault(source, set()).add(target)

    def reachable(start: State) -> set[State]:
        seen, todo = {start}, deque([start])
        while todo:
            for nxt in edges.get(todo.popleft(), set()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    assert reachable(S.GREETED) == set(State) - {S.CONNECTED}
    for state in set(State) - {S.CONNECTED, S.CLOSED}:
        assert S.CLOSED in reachable(state), f"no way to QUIT from {state.name}"


@pytest.mark.parametrize(("state", "kind", "expected"), ILLEGAL, ids=_id)
def test_illegal_pairs_are_not_in_the_table(state: State, kind: Kind, expected: tuple[int, str, str]) -> None:
    del expected
    assert (state, kind) not in TRANSITIONS


@pytest.mark.parametrize(("state", "kind", "expected"), ILLEGAL, ids=_id)
def test_sequence_error_reply(state: State, kind: Kind, expected: tuple[int, str, str]) -> None:
    reply = sequence_error(state, kind)
    assert _as_tuple(reply) == expected
    assert reply.explain, "a learner's explanation is missing"
    assert reply.rfc.startswith("RFC ")


@pytest.mark.parametrize(
    ("state", "kind", "wire"),
    [
        (S.GREETED, ev.MailFrom, b"503 5.5.1 Error: send HELO/EHLO first\r\n"),
        (S.GREETED, ev.RcptTo, b"503 5.5.1 Error: need MAIL command\r\n"),
        (S.GREETED, ev.Data, b"503 5.5.1 Error: need RCPT command\r\n"),
        (S.MAIL, ev.MailFrom, b"503 5.5.1 Error: nested MAIL command\r\n"),
        (S.READY, ev.RcptTo, b"503 5.5.1 Error: need MAIL command\r\n"),
        (S.READY, ev.Data, b"503 5.5.1 Error: need RCPT command\r\n"),
        (S.MAIL, ev.Data, b"554 5.5.1 Error: no valid recipients\r\n"),
        (S.BDAT, ev.RcptTo, b"503 5.5.1 Error: BDAT transaction in progress\r\n"),
        (S.READY, ev.DataComplete, b"503 5.5.1 Error: bad sequence of commands\r\n"),
    ],
    ids=_id,
)
def test_sequence_error_wire_form(state: State, kind: Kind, wire: bytes) -> None:
    assert format_reply(sequence_error(state, kind)) == wire


# --- the engine follows the table -------------------------------------------------------

# STARTTLS and AUTH both available without TLS, so every state is reachable by commands.
CONFIG = ServerConfig(starttls=True, auth_requires_tls=False)
CREDENTIALS = base64.b64encode(b"\0alice\0secret") + b"\r\n"
REFUSED = "nobody@d.example"

# Input that brings a fresh server (greeting sent) into each state.
_READY = b"EHLO c.example\r\n"
_MAIL = _READY + b"MAIL FROM:<a@b.example>\r\n"
_RCPT = _MAIL + b"RCPT TO:<c@d.example>\r\n"
PREFIX: dict[State, bytes] = {
    S.GREETED: b"",
    S.READY: _READY,
    S.MAIL: _MAIL,
    S.RCPT: _RCPT,
    S.BDAT: _RCPT + b"BDAT 2\r\nhi",
    S.DATA: _RCPT + b"DATA\r\n",
    S.AUTH: _READY + b"AUTH PLAIN\r\n",
    S.STARTTLS: _READY + b"STARTTLS\r\n",
}

# One command line (and chunk) per event type it produces.
COMMAND: dict[Kind, bytes] = {
    ev.Ehlo: b"EHLO c.example\r\n",
    ev.Helo: b"HELO c.example\r\n",
    ev.MailFrom: b"MAIL FROM:<a@b.example>\r\n",
    ev.RcptTo: b"RCPT TO:<c@d.example>\r\n",
    ev.Data: b"DATA\r\n",
    ev.Bdat: b"BDAT 3\r\nabc",
    ev.Rset: b"RSET\r\n",
    ev.Noop: b"NOOP\r\n",
    ev.Help: b"HELP\r\n",
    ev.Vrfy: b"VRFY bob\r\n",
    ev.Quit: b"QUIT\r\n",
    ev.StartTLS: b"STARTTLS\r\n",
    ev.Auth: b"AUTH PLAIN\r\n",
    ev.AuthCredentials: CREDENTIALS,
}
DATA_COMPLETE: dict[State, bytes] = {S.DATA: b"hello\r\n.\r\n", S.BDAT: b"BDAT 0 LAST\r\n"}


class Driver:
    """A server with a node that accepts everything except REFUSED recipients."""

    def __init__(self, prefix: bytes = b"") -> None:
        self.server = SMTPServer(CONFIG)
        self.server.data_to_send()
        self.kinds: list[Kind] = []
        self.feed(prefix)

    def feed(self, data: bytes) -> bytes:
        if data:
            self.server.receive_data(data)
        for event in self.server.events():
            self.kinds.append(type(event))
            if isinstance(event, NEEDS_REPLY):
                self.server.send(self._answer(event))
        return self.server.data_to_send()

    @staticmethod
    def _answer(event: ev.Event) -> Reply:
        if isinstance(event, ev.MailFrom):
            return replies.SENDER_OK
        if isinstance(event, ev.RcptTo):
            mailbox = event.recipient.mailbox
            return replies.unknown_user(mailbox) if mailbox == REFUSED else replies.RECIPIENT_OK
        if isinstance(event, ev.AuthCredentials):
            return replies.AUTH_OK
        if isinstance(event, ev.Vrfy):
            return replies.vrfy_ok("bob@d.example")
        return replies.queued("4ABC")


@pytest.mark.parametrize("state", list(PREFIX), ids=_id)
def test_prefixes_reach_their_state(state: State) -> None:
    assert Driver(PREFIX[state]).server.state is state


@pytest.mark.parametrize(("state", "kind", "target"), [(s, k, t) for (s, k), t in TRANSITIONS.items()], ids=_id)
def test_engine_takes_each_transition(state: State, kind: Kind, target: State) -> None:
    driver = Driver(PREFIX[state])
    assert driver.server.state is state
    driver.kinds.clear()
    if kind is TLSEstablished:
        driver.server.tls_started()
    else:
        driver.feed(DATA_COMPLETE[state] if kind is ev.DataComplete else COMMAND[kind])
        assert kind in driver.kinds, f"{kind.__name__} was not emitted in {state.name}"
    assert driver.server.state is target


# Every command-produced event type, tried in every state that reads commands: where the
# table has no entry the engine must answer with sequence_error() and stay put.
_COMMAND_KINDS = [k for k in COMMAND if k is not ev.AuthCredentials]
_COMMAND_STATES = [S.GREETED, S.READY, S.MAIL, S.RCPT, S.BDAT]
_ILLEGAL_BY_COMMAND = [(s, k) for s in _COMMAND_STATES for k in _COMMAND_KINDS if (s, k) not in TRANSITIONS]


def test_commands_out_of_turn_cover_the_interesting_pairs() -> None:
    assert len(_ILLEGAL_BY_COMMAND) == 22


@pytest.mark.parametrize(("state", "kind"), _ILLEGAL_BY_COMMAND, ids=_id)
def test_engine_refuses_commands_out_of_turn(state: State, kind: Kind) -> None:
    driver = Driver(PREFIX[state])
    driver.kinds.clear()
    wire = driver.feed(COMMAND[kind])
    # One reply only: a refused BDAT's chunk is read and dropped, not taken for commands.
    assert wire == format_reply(sequence_error(state, kind))
    # RFC 3030 §2: a refused BDAT fails the open transaction; anything else leaves the state.
    in_transaction = state in (S.MAIL, S.RCPT, S.BDAT)
    assert driver.server.state is (S.READY if kind is ev.Bdat and in_transaction else state)
    assert kind not in driver.kinds


@pytest.mark.parametrize("rcpt", [b"", f"RCPT TO:<{REFUSED}>\r\n".encode()], ids=["none tried", "all refused"])
@pytest.mark.parametrize(
    ("command", "after", "rcpt_wire", "rcpt_state"),
    [
        # DATA leaves the transaction open: a recipient may still be added.
        (COMMAND[ev.Data], S.MAIL, b"250 2.1.5 Ok\r\n", S.RCPT),
        # A refused BDAT ends it (RFC 3030 §2), so a recipient now needs a new MAIL.
        (COMMAND[ev.Bdat], S.READY, b"503 5.5.1 Error: need MAIL command\r\n", S.READY),
    ],
    ids=["DATA", "BDAT"],
)
def test_engine_without_an_accepted_recipient(
    rcpt: bytes, command: bytes, after: State, rcpt_wire: bytes, rcpt_state: State
) -> None:
    driver = Driver(_MAIL + rcpt)
    assert driver.server.state is S.MAIL  # a refused RCPT does not open the RCPT state
    assert driver.feed(command) == b"554 5.5.1 Error: no valid recipients\r\n"
    assert driver.server.state is after
    assert driver.feed(b"RCPT TO:<c@d.example>\r\n") == rcpt_wire
    assert driver.server.state is rcpt_state


def test_engine_walk_matches_the_table_step_by_step() -> None:
    """One long session; after each command the state is what TRANSITIONS predicts."""
    steps: list[tuple[bytes, Kind, bool]] = [
        # (input, event type, the command succeeds)
        (b"NOOP\r\n", ev.Noop, True),
        (b"MAIL FROM:<a@b.example>\r\n", ev.MailFrom, False),  # 503: before EHLO
        (b"EHLO c.example\r\n", ev.Ehlo, True),
        (b"MAIL FROM:<a@b.example>\r\n", ev.MailFrom, True),
        (f"RCPT TO:<{REFUSED}>\r\n".encode(), ev.RcptTo, False),  # the node refuses it
        (b"RCPT TO:<c@d.example>\r\n", ev.RcptTo, True),
        (b"RCPT TO:<e@d.example>\r\n", ev.RcptTo, True),
        (b"VRFY bob\r\n", ev.Vrfy, True),
        (b"DATA\r\n", ev.Data, True),
        (b"Subject: x\r\n\r\nbody\r\n.\r\n", ev.DataComplete, True),
        (b"MAIL FROM:<a@b.example>\r\n", ev.MailFrom, True),
        (b"RSET\r\n", ev.Rset, True),
        (b"AUTH PLAIN\r\n", ev.Auth, True),
        (CREDENTIALS, ev.AuthCredentials, True),
        (b"MAIL FROM:<a@b.example>\r\n", ev.MailFrom, True),
        (b"RCPT TO:<c@d.example>\r\n", ev.RcptTo, True),
        (b"BDAT 4\r\nabcd", ev.Bdat, True),
        (b"DATA\r\n", ev.Data, False),  # 503: BDAT transaction in progress
        (b"BDAT 0 LAST\r\n", ev.DataComplete, True),
        (b"HELO c.example\r\n", ev.Helo, True),
        (b"STARTTLS\r\n", ev.StartTLS, True),
    ]
    driver = Driver()
    for data, kind, succeeds in steps:
        before = driver.server.state
        driver.feed(data)
        expected = TRANSITIONS[(before, kind)] if succeeds else before
        assert (before, kind) in TRANSITIONS or not succeeds
        assert driver.server.state is expected, f"{data!r} in {before.name}"
    driver.server.tls_started()
    assert driver.server.state is TRANSITIONS[(S.STARTTLS, TLSEstablished)]
    driver.feed(b"QUIT\r\n")
    assert driver.server.state is TRANSITIONS[(S.GREETED, ev.Quit)]
