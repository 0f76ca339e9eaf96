"""CRAM-MD5 (RFC 2195): a keyed digest of a server challenge instead of the password."""

from __future__ import annotations

import hashlib
import hmac
import random
import re

from simulator.protocol.errors import LocalProtocolError
from simulator.protocol.sasl.base import (
    MAX_MESSAGE_LENGTH,
    Challenge,
    Failure,
    FailureKind,
    Outcome,
    RandomSource,
    SaslServer,
    SecretRequest,
    Success,
    byte_source,
    malformed,
    too_long,
    utf8,
)


def cram_md5_digest(password: str, challenge: bytes) -> str:
    """HMAC-MD5 of the challenge keyed with the password, as 32 lowercase hex digits (RFC 2195 §2)."""
    return hmac.new(password.encode("utf-8"), challenge, hashlib.md5).hexdigest()


def cram_md5_response(username: str, password: str, challenge: bytes) -> bytes:
    """The CRAM-MD5 client message: user name, a space, the digest (RFC 2195 §2)."""
    return f"{username} {cram_md5_digest(password, challenge)}".encode()


_HEX_DIGEST = re.compile(r"[0-9a-fA-F]{32}")


class CramMD5Server(SaslServer):
    """CRAM-MD5 (RFC 2195): a challenge, the user's keyed digest of it, then `SecretRequest`.

    The server sends `<random.random@hostname>` (RFC 2195 §2 uses a process id and a
    clock; the engine has neither, so both parts come from the random source). The
    node supplies the user's password; the digests are compared in constant time.
    The password never crosses the wire, but the server must keep it (or an equivalent
    of it) in the clear, and a recorded exchange can be attacked offline (RFC 2195 §5).
    """

    name = "CRAM-MD5"

    def __init__(
        self, *, hostname: str = "localhost", rng: RandomSource | random.Random | None = None, challenge: bytes = b""
    ) -> None:
        super().__init__()
        if not challenge:
            draw = byte_source(rng)
            first, second = (int.from_bytes(draw(4), "big") for _ in range(2))
            challenge = f"<{first}.{second}@{hostname}>".encode("ascii", errors="replace")
        self.challenge = challenge
        self._started = False
        self._username: str | None = None
        self._digest = ""

    def start(self, initial: bytes | None) -> Outcome:
        if initial is not None:
            self.done = True
            return malformed(
                "no initial response allowed",
                "CRAM-MD5 is server-first: the client must wait for the challenge before it can answer.",
                "RFC 2195 §2, RFC 4422 §3.3",
            )
        self._started = True
        return Challenge(
            self.challenge,
            "A fresh challenge; the client answers with its user name and HMAC-MD5(password, challenge).",
            "RFC 2195 §2",
        )

    def step(self, response: bytes) -> Outcome:
        if self.done or not self._started or self._username is not None:
            self.done = True
            return self._finished()
        if len(response) > MAX_MESSAGE_LENGTH:
            self.done = True
            return too_long("response", MAX_MESSAGE_LENGTH, "RFC 2195 §2")
        user, _, digest = (utf8(response) or "").rpartition(" ")
        if not user or not _HEX_DIGEST.fullmatch(digest):
            self.done = True
            return malformed(
                "CRAM-MD5 wants user SP 32-hex-digest",
                "The answer must be the user name, one space, and the digest as 32 hexadecimal digits.",
                "RFC 2195 §2",
            )
        self._username, self._digest = user, digest.lower()
        return SecretRequest(
            self.name,
            user,
            explain="The server looks up the user's password to compute the same digest and compare.",
            rfc="RFC 2195 §2",
        )

    def supply(self, password: str | None) -> Outcome:
        """The node's answer to `SecretRequest`: the user's password, or None for no such user."""
        if self._username is None or self.done:
            raise LocalProtocolError("CRAM-MD5: supply() without a pending SecretRequest")
        self.done = True
        expected = cram_md5_digest(password, self.challenge) if password is not None else ""
        if password is not None and hmac.compare_digest(expected, self._digest):
            return Success(
                self._username,
                explain="The digests match: the client knows the password, which never crossed the wire.",
                rfc="RFC 2195 §2",
            )
        return Failure(
            FailureKind.CREDENTIALS,
            "digest does not match",
            "The digest is not HMAC-MD5 of the challenge under this user's password (or there is no such user).",
            "RFC 2195 §2",
        )


class CramMD5Client:
    """Client side of CRAM-MD5: waits for the challenge, answers with the digest (RFC 2195 §2)."""

    name = "CRAM-MD5"

    def __init__(self, username: str, password: str) -> None:
        self.username = username
        self._password = password

    def initial_response(self) -> bytes | None:
        """None: CRAM-MD5 is server-first, there is no initial response."""
        return None

    def respond(self, challenge: bytes) -> bytes:
        return cram_md5_response(self.username, self._password, challenge)
