"""The POP3 server's state machine as a table: what is legal when, and what an illegal command gets.

The first half uses event types only (no bytes), as h11's test_state.py does. The
second half drives a real POP3Server and checks that it follows the same table.
"""

from __future__ import annotations

import pytest

from simulator.protocol.pop3 import events as ev
from simulator.protocol.pop3 import replies
from simulator.protocol.pop3.server import POP3Server, ServerConfig
from simulator.protocol.pop3.state import TRANSITIONS, State, TLSEstablished
from simulator.protocol.pop3.writers import format_response

S = State
Kind = type[ev.Event]

# The whole table, written out by hand so that a changed transition is a failing test.
EXPECTED: dict[tuple[State, Kind], State] = {
    (S.AUTHORIZATION, ev.Capa): S.AUTHORIZATION,
    (S.AUTHORIZATION, ev.User): S.AUTHORIZATION,
    (S.AUTHORIZATION, ev.Credentials): S.TRANSACTION,
    (S.AUTHORIZATION, ev.ApopCredentials): S.TRANSACTION,
    (S.AUTHORIZATION, ev.Auth): S.AUTH,
    (S.AUTH, ev.AuthCredentials): S.TRANSACTION,
    (S.AUTH, ev.AuthAborted): S.AUTHORIZATION,
    (S.AUTHORIZATION, ev.StartTLS): S.STLS,
    (S.STLS, TLSEstablished): S.AUTHORIZATION,
    (S.AUTHORIZATION, ev.Quit): S.CLOSED,
    (S.TRANSACTION, ev.Capa): S.TRANSACTION,
    (S.TRANSACTION, ev.Stat): S.TRANSACTION,
    (S.TRANSACTION, ev.List): S.TRANSACTION,
    (S.TRANSACTION, ev.Retr): S.TRANSACTION,
    (S.TRANSACTION, ev.Top): S.TRANSACTION,
    (S.TRANSACTION, ev.Dele): S.TRANSACTION,
    (S.TRANSACTION, ev.Rset): S.TRANSACTION,
    (S.TRANSACTION, ev.Noop): S.TRANSACTION,
    (S.TRANSACTION, ev.Uidl): S.TRANSACTION,
    (S.TRANSACTION, ev.Quit): S.UPDATE,
    (S.UPDATE, ev.Commit): S.CLOSED,
}


def test_the_table_is_exactly_the_expected_diagram() -> None:
    assert TRANSITIONS == EXPECTED


def test_states_are_named_as_rfc_1939_names_them() -> None:
    assert {"AUTHORIZATION", "TRANSACTION", "UPDATE"} <= {s.name for s in State}


@pytest.mark.parametrize("kind", [ev.Stat, ev.List, ev.Retr, ev.Top, ev.Dele, ev.Rset, ev.Noop, ev.Uidl])
def test_maildrop_commands_are_illegal_before_login(kind: Kind) -> None:
    # RFC 1939 §4: in AUTHORIZATION only the login commands, CAPA, STLS and QUIT.
    assert (S.AUTHORIZATION, kind) not in TRANSITIONS
    assert (S.TRANSACTION, kind) in TRANSITIONS


@pytest.mark.parametrize("kind", [ev.User, ev.Credentials, ev.ApopCredentials, ev.Auth, ev.StartTLS])
def test_login_and_stls_are_illegal_once_logged_in(kind: Kind) -> None:
    assert (S.TRANSACTION, kind) not in TRANSITIONS


def test_only_quit_from_transaction_reaches_update() -> None:
    into_update = [key for key, target in TRANSITIONS.items() if target is S.UPDATE]
    assert into_update == [(S.TRANSACTION, ev.Quit)]
    assert TRANSITIONS[(S.AUTHORIZATION, ev.Quit)] is S.CLOSED


def test_nothing_is_legal_while_the_tls_handshake_runs_but_its_end() -> None:
    assert [kind for (state, kind) in TRANSITIONS if state is S.STLS] == [TLSEstablished]


# --- the engine follows the table -----------------------------------------------------


def _logged_in() -> POP3Server:
    server = POP3Server(ServerConfig())
    server.receive_data(b"USER bob\r\nPASS builder\r\n")
    for event in server.events():
        if isinstance(event, ev.Credentials):
            server.accept_login([ev.MaildropEntry("u1", b"Subject: x\r\n\r\nhi\r\n")])
    server.data_to_send()
    assert server.state is S.TRANSACTION
    return server


@pytest.mark.parametrize("verb", ["STAT", "LIST", "RETR 1", "TOP 1 0", "DELE 1", "RSET", "NOOP", "UIDL"])
def test_a_maildrop_command_before_login_gets_err_and_changes_nothing(verb: str) -> None:
    server = POP3Server(ServerConfig())
    server.data_to_send()
    server.receive_data(verb.encode() + b"\r\n")
    assert list(server.events()) == []
    keyword = verb.split(maxsplit=1)[0]
    assert server.data_to_send() == format_response(replies.wrong_state(keyword, logged_in=False))
    assert server.data_to_send() == b""
    assert server.state is S.AUTHORIZATION


@pytest.mark.parametrize("verb", ["USER bob", "PASS builder", "APOP bob 0123", "AUTH PLAIN", "STLS"])
def test_a_login_command_after_login_gets_err(verb: str) -> None:
    server = _logged_in()
    server.receive_data(verb.encode() + b"\r\n")
    assert list(server.events()) == []
    assert server.data_to_send() == f"-ERR Unknown command: {verb.split(maxsplit=1)[0]}\r\n".encode()
    assert server.state is S.TRANSACTION


def test_quit_walks_transaction_update_closed_with_a_commit_between() -> None:
    server = _logged_in()
    server.receive_data(b"QUIT\r\n")
    kinds = [type(e) for e in server.events()]
    assert kinds == [ev.Quit, ev.Commit, ev.ConnectionClosed]
    assert server.closed
