"""PLAIN (RFC 4616) and LOGIN (draft-murchison-sasl-login): mechanisms that carry the password itself."""

from __future__ import annotations

from simulator.protocol.sasl.base import Challenge, Credentials, SaslMalformed, ServerMechanism, Step, text_of


class PlainServer(ServerMechanism):
    """PLAIN (RFC 4616): one message, authzid NUL authcid NUL password."""

    name = "PLAIN"

    def start(self, initial: bytes | None) -> Step:
        if initial is None:
            return Challenge(b"", "PLAIN is client-first: an empty challenge asks for the message.", "RFC 4616 §2")
        return self.step(initial)

    def step(self, response: bytes) -> Step:
        parts = response.split(b"\0")
        if len(parts) != 3 or not parts[1]:
            raise SaslMalformed("PLAIN wants authzid NUL authcid NUL password")
        authzid, username, password = (text_of(p) for p in parts)
        return Credentials(
            username,
            password,
            authzid,
            "PLAIN carries the password itself, only base64-encoded: anyone on the wire can read it without TLS.",
            "RFC 4616 §2, §4",
        )


class LoginServer(ServerMechanism):
    """LOGIN (draft-murchison-sasl-login): asks "Username:" then "Password:"."""

    name = "LOGIN"

    def __init__(self) -> None:
        self._username: str | None = None

    def start(self, initial: bytes | None) -> Step:
        if initial is None:
            return Challenge(b"Username:", "LOGIN asks for the user name first.", "draft-murchison-sasl-login §2")
        return self.step(initial)

    def step(self, response: bytes) -> Step:
        if self._username is None:
            self._username = text_of(response)
            return Challenge(b"Password:", "Then for the password, in a second round.", "draft-murchison-sasl-login §2")
        return Credentials(
            self._username,
            text_of(response),
            explain="LOGIN sends the password base64-encoded, which is no protection without TLS.",
            rfc="draft-murchison-sasl-login §2",
        )


SERVER_MECHANISMS: dict[str, type[ServerMechanism]] = {"PLAIN": PlainServer, "LOGIN": LoginServer}


def plain_response(username: str, password: str, authzid: str = "") -> bytes:
    """The single PLAIN client message (RFC 4616 §2)."""
    return f"{authzid}\0{username}\0{password}".encode()


class LoginClient:
    """Client side of LOGIN: answers whatever is asked, first the user, then the password."""

    name = "LOGIN"

    def __init__(self, username: str, password: str) -> None:
        self._answers = [username.encode(), password.encode()]

    def initial_response(self) -> bytes | None:
        """LOGIN waits for the server's first prompt."""
        return None

    def respond(self, challenge: bytes) -> bytes:
        del challenge  # LOGIN's prompts are informational; the order is fixed
        return self._answers.pop(0) if self._answers else b""


class PlainClient:
    """Client side of PLAIN: the one message goes with the command, or answers the empty challenge (RFC 4616 §2)."""

    name = "PLAIN"

    def __init__(self, username: str, password: str, authzid: str = "") -> None:
        self._message = plain_response(username, password, authzid)
        self._answered = False

    def initial_response(self) -> bytes:
        """PLAIN is client-first: the message is the initial response (RFC 4422 §3.3)."""
        return self._message

    def respond(self, challenge: bytes) -> bytes:
        """The message, to a server that asks for it (or ignored the initial response); once only.

        Raises:
            SaslMalformed: a second challenge: PLAIN has no further round (RFC 4616 §2).
        """
        del challenge
        if self._answered:
            raise SaslMalformed("PLAIN has one message only")
        self._answered = True
        return self._message
