"""Every SASL mechanism through the three server engines: SMTP AUTH, POP3 AUTH, IMAP AUTHENTICATE.

A node around each engine holds the secrets and the token policy: it answers
`SecretNeeded` with `supply_secret`, `TokenCredentials` with `accept_token` or
`refuse_token`, and (POP3, IMAP) `SaslVerified` with `accept_login`. The client side of
each exchange is the mechanism's own client helper, so the bytes are what a real
client sends (RFC 4954 §4, RFC 5034 §4, RFC 3501 §6.2.2).
"""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Callable

import pytest

from simulator.mail.store import Account, FlagMode
from simulator.protocol import sasl
from simulator.protocol.errors import LocalProtocolError
from simulator.protocol.imap import responses as imap_responses
from simulator.protocol.imap import server as imap
from simulator.protocol.imap.state import State as ImapState
from simulator.protocol.pop3 import events as pop3_ev
from simulator.protocol.pop3 import replies as pop3_replies
from simulator.protocol.pop3.server import POP3Server
from simulator.protocol.pop3.server import ServerConfig as Pop3Config
from simulator.protocol.pop3.state import State as Pop3State
from simulator.protocol.smtp import events as smtp_ev
from simulator.protocol.smtp import replies as smtp_replies
from simulator.protocol.smtp.server import ServerConfig as SmtpConfig
from simulator.protocol.smtp.server import SMTPServer

PASSWORDS = {"bob": "builder"}
TOKENS = {"good-token": "bob"}  # token -> the user it was issued to
NEW = ("CRAM-MD5", "SCRAM-SHA-256", "XOAUTH2", "OAUTHBEARER")
ALL = ("PLAIN", "LOGIN", *NEW)


class Harness:
    """One server engine and the node around it; `send` returns what the server wrote."""

    protocol = ""
    success = b""
    failure = b""
    bad_base64 = b""
    aborted = b""
    challenge_prefix = b"+ "
    server: SMTPServer | POP3Server | imap.IMAPServer

    def __init__(self, mechanisms: tuple[str, ...] = ALL, *, scram_secret: bool = False) -> None:
        self.scram_secret = scram_secret
        self.events: list[object] = []
        self.on_secret: Callable[[], bool] | None = None  # return True when it answered itself

    def command(self, mechanism: str, initial: bytes | None) -> bytes:
        raise NotImplementedError

    def send(self, data: bytes) -> bytes:
        raise NotImplementedError

    @property
    def logged_in(self) -> bool:
        raise NotImplementedError

    def secret(self, user: str, mechanism: str) -> sasl.ScramSecret | str | None:
        password = PASSWORDS.get(user)
        if password is not None and self.scram_secret and mechanism == "SCRAM-SHA-256":
            return sasl.ScramSecret.from_password(password, salt=b"pepper-and-salt!")
        return password

    @staticmethod
    def token_good(user: str, token: str) -> bool:
        return token in TOKENS and user in ("", TOKENS[token])

    def challenge_of(self, out: bytes) -> bytes | None:
        """The decoded challenge when `out` is one line asking for a response, else None."""
        if not out.startswith(self.challenge_prefix) or out.count(b"\r\n") != 1:
            return None
        return base64.b64decode(out[len(self.challenge_prefix) :].strip(), validate=True)


class Smtp(Harness):
    protocol = "SMTP"
    success = b"235 2.7.0 Authentication successful\r\n"
    failure = b"535 5.7.8 Error: authentication failed: authentication failure\r\n"
    bad_base64 = b"501 5.5.2 Cannot decode response\r\n"
    aborted = b"501 5.7.0 Authentication aborted\r\n"
    challenge_prefix = b"334 "

    def __init__(self, mechanisms: tuple[str, ...] = ALL, *, scram_secret: bool = False) -> None:
        super().__init__(mechanisms, scram_secret=scram_secret)
        config = SmtpConfig(auth_mechanisms=mechanisms, auth_requires_tls=False)
        self.server: SMTPServer = SMTPServer(config, rng=random.Random(7))
        self.server.data_to_send()
        self.send(b"EHLO client.example.com\r\n")

    def command(self, mechanism: str, initial: bytes | None) -> bytes:
        return f"AUTH {mechanism}".encode() + (b" " + sasl.encode(initial).encode() if initial is not None else b"")

    def send(self, data: bytes) -> bytes:
        server = self.server
        server.receive_data(data)
        for event in server.events():
            self.events.append(event)
            if isinstance(event, smtp_ev.AuthCredentials):
                ok = PASSWORDS.get(event.username) == event.password
                server.send(smtp_replies.AUTH_OK if ok else smtp_replies.AUTH_FAILED)
            elif isinstance(event, smtp_ev.SecretNeeded):
                if self.on_secret is None or not self.on_secret():
                    server.supply_secret(self.secret(event.username, event.mechanism))
            elif isinstance(event, smtp_ev.TokenCredentials):
                if self.token_good(event.username, event.token):
                    server.accept_token()
                else:
                    server.refuse_token(scope="mail")
        return server.data_to_send()

    @property
    def logged_in(self) -> bool:
        return self.server.auth_user == "bob"


class Pop3(Harness):
    protocol = "POP3"
    success = b"+OK Logged in.\r\n"
    failure = b"-ERR [AUTH] Authentication failed.\r\n"
    bad_base64 = b"-ERR Invalid base64 data in continued response.\r\n"
    aborted = b"-ERR Authentication aborted by client.\r\n"

    def __init__(self, mechanisms: tuple[str, ...] = ALL, *, scram_secret: bool = False) -> None:
        super().__init__(mechanisms, scram_secret=scram_secret)
        self.server: POP3Server = POP3Server(Pop3Config(sasl_mechanisms=mechanisms), rng=random.Random(7))
        self.server.data_to_send()

    def command(self, mechanism: str, initial: bytes | None) -> bytes:
        return f"AUTH {mechanism}".encode() + (b" " + sasl.encode(initial).encode() if initial is not None else b"")

    def send(self, data: bytes) -> bytes:
        server = self.server
        server.receive_data(data)
        for event in server.events():
            self.events.append(event)
            if isinstance(event, pop3_ev.AuthCredentials):
                if PASSWORDS.get(event.user) == event.password:
                    server.accept_login([])
                else:
                    server.refuse_login()
            elif isinstance(event, pop3_ev.SecretNeeded):
                if self.on_secret is None or not self.on_secret():
                    server.supply_secret(self.secret(event.user, event.mechanism))
            elif isinstance(event, pop3_ev.TokenCredentials):
                if self.token_good(event.user, event.token):
                    server.accept_token()
                else:
                    server.refuse_token(scope="mail")
            elif isinstance(event, pop3_ev.SaslVerified):
                server.accept_login([pop3_ev.MaildropEntry("uid-1", b"Subject: hi\r\n\r\nhello\r\n")])
        return server.data_to_send()

    @property
    def logged_in(self) -> bool:
        return self.server.state is Pop3State.TRANSACTION and self.server.user in ("bob", "")


class Imap(Harness):
    protocol = "IMAP"
    success = b"a OK [CAPABILITY"
    failure = b"a NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"
    bad_base64 = b"a BAD Invalid base64 data in continued response\r\n"
    aborted = b"a BAD Authentication aborted by client.\r\n"

    def __init__(self, mechanisms: tuple[str, ...] = ALL, *, scram_secret: bool = False) -> None:
        super().__init__(mechanisms, scram_secret=scram_secret)
        self.server: imap.IMAPServer = imap.IMAPServer(
            imap.ServerConfig(sasl_mechanisms=mechanisms), rng=random.Random(7)
        )
        self.server.data_to_send()

    def command(self, mechanism: str, initial: bytes | None) -> bytes:
        return f"a AUTHENTICATE {mechanism}".encode() + (
            b" " + sasl.encode(initial).encode() if initial is not None else b""
        )

    def send(self, data: bytes) -> bytes:
        server = self.server
        server.receive_data(data)
        for event in server.events():
            self.events.append(event)
            if isinstance(event, imap.Credentials):
                if PASSWORDS.get(event.user) == event.password:
                    server.accept_login(Account("bob@example.org"), FlagMode)
                else:
                    server.refuse_login()
            elif isinstance(event, imap.SecretNeeded):
                if self.on_secret is None or not self.on_secret():
                    server.supply_secret(self.secret(event.user, event.mechanism))
            elif isinstance(event, imap.TokenCredentials):
                if self.token_good(event.user, event.token):
                    server.accept_token()
                else:
                    server.refuse_token(scope="mail")
            elif isinstance(event, imap.SaslVerified):
                server.accept_login(Account("bob@example.org"), FlagMode)
        return server.data_to_send()

    @property
    def logged_in(self) -> bool:
        return self.server.state is ImapState.AUTHENTICATED


HARNESSES: tuple[type[Harness], ...] = (Smtp, Pop3, Imap)


def client_for(mechanism: str, *, password: str = "builder", token: str = "good-token") -> sasl.SaslClient:
    client = sasl.create_client(mechanism, username="bob", password=password, token=token, rng=random.Random(3))
    assert client is not None
    return client


def next_of(server: SMTPServer | POP3Server | imap.IMAPServer, kind: type[object]) -> object:
    """Read events up to the first of `kind`, and stop there (it may need an answer)."""
    for event in server.events():
        if isinstance(event, kind):
            return event
    raise AssertionError(f"no {kind.__name__}")


def run(node: Harness, client: sasl.SaslClient, *, initial: bool = True) -> bytes:
    """Drive one exchange to its end; the server's last write."""
    first = client.initial_response() if initial else None
    out = node.send(node.command(client.name, first) + b"\r\n")
    for _ in range(10):
        challenge = node.challenge_of(out)
        if challenge is None:
            return out
        out = node.send(base64.b64encode(client.respond(challenge)) + b"\r\n")
    raise AssertionError("the exchange never ended")


# --- success and failure, for each protocol and mechanism ------------------------------------------------------


@pytest.mark.parametrize("harness", HARNESSES, ids=lambda h: h.protocol)
@pytest.mark.parametrize("mechanism", ALL)
@pytest.mark.parametrize("initial", [True, False], ids=["initial-response", "server-asks-first"])
def test_each_mechanism_logs_in_with_the_right_secret(harness: type[Harness], mechanism: str, initial: bool) -> None:
    node = harness()
    out = run(node, client_for(mechanism), initial=initial)
    assert out.startswith(node.success)
    assert node.logged_in


@pytest.mark.parametrize("harness", HARNESSES, ids=lambda h: h.protocol)
@pytest.mark.parametrize("mechanism", ALL)
def test_each_mechanism_fails_with_the_wrong_secret_or_token(harness: type[Harness], mechanism: str) -> None:
    node = harness()
    out = run(node, client_for(mechanism, password="wrong", token="stolen-token"))
    assert out == node.failure
    assert not node.logged_in


@pytest.mark.parametrize("harness", HARNESSES, ids=lambda h: h.protocol)
def test_scram_works_from_a_stored_scram_secret_and_the_client_verifies_the_server(harness: type[Harness]) -> None:
    node = harness(scram_secret=True)
    client = sasl.ScramSha256Client("bob", "builder", rng=random.Random(3))
    assert run(node, client).startswith(node.success)
    assert client.server_verified


@pytest.mark.parametrize("harness", HARNESSES, ids=lambda h: h.protocol)
@pytest.mark.parametrize("mechanism", ["CRAM-MD5", "SCRAM-SHA-256"])
def test_an_unknown_user_fails_like_a_wrong_password(harness: type[Harness], mechanism: str) -> None:
    node = harness()
    client = sasl.create_client(mechanism, username="mallory", password="builder", rng=random.Random(3))
    assert client is not None
    assert run(node, client) == node.failure


# --- the RFC 7628 error exchange ---------------------------------------------------------------------------------


@pytest.mark.parametrize("harness", HARNESSES, ids=lambda h: h.protocol)
def test_oauthbearer_refused_token_gets_json_challenge_then_ack_then_failure(harness: type[Harness]) -> None:
    node = harness()
    message = sasl.oauthbearer_response("expired-token", authzid="bob")
    out = node.send(node.command("OAUTHBEARER", message) + b"\r\n")
    challenge = node.challenge_of(out)
    assert challenge is not None
    assert json.loads(challenge) == {"status": "invalid_token", "scope": "mail"}  # RFC 7628 §3.2.2
    assert node.send(b"AQ==\r\n") == node.failure  # the client's ^A (RFC 7628 §3.2.3)
    assert not node.logged_in


@pytest.mark.parametrize("harness", HARNESSES, ids=lambda h: h.protocol)
def test_oauthbearer_error_answered_with_anything_but_ctrl_a_still_fails(harness: type[Harness]) -> None:
    node = harness()
    node.send(node.command("OAUTHBEARER", sasl.oauthbearer_response("expired-token")) + b"\r\n")
    assert node.send(base64.b64encode(b"again") + b"\r\n") == node.failure
    assert not node.logged_in


@pytest.mark.parametrize("harness", HARNESSES, ids=lambda h: h.protocol)
def test_xoauth2_refused_token_gets_json_challenge_then_empty_answer_then_failure(harness: type[Harness]) -> None:
    node = harness()
    out = node.send(node.command("XOAUTH2", sasl.xoauth2_response("bob", "expired-token")) + b"\r\n")
    challenge = node.challenge_of(out)
    assert challenge is not None
    assert json.loads(challenge) == {"status": "401", "schemes": "Bearer", "scope": "mail"}
    assert node.send(b"\r\n") == node.failure
    assert not node.logged_in


@pytest.mark.parametrize("harness", HARNESSES, ids=lambda h: h.protocol)
@pytest.mark.parametrize("mechanism", ["XOAUTH2", "OAUTHBEARER"])
def test_the_token_client_helpers_acknowledge_the_error_and_keep_it(harness: type[Harness], mechanism: str) -> None:
    node = harness()
    client = client_for(mechanism, token="expired-token")
    assert run(node, client) == node.failure
    assert isinstance(client, sasl.XOAuth2Client | sasl.OAuthBearerClient)
    assert client.error is not None
    assert client.error["scope"] == "mail"


# --- malformed input and cancelling --------------------------------------------------------------------------------


@pytest.mark.parametrize("harness", HARNESSES, ids=lambda h: h.protocol)
@pytest.mark.parametrize("mechanism", NEW)
def test_a_response_that_is_not_base64_ends_the_exchange(harness: type[Harness], mechanism: str) -> None:
    node = harness()
    out = node.send(node.command(mechanism, None) + b"\r\n")
    assert node.challenge_of(out) is not None
    assert node.send(b"not base64 at all!\r\n") == node.bad_base64
    assert not node.logged_in


@pytest.mark.parametrize("harness", HARNESSES, ids=lambda h: h.protocol)
@pytest.mark.parametrize("mechanism", NEW)
def test_an_initial_response_that_is_not_base64_ends_the_exchange(harness: type[Harness], mechanism: str) -> None:
    node = harness()
    out = node.send(node.command(mechanism, None) + b" %%%%\r\n")
    if harness is Imap:  # the IMAP parser already refuses the argument: not a base64 atom (RFC 4959 §3)
        assert out.startswith(b"a BAD ")
    else:
        assert out == node.bad_base64
    assert not node.logged_in


@pytest.mark.parametrize("harness", HARNESSES, ids=lambda h: h.protocol)
@pytest.mark.parametrize("mechanism", NEW)
def test_star_cancels_the_exchange(harness: type[Harness], mechanism: str) -> None:
    node = harness()
    node.send(node.command(mechanism, None) + b"\r\n")
    assert node.send(b"*\r\n") == node.aborted
    assert not node.logged_in


@pytest.mark.parametrize("harness", HARNESSES, ids=lambda h: h.protocol)
def test_star_cancels_scram_after_the_server_first_message(harness: type[Harness]) -> None:
    node = harness()
    client = client_for("SCRAM-SHA-256")
    out = node.send(node.command("SCRAM-SHA-256", client.initial_response()) + b"\r\n")
    assert node.challenge_of(out) is not None  # r=...,s=...,i=4096
    assert node.send(b"*\r\n") == node.aborted


@pytest.mark.parametrize("harness", HARNESSES, ids=lambda h: h.protocol)
@pytest.mark.parametrize(
    ("mechanism", "message"),
    [
        ("CRAM-MD5", b"bob not-a-digest"),
        ("SCRAM-SHA-256", b"p=tls-unique,,n=bob,r=abc"),
        ("XOAUTH2", b"user=bob\x01"),
        ("OAUTHBEARER", b"x,,\x01auth=Bearer t\x01\x01"),
    ],
)
def test_a_message_that_does_not_fit_the_mechanism_fails(
    harness: type[Harness], mechanism: str, message: bytes
) -> None:
    node = harness()
    out = node.send(node.command(mechanism, None) + b"\r\n")
    assert node.challenge_of(out) is not None
    assert node.send(base64.b64encode(message) + b"\r\n") == node.failure
    assert not node.logged_in


@pytest.mark.parametrize("harness", HARNESSES, ids=lambda h: h.protocol)
def test_after_a_failed_exchange_the_client_may_try_again(harness: type[Harness]) -> None:
    node = harness()
    assert run(node, client_for("CRAM-MD5", password="wrong")) == node.failure
    assert run(node, client_for("SCRAM-SHA-256")).startswith(node.success)


# --- what is offered ----------------------------------------------------------------------------------------------


def test_smtp_ehlo_offers_the_configured_mechanisms_in_order() -> None:
    node = Smtp(("SCRAM-SHA-256", "OAUTHBEARER"))
    assert b"250-AUTH SCRAM-SHA-256 OAUTHBEARER\r\n" in node.send(b"EHLO again.example\r\n")
    assert node.send(b"AUTH CRAM-MD5\r\n") == b"504 5.5.4 Unrecognized authentication type\r\n"


def test_smtp_default_offer_is_unchanged() -> None:
    assert SmtpConfig().auth_mechanisms == ("PLAIN", "LOGIN")
    server = SMTPServer(SmtpConfig(auth_requires_tls=False))
    assert "AUTH PLAIN LOGIN" in server.extensions


def test_pop3_capa_offers_the_configured_mechanisms() -> None:
    node = Pop3(("CRAM-MD5", "XOAUTH2"))
    assert b"SASL CRAM-MD5 XOAUTH2\r\n" in node.send(b"CAPA\r\n")
    assert node.send(b"AUTH PLAIN\r\n") == b"-ERR Unsupported authentication mechanism.\r\n"
    assert b"SASL PLAIN LOGIN\r\n" in Pop3(("PLAIN", "LOGIN")).send(b"CAPA\r\n")


def test_pop3_before_tls_hides_only_the_plaintext_mechanisms() -> None:
    server = POP3Server(Pop3Config(sasl_mechanisms=ALL, plaintext_requires_tls=True))
    assert "SASL CRAM-MD5 SCRAM-SHA-256 XOAUTH2 OAUTHBEARER" in server.capabilities


def test_imap_capability_offers_the_configured_mechanisms() -> None:
    node = Imap(("SCRAM-SHA-256", "OAUTHBEARER"))
    out = node.send(b"c CAPABILITY\r\n")
    assert b" AUTH=SCRAM-SHA-256 AUTH=OAUTHBEARER\r\n" in out
    assert b"AUTH=PLAIN" not in out
    assert imap.ServerConfig().sasl_mechanisms == ("PLAIN", "LOGIN")


# --- the node's other answers --------------------------------------------------------------------------------------


def test_smtp_node_may_end_a_secret_request_with_454() -> None:
    node = Smtp()

    def unreachable() -> bool:
        node.server.send(smtp_replies.AUTH_TEMPORARY)
        return True

    node.on_secret = unreachable
    out = run(node, client_for("CRAM-MD5"))
    assert out == b"454 4.7.0 Temporary authentication failure\r\n"
    assert node.server.auth_user is None
    assert run(Smtp(), client_for("CRAM-MD5")) == Smtp.success  # and a fresh session still works


def test_smtp_node_may_refuse_a_token_mechanism_by_policy_with_538() -> None:
    node = Smtp()
    node.server.receive_data(Smtp().command("XOAUTH2", sasl.xoauth2_response("bob", "good-token")) + b"\r\n")
    next_of(node.server, smtp_ev.TokenCredentials)
    node.server.send(smtp_replies.AUTH_ENCRYPTION_REQUIRED)
    assert node.server.data_to_send() == b"538 5.7.11 Encryption required for requested authentication mechanism\r\n"
    node.send(b"NOOP\r\n")  # back in command mode


def test_smtp_send_cannot_say_235_for_a_secret_request() -> None:
    node = Smtp()
    node.server.receive_data(b"AUTH CRAM-MD5\r\n")
    list(node.server.events())
    node.server.receive_data(base64.b64encode(b"bob " + b"0" * 32) + b"\r\n")
    next_of(node.server, smtp_ev.SecretNeeded)
    with pytest.raises(LocalProtocolError):
        node.server.send(smtp_replies.AUTH_OK)
    node.server.supply_secret("builder")  # still waiting for an answer
    assert node.server.data_to_send().endswith(Smtp.failure)


def test_smtp_success_is_told_to_the_node() -> None:
    node = Smtp()
    run(node, client_for("SCRAM-SHA-256"))
    assert smtp_ev.SaslVerified("SCRAM-SHA-256", "bob") in node.events


def test_pop3_node_may_end_a_secret_request_with_a_temporary_failure() -> None:
    node = Pop3()

    def unreachable() -> bool:
        node.server.refuse_login(pop3_replies.AUTH_TEMPORARY)
        return True

    node.on_secret = unreachable
    assert run(node, client_for("SCRAM-SHA-256")) == b"-ERR [SYS/TEMP] Temporary authentication failure.\r\n"
    assert node.server.state is Pop3State.AUTHORIZATION


def test_pop3_verified_user_still_meets_the_maildrop_lock() -> None:
    node = Pop3()
    node.server.receive_data(b"AUTH XOAUTH2 " + sasl.encode(sasl.xoauth2_response("bob", "good-token")).encode())
    node.server.receive_data(b"\r\n")
    events = node.server.events()
    assert isinstance(next(events), pop3_ev.Auth)
    assert isinstance(next(events), pop3_ev.TokenCredentials)
    node.server.accept_token()
    verified = next(events)
    assert verified == pop3_ev.SaslVerified("XOAUTH2", "bob")
    node.server.refuse_locked()
    assert node.server.data_to_send() == b"-ERR [IN-USE] Mailbox is locked by another POP3 session.\r\n"
    assert node.server.state is Pop3State.AUTHORIZATION


def test_imap_node_may_end_a_secret_request_as_unavailable() -> None:
    node = Imap()

    def unreachable() -> bool:
        node.server.refuse_login(imap_responses.AUTHENTICATION_UNAVAILABLE)
        return True

    node.on_secret = unreachable
    assert run(node, client_for("CRAM-MD5")) == b"a NO [UNAVAILABLE] Temporary authentication failure.\r\n"
    assert node.server.state is ImapState.NOT_AUTHENTICATED


def test_imap_events_carry_the_tag() -> None:
    node = Imap()
    run(node, client_for("OAUTHBEARER"))
    token = next(e for e in node.events if isinstance(e, imap.TokenCredentials))
    assert (token.tag, token.mechanism, token.user, token.token) == ("a", "OAUTHBEARER", "bob", "good-token")
    assert imap.SaslVerified("a", "OAUTHBEARER", "bob") in node.events


@pytest.mark.parametrize("harness", HARNESSES, ids=lambda h: h.protocol)
def test_answers_out_of_turn_are_our_own_misuse(harness: type[Harness]) -> None:
    server = harness().server
    with pytest.raises(LocalProtocolError):
        server.supply_secret("builder")
    with pytest.raises(LocalProtocolError):
        server.accept_token()
    with pytest.raises(LocalProtocolError):
        server.refuse_token()


@pytest.mark.parametrize("harness", HARNESSES, ids=lambda h: h.protocol)
def test_cram_md5_cannot_use_a_scram_secret(harness: type[Harness]) -> None:
    node = harness()
    node.server.receive_data(node.command("CRAM-MD5", None) + b"\r\n")
    list(node.server.events())
    node.server.receive_data(base64.b64encode(b"bob " + b"0" * 32) + b"\r\n")
    secret_needed = {Smtp: smtp_ev.SecretNeeded, Pop3: pop3_ev.SecretNeeded, Imap: imap.SecretNeeded}[harness]
    next_of(node.server, secret_needed)
    with pytest.raises(LocalProtocolError):
        node.server.supply_secret(sasl.ScramSecret.from_password("builder"))


@pytest.mark.parametrize("harness", HARNESSES, ids=lambda h: h.protocol)
def test_the_cram_md5_challenge_comes_from_the_injected_random_source(harness: type[Harness]) -> None:
    first = harness().send(harness().command("CRAM-MD5", None) + b"\r\n")
    second_node = harness()
    second = second_node.send(second_node.command("CRAM-MD5", None) + b"\r\n")
    assert first == second
    challenge = second_node.challenge_of(second)
    assert challenge is not None
    assert challenge.startswith(b"<") and challenge.endswith(b">")


def test_imap_before_tls_keeps_offering_the_mechanisms_that_hide_the_password() -> None:
    config = imap.ServerConfig(sasl_mechanisms=ALL, plaintext_requires_tls=True)
    caps = imap.IMAPServer(config).capabilities
    assert "LOGINDISABLED" in caps
    assert [c for c in caps if c.startswith("AUTH=")] == [
        "AUTH=CRAM-MD5",
        "AUTH=SCRAM-SHA-256",
        "AUTH=XOAUTH2",
        "AUTH=OAUTHBEARER",
    ]


def test_oauthbearer_without_a_user_logs_in_as_the_tokens_subject() -> None:
    # RFC 7628 §3.1: the authzid (a=) is optional; the node then tells the engine whom the token names.
    node = Smtp()
    node.server.receive_data(Smtp().command("OAUTHBEARER", sasl.oauthbearer_response("good-token")) + b"\r\n")
    credentials = next_of(node.server, smtp_ev.TokenCredentials)
    assert credentials.username == ""
    node.server.accept_token("bob@example.org")
    assert node.server.data_to_send() == b"235 2.7.0 Authentication successful\r\n"
    assert node.server.auth_user == "bob@example.org"
