"""The POP3 server engine, command by command: success and failure responses, deletion marks, login policy.

Each test drives a POP3Server with bytes, answers its login events as a node would,
and checks the exact bytes it writes and the events it emits.
"""

from __future__ import annotations

import base64

import pytest

from simulator.protocol.errors import LocalProtocolError
from simulator.protocol.pop3 import events as ev
from simulator.protocol.pop3 import replies
from simulator.protocol.pop3.replies import Response
from simulator.protocol.pop3.server import POP3Server, ServerConfig
from simulator.protocol.pop3.state import State
from simulator.protocol.pop3.writers import format_response

FIRST = b"From: alice@example.com\r\nSubject: one\r\n\r\nHello Bob.\r\n.hidden dot\r\nbye\r\n"
SECOND = b"Subject: two\r\n\r\nshort"
THIRD = b"Subject: three\r\n\r\n3\r\n"
MAILDROP = [ev.MaildropEntry("uid-a", FIRST), ev.MaildropEntry("uid-b", SECOND), ev.MaildropEntry("uid-c", THIRD)]
PASSWORDS = {"bob": "builder"}


def wire(response: Response) -> bytes:
    return format_response(response)


class Node:
    """A node around a server: checks passwords against PASSWORDS, can say a maildrop is locked."""

    def __init__(self, config: ServerConfig | None = None, *, locked: bool = False, timestamp: str | None = None):
        self.server = POP3Server(config or ServerConfig(), timestamp=timestamp)
        self.greeting = self.server.data_to_send()
        self.locked = locked
        self.events: list[ev.Event] = []

    def send(self, data: bytes) -> bytes:
        self.server.receive_data(data)
        for event in self.server.events():
            self.events.append(event)
            if isinstance(event, ev.Credentials | ev.AuthCredentials):
                self._decide(event.user, PASSWORDS.get(event.user) == event.password)
            elif isinstance(event, ev.ApopCredentials):
                self._decide(event.user, event.user in PASSWORDS and event.verify(PASSWORDS[event.user]))
        return self.server.data_to_send()

    def _decide(self, user: str, good: bool) -> None:
        if not good:
            self.server.refuse_login()
        elif self.locked:
            self.server.refuse_locked()
        else:
            self.server.accept_login(MAILDROP)

    def state(self) -> State:
        """The server's state, read through a call so that each check reads it afresh."""
        return self.server.state

    def login(self) -> None:
        assert self.send(b"USER bob\r\nPASS builder\r\n") == b"+OK\r\n+OK Logged in.\r\n"

    def of(self, kind: type[ev.Event]) -> list[ev.Event]:
        return [e for e in self.events if isinstance(e, kind)]


def awaiting_login(server: POP3Server) -> None:
    """Feed USER/PASS and stop at the Credentials event, as a node does before deciding."""
    server.receive_data(b"USER bob\r\nPASS builder\r\n")
    for event in server.events():
        if isinstance(event, ev.Credentials):
            return
    raise AssertionError("no Credentials event")


def logged_in(config: ServerConfig | None = None) -> Node:
    node = Node(config)
    node.login()
    return node


# --- greeting and CAPA ----------------------------------------------------------------


def test_greeting_names_the_host() -> None:
    assert Node(ServerConfig(hostname="pop.example.net")).greeting == b"+OK pop.example.net ready.\r\n"


def test_apop_greeting_carries_the_timestamp_given_by_the_node() -> None:
    node = Node(ServerConfig(apop=True), timestamp=replies.apop_timestamp(4242, 1700000000, "mail.example.org"))
    assert node.greeting == b"+OK mail.example.org ready. <4242.1700000000@mail.example.org>\r\n"


def test_capa_before_login_lists_login_methods_and_extensions() -> None:
    node = Node(ServerConfig(implementation="smtpsim"))
    assert node.send(b"CAPA\r\n") == (
        b"+OK\r\nCAPA\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nPIPELINING\r\nAUTH-RESP-CODE\r\nUSER\r\n"
        b"SASL PLAIN LOGIN\r\nIMPLEMENTATION smtpsim\r\n.\r\n"
    )


def test_capa_offers_stls_only_when_configured_and_not_yet_in_tls() -> None:
    node = Node(ServerConfig(stls=True))
    assert b"\r\nSTLS\r\n" in node.send(b"CAPA\r\n")
    assert node.send(b"STLS\r\n") == b"+OK Begin TLS negotiation now.\r\n"
    node.server.tls_started()
    assert b"STLS" not in node.send(b"CAPA\r\n")
    assert b"STLS" not in Node(ServerConfig(stls=False)).send(b"CAPA\r\n")


def test_capa_hides_plaintext_login_before_tls_when_plaintext_requires_tls() -> None:
    node = Node(ServerConfig(stls=True, plaintext_requires_tls=True))
    before = node.send(b"CAPA\r\n")
    assert b"USER\r\n" not in before
    assert b"SASL" not in before  # PLAIN and LOGIN are both plaintext
    node.send(b"STLS\r\n")
    node.server.tls_started()
    after = node.send(b"CAPA\r\n")
    assert b"\r\nUSER\r\n" in after
    assert b"\r\nSASL PLAIN LOGIN\r\n" in after


def test_capa_after_login_lists_no_login_methods() -> None:
    node = logged_in(ServerConfig(stls=True))
    assert (
        node.send(b"CAPA\r\n") == b"+OK\r\nCAPA\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nPIPELINING\r\nAUTH-RESP-CODE\r\n.\r\n"
    )


# --- USER / PASS ----------------------------------------------------------------------


def test_user_pass_logs_in_and_enters_transaction() -> None:
    node = Node()
    assert node.send(b"USER bob\r\n") == b"+OK\r\n"
    assert node.state() is State.AUTHORIZATION
    assert node.send(b"PASS builder\r\n") == b"+OK Logged in.\r\n"
    assert node.state() is State.TRANSACTION
    assert node.server.user == "bob"
    assert node.of(ev.User) == [ev.User("bob")]
    assert node.of(ev.Credentials) == [ev.Credentials("bob", "builder")]


def test_wrong_password_gets_auth_failed_and_may_try_again() -> None:
    node = Node()
    assert node.send(b"USER bob\r\nPASS wrong\r\n") == b"+OK\r\n-ERR [AUTH] Authentication failed.\r\n"
    assert node.state() is State.AUTHORIZATION
    node.login()


def test_pass_keeps_spaces_as_part_of_the_password() -> None:
    node = Node()
    node.send(b"USER bob\r\nPASS two words \r\n")
    (credentials,) = node.of(ev.Credentials)
    assert isinstance(credentials, ev.Credentials)
    assert credentials.password == "two words "


@pytest.mark.parametrize("data", [b"PASS builder\r\n", b"USER bob\r\nCAPA\r\nPASS builder\r\n"])
def test_pass_must_follow_user_directly(data: bytes) -> None:
    node = Node()
    assert node.send(data).endswith(b"-ERR No username given.\r\n")
    assert node.of(ev.Credentials) == []
    assert node.state() is State.AUTHORIZATION


def test_user_without_a_name_is_refused() -> None:
    assert Node().send(b"USER\r\n") == b"-ERR Missing argument. Usage: USER name\r\n"


def test_a_locked_maildrop_is_refused_with_in_use() -> None:
    node = Node(locked=True)
    out = node.send(b"USER bob\r\nPASS builder\r\n")
    assert out == b"+OK\r\n-ERR [IN-USE] Mailbox is locked by another POP3 session.\r\n"
    assert node.state() is State.AUTHORIZATION


def test_plaintext_login_refused_before_tls_when_configured() -> None:
    node = Node(ServerConfig(stls=True, plaintext_requires_tls=True))
    refusal = b"-ERR [AUTH] Plaintext authentication disallowed on non-secure (SSL/TLS) connections.\r\n"
    assert node.send(b"USER bob\r\n") == refusal
    assert node.send(b"AUTH PLAIN\r\n") == refusal
    assert node.of(ev.User) == []
    node.send(b"STLS\r\n")
    node.server.tls_started()
    node.login()


def test_implicit_tls_allows_plaintext_login() -> None:
    logged_in(ServerConfig(tls_active=True, plaintext_requires_tls=True))


# --- APOP (RFC 1939 §7) -----------------------------------------------------------------

STAMP = "<1896.697170952@mail.example.org>"


def test_apop_with_the_right_digest_logs_in() -> None:
    node = Node(ServerConfig(apop=True), timestamp=STAMP)
    digest = ev.apop_digest(STAMP, "builder")
    assert node.send(f"APOP bob {digest}\r\n".encode()) == b"+OK Logged in.\r\n"
    (event,) = node.of(ev.ApopCredentials)
    assert event == ev.ApopCredentials("bob", digest, STAMP)


@pytest.mark.parametrize(
    "digest",
    [ev.apop_digest(STAMP, "wrong"), ev.apop_digest("<1.1@other>", "builder"), "not-hex"],
    ids=["wrong-secret", "other-timestamp", "garbage"],
)
def test_apop_digest_is_checked_against_this_greetings_timestamp(digest: str) -> None:
    node = Node(ServerConfig(apop=True), timestamp=STAMP)
    assert node.send(f"APOP bob {digest}\r\n".encode()) == b"-ERR [AUTH] Authentication failed.\r\n"
    assert node.state() is State.AUTHORIZATION


def test_apop_digest_is_case_insensitive_hex() -> None:
    event = ev.ApopCredentials("bob", ev.apop_digest(STAMP, "builder").upper(), STAMP)
    assert event.verify("builder")


def test_apop_without_a_timestamp_is_refused() -> None:
    assert Node().send(b"APOP bob 0123456789abcdef\r\n") == wire(replies.APOP_DISABLED)


def test_apop_needs_two_arguments() -> None:
    node = Node(ServerConfig(apop=True))
    assert node.send(b"APOP bob\r\n") == b"-ERR Missing argument. Usage: APOP name digest\r\n"


# --- AUTH (RFC 5034) -----------------------------------------------------------------------


def b64(data: bytes) -> bytes:
    return base64.b64encode(data)


def test_auth_plain_with_initial_response() -> None:
    node = Node()
    assert node.send(b"AUTH PLAIN " + b64(b"\0bob\0builder") + b"\r\n") == b"+OK Logged in.\r\n"
    assert node.of(ev.Auth) == [ev.Auth("PLAIN")]
    assert node.of(ev.AuthCredentials) == [ev.AuthCredentials("PLAIN", "bob", "builder")]
    assert node.state() is State.TRANSACTION


def test_auth_plain_without_initial_response_gets_an_empty_challenge() -> None:
    node = Node()
    assert node.send(b"AUTH PLAIN\r\n") == b"+ \r\n"
    assert node.state() is State.AUTH
    assert node.send(b64(b"\0bob\0builder") + b"\r\n") == b"+OK Logged in.\r\n"


def test_auth_login_asks_username_then_password() -> None:
    node = Node()
    assert node.send(b"auth login\r\n") == b"+ " + b64(b"Username:") + b"\r\n"
    assert node.send(b64(b"bob") + b"\r\n") == b"+ " + b64(b"Password:") + b"\r\n"
    assert node.send(b64(b"builder") + b"\r\n") == b"+OK Logged in.\r\n"


def test_auth_refused_returns_to_authorization() -> None:
    node = Node()
    assert node.send(b"AUTH PLAIN " + b64(b"\0bob\0nope") + b"\r\n") == b"-ERR [AUTH] Authentication failed.\r\n"
    assert node.state() is State.AUTHORIZATION
    node.login()


@pytest.mark.parametrize(
    ("answer", "response"),
    [(b"*", replies.AUTH_ABORTED), (b"!!!", replies.AUTH_BAD_BASE64), (b64(b"no-nuls"), replies.AUTH_MALFORMED)],
    ids=["cancel", "bad-base64", "malformed"],
)
def test_auth_exchange_that_ends_without_credentials(answer: bytes, response: Response) -> None:
    node = Node()
    node.send(b"AUTH PLAIN\r\n")
    assert node.send(answer + b"\r\n") == wire(response)
    assert node.state() is State.AUTHORIZATION
    assert len(node.of(ev.AuthAborted)) == 1
    assert node.of(ev.AuthCredentials) == []
    node.login()


def test_auth_with_an_unknown_mechanism() -> None:
    assert Node().send(b"AUTH CRAM-MD5\r\n") == b"-ERR Unsupported authentication mechanism.\r\n"


def test_auth_without_arguments_lists_the_mechanisms() -> None:
    assert Node().send(b"AUTH\r\n") == b"+OK\r\nPLAIN\r\nLOGIN\r\n.\r\n"


# --- STLS (RFC 2595) ----------------------------------------------------------------------


def test_stls_drops_pipelined_cleartext_and_tls_started_forgets_user() -> None:
    node = Node(ServerConfig(stls=True))
    assert node.send(b"USER bob\r\n") == b"+OK\r\n"
    # An attacker's injected command pipelined behind STLS must not run after the handshake.
    assert node.send(b"STLS\r\nPASS builder\r\n") == b"+OK Begin TLS negotiation now.\r\n"
    assert node.of(ev.StartTLS) == [ev.StartTLS()]
    assert node.state() is State.STLS
    assert node.send(b"CAPA\r\n") == b""  # clear text during the handshake is ignored
    node.server.tls_started()
    assert node.server.tls
    assert node.state() is State.AUTHORIZATION
    # RFC 2595 §4: the USER given before TLS is forgotten.
    assert node.send(b"PASS builder\r\n") == b"-ERR No username given.\r\n"
    node.login()


def test_stls_twice_and_stls_not_configured() -> None:
    assert Node().send(b"STLS\r\n") == b"-ERR TLS support isn't enabled.\r\n"
    node = Node(ServerConfig(stls=True, tls_active=True))
    assert node.send(b"STLS\r\n") == b"-ERR TLS is already active.\r\n"


def test_tls_started_without_stls_is_our_bug() -> None:
    with pytest.raises(LocalProtocolError):
        Node().server.tls_started()


# --- TRANSACTION commands (RFC 1939 §5, §7) -------------------------------------------------


def test_stat_counts_and_sizes_with_a_final_crlf() -> None:
    size = len(FIRST) + len(SECOND) + 2 + len(THIRD)  # SECOND gets the CRLF it lacks
    assert logged_in().send(b"STAT\r\n") == f"+OK 3 {size}\r\n".encode()


def test_list_all_and_one() -> None:
    node = logged_in()
    expected = f"+OK 3 messages:\r\n1 {len(FIRST)}\r\n2 {len(SECOND) + 2}\r\n3 {len(THIRD)}\r\n.\r\n"
    assert node.send(b"LIST\r\n") == expected.encode()
    assert node.send(b"LIST 3\r\n") == f"+OK 3 {len(THIRD)}\r\n".encode()
    assert node.of(ev.List) == [ev.List(), ev.List(3)]


def test_uidl_all_and_one() -> None:
    node = logged_in()
    assert node.send(b"UIDL\r\n") == b"+OK\r\n1 uid-a\r\n2 uid-b\r\n3 uid-c\r\n.\r\n"
    assert node.send(b"uidl 2\r\n") == b"+OK 2 uid-b\r\n"


def test_retr_sends_the_message_dot_stuffed() -> None:
    node = logged_in()
    out = node.send(b"RETR 1\r\n")
    assert out == f"+OK {len(FIRST)} octets\r\n".encode() + FIRST.replace(b"\r\n.", b"\r\n..") + b".\r\n"
    assert node.of(ev.Retr) == [ev.Retr(1, "uid-a")]


def test_retr_of_a_message_without_final_crlf_adds_one_before_the_dot() -> None:
    assert len(SECOND) + 2 == 23
    assert logged_in().send(b"RETR 2\r\n") == b"+OK 23 octets\r\nSubject: two\r\n\r\nshort\r\n.\r\n"


def test_top_sends_headers_and_n_lines() -> None:
    node = logged_in()
    assert node.send(b"TOP 1 1\r\n") == (b"+OK\r\nFrom: alice@example.com\r\nSubject: one\r\n\r\nHello Bob.\r\n.\r\n")
    assert node.send(b"TOP 1 0\r\n") == b"+OK\r\nFrom: alice@example.com\r\nSubject: one\r\n\r\n.\r\n"
    assert node.of(ev.Top) == [ev.Top(1, "uid-a", 1), ev.Top(1, "uid-a", 0)]


@pytest.mark.parametrize(
    ("command", "response"),
    [
        (b"RETR 0", b"-ERR No such message.\r\n"),
        (b"RETR 4", b"-ERR No such message.\r\n"),
        (b"RETR x", b"-ERR Invalid message number: x\r\n"),
        (b"RETR -1", b"-ERR Invalid message number: -1\r\n"),
        (b"RETR", b"-ERR Missing argument. Usage: RETR msg\r\n"),
        (b"RETR 1 2", b"-ERR Noise after command arguments.\r\n"),
        (b"DELE 9", b"-ERR No such message.\r\n"),
        (b"LIST 9", b"-ERR No such message.\r\n"),
        (b"UIDL 0", b"-ERR No such message.\r\n"),
        (b"TOP 1", b"-ERR Missing argument. Usage: TOP msg n\r\n"),
        (b"TOP 1 x", b"-ERR Invalid number of lines: x\r\n"),
        (b"TOP 5 1", b"-ERR No such message.\r\n"),
        (b"STAT 1", b"-ERR Noise after command arguments.\r\n"),
        (b"XYZZY", b"-ERR Unknown command: XYZZY\r\n"),
        (b"", b"-ERR Unknown command: \r\n"),
    ],
)
def test_bad_arguments_get_the_right_err(command: bytes, response: bytes) -> None:
    node = logged_in()
    assert node.send(command + b"\r\n") == response
    assert node.state() is State.TRANSACTION


def test_dele_only_marks_and_hides_the_message() -> None:
    node = logged_in()
    assert node.send(b"DELE 2\r\n") == b"+OK Marked to be deleted.\r\n"
    assert node.of(ev.Dele) == [ev.Dele(2, "uid-b")]
    assert node.of(ev.Commit) == []
    for command in (b"RETR 2", b"TOP 2 0", b"LIST 2", b"UIDL 2", b"DELE 2"):
        assert node.send(command + b"\r\n") == b"-ERR Message is deleted.\r\n"
    # Numbers do not shift: message 3 is still message 3 (RFC 1939 §5).
    assert node.send(b"UIDL\r\n") == b"+OK\r\n1 uid-a\r\n3 uid-c\r\n.\r\n"
    assert node.send(b"STAT\r\n") == f"+OK 2 {len(FIRST) + len(THIRD)}\r\n".encode()
    assert node.server.deleted == ("uid-b",)


def test_rset_unmarks_every_deletion() -> None:
    node = logged_in()
    node.send(b"DELE 1\r\nDELE 3\r\n")
    assert node.send(b"RSET\r\n") == b"+OK\r\n"
    assert node.server.deleted == ()
    assert node.send(b"RETR 3\r\n").startswith(b"+OK")
    node.send(b"QUIT\r\n")
    assert node.of(ev.Commit) == [ev.Commit("bob", ())]


def test_noop() -> None:
    node = logged_in()
    assert node.send(b"NOOP\r\n") == b"+OK\r\n"
    assert node.of(ev.Noop) == [ev.Noop()]


# --- QUIT, UPDATE and dropped connections (RFC 1939 §6) ---------------------------------------


def test_quit_commits_the_marked_uids() -> None:
    node = logged_in()
    node.send(b"DELE 3\r\nDELE 1\r\n")
    assert node.send(b"QUIT\r\n") == b"+OK Logging out, messages deleted.\r\n"
    assert node.of(ev.Commit) == [ev.Commit("bob", ("uid-a", "uid-c"))]
    assert isinstance(node.events[-1], ev.ConnectionClosed)
    assert node.server.closed
    assert node.send(b"NOOP\r\n") == b""  # nothing after close


def test_quit_before_login_commits_nothing() -> None:
    node = Node()
    assert node.send(b"QUIT\r\n") == b"+OK Logging out.\r\n"
    assert node.of(ev.Commit) == []
    assert node.server.closed


@pytest.mark.parametrize("eof", [b"", None], ids=["eof", "eof-after-partial-line"])
def test_a_dropped_connection_commits_nothing(eof: bytes | None) -> None:
    node = logged_in()
    node.send(b"DELE 1\r\nDELE 2\r\n")
    if eof is None:
        node.send(b"QU")  # QUIT never finished
    assert node.send(b"") == b""
    assert node.of(ev.Commit) == []
    (closed,) = node.of(ev.ConnectionClosed)
    assert isinstance(closed, ev.ConnectionClosed)
    assert "nothing deleted" in closed.reason
    assert node.server.closed


# --- pipelining, errors, misuse --------------------------------------------------------------


def test_pipelined_commands_get_their_responses_in_order() -> None:
    node = Node()
    out = node.send(b"USER bob\r\nPASS builder\r\nSTAT\r\nUIDL 1\r\nDELE 1\r\nQUIT\r\n")
    size = len(SECOND) + 2 + len(THIRD) + len(FIRST)
    assert out == (
        b"+OK\r\n+OK Logged in.\r\n"
        + f"+OK 3 {size}\r\n".encode()
        + b"+OK 1 uid-a\r\n+OK Marked to be deleted.\r\n+OK Logging out, messages deleted.\r\n"
    )
    assert node.of(ev.Commit) == [ev.Commit("bob", ("uid-a",))]


def test_commands_behind_a_login_wait_for_the_nodes_answer() -> None:
    server = POP3Server()
    server.data_to_send()
    server.receive_data(b"USER bob\r\nPASS builder\r\nSTAT\r\n")
    events = server.events()
    assert next(events) == ev.User("bob")
    assert next(events) == ev.Credentials("bob", "builder")
    with pytest.raises(LocalProtocolError):
        next(events)  # the node must answer first
    assert server.data_to_send() == b"+OK\r\n"  # STAT is not read yet
    server.accept_login([ev.MaildropEntry("only", b"x\r\n")])
    assert list(server.events()) == [ev.Stat()]
    assert server.data_to_send() == b"+OK Logged in.\r\n+OK 1 3\r\n"


def test_too_many_bad_commands_end_the_session() -> None:
    node = Node(ServerConfig(max_bad_commands=3))
    out = node.send(b"FOO\r\nBAR\r\nBAZ\r\nCAPA\r\n")
    assert out == (
        b"-ERR Unknown command: FOO\r\n-ERR Unknown command: BAR\r\n-ERR Unknown command: BAZ\r\n"
        b"-ERR Too many bad commands.\r\n"
    )
    assert node.server.closed
    assert node.of(ev.Capa) == []


def test_unknown_command_echo_is_sanitised() -> None:
    assert Node().send(b"F\x00O\rO\r\n") == b"-ERR Unknown command: F?O?O\r\n"


def test_answering_without_a_pending_login_is_our_bug() -> None:
    server = POP3Server()
    with pytest.raises(LocalProtocolError):
        server.accept_login([])
    with pytest.raises(LocalProtocolError):
        server.refuse_login()


@pytest.mark.parametrize(
    "maildrop",
    [
        [ev.MaildropEntry("has space", b"")],
        [ev.MaildropEntry("", b"")],
        [ev.MaildropEntry("x" * 71, b"")],
        [ev.MaildropEntry("dup", b""), ev.MaildropEntry("dup", b"")],
    ],
    ids=["space", "empty", "too-long", "duplicate"],
)
def test_invalid_unique_ids_are_our_bug(maildrop: list[ev.MaildropEntry]) -> None:
    server = POP3Server()
    awaiting_login(server)
    with pytest.raises(LocalProtocolError):
        server.accept_login(maildrop)


def test_refuse_login_demands_an_err() -> None:
    server = POP3Server()
    awaiting_login(server)
    with pytest.raises(LocalProtocolError):
        server.refuse_login(replies.LOGGED_IN)


def test_the_maildrop_is_fixed_at_login() -> None:
    drop = list(MAILDROP)
    server = POP3Server()
    awaiting_login(server)
    server.accept_login(drop)
    drop.clear()  # the node's store changes during the session
    server.receive_data(b"UIDL 3\r\n")
    list(server.events())
    assert server.data_to_send().endswith(b"+OK 3 uid-c\r\n")


def test_every_output_carries_its_response_with_an_explanation() -> None:
    node = Node()
    node.server.receive_data(b"CAPA\r\nFOO\r\nUSER bob\r\nPASS nope\r\n")
    for event in node.server.events():
        if isinstance(event, ev.Credentials):
            node.server.refuse_login()
    outputs = node.server.outgoing()
    assert [o.data for o in outputs] == [wire(o.response) for o in outputs]
    assert len(outputs) == 4
    for output in outputs:
        assert output.response.explain
        assert output.response.rfc.startswith("RFC ")
