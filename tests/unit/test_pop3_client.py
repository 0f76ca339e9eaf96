"""The POP3 client engine: a whole retrieval session, against our server and against scripted responses.

The in-memory pair runs both retrieval profiles end to end through real bytes; the
scripted sessions check how the client handles each -ERR a server may send.
"""

from __future__ import annotations

import base64

import pytest

from simulator.protocol.pop3 import events as ev
from simulator.protocol.pop3.client import ClientConfig, ClientState, POP3Client
from simulator.protocol.pop3.readers import parse_command
from simulator.protocol.pop3.replies import apop_timestamp
from simulator.protocol.pop3.server import POP3Server, ServerConfig

CONTENTS = {
    "uid-1": b"Subject: one\r\n\r\n.leading dot survives\r\n",
    "uid-2": b"Subject: two\r\n\r\nno final newline",
    "uid-3": b"Subject: three\r\n\r\n.\r\n..\r\nend\r\n",
}
BOB = ClientConfig(username="bob", password="builder")


class Mailhost:
    """A node around a POP3Server: one user, a store of messages, deletions applied on Commit."""

    def __init__(self, config: ServerConfig | None = None, *, locked: bool = False, apop: bool = False) -> None:
        self.store = dict(CONTENTS)
        self.locked = locked
        timestamp = apop_timestamp(77, 1000, "mail.example.org") if apop else None
        self.server = POP3Server(config or ServerConfig(apop=apop), timestamp=timestamp)
        self.commits: list[ev.Commit] = []

    def handle(self) -> None:
        for event in self.server.events():
            if isinstance(event, ev.Credentials | ev.AuthCredentials):
                self._decide(event.user == "bob" and event.password == "builder")
            elif isinstance(event, ev.ApopCredentials):
                self._decide(event.user == "bob" and event.verify("builder"))
            elif isinstance(event, ev.Commit):
                self.commits.append(event)
                for uid in event.deleted:
                    del self.store[uid]

    def _decide(self, good: bool) -> None:
        if not good:
            self.server.refuse_login()
        elif self.locked:
            self.server.refuse_locked()
        else:
            self.server.accept_login([ev.MaildropEntry(uid, body) for uid, body in self.store.items()])


def run(client: POP3Client, host: Mailhost, *, lose_after: str | None = None) -> list[bytes]:
    """Shuttle bytes until both sides are done; do the TLS 'handshake' when both ask for it.

    Returns the command lines the client wrote. With `lose_after`, the connection drops
    right after the client sends that command.
    """
    sent: list[bytes] = []
    for _ in range(200):
        to_client = host.server.data_to_send()
        if to_client:
            client.receive_data(to_client)
        if host.server.closed and not client.closed:
            client.receive_data(b"")
        to_server = client.data_to_send()
        sent += [line for line in to_server.split(b"\r\n") if line]
        if lose_after is not None and lose_after.encode() in sent:
            host.server.receive_data(b"")
            client.receive_data(b"")
            host.handle()
            return sent
        if to_server:
            host.server.receive_data(to_server)
        host.handle()
        if client.state is ClientState.TLS_HANDSHAKE and host.server.state.name == "STLS":
            host.server.tls_started()
            client.tls_started()
        if client.closed and host.server.closed:
            return sent
    raise AssertionError("the session did not end")


def of(client_events: list[ev.Event], kind: type[ev.Event]) -> list[ev.Event]:
    return [e for e in client_events if isinstance(e, kind)]


def verbs(sent: list[bytes]) -> list[str]:
    return [parse_command(line).verb for line in sent]


def retrieved(events: list[ev.Event]) -> dict[str, bytes]:
    return {e.uid: e.content for e in events if isinstance(e, ev.MessageRetrieved)}


def with_crlf(content: bytes) -> bytes:
    return content if content.endswith(b"\r\n") else content + b"\r\n"


# --- the two retrieval profiles, end to end ----------------------------------------------


def test_download_and_delete_retrieves_everything_then_the_server_deletes_it() -> None:
    client, host = POP3Client(BOB), Mailhost()
    sent = run(client, host)
    events = list(client.events())
    assert verbs(sent) == ["CAPA", "USER", "PASS", "UIDL"] + ["RETR", "DELE"] * 3 + ["QUIT"]
    assert retrieved(events) == {uid: with_crlf(body) for uid, body in CONTENTS.items()}
    assert of(events, ev.SessionComplete) == [
        ev.SessionComplete(("uid-1", "uid-2", "uid-3"), ("uid-1", "uid-2", "uid-3"))
    ]
    assert host.store == {}
    assert isinstance(events[-1], ev.ConnectionClosed)


def test_leave_on_server_skips_known_uids_and_deletes_nothing() -> None:
    config = ClientConfig(
        username="bob", password="builder", profile="leave-on-server", known_uids=frozenset({"uid-2"})
    )
    client, host = POP3Client(config), Mailhost()
    sent = run(client, host)
    events = list(client.events())
    assert sent[3:] == [b"UIDL", b"RETR 1", b"RETR 3", b"QUIT"]
    assert retrieved(events) == {"uid-1": CONTENTS["uid-1"], "uid-3": CONTENTS["uid-3"]}
    (listed,) = of(events, ev.MessagesListed)
    assert isinstance(listed, ev.MessagesListed)
    assert listed.to_retrieve == (1, 3)
    assert [m.uid for m in listed.messages] == ["uid-1", "uid-2", "uid-3"]
    assert host.store == CONTENTS
    assert host.commits == [ev.Commit("bob", ())]


def test_a_second_leave_on_server_session_with_everything_known_retrieves_nothing() -> None:
    config = ClientConfig(username="bob", password="builder", profile="leave-on-server", known_uids=frozenset(CONTENTS))
    client = POP3Client(config)
    sent = run(client, Mailhost())
    assert verbs(sent)[-2:] == ["UIDL", "QUIT"]
    assert retrieved(list(client.events())) == {}


# --- login methods ---------------------------------------------------------------------------


def test_apop_when_the_greeting_has_a_timestamp() -> None:
    client = POP3Client(ClientConfig(username="bob", password="builder", login="apop"))
    sent = run(client, Mailhost(apop=True))
    digest = ev.apop_digest("<77.1000@mail.example.org>", "builder")
    assert sent[1] == f"APOP bob {digest}".encode()
    assert b"builder" not in b"".join(sent)  # the secret never crosses the wire
    events = list(client.events())
    assert of(events, ev.Authenticated) == [ev.Authenticated("bob", "APOP")]
    assert len(retrieved(events)) == 3


def test_apop_falls_back_to_user_pass_without_a_timestamp() -> None:
    client = POP3Client(ClientConfig(username="bob", password="builder", login="apop"))
    sent = run(client, Mailhost())
    assert verbs(sent)[:3] == ["CAPA", "USER", "PASS"]


def test_auth_plain_with_initial_response() -> None:
    client = POP3Client(ClientConfig(username="bob", password="builder", login="sasl-plain"))
    sent = run(client, Mailhost())
    assert sent[1] == b"AUTH PLAIN " + base64.b64encode(b"\0bob\0builder")
    assert of(list(client.events()), ev.Authenticated) == [ev.Authenticated("bob", "AUTH PLAIN")]


def test_opportunistic_stls_upgrades_before_a_plaintext_login() -> None:
    client = POP3Client(ClientConfig(username="bob", password="builder", stls="opportunistic"))
    host = Mailhost(ServerConfig(stls=True, plaintext_requires_tls=True))
    sent = run(client, host)
    events = list(client.events())
    assert verbs(sent)[:5] == ["CAPA", "STLS", "CAPA", "USER", "PASS"]
    assert of(events, ev.TLSReady) == [ev.TLSReady()]
    first, second = of(events, ev.Capabilities)
    assert isinstance(first, ev.Capabilities) and isinstance(second, ev.Capabilities)
    assert "STLS" in first.capabilities and "USER" not in first.capabilities
    assert "STLS" not in second.capabilities and "USER" in second.capabilities
    assert client.tls
    assert len(retrieved(events)) == 3


def test_required_stls_not_offered_quits_without_sending_the_password() -> None:
    client = POP3Client(ClientConfig(username="bob", password="builder", stls="required"))
    sent = run(client, Mailhost())
    assert verbs(sent) == ["CAPA", "QUIT"]
    (failed,) = of(list(client.events()), ev.SessionFailed)
    assert isinstance(failed, ev.SessionFailed)
    assert "TLS" in failed.reason


@pytest.mark.parametrize(
    ("config", "locked", "code"),
    [
        (ClientConfig(username="bob", password="wrong"), False, "AUTH"),
        (ClientConfig(username="mallory", password="builder", login="sasl-plain"), False, "AUTH"),
        (BOB, True, "IN-USE"),
    ],
    ids=["wrong-password", "unknown-user", "locked"],
)
def test_a_refused_login_ends_with_quit_and_says_why(config: ClientConfig, locked: bool, code: str) -> None:
    client, host = POP3Client(config), Mailhost(locked=locked)
    sent = run(client, host)
    events = list(client.events())
    assert verbs(sent)[-1] == "QUIT"
    assert "UIDL" not in verbs(sent)
    (failed,) = of(events, ev.LoginFailed)
    assert isinstance(failed, ev.LoginFailed)
    assert failed.response.code == code
    assert len(of(events, ev.SessionFailed)) == 1
    assert of(events, ev.SessionComplete) == []
    assert client.closed
    assert host.store == CONTENTS


def test_a_dropped_connection_after_dele_deletes_nothing_on_either_side() -> None:
    client, host = POP3Client(BOB), Mailhost()
    run(client, host, lose_after="DELE 2")
    events = list(client.events())
    assert host.commits == []
    assert host.store == CONTENTS
    assert of(events, ev.SessionComplete) == []
    (failed,) = of(events, ev.SessionFailed)
    assert isinstance(failed, ev.SessionFailed)
    assert "not committed" in failed.reason


# --- scripted servers: each -ERR on the way ---------------------------------------------------


class Script:
    """A client fed server bytes by the test."""

    def __init__(self, config: ClientConfig = BOB) -> None:
        self.client = POP3Client(config)
        self.events: list[ev.Event] = []

    def feed(self, data: bytes) -> bytes:
        self.client.receive_data(data)
        self.events += self.client.events()
        return self.client.data_to_send()

    def logged_in(self) -> None:
        assert self.feed(b"+OK ready.\r\n") == b"CAPA\r\n"
        assert self.feed(b"+OK\r\nUIDL\r\nUSER\r\n.\r\n") == b"USER bob\r\n"
        assert self.feed(b"+OK\r\n") == b"PASS builder\r\n"
        assert self.feed(b"+OK Logged in.\r\n") == b"UIDL\r\n"


def test_a_failed_retr_is_reported_and_that_message_is_not_deleted() -> None:
    script = Script()
    script.logged_in()
    assert script.feed(b"+OK\r\n1 a\r\n2 b\r\n.\r\n") == b"RETR 1\r\n"
    assert script.feed(b"-ERR [SYS/TEMP] I/O error\r\n") == b"RETR 2\r\n"
    assert script.feed(b"+OK 3 octets\r\nhi\r\n.\r\n") == b"DELE 2\r\n"
    assert script.feed(b"+OK Marked to be deleted.\r\n") == b"QUIT\r\n"
    assert script.feed(b"+OK Logging out, messages deleted.\r\n") == b""
    (failure,) = of(script.events, ev.RetrieveFailed)
    assert isinstance(failure, ev.RetrieveFailed)
    assert (failure.number, failure.uid, failure.response.code) == (1, "a", "SYS/TEMP")
    assert of(script.events, ev.SessionComplete) == [ev.SessionComplete(("b",), ("b",))]


def test_without_uidl_download_and_delete_falls_back_to_list() -> None:
    script = Script()
    script.logged_in()
    assert script.feed(b"-ERR Unknown command: UIDL\r\n") == b"LIST\r\n"
    assert script.feed(b"+OK 1 messages:\r\n1 5\r\n.\r\n") == b"RETR 1\r\n"
    assert script.feed(b"+OK\r\nabc\r\n.\r\n") == b"DELE 1\r\n"
    assert of(script.events, ev.MessageRetrieved) == [ev.MessageRetrieved(1, "", b"abc\r\n")]


def test_without_uidl_leave_on_server_gives_up() -> None:
    script = Script(ClientConfig(username="bob", password="builder", profile="leave-on-server"))
    script.logged_in()
    assert script.feed(b"-ERR Unknown command: UIDL\r\n") == b"QUIT\r\n"
    assert len(of(script.events, ev.SessionFailed)) == 1


def test_capa_refused_by_an_old_server_goes_on_with_user() -> None:
    script = Script()
    script.feed(b"+OK ready.\r\n")
    assert script.feed(b"-ERR Unknown command\r\n") == b"USER bob\r\n"
    assert of(script.events, ev.Capabilities) == [ev.Capabilities({})]


def test_an_err_greeting_ends_with_quit() -> None:
    script = Script()
    assert script.feed(b"-ERR [SYS/TEMP] too busy\r\n") == b"QUIT\r\n"
    assert len(of(script.events, ev.SessionFailed)) == 1


def test_a_quit_err_means_the_deletions_did_not_happen() -> None:
    script = Script()
    script.logged_in()
    script.feed(b"+OK\r\n1 a\r\n.\r\n")
    script.feed(b"+OK\r\nx\r\n.\r\n")
    assert script.feed(b"+OK\r\n") == b"QUIT\r\n"
    script.feed(b"-ERR some deleted messages not removed\r\n")
    assert of(script.events, ev.SessionComplete) == [ev.SessionComplete(("a",), ())]
    assert script.client.closed


def test_auth_plain_answers_an_empty_challenge_when_the_initial_response_is_ignored() -> None:
    script = Script(ClientConfig(username="bob", password="builder", login="sasl-plain"))
    script.feed(b"+OK ready.\r\n")
    script.feed(b"+OK\r\n.\r\n")
    assert script.feed(b"+ \r\n") == base64.b64encode(b"\0bob\0builder") + b"\r\n"
    assert script.feed(b"+OK Logged in.\r\n") == b"UIDL\r\n"


@pytest.mark.parametrize("garbage", [b"220 smtp.example.org ESMTP\r\n", b"x" * 5000 + b"\r\n"])
def test_an_unparseable_response_ends_the_session(garbage: bytes) -> None:
    script = Script()
    assert script.feed(garbage) == b""
    assert script.client.closed
    assert len(of(script.events, ev.SessionFailed)) == 1


def test_outputs_carry_a_learners_note() -> None:
    client = POP3Client(BOB)
    client.receive_data(b"+OK ready.\r\n")
    (output,) = client.outgoing()
    assert output.data == b"CAPA\r\n"
    assert output.summary == "CAPA"
    assert output.rfc == "RFC 2449 §5"
    assert output.explain


def test_long_lines_inside_a_message_are_kept_whole() -> None:
    script = Script()
    script.logged_in()
    script.feed(b"+OK\r\n1 a\r\n.\r\n")
    long_line = b"x" * 20_000
    assert script.feed(b"+OK\r\n" + long_line + b"\r\n.\r\n") == b"DELE 1\r\n"
    assert of(script.events, ev.MessageRetrieved) == [ev.MessageRetrieved(1, "a", long_line + b"\r\n")]


def test_responses_are_explained_for_the_command_they_answer() -> None:
    script = Script()
    script.logged_in()
    script.feed(b"+OK\r\n1 a\r\n.\r\n")
    script.feed(b"+OK\r\nx\r\n.\r\n")
    script.feed(b"+OK\r\n")
    notes = {e.command: e.response.rfc for e in script.events if isinstance(e, ev.ResponseReceived)}
    assert notes["CAPA"] == "RFC 2449 §5"
    assert notes["USER bob"] == "RFC 1939 §7 (USER)"
    assert notes["UIDL"] == "RFC 1939 §7 (UIDL)"
    assert notes["RETR 1"] == "RFC 1939 §5 (RETR), §3"
    assert notes["DELE 1"] == "RFC 1939 §5 (DELE), §6"
