"""What every SASL mechanism shares (RFC 4422): errors, outcomes, framing, limits, the server interface.

Two server interfaces live here. `ServerMechanism` (PLAIN, LOGIN) steps through
`Challenge` and `Credentials` and raises a `SaslError` on input it cannot use.
`SaslServer` (every mechanism) never raises on the peer's input: each call returns an
`Outcome` (RFC 4422 §3.4 to §3.6); `LegacyAdapter` runs a `ServerMechanism` behind it.
"""

from __future__ import annotations

import base64
import binascii
import enum
import random
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field


class SaslError(Exception):
    """The exchange cannot go on."""


class SaslAborted(SaslError):
    """The client sent '*' (RFC 4954 §4, RFC 5034 §4, RFC 3501 §6.2.2)."""


class SaslDecodeError(SaslError):
    """A response that is not valid base64."""


class SaslMalformed(SaslError):
    """A decoded response that does not fit the mechanism's format."""


class SaslServerUnverified(SaslError):
    """The server could not prove that it knows the password (RFC 5802 §3, ServerSignature)."""


@dataclass(frozen=True)
class Challenge:
    """A server challenge, raw; the engine base64-encodes it (RFC 4422 §3.4)."""

    data: bytes
    explain: str = field(default="", compare=False, repr=False)
    rfc: str = field(default="", compare=False, repr=False)


@dataclass(frozen=True)
class Credentials:
    """What the client claims; the node decides whether it is true."""

    username: str
    password: str = field(repr=False)
    authzid: str = ""
    explain: str = field(default="", compare=False, repr=False)
    rfc: str = field(default="", compare=False, repr=False)


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


def text_of(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SaslMalformed("not UTF-8") from exc


# --- randomness ----------------------------------------------------------------------------------------------

RandomSource = Callable[[int], bytes]
"""n -> n random bytes; `secrets.token_bytes` by default, `random.Random(seed).randbytes` to replay."""


def byte_source(rng: RandomSource | random.Random | None) -> RandomSource:
    if rng is None:
        return secrets.token_bytes
    if isinstance(rng, random.Random):
        return rng.randbytes
    return rng


# --- limits ---------------------------------------------------------------------------------------------------

MAX_MESSAGE_LENGTH = 8192
"""Longest decoded message CRAM-MD5, SCRAM-SHA-256, XOAUTH2 and OAUTHBEARER read; longer ones fail as TOO_LONG."""
MAX_TOKEN_LENGTH = 4096
"""Longest bearer token accepted (RFC 7628 §3.1 sets none; a JWT access token is well under this)."""
MAX_NONCE_LENGTH = 256
"""Longest SCRAM client nonce accepted (RFC 5802 §5.1 sets none)."""
MAX_SCRAM_ITERATIONS = 1_000_000
"""A client refuses a higher iteration count: it would spend seconds on one login (RFC 7677 §4)."""
SCRAM_ITERATIONS = 4096
"""The iteration count RFC 7677 §4 asks for at least."""


# --- outcomes (RFC 4422 §3.4 to §3.6) ------------------------------------------------------------------------


class FailureKind(enum.Enum):
    """Why an exchange failed; each protocol maps it to its own error reply."""

    ABORTED = "aborted"  # the client sent '*'
    BAD_BASE64 = "bad-base64"  # a response line that is not base64
    MALFORMED = "malformed"  # decodes, but does not fit the mechanism
    TOO_LONG = "too-long"  # over MAX_MESSAGE_LENGTH, MAX_TOKEN_LENGTH or MAX_NONCE_LENGTH
    CREDENTIALS = "credentials"  # wrong password, digest or proof, or an unknown user
    TOKEN = "token"  # the node rejected the bearer token


@dataclass(frozen=True)
class BearerCredentials:
    """A bearer token (RFC 6750) sent by XOAUTH2 or OAUTHBEARER; the node validates it.

    `username` is XOAUTH2's `user=` or OAUTHBEARER's authzid (`a=`, possibly empty: the
    token then names the user). `host` and `port` are OAUTHBEARER's optional kvpairs.
    """

    mechanism: str
    username: str
    token: str = field(repr=False)
    host: str = ""
    port: int | None = None
    explain: str = field(default="", compare=False, repr=False)
    rfc: str = field(default="", compare=False, repr=False)


@dataclass(frozen=True)
class SecretRequest:
    """The mechanism needs `username`'s stored secret: the node answers with `supply(...)`.

    CRAM-MD5 wants the password; SCRAM-SHA-256 a `ScramSecret` (or the password, from
    which one is derived). `None` means "no such user"; the mechanism then fails the
    exchange the way the RFC says, without telling the client which part was wrong.
    """

    mechanism: str
    username: str
    authzid: str = ""
    explain: str = field(default="", compare=False, repr=False)
    rfc: str = field(default="", compare=False, repr=False)


@dataclass(frozen=True)
class Success:
    """The exchange proved the client's identity; `data` is additional data with success, if any."""

    username: str
    authzid: str = ""
    data: bytes = b""
    explain: str = field(default="", compare=False, repr=False)
    rfc: str = field(default="", compare=False, repr=False)


@dataclass(frozen=True)
class Failure:
    """The exchange is over and failed; `reason` is short, `explain` is for the learner."""

    kind: FailureKind
    reason: str
    explain: str = field(default="", compare=False, repr=False)
    rfc: str = field(default="", compare=False, repr=False)


Outcome = Challenge | Credentials | BearerCredentials | SecretRequest | Success | Failure


class SaslServer:
    """One server-side exchange that never raises on what the client sends.

    The engine calls `begin(line)` with the initial response as it came on the command
    line (None when there was none), then `feed(line)` with each response line, and acts
    on the `Outcome`. When the outcome asks the node (`SecretRequest`, `BearerCredentials`)
    the engine raises an event and passes the node's answer to `supply`, `accept` or
    `reject`. `start` and `step` are the same on already-decoded bytes.
    """

    name = ""

    def __init__(self) -> None:
        self.done = False

    def begin(self, line: str | None) -> Outcome:
        """Start with the initial response line (base64, '=' for empty), or None when absent."""
        if line is None:
            return self._finish(self.start(None))
        decoded = self._decode(line)
        return decoded if isinstance(decoded, Failure) else self._finish(self.start(decoded))

    def feed(self, line: str) -> Outcome:
        """One base64 response line: '*' aborts (RFC 4954 §4, RFC 5034 §4, RFC 3501 §6.2.2)."""
        decoded = self._decode(line)
        return decoded if isinstance(decoded, Failure) else self._finish(self.step(decoded))

    def start(self, initial: bytes | None) -> Outcome:
        raise NotImplementedError

    def step(self, response: bytes) -> Outcome:
        raise NotImplementedError

    def _decode(self, line: str) -> bytes | Failure:
        try:
            return decode_response(line)
        except SaslAborted:
            self.done = True
            return Failure(
                FailureKind.ABORTED, "cancelled by the client", "The client sent '*' to give up.", "RFC 4422 §3.5"
            )
        except SaslDecodeError:
            self.done = True
            return Failure(
                FailureKind.BAD_BASE64,
                "response not base64",
                "Every SASL response travels base64-encoded on one line; this one does not decode.",
                "RFC 4422 §4, RFC 4648 §4",
            )

    def _finish(self, outcome: Outcome) -> Outcome:
        if isinstance(outcome, Success | Failure | Credentials):
            self.done = True
        return outcome

    def _finished(self) -> Failure:
        return Failure(
            FailureKind.MALFORMED,
            "exchange already finished",
            "The mechanism has nothing more to read; a further response is a protocol error.",
            "RFC 4422 §3.6",
        )


def malformed(reason: str, explain: str, rfc: str) -> Failure:
    return Failure(FailureKind.MALFORMED, reason, explain, rfc)


def too_long(what: str, limit: int, rfc: str) -> Failure:
    return Failure(
        FailureKind.TOO_LONG,
        f"{what} too long",
        f"The {what} is longer than this server's limit of {limit}; a server must bound what it buffers.",
        rfc,
    )


def utf8(data: bytes) -> str | None:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


class LegacyAdapter(SaslServer):
    """Runs a `ServerMechanism` (PLAIN, LOGIN) behind the `SaslServer` interface."""

    def __init__(self, mechanism: ServerMechanism) -> None:
        super().__init__()
        self.mechanism = mechanism
        self.name = mechanism.name

    def start(self, initial: bytes | None) -> Outcome:
        return self._guard(lambda: self.mechanism.start(initial))

    def step(self, response: bytes) -> Outcome:
        if self.done:
            return self._finished()
        return self._guard(lambda: self.mechanism.step(response))

    def _guard(self, run: Callable[[], Step]) -> Outcome:
        try:
            return self._finish(run())
        except SaslError as exc:
            self.done = True
            return malformed(str(exc), f"The {self.name} message does not have the expected form.", "RFC 4616 §2")


# --- GS2 and base64 helpers (RFC 5801 §4, RFC 5802 §5.1) ----------------------------------------------------


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str) -> bytes | None:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        return None


def saslname(name: str) -> str:
    """Escape ',' and '=' in a user name for a GS2 header or SCRAM attribute (RFC 5802 §5.1)."""
    return name.replace("=", "=3D").replace(",", "=2C")


def unsaslname(text: str) -> str | None:
    """Undo `saslname`; None when '=' is followed by anything but 2C or 3D (RFC 5802 §5.1)."""
    if re.search(r"=(?!2C|3D)", text):
        return None
    return text.replace("=2C", ",").replace("=3D", "=")
