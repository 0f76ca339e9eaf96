"""The SMTP, POP3 and IMAP client engines log in with every SASL mechanism against the server engines.

Each test pumps bytes between a client engine and a server engine in memory; a node
around the server holds the password, the SCRAM secret and the token policy. The
client picks its mechanism from its configuration (RFC 4954 §4, RFC 5034 §4,
RFC 3501 §6.2.2) and uses the sasl client helpers for the arithmetic.
"""

from __future__ import annotations

import base64
import random
from collections.abc import Callable
from typing import Protocol

import pytest

from simulator.mail.store import Account, FlagMode
from simulator.protocol import sasl
from simulator.protocol.errors import LocalProtocolError
from simulator.protocol.imap import client as imap_client
from simulator.protocol.imap import server as imap
from simulator.protocol.pop3 import client as pop3_client
from simulator.protocol.pop3 import events as pop3_ev
from simulator.protocol.pop3.server import POP3Server
from simulator.protocol.pop3.server import ServerConfig as Pop3Config
from simulator.protocol.smtp import client as smtp_client
from simulator.protocol.smtp import events as smtp_ev
from simulator.protocol.smtp import replies as smtp_replies
from simulator.protocol.smtp.server import NEEDS_REPLY, SMTPServer
from simulator.protocol.smtp.server import ServerConfig as SmtpConfig

MECHANISMS = ("PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-256", "XOAUTH2", "OAUTHBEARER")
GOOD = {"password": "builder", "token": "good-token"}
BAD = {"password": "wrong", "token": "expired-token"}
SCRAM = sasl.ScramSecret.from_password("builder", salt=b"0123456789abcdef")


class Engine(Protocol):
    """What `pump` needs of a client or server engine."""

    @property
    def closed(self) -> bool: ...

    def receive_data(self, data: bytes) -> None: ...

    def data_to_send(self) -> bytes: ...


def pump(client: Engine, server: Engine, handle: Callable[[], None], collect: Callable[[], None]) -> list[bytes]:
    """Shuttle bytes until both engines are quiet; the client's writes in order."""
    writes: list[bytes] = []
    for _ in range(200):
        progressed = False
        handle()
        wire = server.data_to_send()
        if wire:
            client.receive_data(wire)
            progressed = True
        elif server.closed and not client.closed:
            client.receive_data(b"")
            progressed = True
        collect()
        wire = client.data_to_send()
        if wire:
            writes.append(wire)
            server.receive_data(wire)
            progressed = True
        if not progressed:
            return writes
    raise AssertionError("the engines never went quiet")


def token_good(user: str, token: str) -> bool:
    return token == "good-token" and user in ("", "bob")


# --- SMTP ----------------------------------------------------------------------------------------------------------


def smtp_session(
    mechanism: str, secrets: dict[str, str]
) -> tuple[smtp_client.SMTPClient, SMTPServer, list[object], list[bytes]]:
    config = smtp_client.ClientConfig(
        username="bob", password=secrets["password"], token=secrets["token"], auth_mechanisms=(mechanism,)
    )
    client = smtp_client.SMTPClient(config, rng=random.Random(1))
    client.quit()
    server = SMTPServer(SmtpConfig(auth_mechanisms=MECHANISMS, auth_requires_tls=False), rng=random.Random(2))
    client_events: list[object] = []

    def handle() -> None:
        for event in server.events():
            if isinstance(event, smtp_ev.AuthCredentials):
                good = event.username == "bob" and event.password == "builder"
                server.send(smtp_replies.AUTH_OK if good else smtp_replies.AUTH_FAILED)
            elif isinstance(event, smtp_ev.SecretNeeded):
                server.supply_secret(SCRAM if event.mechanism == "SCRAM-SHA-256" else "builder")
            elif isinstance(event, smtp_ev.TokenCredentials):
                if token_good(event.username, event.token):
                    server.accept_token()
                else:
                    server.refuse_token(scope="mail")
            elif isinstance(event, NEEDS_REPLY):
                server.send(smtp_replies.OK)

    writes = pump(client, server, handle, lambda: client_events.extend(client.events()))
    return client, server, client_events, writes


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_smtp_client_authenticates_with_each_mechanism(mechanism: str) -> None:
    client, server, events, writes = smtp_session(mechanism, GOOD)
    assert client.authenticated
    assert smtp_ev.Authenticated("bob") in events
    assert server.auth_user == "bob"
    assert any(w.startswith(f"AUTH {mechanism}".encode()) for w in writes)
    assert writes[-1] == b"QUIT\r\n"


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_smtp_client_reports_a_refused_login_with_each_mechanism(mechanism: str) -> None:
    client, server, events, _ = smtp_session(mechanism, BAD)
    assert not client.authenticated
    failed = [e for e in events if isinstance(e, smtp_ev.AuthFailed)]
    assert [f.reply.code for f in failed] == [535]
    assert server.auth_user is None


def test_smtp_client_sends_plain_with_the_initial_response_as_before() -> None:
    _, _, _, writes = smtp_session("PLAIN", GOOD)
    assert b"AUTH PLAIN " + base64.b64encode(b"\0bob\0builder") + b"\r\n" in writes


def test_smtp_client_waits_for_the_challenge_with_server_first_mechanisms() -> None:
    _, _, _, writes = smtp_session("CRAM-MD5", GOOD)
    assert b"AUTH CRAM-MD5\r\n" in writes


def test_smtp_client_answers_the_oauthbearer_error_with_ctrl_a() -> None:
    _, _, _, writes = smtp_session("OAUTHBEARER", BAD)
    assert b"AQ==\r\n" in writes  # RFC 7628 §3.2.3


def test_smtp_client_cancels_when_the_scram_server_cannot_prove_itself() -> None:
    client = smtp_client.SMTPClient(
        smtp_client.ClientConfig(username="bob", password="builder", auth_mechanisms=("SCRAM-SHA-256",))
    )
    client.receive_data(b"220 mx.example.org ESMTP\r\n")
    client.data_to_send()
    client.receive_data(b"250-mx.example.org\r\n250 AUTH SCRAM-SHA-256\r\n")
    first = client.data_to_send()
    bare = base64.b64decode(first.split()[2])[3:].decode()
    nonce = bare.split("r=", 1)[1]
    server_first = f"r={nonce}xyz,s={base64.b64encode(b'salt').decode()},i=4096".encode()
    client.receive_data(b"334 " + base64.b64encode(server_first) + b"\r\n")
    client.data_to_send()  # the client-final-message
    client.receive_data(b"334 " + base64.b64encode(b"v=" + base64.b64encode(b"x" * 32)) + b"\r\n")
    assert client.data_to_send() == b"*\r\n"  # RFC 4954 §4: the client cancels
    client.receive_data(b"501 5.7.0 Authentication aborted\r\n")
    assert not client.authenticated


def test_smtp_client_refuses_235_before_the_scram_server_signature() -> None:
    client = smtp_client.SMTPClient(
        smtp_client.ClientConfig(username="bob", password="builder", auth_mechanisms=("SCRAM-SHA-256",))
    )
    client.receive_data(b"220 mx.example.org ESMTP\r\n250-mx.example.org\r\n250 AUTH SCRAM-SHA-256\r\n")
    client.data_to_send()
    client.receive_data(b"235 2.7.0 Authentication successful\r\n")
    assert not client.authenticated
    assert any(isinstance(e, smtp_ev.SessionFailed) for e in client.events())


def test_smtp_client_config_refuses_an_unknown_mechanism() -> None:
    with pytest.raises(LocalProtocolError):
        smtp_client.ClientConfig(auth_mechanisms=("DIGEST-MD5",))


# --- POP3 ----------------------------------------------------------------------------------------------------------


def pop3_session(
    mechanism: str, secrets: dict[str, str]
) -> tuple[pop3_client.POP3Client, POP3Server, list[object], list[bytes]]:
    config = pop3_client.ClientConfig(
        username="bob", password=secrets["password"], token=secrets["token"], login="sasl", sasl_mechanism=mechanism
    )
    client = pop3_client.POP3Client(config, rng=random.Random(1))
    server = POP3Server(Pop3Config(sasl_mechanisms=MECHANISMS), rng=random.Random(2))
    maildrop = [pop3_ev.MaildropEntry("uid-1", b"Subject: hi\r\n\r\nhello\r\n")]
    client_events: list[object] = []

    def handle() -> None:
        for event in server.events():
            if isinstance(event, pop3_ev.AuthCredentials):
                if event.user == "bob" and event.password == "builder":
                    server.accept_login(maildrop)
                else:
                    server.refuse_login()
            elif isinstance(event, pop3_ev.SecretNeeded):
                server.supply_secret(SCRAM if event.mechanism == "SCRAM-SHA-256" else "builder")
            elif isinstance(event, pop3_ev.TokenCredentials):
                if token_good(event.user, event.token):
                    server.accept_token()
                else:
                    server.refuse_token(scope="mail")
            elif isinstance(event, pop3_ev.SaslVerified):
                server.accept_login(maildrop)

    writes = pump(client, server, handle, lambda: client_events.extend(client.events()))
    return client, server, client_events, writes


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_pop3_client_logs_in_with_each_mechanism_and_downloads(mechanism: str) -> None:
    client, _, events, writes = pop3_session(mechanism, GOOD)
    assert client.authenticated
    assert pop3_ev.Authenticated("bob", f"AUTH {mechanism}") in events
    assert any(w.startswith(f"AUTH {mechanism}".encode()) for w in writes)
    assert any(w.startswith(b"RETR 1") for w in writes)


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_pop3_client_reports_a_refused_login_with_each_mechanism(mechanism: str) -> None:
    client, _, events, _ = pop3_session(mechanism, BAD)
    assert not client.authenticated
    failed = [e for e in events if isinstance(e, pop3_ev.LoginFailed)]
    assert len(failed) == 1
    assert failed[0].response.text == "[AUTH] Authentication failed."


def test_pop3_sasl_plain_login_is_unchanged() -> None:
    config = pop3_client.ClientConfig(username="bob", password="builder", login="sasl-plain")
    client = pop3_client.POP3Client(config)
    client.receive_data(b"+OK ready.\r\n")
    client.data_to_send()
    client.receive_data(b"+OK\r\n.\r\n")
    assert client.data_to_send() == b"AUTH PLAIN " + base64.b64encode(b"\0bob\0builder") + b"\r\n"


def test_pop3_client_answers_the_xoauth2_error_with_an_empty_line() -> None:
    _, _, _, writes = pop3_session("XOAUTH2", BAD)
    assert b"\r\n" in writes


def test_pop3_client_config_refuses_an_unknown_mechanism() -> None:
    with pytest.raises(LocalProtocolError):
        pop3_client.ClientConfig(login="sasl", sasl_mechanism="GSSAPI")


# --- IMAP ----------------------------------------------------------------------------------------------------------


def imap_session(
    mechanism: str, secrets: dict[str, str], *, sasl_ir: bool = True
) -> tuple[imap_client.IMAPClient, imap.IMAPServer, list[object], list[bytes]]:
    config = imap_client.ClientConfig(
        username="bob", password=secrets["password"], token=secrets["token"], login="sasl", sasl_mechanism=mechanism
    )
    client = imap_client.IMAPClient(config, rng=random.Random(1))
    server = imap.IMAPServer(imap.ServerConfig(sasl_mechanisms=MECHANISMS), rng=random.Random(2))
    account = Account("bob@example.org")
    account.append(b"Subject: hi\r\n\r\nhello\r\n", 60.0, "q1")
    client_events: list[object] = []

    def handle() -> None:
        for event in server.events():
            if isinstance(event, imap.Credentials):
                if event.user == "bob" and event.password == "builder":
                    server.accept_login(account, FlagMode)
                else:
                    server.refuse_login()
            elif isinstance(event, imap.SecretNeeded):
                server.supply_secret(SCRAM if event.mechanism == "SCRAM-SHA-256" else "builder")
            elif isinstance(event, imap.TokenCredentials):
                if token_good(event.user, event.token):
                    server.accept_token()
                else:
                    server.refuse_token(scope="mail")
            elif isinstance(event, imap.SaslVerified):
                server.accept_login(account, FlagMode)

    if not sasl_ir:
        greeting = server.data_to_send().replace(b" SASL-IR", b"")
        client.receive_data(greeting)
    writes = pump(client, server, handle, lambda: client_events.extend(client.events()))
    return client, server, client_events, writes


@pytest.mark.parametrize("sasl_ir", [True, False], ids=["sasl-ir", "no-sasl-ir"])
@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_imap_client_authenticates_with_each_mechanism_and_syncs(mechanism: str, sasl_ir: bool) -> None:
    client, _, events, writes = imap_session(mechanism, GOOD, sasl_ir=sasl_ir)
    assert client.authenticated
    assert imap_client.Authenticated("bob", f"AUTHENTICATE {mechanism}") in events
    command = next(w for w in writes if b" AUTHENTICATE " in w)
    server_first = mechanism in ("LOGIN", "CRAM-MD5")
    assert command.endswith(f"AUTHENTICATE {mechanism}\r\n".encode()) is (server_first or not sasl_ir)
    assert any(b"LOGOUT" in w for w in writes)


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_imap_client_reports_a_refused_login_with_each_mechanism(mechanism: str) -> None:
    client, _, events, _ = imap_session(mechanism, BAD)
    assert not client.authenticated
    failed = [e for e in events if isinstance(e, imap_client.LoginFailed)]
    assert len(failed) == 1
    assert failed[0].response.status.value == "NO"


def test_imap_client_gives_up_when_the_mechanism_is_not_offered() -> None:
    config = imap_client.ClientConfig(username="bob", password="builder", login="sasl", sasl_mechanism="CRAM-MD5")
    client = imap_client.IMAPClient(config)
    client.receive_data(b"* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN] ready.\r\n")
    assert b"AUTHENTICATE" not in client.data_to_send()
    assert not client.authenticated


def test_imap_client_answers_the_oauthbearer_error_with_ctrl_a() -> None:
    _, _, _, writes = imap_session("OAUTHBEARER", BAD)
    assert b"AQ==\r\n" in writes


def test_imap_client_config_refuses_an_unknown_mechanism() -> None:
    with pytest.raises(LocalProtocolError):
        imap_client.ClientConfig(login="sasl", sasl_mechanism="NTLM")


@pytest.mark.parametrize(
    ("client", "ack"), [(sasl.OAuthBearerClient("bob", "t"), b"\x01"), (sasl.XOAuth2Client("bob", "t"), b"")]
)
def test_an_error_challenge_nested_too_deep_for_json_is_acknowledged_without_a_traceback(
    client: sasl.OAuthBearerClient | sasl.XOAuth2Client, ack: bytes
) -> None:
    client.initial_response()
    assert client.respond(b"[" * 5000) == ack
    assert client.error == {}
