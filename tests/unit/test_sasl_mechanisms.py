"""SASL mechanisms: RFC test vectors, client/server round trips, failures and malformed input.

CRAM-MD5 (RFC 2195), SCRAM-SHA-256 (RFC 5802, RFC 7677), XOAUTH2 (Google) and
OAUTHBEARER (RFC 7628) through the `SaslServer` interface, which never raises on
the client's input; PLAIN and LOGIN through both the interface they always had
and the adapter.
"""

from __future__ import annotations

import base64
import contextlib
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.protocol import sasl
from simulator.protocol.errors import LocalProtocolError

PROFILE = settings(
    max_examples=200,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# --- a node: the policy the mechanisms leave outside -------------------------------------------------------

# Low iteration count: the maths is the same, and the property tests stay fast.
FAST_SECRET = sasl.ScramSecret.from_password("wonderland", salt=b"fixed-salt", iterations=16)


@dataclass
class Node:
    """Holds the secrets and decides; answers whatever the mechanism asks of it."""

    passwords: dict[str, str] = field(default_factory=lambda: {"alice": "wonderland"})
    scram: dict[str, sasl.ScramSecret] = field(default_factory=lambda: {"alice": FAST_SECRET})
    tokens: dict[str, str] = field(default_factory=lambda: {"tok-alice": "alice"})
    scope: str = "https://mail.example.com/"
    asked: list[sasl.Outcome] = field(default_factory=list)

    def answer(self, server: sasl.SaslServer, outcome: sasl.Outcome) -> sasl.Outcome:
        """Resolve SecretRequest and BearerCredentials into the mechanism's next outcome."""
        self.asked.append(outcome)
        if isinstance(outcome, sasl.SecretRequest):
            if isinstance(server, sasl.CramMD5Server):
                return server.supply(self.passwords.get(outcome.username))
            assert isinstance(server, sasl.ScramSha256Server)
            return server.supply(self.scram.get(outcome.username))
        if isinstance(outcome, sasl.BearerCredentials):
            assert isinstance(server, sasl.XOAuth2Server | sasl.OAuthBearerServer)
            owner = self.tokens.get(outcome.token)
            if owner is not None and (not outcome.username or outcome.username == owner):
                return server.accept()
            return server.reject(scope=self.scope)
        return outcome


class Client(Protocol):
    """What every client helper offers."""

    name: str

    def initial_response(self) -> bytes | None: ...

    def respond(self, challenge: bytes) -> bytes: ...


def run(server: sasl.SaslServer, client: Client, node: Node, *, initial: bool = True) -> tuple[sasl.Outcome, list[str]]:
    """Drive an exchange the way an engine does: base64 lines both ways. Returns the end and the wire."""
    wire: list[str] = []
    first = client.initial_response() if initial else None
    line = None if first is None else (sasl.encode(first))
    if line is not None:
        wire.append("C: " + line)
    outcome = node.answer(server, server.begin(line))
    for _ in range(10):
        if not isinstance(outcome, sasl.Challenge):
            return outcome, wire
        wire.append("S: " + b64(outcome.data))
        reply = b64(client.respond(outcome.data))
        wire.append("C: " + reply)
        outcome = node.answer(server, server.feed(reply))
    raise AssertionError("exchange did not end")


# --- RFC test vectors ------------------------------------------------------------------------------------------

RFC2195_CHALLENGE = b"<1896.697170952@postoffice.reston.mci.net>"


def test_cram_md5_rfc2195_example() -> None:
    """RFC 2195 §2: tim / tanstaaftanstaaf, on the wire exactly as the RFC shows it."""
    assert b64(RFC2195_CHALLENGE) == "PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+"
    response = sasl.cram_md5_response("tim", "tanstaaftanstaaf", RFC2195_CHALLENGE)
    assert response == b"tim b913a602c7eda7a495b4e6e7334d3890"
    assert b64(response) == "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw"

    server = sasl.CramMD5Server(challenge=RFC2195_CHALLENGE)
    challenge = server.begin(None)
    assert challenge == sasl.Challenge(RFC2195_CHALLENGE)
    assert challenge.rfc == "RFC 2195 §2" and challenge.explain
    request = server.feed("dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw")
    assert request == sasl.SecretRequest("CRAM-MD5", "tim")
    assert not server.done
    assert server.supply("tanstaaftanstaaf") == sasl.Success("tim")
    assert server.done


def test_scram_sha256_rfc7677_example() -> None:
    """RFC 7677 §3: user / pencil with the RFC's nonces and salt, every message byte for byte."""
    client = sasl.ScramSha256Client("user", "pencil", nonce="rOprNGfwEbeRWgbNEkqO")
    server = sasl.ScramSha256Server(nonce="%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0")
    secret = sasl.ScramSecret.from_password("pencil", salt=base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ=="))
    assert secret.iterations == 4096

    client_first = client.initial_response()
    assert client_first == b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
    assert server.start(client_first) == sasl.SecretRequest("SCRAM-SHA-256", "user")
    server_first = server.supply(secret)
    assert server_first == sasl.Challenge(
        b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
    )
    assert isinstance(server_first, sasl.Challenge)
    client_final = client.respond(server_first.data)
    assert client_final == (
        b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
    )
    server_final = server.step(client_final)
    assert server_final == sasl.Challenge(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
    assert isinstance(server_final, sasl.Challenge)
    assert client.respond(server_final.data) == b""
    assert client.server_verified
    assert server.step(b"") == sasl.Success("user")


def test_scram_server_checks_the_rfc7677_client_messages_without_our_client() -> None:
    """The server alone accepts the RFC's client-final-message; one flipped proof bit fails it."""
    secret = sasl.ScramSecret.from_password("pencil", salt=base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ=="))
    proof = "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
    bad_proof = b64(bytes([base64.b64decode(proof)[0] ^ 1]) + base64.b64decode(proof)[1:])
    for p, good in ((proof, True), (bad_proof, False)):
        server = sasl.ScramSha256Server(nonce="%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0")
        server.start(b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO")
        server.supply(secret)
        final = f"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p={p}".encode()
        outcome = server.step(final)
        if good:
            assert isinstance(outcome, sasl.Challenge)
        else:
            assert outcome == sasl.Failure(sasl.FailureKind.CREDENTIALS, "invalid-proof")
            assert "RFC 5802" in outcome.rfc


def test_oauthbearer_rfc7628_example_message() -> None:
    """RFC 7628 §4.1: the client message for user@example.com to server.example.com:143."""
    message = sasl.oauthbearer_response(
        "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==", authzid="user@example.com", host="server.example.com", port=143
    )
    assert message == (
        b"n,a=user@example.com,\x01host=server.example.com\x01port=143\x01"
        b"auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01"
    )
    server = sasl.OAuthBearerServer()
    assert server.start(message) == sasl.BearerCredentials(
        "OAUTHBEARER", "user@example.com", "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==", "server.example.com", 143
    )


def test_xoauth2_google_example_message() -> None:
    """Google's XOAUTH2 example: user=someuser@example.com with a ya29 token."""
    message = sasl.xoauth2_response("someuser@example.com", "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg")
    assert b64(message) == (
        "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52"
        "YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ=="
    )
    assert sasl.XOAuth2Server().start(message) == sasl.BearerCredentials(
        "XOAUTH2", "someuser@example.com", "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg"
    )


@pytest.mark.parametrize(
    ("text", "prepared"),
    [
        ("I\u00adX", "IX"),  # RFC 4013 §3: soft hyphen mapped to nothing
        ("user", "user"),
        ("USER", "USER"),  # case preserved
        ("\u00aa", "a"),  # NFKC
        ("\u2168", "IX"),  # NFKC
        ("a\u00a0b", "a b"),  # non-ASCII space mapped to SPACE
        ("\u05d0\u05d1", "\u05d0\u05d1"),  # right-to-left only
    ],
)
def test_saslprep_rfc4013_examples(text: str, prepared: str) -> None:
    assert sasl.saslprep(text) == prepared


@pytest.mark.parametrize(
    "text",
    [
        "\u0007",  # RFC 4013 §3: ASCII control, prohibited
        "\u0627\u0031",  # RFC 4013 §3: RandALCat not at the end, bidi error
        "a\ue000",  # private use
        "\u05d0a\u05d1",  # mixes right-to-left and left-to-right
    ],
)
def test_saslprep_rfc4013_refusals(text: str) -> None:
    with pytest.raises(sasl.SaslPrepError):
        sasl.saslprep(text)


def test_saslprep_unassigned_allowed_only_in_queries() -> None:
    unassigned = "\u0221"  # unassigned in Unicode 3.2 (RFC 3454 table A.1)
    assert sasl.saslprep(unassigned) == unassigned
    with pytest.raises(sasl.SaslPrepError):
        sasl.saslprep(unassigned, allow_unassigned=False)


# --- round trips -------------------------------------------------------------------------------------------


def clients(token: str = "tok-alice", password: str = "wonderland") -> dict[str, Callable[[], Client]]:
    return {
        "PLAIN": lambda: PlainClient("alice", password),
        "LOGIN": lambda: sasl.LoginClient("alice", password),
        "CRAM-MD5": lambda: sasl.CramMD5Client("alice", password),
        "SCRAM-SHA-256": lambda: sasl.ScramSha256Client("alice", password),
        "XOAUTH2": lambda: sasl.XOAuth2Client("alice", token),
        "OAUTHBEARER": lambda: sasl.OAuthBearerClient("alice", token, host="mail.example.com", port=993),
    }


class PlainClient:
    name = "PLAIN"

    def __init__(self, username: str, password: str) -> None:
        self.message = sasl.plain_response(username, password)

    def initial_response(self) -> bytes:
        return self.message

    def respond(self, challenge: bytes) -> bytes:
        return self.message


def test_every_mechanism_is_registered() -> None:
    assert set(sasl.SASL_SERVERS) == set(clients())
    for name in sasl.SASL_SERVERS:
        server = sasl.create_server(name.lower())
        assert server is not None and server.name == name
    assert sasl.create_server("GSSAPI") is None


@pytest.mark.parametrize("name", list(clients()))
@pytest.mark.parametrize("initial", [True, False], ids=["initial-response", "no-initial-response"])
def test_round_trip(name: str, initial: bool) -> None:
    server = sasl.create_server(name, rng=random.Random(7))
    assert server is not None
    node = Node()
    outcome, _ = run(server, clients()[name](), node, initial=initial)
    if name in ("PLAIN", "LOGIN"):  # the node checks the password itself, as the engines do today
        assert outcome == sasl.Credentials("alice", "wonderland")
    else:
        assert isinstance(outcome, sasl.Success) and outcome.username == "alice"
    assert outcome.explain and outcome.rfc
    assert server.done


@pytest.mark.parametrize("name", ["CRAM-MD5", "SCRAM-SHA-256"])
def test_wrong_password(name: str) -> None:
    server = sasl.create_server(name)
    assert server is not None
    outcome, _ = run(server, clients(password="looking-glass")[name](), Node())
    assert isinstance(outcome, sasl.Failure) and outcome.kind is sasl.FailureKind.CREDENTIALS
    assert server.done


@pytest.mark.parametrize("name", ["CRAM-MD5", "SCRAM-SHA-256"])
def test_unknown_user_fails_like_a_wrong_password(name: str) -> None:
    server = sasl.create_server(name)
    assert server is not None
    outcome, _ = run(server, clients()[name](), Node(passwords={}, scram={}))
    assert isinstance(outcome, sasl.Failure) and outcome.kind is sasl.FailureKind.CREDENTIALS


def test_scram_unknown_user_still_gets_a_plausible_server_first_message() -> None:
    """RFC 5802 §5.1: the server does not reveal at once that the user does not exist."""
    server = sasl.ScramSha256Server(rng=random.Random(1))
    client = sasl.ScramSha256Client("mallory", "x", nonce="abc")
    assert isinstance(server.start(client.initial_response()), sasl.SecretRequest)
    first = server.supply(None)
    assert isinstance(first, sasl.Challenge)
    fields = dict(item.split("=", 1) for item in first.data.decode().split(","))
    assert fields["r"].startswith("abc") and len(base64.b64decode(fields["s"])) == 16 and fields["i"] == "4096"
    outcome = server.step(client.respond(first.data))
    assert outcome == sasl.Failure(sasl.FailureKind.CREDENTIALS, "unknown-user")


def test_scram_password_supplied_in_the_clear_and_saslprep_applied() -> None:
    """The node may hand over a password; a soft hyphen in the client's copy is mapped away (RFC 4013 §2.1)."""
    server = sasl.ScramSha256Server()
    client = sasl.ScramSha256Client("alice", "wonder\u00adland")
    server.start(client.initial_response())
    first = server.supply("wonderland")
    assert isinstance(first, sasl.Challenge)
    final = server.step(client.respond(first.data))
    assert isinstance(final, sasl.Challenge)
    client.respond(final.data)
    assert server.step(b"") == sasl.Success("alice")


def test_scram_authzid_and_escaped_names() -> None:
    """',' and '=' travel as =2C and =3D (RFC 5802 §5.1); c= repeats the GS2 header with the authzid."""
    name = "odd,user=name"
    secret = sasl.ScramSecret.from_password("pw", iterations=16, rng=random.Random(3))
    client = sasl.ScramSha256Client(name, "pw", authzid="admin,x")
    first_message = client.initial_response()
    assert first_message.startswith(b"n,a=admin=2Cx,n=odd=2Cuser=3Dname,r=")
    server = sasl.ScramSha256Server()
    assert server.start(first_message) == sasl.SecretRequest("SCRAM-SHA-256", name, "admin,x")
    first = server.supply(secret)
    assert isinstance(first, sasl.Challenge)
    final = server.step(client.respond(first.data))
    assert isinstance(final, sasl.Challenge)
    assert client.respond(final.data) == b""
    assert server.step(b"") == sasl.Success(name, "admin,x")


def test_scram_server_final_as_additional_data() -> None:
    """For protocols with additional data on success (RFC 4422 §3.6) the v= message rides on Success."""
    server = sasl.ScramSha256Server(final_as_challenge=False)
    client = sasl.ScramSha256Client("alice", "wonderland")
    server.start(client.initial_response())
    first = server.supply(FAST_SECRET)
    assert isinstance(first, sasl.Challenge)
    outcome = server.step(client.respond(first.data))
    assert isinstance(outcome, sasl.Success) and outcome.data.startswith(b"v=")
    assert client.respond(outcome.data) == b"" and client.server_verified


def test_scram_client_refuses_a_server_that_does_not_know_the_password() -> None:
    """Mutual authentication: the server signature is checked (RFC 5802 §3)."""
    client = sasl.ScramSha256Client("alice", "wonderland", nonce="n0nce")
    server = sasl.ScramSha256Server()
    server.start(client.initial_response())
    impostor = sasl.ScramSecret.from_password("something-else", salt=FAST_SECRET.salt, iterations=16)
    first = server.supply(impostor)
    assert isinstance(first, sasl.Challenge)
    client.respond(first.data)
    with pytest.raises(sasl.SaslServerUnverified):
        client.respond(b"v=" + base64.b64encode(bytes(32)))
    with pytest.raises(sasl.SaslServerUnverified):
        client.respond(b"e=invalid-proof")
    assert not client.server_verified


@pytest.mark.parametrize(
    "server_first",
    [
        b"r=other-nonce,s=c2FsdA==,i=4096",  # does not extend the client nonce
        b"r=n0nce,s=c2FsdA==,i=4096",  # the server added nothing
        b"r=n0nceXYZ,s=c2FsdA==,i=99999999",  # iteration count out of range
        b"r=n0nceXYZ,s=c2FsdA==,i=0",
        b"r=n0nceXYZ,s=!!,i=4096",  # salt not base64
        b"r=n0nceXYZ,i=4096",  # no salt
        b"m=ext,r=n0nceXYZ,s=c2FsdA==,i=4096",  # mandatory extension
        b"\xff\xfe",
    ],
)
def test_scram_client_refuses_malformed_server_first(server_first: bytes) -> None:
    client = sasl.ScramSha256Client("alice", "wonderland", nonce="n0nce")
    client.initial_response()
    with pytest.raises(sasl.SaslMalformed):
        client.respond(server_first)


def test_cram_md5_client_answers_the_challenge() -> None:
    client = sasl.CramMD5Client("tim", "tanstaaftanstaaf")
    assert client.initial_response() is None
    assert client.respond(RFC2195_CHALLENGE) == b"tim b913a602c7eda7a495b4e6e7334d3890"


def test_cram_md5_accepts_upper_case_hex_and_user_names_with_spaces() -> None:
    server = sasl.CramMD5Server(challenge=RFC2195_CHALLENGE)
    server.start(None)
    digest = sasl.cram_md5_digest("secret", RFC2195_CHALLENGE).upper()
    assert server.step(f"tim the enchanter {digest}".encode()) == sasl.SecretRequest("CRAM-MD5", "tim the enchanter")
    assert isinstance(server.supply("secret"), sasl.Success)


# --- bearer tokens: refusal flows ----------------------------------------------------------------------------


def test_oauthbearer_invalid_token_error_exchange() -> None:
    """RFC 7628 §3.2.2-§3.2.3: JSON error challenge, the client's single ^A (AQ==), then failure."""
    server = sasl.OAuthBearerServer()
    client = sasl.OAuthBearerClient("alice", "tok-stolen", host="mail.example.com", port=993)
    node = Node()
    outcome, wire = run(server, client, node)
    assert outcome == sasl.Failure(sasl.FailureKind.TOKEN, "token refused")
    assert outcome.rfc == "RFC 7628 §3.2.3"
    error = json.loads(base64.b64decode(wire[1][3:]))
    assert error == {"status": "invalid_token", "scope": "https://mail.example.com/"}
    assert wire[2] == "C: AQ=="
    assert client.error == error
    credentials = node.asked[0]
    assert credentials == sasl.BearerCredentials("OAUTHBEARER", "alice", "tok-stolen", "mail.example.com", 993)
    assert server.done


def test_oauthbearer_expired_token() -> None:
    """Expiry is the node's decision: it refuses, naming the scope the client needs."""
    issued = {"tok-old": ("alice", 100.0)}
    now = 200.0

    server = sasl.OAuthBearerServer()
    outcome = server.start(sasl.oauthbearer_response("tok-old", authzid="alice"))
    assert isinstance(outcome, sasl.BearerCredentials)
    owner, expires = issued[outcome.token]
    assert owner == outcome.username and expires < now
    challenge = server.reject(
        "invalid_token", scope="mail", openid_configuration="https://auth.example.com/.well-known/openid-configuration"
    )
    assert json.loads(challenge.data) == {
        "status": "invalid_token",
        "scope": "mail",
        "openid-configuration": "https://auth.example.com/.well-known/openid-configuration",
    }
    assert challenge.explain and "RFC 7628" in challenge.rfc
    assert server.feed("AQ==") == sasl.Failure(sasl.FailureKind.TOKEN, "token refused")


def test_oauthbearer_error_answered_with_anything_but_ctrl_a_still_fails() -> None:
    server = sasl.OAuthBearerServer()
    server.start(sasl.oauthbearer_response("t"))
    server.reject()
    outcome = server.feed("=")
    assert isinstance(outcome, sasl.Failure) and outcome.kind is sasl.FailureKind.MALFORMED
    assert outcome.rfc == "RFC 7628 §3.2.3"


def test_xoauth2_error_exchange() -> None:
    """Google's XOAUTH2: base64 JSON error challenge, an empty client response, then failure."""
    server = sasl.XOAuth2Server()
    client = sasl.XOAuth2Client("alice", "tok-wrong")
    outcome, wire = run(server, client, Node())
    assert outcome == sasl.Failure(sasl.FailureKind.TOKEN, "token refused")
    assert json.loads(base64.b64decode(wire[1][3:])) == {
        "status": "401",
        "schemes": "Bearer",
        "scope": "https://mail.example.com/",
    }
    assert wire[2] == "C: "  # the empty response
    assert client.error is not None and client.error["status"] == "401"


def test_token_for_someone_else_is_refused() -> None:
    server = sasl.XOAuth2Server()
    outcome, _ = run(server, sasl.XOAuth2Client("bob", "tok-alice"), Node())
    assert isinstance(outcome, sasl.Failure) and outcome.kind is sasl.FailureKind.TOKEN


def test_client_keeps_a_non_json_error_as_empty() -> None:
    client = sasl.OAuthBearerClient("alice", "t")
    client.initial_response()
    assert client.respond(b"\xff not json") == b"\x01"
    assert client.error == {}
    assert client.respond(b"[1, 2]") == b"\x01" and client.error == {}


# --- malformed input ---------------------------------------------------------------------------------------

LONG = "a" * (sasl.MAX_TOKEN_LENGTH + 1)

MALFORMED: list[tuple[str, bytes, sasl.FailureKind]] = [
    # CRAM-MD5: the answer to the challenge
    ("CRAM-MD5", b"tim", sasl.FailureKind.MALFORMED),
    ("CRAM-MD5", b"tim b913a602", sasl.FailureKind.MALFORMED),
    ("CRAM-MD5", b" b913a602c7eda7a495b4e6e7334d3890", sasl.FailureKind.MALFORMED),
    ("CRAM-MD5", b"tim g913a602c7eda7a495b4e6e7334d3890", sasl.FailureKind.MALFORMED),
    ("CRAM-MD5", b"\xff b913a602c7eda7a495b4e6e7334d3890", sasl.FailureKind.MALFORMED),
    ("CRAM-MD5", b"x" * (sasl.MAX_MESSAGE_LENGTH + 1), sasl.FailureKind.TOO_LONG),
    # SCRAM-SHA-256: the client-first-message
    ("SCRAM-SHA-256", b"", sasl.FailureKind.MALFORMED),
    ("SCRAM-SHA-256", b"n=user,r=abc", sasl.FailureKind.MALFORMED),  # no GS2 header
    ("SCRAM-SHA-256", b"x,,n=user,r=abc", sasl.FailureKind.MALFORMED),
    ("SCRAM-SHA-256", b"p=tls-unique,,n=user,r=abc", sasl.FailureKind.MALFORMED),  # channel binding
    ("SCRAM-SHA-256", b"n,,m=ext,n=user,r=abc", sasl.FailureKind.MALFORMED),
    ("SCRAM-SHA-256", b"n,,r=abc,n=user", sasl.FailureKind.MALFORMED),
    ("SCRAM-SHA-256", b"n,,n=user", sasl.FailureKind.MALFORMED),
    ("SCRAM-SHA-256", b"n,,n=,r=abc", sasl.FailureKind.MALFORMED),
    ("SCRAM-SHA-256", b"n,,n=us=41er,r=abc", sasl.FailureKind.MALFORMED),  # bad escape
    ("SCRAM-SHA-256", b"n,,n=user,r=", sasl.FailureKind.MALFORMED),
    ("SCRAM-SHA-256", b"n,,n=user,r=a b\x7f", sasl.FailureKind.MALFORMED),
    ("SCRAM-SHA-256", b"n,,n=us\x07er,r=abc", sasl.FailureKind.MALFORMED),  # SASLprep
    ("SCRAM-SHA-256", b"n,,n=user,r=" + b"a" * (sasl.MAX_NONCE_LENGTH + 1), sasl.FailureKind.TOO_LONG),
    ("SCRAM-SHA-256", b"n,,n=\xff,r=abc", sasl.FailureKind.MALFORMED),
    ("SCRAM-SHA-256", b"n,,n=user,r=" + b"a" * sasl.MAX_MESSAGE_LENGTH, sasl.FailureKind.TOO_LONG),
    # XOAUTH2
    ("XOAUTH2", b"", sasl.FailureKind.MALFORMED),
    ("XOAUTH2", b"user=alice\x01auth=Bearer t\x01", sasl.FailureKind.MALFORMED),  # one ^A short
    ("XOAUTH2", b"auth=Bearer t\x01\x01", sasl.FailureKind.MALFORMED),  # no user
    ("XOAUTH2", b"user=alice\x01\x01", sasl.FailureKind.MALFORMED),  # no auth
    ("XOAUTH2", b"user=alice\x01auth=Basic dDp0\x01\x01", sasl.FailureKind.MALFORMED),
    ("XOAUTH2", b"user=alice\x01auth=Bearer \x01\x01", sasl.FailureKind.MALFORMED),
    ("XOAUTH2", b"user=alice\x01user=bob\x01auth=Bearer t\x01\x01", sasl.FailureKind.MALFORMED),
    ("XOAUTH2", b"user=alice\x01auth=Bearer " + LONG.encode() + b"\x01\x01", sasl.FailureKind.TOO_LONG),
    ("XOAUTH2", b"user=\xff\x01auth=Bearer t\x01\x01", sasl.FailureKind.MALFORMED),
    # OAUTHBEARER
    ("OAUTHBEARER", b"", sasl.FailureKind.MALFORMED),
    ("OAUTHBEARER", b"\x01auth=Bearer t\x01\x01", sasl.FailureKind.MALFORMED),  # no GS2 header
    ("OAUTHBEARER", b"p=tls-unique,,\x01auth=Bearer t\x01\x01", sasl.FailureKind.MALFORMED),
    ("OAUTHBEARER", b"n,,auth=Bearer t\x01\x01", sasl.FailureKind.MALFORMED),  # no ^A after the header
    ("OAUTHBEARER", b"n,,\x01auth=Bearer t\x01", sasl.FailureKind.MALFORMED),
    ("OAUTHBEARER", b"n,,\x01host=h\x01\x01", sasl.FailureKind.MALFORMED),  # no auth
    ("OAUTHBEARER", b"n,a=x=ZZ,\x01auth=Bearer t\x01\x01", sasl.FailureKind.MALFORMED),
    ("OAUTHBEARER", b"n,,\x01port=http\x01auth=Bearer t\x01\x01", sasl.FailureKind.MALFORMED),
    ("OAUTHBEARER", b"n,,\x01port=70000\x01auth=Bearer t\x01\x01", sasl.FailureKind.MALFORMED),
    ("OAUTHBEARER", b"n,,\x01h0st=x\x01auth=Bearer t\x01\x01", sasl.FailureKind.MALFORMED),  # key is ALPHA
    ("OAUTHBEARER", b"n,,\x01auth=Bearer " + LONG.encode() + b"\x01\x01", sasl.FailureKind.TOO_LONG),
    ("OAUTHBEARER", b"n,,\x01auth=Bearer t\x01\x01" + b"x" * sasl.MAX_MESSAGE_LENGTH, sasl.FailureKind.TOO_LONG),
]


def started(name: str) -> sasl.SaslServer:
    """A server waiting for its first client message."""
    server = sasl.create_server(name)
    assert server is not None
    assert isinstance(server.start(None), sasl.Challenge)
    return server


@pytest.mark.parametrize(("name", "message", "kind"), MALFORMED)
def test_malformed_message_fails_cleanly(name: str, message: bytes, kind: sasl.FailureKind) -> None:
    server = started(name)
    outcome = server.step(message)
    assert isinstance(outcome, sasl.Failure)
    assert outcome.kind is kind
    assert outcome.reason and outcome.explain and outcome.rfc
    assert server.done
    assert isinstance(server.step(b"anything"), sasl.Failure)  # and it stays over


def scram_at_client_final() -> tuple[sasl.ScramSha256Server, str]:
    server = sasl.ScramSha256Server(nonce="SRV")
    server.start(b"n,,n=alice,r=CLI")
    server.supply(FAST_SECRET)
    return server, "CLISRV"


@pytest.mark.parametrize(
    ("final", "reason"),
    [
        (b"c=biws,r=CLIXXX,p=" + base64.b64encode(bytes(32)), "wrong nonce"),
        (b"c=eSws,r=CLISRV,p=" + base64.b64encode(bytes(32)), "channel binding mismatch"),  # y,, but we sent n,,
        (b"c=!!,r=CLISRV,p=" + base64.b64encode(bytes(32)), "channel binding mismatch"),
        (b"c=biws,r=CLISRV,p=!!!!", "bad proof"),
        (b"c=biws,r=CLISRV,p=" + base64.b64encode(bytes(31)), "bad proof"),
        (b"c=biws,r=CLISRV", "client-final wants c=...,r=...,p=..."),
        (b"r=CLISRV,c=biws,p=AAAA", "client-final wants c=...,r=...,p=..."),
        (b"\xff", "client-final wants c=...,r=...,p=..."),
    ],
)
def test_scram_malformed_client_final(final: bytes, reason: str) -> None:
    server, _ = scram_at_client_final()
    outcome = server.step(final)
    assert outcome == sasl.Failure(sasl.FailureKind.MALFORMED, reason)


def test_scram_zero_proof_is_invalid() -> None:
    server, nonce = scram_at_client_final()
    outcome = server.step(f"c=biws,r={nonce},p={b64(bytes(32))}".encode())
    assert outcome == sasl.Failure(sasl.FailureKind.CREDENTIALS, "invalid-proof")


def test_scram_y_flag_is_accepted_and_bound() -> None:
    """'y' (client could bind, thinks the server cannot) is fine when no -PLUS is offered (RFC 5802 §6)."""
    server = sasl.ScramSha256Server()
    assert server.start(b"y,,n=alice,r=abc") == sasl.SecretRequest("SCRAM-SHA-256", "alice")


def test_scram_non_empty_answer_to_server_final_fails() -> None:
    server = sasl.ScramSha256Server()
    client = sasl.ScramSha256Client("alice", "wonderland")
    server.start(client.initial_response())
    first = server.supply(FAST_SECRET)
    assert isinstance(first, sasl.Challenge)
    assert isinstance(server.step(client.respond(first.data)), sasl.Challenge)
    outcome = server.step(b"surprise")
    assert isinstance(outcome, sasl.Failure) and outcome.kind is sasl.FailureKind.MALFORMED


def test_cram_md5_refuses_an_initial_response() -> None:
    """CRAM-MD5 is server-first (RFC 4422 §3.3): even an empty initial response is wrong."""
    server = sasl.CramMD5Server()
    outcome = server.begin("=")
    assert isinstance(outcome, sasl.Failure) and outcome.kind is sasl.FailureKind.MALFORMED
    assert server.done


@pytest.mark.parametrize("name", sasl.SASL_SERVERS)
def test_bad_base64_and_abort_are_failures_not_exceptions(name: str) -> None:
    bad = started(name).feed("!!!not base64")
    assert isinstance(bad, sasl.Failure) and bad.kind is sasl.FailureKind.BAD_BASE64
    aborted = started(name).feed("*")
    assert isinstance(aborted, sasl.Failure) and aborted.kind is sasl.FailureKind.ABORTED
    server = sasl.create_server(name)
    assert server is not None
    initial = server.begin("@@@")
    assert isinstance(initial, sasl.Failure) and initial.kind is sasl.FailureKind.BAD_BASE64


def test_misuse_by_the_node_raises() -> None:
    """Answering a question that was not asked is our bug, not the client's: LocalProtocolError."""
    with pytest.raises(LocalProtocolError):
        sasl.CramMD5Server().supply("x")
    with pytest.raises(LocalProtocolError):
        sasl.ScramSha256Server().supply(None)
    with pytest.raises(LocalProtocolError):
        sasl.OAuthBearerServer().accept()
    with pytest.raises(LocalProtocolError):
        sasl.XOAuth2Server().reject()
    server = sasl.OAuthBearerServer()
    server.start(sasl.oauthbearer_response("t"))
    server.accept()
    with pytest.raises(LocalProtocolError):
        server.reject()


def test_a_response_while_the_node_is_deciding_fails_the_exchange() -> None:
    server = sasl.ScramSha256Server()
    assert isinstance(server.start(b"n,,n=alice,r=abc"), sasl.SecretRequest)
    assert isinstance(server.step(b"c=biws"), sasl.Failure)
    assert server.done


# --- determinism ---------------------------------------------------------------------------------------------


def test_randomness_is_injectable() -> None:
    def challenges(rng: random.Random | sasl.RandomSource | None) -> tuple[bytes, bytes]:
        cram = sasl.CramMD5Server(hostname="mx.example.org", rng=rng)
        scram = sasl.ScramSha256Server(rng=rng)
        scram.start(b"n,,n=alice,r=abc")
        first = scram.supply(FAST_SECRET)
        assert isinstance(first, sasl.Challenge)
        return cram.challenge, first.data

    assert challenges(random.Random(5)) == challenges(random.Random(5))
    assert challenges(random.Random(5)) != challenges(random.Random(6))
    assert challenges(None) != challenges(None)  # secrets by default
    zeros = challenges(bytes)  # a callable returning n bytes will do: here, n zero bytes
    assert zeros == (b"<0.0@mx.example.org>", challenges(bytes)[1])
    cram, _ = challenges(random.Random(5))
    assert cram.startswith(b"<") and cram.endswith(b"@mx.example.org>")


def test_client_nonce_and_salt_come_from_the_source() -> None:
    first = sasl.ScramSha256Client("a", "b", rng=random.Random(1)).initial_response()
    assert first == sasl.ScramSha256Client("a", "b", rng=random.Random(1)).initial_response()
    assert sasl.ScramSecret.from_password("p", rng=random.Random(2), iterations=1).salt == random.Random(2).randbytes(
        16
    )


# --- PLAIN and LOGIN as before -------------------------------------------------------------------------------


def test_plain_and_login_keep_their_interface() -> None:
    assert dict(sasl.SERVER_MECHANISMS) == {"PLAIN": sasl.PlainServer, "LOGIN": sasl.LoginServer}
    assert sasl.PlainServer().start(None) == sasl.Challenge(b"")
    assert sasl.PlainServer().start(b"admin\0alice\0secret") == sasl.Credentials("alice", "secret", "admin")
    login = sasl.LoginServer()
    assert login.start(None) == sasl.Challenge(b"Username:")
    assert login.step(b"alice") == sasl.Challenge(b"Password:")
    assert login.step(b"secret") == sasl.Credentials("alice", "secret")
    with pytest.raises(sasl.SaslMalformed):
        sasl.PlainServer().start(b"alice secret")
    with pytest.raises(sasl.SaslDecodeError):
        sasl.decode_response("!!!")
    with pytest.raises(sasl.SaslAborted):
        sasl.decode_response("*")
    assert sasl.decode_response("=") == b""
    assert sasl.encode(b"") == "="
    assert sasl.plain_response("alice", "secret") == b"\0alice\0secret"
    client = sasl.LoginClient("alice", "secret")
    assert [client.respond(b"Username:"), client.respond(b"Password:"), client.respond(b"?")] == [
        b"alice",
        b"secret",
        b"",
    ]
    assert repr(sasl.Challenge(b"x")) == "Challenge(data=b'x')"
    assert "secret" not in repr(sasl.Credentials("alice", "secret"))


def test_adapter_turns_plain_errors_into_failures() -> None:
    server = sasl.create_server("PLAIN")
    assert server is not None
    outcome = server.begin(b64(b"\0alice"))
    assert isinstance(outcome, sasl.Failure) and outcome.kind is sasl.FailureKind.MALFORMED
    login = sasl.create_server("LOGIN")
    assert login is not None
    login.begin(None)
    outcome = login.feed(b64(b"\xff"))
    assert isinstance(outcome, sasl.Failure) and outcome.kind is sasl.FailureKind.MALFORMED


# --- properties: nothing the client sends raises -------------------------------------------------------------

VOCABULARY = [
    b"",
    b"\x01",
    b"n,,n=alice,r=abc",
    b"n,,\x01auth=Bearer tok-alice\x01\x01",
    b"user=alice\x01auth=Bearer tok-alice\x01\x01",
    b"c=biws,r=abc,p=" + base64.b64encode(bytes(32)),
    b"alice 0123456789abcdef0123456789abcdef",
    b"\0alice\0wonderland",
]
responses = st.lists(st.one_of(st.binary(max_size=300), st.sampled_from(VOCABULARY)), max_size=6)


def drive(server: sasl.SaslServer, node: Node, messages: list[bytes], lines: list[str]) -> None:
    outcome = node.answer(server, server.start(messages[0] if messages else None))
    for message in messages[1:]:
        outcome = node.answer(server, server.step(message))
    for line in lines:
        outcome = node.answer(server, server.feed(line))
    assert isinstance(
        outcome,
        sasl.Challenge | sasl.Credentials | sasl.BearerCredentials | sasl.SecretRequest | sasl.Success | sasl.Failure,
    )
    if isinstance(outcome, sasl.Failure):
        assert outcome.reason and outcome.rfc
        assert server.done


@PROFILE
@given(
    name=st.sampled_from(sasl.SASL_SERVERS),
    messages=responses,
    lines=st.lists(st.one_of(st.text(max_size=80), st.binary(max_size=60).map(b64)), max_size=4),
)
def test_no_client_input_raises(name: str, messages: list[bytes], lines: list[str]) -> None:
    server = sasl.create_server(name, rng=random.Random(0))
    assert server is not None
    drive(server, Node(), messages, lines)


@PROFILE
@given(name=st.sampled_from(sasl.SASL_SERVERS), data=st.binary(max_size=400))
def test_arbitrary_first_message_never_raises(name: str, data: bytes) -> None:
    server = sasl.create_server(name)
    assert server is not None
    outcome = server.begin(b64(data) if data else "=")
    assert not isinstance(outcome, sasl.Success)


@PROFILE
@given(
    base=st.sampled_from([b"n,,\x01auth=Bearer t\x01\x01", b"user=a\x01auth=Bearer t\x01\x01", b"n,,n=alice,r=abc"]),
    position=st.integers(0, 40),
    junk=st.binary(min_size=1, max_size=4),
)
def test_mutated_messages_never_raise(base: bytes, position: int, junk: bytes) -> None:
    message = base[:position] + junk + base[position:]
    for name in ("XOAUTH2", "OAUTHBEARER", "SCRAM-SHA-256"):
        server = sasl.create_server(name)
        assert server is not None
        server.start(message)


@PROFILE
@given(challenge=st.binary(max_size=200))
def test_scram_client_only_raises_sasl_errors(challenge: bytes) -> None:
    client = sasl.ScramSha256Client("alice", "wonderland", nonce="abc")
    client.initial_response()
    with contextlib.suppress(sasl.SaslError):
        client.respond(challenge)


def test_a_token_response_while_the_node_is_deciding_fails_the_exchange() -> None:
    server = sasl.XOAuth2Server()
    assert isinstance(server.start(sasl.xoauth2_response("alice", "t")), sasl.BearerCredentials)
    assert isinstance(server.step(b"more"), sasl.Failure)
    with pytest.raises(LocalProtocolError):
        server.accept()
