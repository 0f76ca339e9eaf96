"""Bearer tokens over SASL: XOAUTH2 (Google) and OAUTHBEARER (RFC 7628), with their JSON error exchange."""

from __future__ import annotations

import enum
import json
import re

from simulator.protocol.errors import LocalProtocolError
from simulator.protocol.sasl.base import (
    MAX_MESSAGE_LENGTH,
    MAX_TOKEN_LENGTH,
    BearerCredentials,
    Challenge,
    Failure,
    FailureKind,
    Outcome,
    SaslServer,
    Success,
    malformed,
    saslname,
    too_long,
    unsaslname,
    utf8,
)

_KEY = re.compile(r"[A-Za-z]+")
_VALUE = re.compile(r"[\x21-\x7e \t\r\n]*")
_BEARER = re.compile(r"[Bb][Ee][Aa][Rr][Ee][Rr] +([A-Za-z0-9\-._~+/]+=*)")


def _kvpairs(text: str) -> dict[str, str] | None:
    """Parse `*(key "=" value ^A) ^A` (RFC 7628 §3.1); None if it does not fit or repeats a key."""
    if not text.endswith("\x01"):
        return None
    body = text[:-1]  # the kvpairs, each ended by its own ^A
    if body and not body.endswith("\x01"):
        return None
    pairs: dict[str, str] = {}
    for item in body.split("\x01")[:-1]:
        key, equals, value = item.partition("=")
        if not equals or not _KEY.fullmatch(key) or not _VALUE.fullmatch(value) or key in pairs:
            return None
        pairs[key] = value
    return pairs


class _Token(enum.Enum):
    MESSAGE = "message"
    DECISION = "decision"
    ERROR_ACK = "error-ack"
    DONE = "done"


class _BearerServer(SaslServer):
    """The shape XOAUTH2 and OAUTHBEARER share: one client message, the node's verdict, an error round."""

    rfc = ""

    def __init__(self) -> None:
        super().__init__()
        self._state = _Token.MESSAGE
        self._username = ""
        self._authzid = ""

    def start(self, initial: bytes | None) -> Outcome:
        if initial is None:
            return Challenge(b"", f"{self.name} is client-first: an empty challenge asks for the message.", self.rfc)
        return self.step(initial)

    def step(self, response: bytes) -> Outcome:
        if self._state is _Token.MESSAGE:
            outcome = self._message(response)
            if isinstance(outcome, BearerCredentials):
                self._state, self._username = _Token.DECISION, outcome.username
            else:
                self._state, self.done = _Token.DONE, True
            return outcome
        if self._state is _Token.ERROR_ACK:
            self._state, self.done = _Token.DONE, True
            return self._error_acknowledged(response)
        self._state, self.done = _Token.DONE, True
        return self._finished()

    def accept(self, user: str = "") -> Outcome:
        """The node found the token good (signature, expiry, scope, subject).

        Args:
            user: who the token was issued to, when the client named nobody (OAUTHBEARER's
                authzid is optional, RFC 7628 §3.1: then the token says who it is).
        """
        if self._state is not _Token.DECISION:
            raise LocalProtocolError(f"{self.name}: accept() without pending BearerCredentials")
        self._state, self.done = _Token.DONE, True
        return Success(self._username or user, explain="The node accepted the bearer token.", rfc=self.rfc)

    def _message(self, response: bytes) -> Outcome:
        raise NotImplementedError

    def _error_acknowledged(self, response: bytes) -> Outcome:
        raise NotImplementedError

    def _token(self, kvpairs: dict[str, str]) -> str | Failure:
        match = _BEARER.fullmatch(kvpairs.get("auth", ""))
        if match is None:
            return malformed(
                "auth=Bearer <token> missing",
                "The message must carry auth=Bearer followed by the token.",
                "RFC 7628 §3.1, RFC 6750 §2.1",
            )
        token = match.group(1)
        if len(token) > MAX_TOKEN_LENGTH:
            return too_long("bearer token", MAX_TOKEN_LENGTH, "RFC 7628 §3.1")
        return token

    def _reject_challenge(self, body: dict[str, str]) -> Challenge:
        if self._state is not _Token.DECISION:
            raise LocalProtocolError(f"{self.name}: reject() without pending BearerCredentials")
        self._state = _Token.ERROR_ACK
        return Challenge(
            json.dumps(body, separators=(",", ":")).encode("utf-8"),
            "The token was refused. The server explains why in a JSON challenge; the client answers and the "
            "exchange then fails.",
            self.rfc,
        )


class XOAuth2Server(_BearerServer):
    """XOAUTH2 (Google): `user=...^Aauth=Bearer ...^A^A`, one message carrying a bearer token.

    On a refused token the node calls `reject(...)`: the server sends a base64 JSON
    error challenge, the client answers with an empty response, and the exchange fails.
    """

    name = "XOAUTH2"
    rfc = "Google XOAUTH2 protocol; RFC 6750 §2.1"

    def _message(self, response: bytes) -> Outcome:
        if len(response) > MAX_MESSAGE_LENGTH:
            return too_long("message", MAX_MESSAGE_LENGTH, self.rfc)
        text = utf8(response)
        kvpairs = _kvpairs(text) if text is not None else None
        if kvpairs is None or not kvpairs.get("user"):
            return malformed(
                "XOAUTH2 wants user=...^Aauth=Bearer ...^A^A",
                "The message is user=, then auth=Bearer and the token, each ended by ^A (0x01), then one more ^A.",
                self.rfc,
            )
        token = self._token(kvpairs)
        if isinstance(token, Failure):
            return token
        return BearerCredentials(
            self.name,
            kvpairs["user"],
            token,
            explain="An OAuth 2.0 access token instead of a password; the server checks it with its issuer.",
            rfc=self.rfc,
        )

    def reject(self, status: str = "401", scope: str = "", schemes: str = "Bearer") -> Challenge:
        """The node refused the token: the JSON error challenge (`status`, `schemes`, `scope`)."""
        body = {"status": status, "schemes": schemes}
        if scope:
            body["scope"] = scope
        return self._reject_challenge(body)

    def _error_acknowledged(self, response: bytes) -> Outcome:
        return Failure(
            FailureKind.TOKEN,
            "token refused",
            "The client acknowledged the error with an empty response; the server now fails the exchange.",
            self.rfc,
        )


class OAuthBearerServer(_BearerServer):
    """OAUTHBEARER (RFC 7628): GS2 header, then host=, port=, auth=Bearer kvpairs separated by ^A.

    Channel binding is not defined for it, so the GS2 flag must be 'n' or 'y' (RFC 7628 §3.1).
    On a refused token the node calls `reject(...)`: the server sends the JSON error
    (RFC 7628 §3.2.2), the client must answer with a single ^A (§3.2.3), and the
    exchange fails.
    """

    name = "OAUTHBEARER"
    rfc = "RFC 7628 §3.1"

    def _message(self, response: bytes) -> Outcome:
        if len(response) > MAX_MESSAGE_LENGTH:
            return too_long("message", MAX_MESSAGE_LENGTH, self.rfc)
        text = utf8(response) or ""
        header = re.match(r"([ny]),(?:a=([^,]*))?,\x01", text)
        if header is None:
            return malformed(
                "bad GS2 header",
                "The message starts with a GS2 header: 'n' or 'y', an optional a=authzid, ',' and then ^A.",
                "RFC 7628 §3.1, RFC 5801 §4",
            )
        authzid = unsaslname(header.group(2) or "")
        kvpairs = _kvpairs(text[header.end() :])
        if authzid is None or kvpairs is None:
            return malformed(
                "bad kvpairs",
                "After the header come key=value pairs, each ended by ^A (0x01), and a final ^A.",
                self.rfc,
            )
        token = self._token(kvpairs)
        if isinstance(token, Failure):
            return token
        port = kvpairs.get("port", "")
        if port and (not port.isdigit() or not 0 < int(port) < 65536):
            return malformed("bad port", "port= is the decimal TCP port the client connected to.", self.rfc)
        return BearerCredentials(
            self.name,
            authzid,
            token,
            kvpairs.get("host", ""),
            int(port) if port else None,
            "An OAuth 2.0 access token; host and port say which server the client meant, so a token meant "
            "for another service can be refused.",
            self.rfc,
        )

    def reject(self, status: str = "invalid_token", scope: str = "", openid_configuration: str = "") -> Challenge:
        """The node refused the token: the JSON error challenge (RFC 7628 §3.2.2)."""
        body = {"status": status}
        if scope:
            body["scope"] = scope
        if openid_configuration:
            body["openid-configuration"] = openid_configuration
        return self._reject_challenge(body)

    def _error_acknowledged(self, response: bytes) -> Outcome:
        if response != b"\x01":
            return malformed(
                "expected ^A after the error",
                "After an error challenge the client must send a single ^A (0x01); the exchange fails either way.",
                "RFC 7628 §3.2.3",
            )
        return Failure(
            FailureKind.TOKEN,
            "token refused",
            "The client acknowledged the error with ^A; the server now fails the exchange.",
            "RFC 7628 §3.2.3",
        )


def xoauth2_response(username: str, token: str) -> bytes:
    """The XOAUTH2 client message: `user=...^Aauth=Bearer ...^A^A`."""
    return f"user={username}\x01auth=Bearer {token}\x01\x01".encode()


def oauthbearer_response(token: str, *, authzid: str = "", host: str = "", port: int | None = None) -> bytes:
    """The OAUTHBEARER client message (RFC 7628 §3.1): GS2 header, host, port, auth kvpairs."""
    header = "n," + (f"a={saslname(authzid)}" if authzid else "") + ","
    pairs = ([f"host={host}"] if host else []) + ([f"port={port}"] if port is not None else [])
    return (header + "\x01" + "".join(p + "\x01" for p in [*pairs, f"auth=Bearer {token}"]) + "\x01").encode()


class _BearerClient:
    """Client side of a bearer-token mechanism: the message first, then the acknowledgement of an error.

    Subclasses build the message and say how an error challenge is acknowledged.
    """

    name = ""
    acknowledgement = b""

    def __init__(self, message: bytes) -> None:
        self._message = message
        self.error: dict[str, str] | None = None
        self._sent = False

    def initial_response(self) -> bytes:
        """The message, sent with the command (RFC 4422 §3.3)."""
        self._sent = True
        return self._message

    def respond(self, challenge: bytes) -> bytes:
        """An error challenge is JSON: keep it in `error` and acknowledge it.

        Before the message went out, the server's empty challenge asks for it.
        """
        if not self._sent:
            return self.initial_response()
        self.error = _json_object(challenge)
        return self.acknowledgement


class XOAuth2Client(_BearerClient):
    """Client side of XOAUTH2: the message first, then an empty answer to an error challenge."""

    name = "XOAUTH2"
    acknowledgement = b""

    def __init__(self, username: str, token: str) -> None:
        super().__init__(xoauth2_response(username, token))


class OAuthBearerClient(_BearerClient):
    """Client side of OAUTHBEARER: the message first, then ^A to an error challenge (RFC 7628 §3.2.3)."""

    name = "OAUTHBEARER"
    acknowledgement = b"\x01"

    def __init__(self, username: str, token: str, *, host: str = "", port: int | None = None) -> None:
        super().__init__(oauthbearer_response(token, authzid=username, host=host, port=port))


def _json_object(data: bytes) -> dict[str, str]:
    """A JSON object of strings, or {} when the challenge is not one."""
    try:
        value: object = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):  # RecursionError: a server's "[[[[..." too deep
        return {}
    if not isinstance(value, dict):
        return {}
    return {str(k): str(v) for k, v in value.items()}
