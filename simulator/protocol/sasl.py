"""SASL mechanisms (RFC 4422), shared by SMTP AUTH, POP3 AUTH and IMAP AUTHENTICATE.

Each mechanism is a small sans-IO state machine over raw (already base64-decoded)
messages. The protocol engines do the base64 framing; the node checks the
credentials a mechanism produces.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field


class SaslError(Exception):
    """The exchange cannot go on."""


class SaslAborted(SaslError):
    """The client sent '*' (RFC 4954 §4, RFC 5034 §4, RFC 3501 §6.2.2)."""


class SaslDecodeError(SaslError):
    """A response that is not valid base64."""


class SaslMalformed(SaslError):
    """A decoded response that does not fit the mechanism's format."""


@dataclass(frozen=True)
class Challenge:
    data: bytes


@dataclass(frozen=True)
class Credentials:
    """What the client claims; the node decides whether it is true."""

    username: str
    password: str = field(repr=False)
    authzid: str = ""


Step = Challenge | Credentials


def decode_response(line: str) -> bytes:
    """Decode one client response line: '*' aborts, '=' is the empty initial response."""
    text = line.strip()
    if text == "*":
        raise SaslAborted("client cancelled")
    if text == "=":
        return b""
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise SaslDecodeError("not base64") from exc


def encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii") if data else "="


class ServerMechanism:
    """One server-side exchange."""

    name = ""

    def start(self, initial: bytes | None) -> Step:
        raise NotImplementedError

    def step(self, response: bytes) -> Step:
        raise NotImplementedError


def _text(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SaslMalformed("not UTF-8") from exc


class PlainServer(ServerMechanism):
    """PLAIN (RFC 4616): one message, authzid NUL authcid NUL password."""

    name = "PLAIN"

    def start(self, initial: bytes | None) -> Step:
        if initial is None:
            return Challenge(b"")
        return self.step(initial)

    def step(self, response: bytes) -> Step:
        parts = response.split(b"\0")
        if len(parts) != 3 or not parts[1]:
            raise SaslMalformed("PLAIN wants authzid NUL authcid NUL password")
        authzid, username, password = (_text(p) for p in parts)
        return Credentials(username, password, authzid)


class LoginServer(ServerMechanism):
    """LOGIN (draft-murchison-sasl-login): asks "Username:" then "Password:"."""

    name = "LOGIN"

    def __init__(self) -> None:
        self._username: str | None = None

    def start(self, initial: bytes | None) -> Step:
        if initial is None:
            return Challenge(b"Username:")
        return self.step(initial)

    def step(self, response: bytes) -> Step:
        if self._username is None:
            self._username = _text(response)
            return Challenge(b"Password:")
        return Credentials(self._username, _text(response))


SERVER_MECHANISMS: dict[str, type[ServerMechanism]] = {"PLAIN": PlainServer, "LOGIN": LoginServer}


def plain_response(username: str, password: str, authzid: str = "") -> bytes:
    """The single PLAIN client message (RFC 4616 §2)."""
    return f"{authzid}\0{username}\0{password}".encode()


class LoginClient:
    """Client side of LOGIN: answers whatever is asked, first the user, then the password."""

    def __init__(self, username: str, password: str) -> None:
        self._answers = [username.encode(), password.encode()]

    def respond(self, challenge: bytes) -> bytes:
        del challenge  # LOGIN's prompts are informational; the order is fixed
        return self._answers.pop(0) if self._answers else b""
