"""SASL mechanisms (RFC 4422), shared by SMTP AUTH, POP3 AUTH and IMAP AUTHENTICATE.

Each mechanism is a small sans-IO state machine over raw (already base64-decoded)
messages. The protocol engines do the base64 framing; the node checks the
credentials a mechanism produces.

Two generations live here side by side:

- `ServerMechanism` (PLAIN, LOGIN; the `SERVER_MECHANISMS` table) steps through
  `Challenge` and `Credentials` and raises a `SaslError` on input it cannot use.
- `SaslServer` (every mechanism; `create_server` and `SASL_SERVERS`) never raises on
  the peer's input: each call returns an `Outcome`, one of

  ``Challenge``          send it to the client and feed back the answer;
  ``Credentials``        a user and password (PLAIN, LOGIN): the node checks them;
  ``BearerCredentials``  a user and bearer token (XOAUTH2, OAUTHBEARER): the node
                         checks the token and calls `accept()` or `reject(...)`;
  ``SecretRequest``      CRAM-MD5 and SCRAM-SHA-256 need the user's stored secret:
                         the node looks it up and hands it to `supply(...)`, which
                         returns the next outcome (the mechanism does the maths);
  ``Success``            the exchange proved who the client is;
  ``Failure``            it did not, or the input did not fit; `kind` tells the
                         engine which of the protocol's error replies to send.

  The engine never learns a password: the node holds the secrets and the policy,
  the mechanism holds the arithmetic. Every outcome carries `explain` (for the
  learner) and `rfc` (the section it comes from).

Client helpers (`LoginClient`, `CramMD5Client`, `ScramSha256Client`, `XOAuth2Client`,
`OAuthBearerClient`) share one shape: `initial_response()` (None for server-first
mechanisms) and `respond(challenge)`; `plain_response`, `cram_md5_response`,
`xoauth2_response` and `oauthbearer_response` build single messages.

Randomness (the CRAM-MD5 challenge, SCRAM nonces and salts) is drawn from an
injectable `RandomSource`, a callable returning n bytes, or a `random.Random`;
by default `secrets.token_bytes`, so a seeded simulation is deterministic.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
import json
import random
import re
import secrets
import stringprep
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

from simulator.protocol.errors import LocalProtocolError


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
            return Challenge(b"", "PLAIN is client-first: an empty challenge asks for the message.", "RFC 4616 §2")
        return self.step(initial)

    def step(self, response: bytes) -> Step:
        parts = response.split(b"\0")
        if len(parts) != 3 or not parts[1]:
            raise SaslMalformed("PLAIN wants authzid NUL authcid NUL password")
        authzid, username, password = (_text(p) for p in parts)
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
            self._username = _text(response)
            return Challenge(b"Password:", "Then for the password, in a second round.", "draft-murchison-sasl-login §2")
        return Credentials(
            self._username,
            _text(response),
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


# --- randomness ----------------------------------------------------------------------------------------------

RandomSource = Callable[[int], bytes]
"""n -> n random bytes; `secrets.token_bytes` by default, `random.Random(seed).randbytes` to replay."""


def _byte_source(rng: RandomSource | random.Random | None) -> RandomSource:
    if rng is None:
        return secrets.token_bytes
    if isinstance(rng, random.Random):
        return rng.randbytes
    return rng


# --- limits ---------------------------------------------------------------------------------------------------

MAX_MESSAGE_LENGTH = 8192
"""Longest decoded client message any of the newer mechanisms reads; longer ones fail as TOO_LONG."""
MAX_TOKEN_LENGTH = 4096
"""Longest bearer token accepted (RFC 7628 §3.1 sets none; a JWT access token is well under this)."""
MAX_NONCE_LENGTH = 256
"""Longest SCRAM client nonce accepted (RFC 5802 §5.1 sets none)."""
MAX_SCRAM_ITERATIONS = 1_000_000
"""A client refuses a higher iteration count: it would spend seconds on one login (RFC 7677 §4)."""
SCRAM_ITERATIONS = 4096
"""The iteration count RFC 7677 §4 asks for at least."""


# --- the newer interface: outcomes --------------------------------------------------------------------------


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


def _malformed(reason: str, explain: str, rfc: str) -> Failure:
    return Failure(FailureKind.MALFORMED, reason, explain, rfc)


def _too_long(what: str, limit: int, rfc: str) -> Failure:
    return Failure(
        FailureKind.TOO_LONG,
        f"{what} too long",
        f"The {what} is longer than this server's limit of {limit}; a server must bound what it buffers.",
        rfc,
    )


def _utf8(data: bytes) -> str | None:
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
            return _malformed(str(exc), f"The {self.name} message does not have the expected form.", "RFC 4616 §2")


# --- SASLprep (RFC 4013) --------------------------------------------------------------------------------------


class SaslPrepError(ValueError):
    """A string that SASLprep prohibits (RFC 4013 §2.3, §2.4, §2.5)."""


_PROHIBITED: tuple[Callable[[str], bool], ...] = (
    stringprep.in_table_c12,  # non-ASCII space
    stringprep.in_table_c21,  # ASCII control
    stringprep.in_table_c22,  # non-ASCII control
    stringprep.in_table_c3,  # private use
    stringprep.in_table_c4,  # non-character code points
    stringprep.in_table_c5,  # surrogate codes
    stringprep.in_table_c6,  # inappropriate for plain text
    stringprep.in_table_c7,  # inappropriate for canonical representation
    stringprep.in_table_c8,  # change display properties or deprecated
    stringprep.in_table_c9,  # tagging characters
)


def saslprep(text: str, *, allow_unassigned: bool = True) -> str:
    """Prepare a user name or password with the SASLprep profile of stringprep (RFC 4013).

    Map (§2.1): non-ASCII spaces (RFC 3454 C.1.2) become SPACE; characters "commonly mapped
    to nothing" (B.1) go. Normalize (§2.2) with NFKC. Refuse (§2.3) the prohibited tables
    C.1.2 to C.9. Check bidirectional text (§2.4, RFC 3454 §6). Unassigned code points
    (A.1) are allowed in queries and refused in stored strings (§2.5, RFC 3454 §7);
    SCRAM treats a password as a query (RFC 5802 §2.2).

    Raises:
        SaslPrepError: the string contains a prohibited character or breaks the bidi rule.
    """
    mapped = "".join(" " if stringprep.in_table_c12(c) else c for c in text if not stringprep.in_table_b1(c))
    prepared = unicodedata.normalize("NFKC", mapped)
    for char in prepared:
        if any(prohibited(char) for prohibited in _PROHIBITED):
            raise SaslPrepError(f"prohibited character U+{ord(char):04X} (RFC 4013 §2.3)")
        if not allow_unassigned and stringprep.in_table_a1(char):
            raise SaslPrepError(f"unassigned code point U+{ord(char):04X} (RFC 4013 §2.5)")
    right_to_left = [stringprep.in_table_d1(c) for c in prepared]
    if any(right_to_left):
        if any(stringprep.in_table_d2(c) for c in prepared):
            raise SaslPrepError("mixes right-to-left and left-to-right characters (RFC 3454 §6)")
        if not (right_to_left[0] and right_to_left[-1]):
            raise SaslPrepError("right-to-left text must begin and end with a right-to-left character (RFC 3454 §6)")
    return prepared


# --- CRAM-MD5 (RFC 2195) -------------------------------------------------------------------------------------


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
            draw = _byte_source(rng)
            first, second = (int.from_bytes(draw(4), "big") for _ in range(2))
            challenge = f"<{first}.{second}@{hostname}>".encode("ascii", errors="replace")
        self.challenge = challenge
        self._started = False
        self._username: str | None = None
        self._digest = ""

    def start(self, initial: bytes | None) -> Outcome:
        if initial is not None:
            self.done = True
            return _malformed(
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
            return _too_long("response", MAX_MESSAGE_LENGTH, "RFC 2195 §2")
        user, _, digest = (_utf8(response) or "").rpartition(" ")
        if not user or not _HEX_DIGEST.fullmatch(digest):
            self.done = True
            return _malformed(
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


# --- SCRAM-SHA-256 (RFC 5802, RFC 7677) ------------------------------------------------------------------------


def _hmac256(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def _xor(left: bytes, right: bytes) -> bytes:
    return bytes(a ^ b for a, b in zip(left, right, strict=True))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes | None:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        return None


def _saslname(name: str) -> str:
    """Escape ',' and '=' in a user name for a GS2 header or SCRAM attribute (RFC 5802 §5.1)."""
    return name.replace("=", "=3D").replace(",", "=2C")


def _unsaslname(text: str) -> str | None:
    """Undo `_saslname`; None when '=' is followed by anything but 2C or 3D (RFC 5802 §5.1)."""
    if re.search(r"=(?!2C|3D)", text):
        return None
    return text.replace("=2C", ",").replace("=3D", "=")


def _nonce(draw: RandomSource) -> str:
    """24 random bytes as base64: printable and comma-free, as a nonce must be (RFC 5802 §7)."""
    return _b64(draw(24))


_PRINTABLE = re.compile(r"[\x21-\x2b\x2d-\x7e]+")


@dataclass(frozen=True)
class ScramSecret:
    """What a SCRAM server stores per user instead of the password (RFC 5802 §3, §5).

    A server that keeps only this cannot log in as the user with it, because the
    client proof needs ClientKey and only its hash, StoredKey, is here.
    """

    salt: bytes
    iterations: int
    stored_key: bytes = field(repr=False)
    server_key: bytes = field(repr=False)

    @classmethod
    def from_password(
        cls,
        password: str,
        *,
        salt: bytes | None = None,
        iterations: int = SCRAM_ITERATIONS,
        rng: RandomSource | random.Random | None = None,
    ) -> ScramSecret:
        """Derive StoredKey and ServerKey: SaltedPassword = PBKDF2-HMAC-SHA-256 (RFC 5802 §3, RFC 7677 §3).

        Raises:
            SaslPrepError: the password contains a character SASLprep prohibits.
        """
        salt = _byte_source(rng)(16) if salt is None else salt
        salted = hashlib.pbkdf2_hmac("sha256", saslprep(password).encode("utf-8"), salt, iterations)
        stored_key = hashlib.sha256(_hmac256(salted, b"Client Key")).digest()
        return cls(salt, iterations, stored_key, _hmac256(salted, b"Server Key"))


class _Scram(enum.Enum):
    CLIENT_FIRST = "client-first"
    SECRET = "secret"
    CLIENT_FINAL = "client-final"
    ACKNOWLEDGE = "acknowledge"
    DONE = "done"


class ScramSha256Server(SaslServer):
    """SCRAM-SHA-256 (RFC 5802, RFC 7677): both sides prove they know the password, which never travels.

    client-first -> `SecretRequest` -> node `supply(ScramSecret | password | None)` ->
    server-first challenge (nonce, salt, iterations) -> client-final with the proof ->
    server-final challenge `v=ServerSignature` -> the client's empty answer -> `Success`.
    With `final_as_challenge=False` the server-final message is instead `Success.data`,
    for a protocol that carries additional data with success (RFC 4422 §3.6).

    Channel binding is not offered (no SCRAM-SHA-256-PLUS): the GS2 header must be
    "n" or "y" (RFC 5802 §6), and `c=` must repeat it exactly.
    """

    name = "SCRAM-SHA-256"

    def __init__(
        self,
        *,
        rng: RandomSource | random.Random | None = None,
        nonce: str | None = None,
        final_as_challenge: bool = True,
    ) -> None:
        super().__init__()
        self._draw = _byte_source(rng)
        self._server_nonce = nonce
        self._final_as_challenge = final_as_challenge
        self._state = _Scram.CLIENT_FIRST
        self._gs2_header = ""
        self._client_first_bare = ""
        self._server_first = ""
        self._nonce = ""
        self._secret: ScramSecret | None = None
        self.username = ""
        self.authzid = ""

    def start(self, initial: bytes | None) -> Outcome:
        if initial is None:
            return Challenge(
                b"",
                "SCRAM is client-first: an empty challenge asks for the client-first-message.",
                "RFC 4422 §3.3, RFC 5802 §5",
            )
        return self.step(initial)

    def step(self, response: bytes) -> Outcome:
        if len(response) > MAX_MESSAGE_LENGTH:
            self._state, self.done = _Scram.DONE, True
            return _too_long("message", MAX_MESSAGE_LENGTH, "RFC 5802 §7")
        text = _utf8(response)
        if self._state is _Scram.CLIENT_FIRST:
            outcome = self._client_first(text)
        elif self._state is _Scram.CLIENT_FINAL:
            outcome = self._client_final(text)
        elif self._state is _Scram.ACKNOWLEDGE:
            outcome = self._acknowledge(response)
        else:
            outcome = self._finished()
        if isinstance(outcome, Failure | Success):
            self._state, self.done = _Scram.DONE, True
        return outcome

    def _client_first(self, text: str | None) -> Outcome:
        rfc = "RFC 5802 §5.1, §7"
        match = re.fullmatch(r"([ny]),(a=[^,]*)?,(.*)", text or "", re.DOTALL)
        if text is not None and text.startswith("p="):
            return _malformed(
                "channel binding not supported",
                "The client asked for channel binding (p=), which this server does not offer.",
                "RFC 5802 §6",
            )
        if match is None:
            return _malformed(
                "bad GS2 header",
                "The client-first-message starts with a GS2 header: 'n' or 'y', an optional a=authzid, commas.",
                "RFC 5802 §7",
            )
        flag_and_authzid = match.string[: match.start(3)]
        bare = match.group(3)
        authzid = _unsaslname(match.group(2)[2:]) if match.group(2) else ""
        attributes = bare.split(",")
        if bare.startswith("m="):
            return _malformed(
                "mandatory extension not supported",
                "m= announces an extension the server must understand; this one does not.",
                "RFC 5802 §5.1",
            )
        if len(attributes) < 2 or not attributes[0].startswith("n=") or not attributes[1].startswith("r="):
            return _malformed(
                "client-first wants n=user,r=nonce",
                "After the GS2 header come the user name (n=) and the client nonce (r=).",
                rfc,
            )
        username = _unsaslname(attributes[0][2:])
        nonce = attributes[1][2:]
        if username is None or authzid is None:
            return _malformed("bad saslname", "In a SCRAM name, '=' may only start =2C or =3D.", rfc)
        if len(nonce) > MAX_NONCE_LENGTH:
            return _too_long("client nonce", MAX_NONCE_LENGTH, rfc)
        if not _PRINTABLE.fullmatch(nonce):
            return _malformed("bad nonce", "A nonce is one or more printable ASCII characters other than ','.", rfc)
        try:
            username = saslprep(username)
        except SaslPrepError:
            return _malformed("bad user name", "The user name has a character SASLprep prohibits.", "RFC 4013 §2.3")
        if not username:
            return _malformed("empty user name", "The n= attribute names the user; it cannot be empty.", rfc)
        self._gs2_header = flag_and_authzid
        self._client_first_bare = bare
        self._nonce = nonce + (self._server_nonce if self._server_nonce is not None else _nonce(self._draw))
        self.username, self.authzid = username, authzid
        self._state = _Scram.SECRET
        return SecretRequest(
            self.name,
            username,
            authzid,
            "The server needs this user's salt, iteration count, StoredKey and ServerKey to go on.",
            "RFC 5802 §3, §5",
        )

    def supply(self, secret: ScramSecret | str | None) -> Outcome:
        """The node's answer to `SecretRequest`: the stored `ScramSecret`, a password, or None for no such user.

        For an unknown user the exchange goes on with a made-up salt, so the reply does
        not reveal which users exist; it fails at the proof (RFC 5802 §5.1).
        """
        if self._state is not _Scram.SECRET:
            raise LocalProtocolError("SCRAM: supply() without a pending SecretRequest")
        if isinstance(secret, str):
            try:
                secret = ScramSecret.from_password(secret, rng=self._draw)
            except SaslPrepError:
                secret = None
        self._secret = secret
        shown = secret or ScramSecret(self._draw(16), SCRAM_ITERATIONS, b"", b"")
        self._server_first = f"r={self._nonce},s={_b64(shown.salt)},i={shown.iterations}"
        self._state = _Scram.CLIENT_FINAL
        return Challenge(
            self._server_first.encode("ascii"),
            "server-first-message: the nonce (the client's, extended by the server), the salt and the "
            "iteration count the client needs to derive SaltedPassword with PBKDF2.",
            "RFC 5802 §5.1, §3; RFC 7677 §3",
        )

    def _client_final(self, text: str | None) -> Outcome:
        rfc = "RFC 5802 §5.1, §7"
        without_proof, _, proof_text = (text or "").rpartition(",p=")
        attributes = without_proof.split(",")
        if len(attributes) < 2 or not attributes[0].startswith("c=") or not attributes[1].startswith("r="):
            return _malformed(
                "client-final wants c=...,r=...,p=...",
                "The client-final-message is channel binding (c=), the full nonce (r=) and the proof (p=).",
                rfc,
            )
        binding = _unb64(attributes[0][2:])
        if binding is None or binding != self._gs2_header.encode("utf-8"):
            return _malformed(
                "channel binding mismatch",
                "c= must be the base64 of the GS2 header the client sent first ('biws' for 'n,,').",
                "RFC 5802 §6, §7",
            )
        if attributes[1][2:] != self._nonce:
            return _malformed(
                "wrong nonce",
                "r= must be exactly the nonce of the server-first-message; anything else may be a replay.",
                "RFC 5802 §5.1",
            )
        proof = _unb64(proof_text)
        if proof is None or len(proof) != hashlib.sha256().digest_size:
            return _malformed("bad proof", "p= is the 32-byte ClientProof, base64-encoded.", rfc)
        auth_message = f"{self._client_first_bare},{self._server_first},{without_proof}".encode()
        secret = self._secret
        if secret is None:
            return Failure(
                FailureKind.CREDENTIALS,
                "unknown-user",
                "There is no such user; the server played along to here so as not to say so earlier.",
                "RFC 5802 §5.1, §7 (e=unknown-user)",
            )
        client_key = _xor(proof, _hmac256(secret.stored_key, auth_message))
        if not hmac.compare_digest(hashlib.sha256(client_key).digest(), secret.stored_key):
            return Failure(
                FailureKind.CREDENTIALS,
                "invalid-proof",
                "ClientProof XOR ClientSignature should give ClientKey, whose hash is the StoredKey; it does not, "
                "so the client does not know the password.",
                "RFC 5802 §3, §7 (e=invalid-proof)",
            )
        server_final = b"v=" + _b64(_hmac256(secret.server_key, auth_message)).encode("ascii")
        explain = "The proof checks out. ServerSignature (v=) proves to the client that the server knows its secret."
        if not self._final_as_challenge:
            return Success(self.username, self.authzid, server_final, explain, "RFC 5802 §3, §5.1; RFC 4422 §3.6")
        self._state = _Scram.ACKNOWLEDGE
        return Challenge(server_final, explain + " The client answers with an empty response.", "RFC 5802 §3, §5.1")

    def _acknowledge(self, response: bytes) -> Outcome:
        if response:
            return _malformed(
                "expected an empty response",
                "After the server-final-message the client sends an empty response.",
                "RFC 4422 §3.6, RFC 4954 §4",
            )
        return Success(
            self.username,
            self.authzid,
            explain="Both sides proved they know the password without sending it.",
            rfc="RFC 5802 §3",
        )


class ScramSha256Client:
    """Client side of SCRAM-SHA-256 (RFC 5802 §3, §5; RFC 7677).

    `initial_response()` is the client-first-message; `respond(server-first)` is the
    client-final-message; `respond(server-final)` checks the server's signature and
    returns b"" (the empty response), setting `server_verified`.

    Raises (from `respond`):
        SaslMalformed: the server's message does not fit, its nonce does not extend ours,
            or it asks for more than MAX_SCRAM_ITERATIONS.
        SaslServerUnverified: the server signature is wrong, or the server sent e=.

    The constructor raises `SaslPrepError` for a password SASLprep prohibits (RFC 4013 §2.3).
    """

    name = "SCRAM-SHA-256"

    def __init__(
        self,
        username: str,
        password: str,
        *,
        authzid: str = "",
        nonce: str | None = None,
        rng: RandomSource | random.Random | None = None,
    ) -> None:
        self._password = saslprep(password)
        self._gs2_header = "n," + (f"a={_saslname(authzid)}" if authzid else "") + ","
        self._nonce = nonce if nonce is not None else _nonce(_byte_source(rng))
        self._client_first_bare = f"n={_saslname(saslprep(username))},r={self._nonce}"
        self._server_signature: bytes | None = None
        self._sent_first = False
        self.server_verified = False

    def initial_response(self) -> bytes:
        """The client-first-message, sent with the command (RFC 4422 §3.3)."""
        self._sent_first = True
        return (self._gs2_header + self._client_first_bare).encode("utf-8")

    def respond(self, challenge: bytes) -> bytes:
        """Answer one server message; to the empty challenge the client-first-message if not sent yet."""
        if not self._sent_first:
            return self.initial_response()
        text = challenge.decode("utf-8", errors="replace")
        if self._server_signature is None:
            return self._client_final(text)
        if text.startswith("e="):
            raise SaslServerUnverified(f"server error {text[2:]}")
        signature = _unb64(text[2:]) if text.startswith("v=") else None
        if signature is None or not hmac.compare_digest(signature, self._server_signature):
            raise SaslServerUnverified("wrong server signature")
        self.server_verified = True
        return b""

    def _client_final(self, server_first: str) -> bytes:
        fields: dict[str, str] = {}
        for item in server_first.split(","):
            key, _, value = item.partition("=")
            fields.setdefault(key, value)
        nonce, salt, iterations = fields.get("r", ""), _unb64(fields.get("s", "")), fields.get("i", "")
        if server_first.startswith("m=") or not salt or not iterations.isdigit():
            raise SaslMalformed("server-first-message wants r=,s=,i=")
        if not nonce.startswith(self._nonce) or len(nonce) == len(self._nonce):
            raise SaslMalformed("server nonce does not extend the client's")
        count = int(iterations)
        if not 1 <= count <= MAX_SCRAM_ITERATIONS:
            raise SaslMalformed(f"iteration count {count} out of range")
        salted = hashlib.pbkdf2_hmac("sha256", self._password.encode("utf-8"), salt, count)
        client_key = _hmac256(salted, b"Client Key")
        without_proof = f"c={_b64(self._gs2_header.encode('utf-8'))},r={nonce}"
        auth_message = f"{self._client_first_bare},{server_first},{without_proof}".encode()
        proof = _xor(client_key, _hmac256(hashlib.sha256(client_key).digest(), auth_message))
        self._server_signature = _hmac256(_hmac256(salted, b"Server Key"), auth_message)
        return f"{without_proof},p={_b64(proof)}".encode()


# --- bearer tokens: XOAUTH2 and OAUTHBEARER (RFC 7628) ------------------------------------------------------

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

    def accept(self) -> Outcome:
        """The node found the token good (signature, expiry, scope, subject)."""
        if self._state is not _Token.DECISION:
            raise LocalProtocolError(f"{self.name}: accept() without pending BearerCredentials")
        self._state, self.done = _Token.DONE, True
        return Success(self._username, explain="The node accepted the bearer token.", rfc=self.rfc)

    def _message(self, response: bytes) -> Outcome:
        raise NotImplementedError

    def _error_acknowledged(self, response: bytes) -> Outcome:
        raise NotImplementedError

    def _token(self, kvpairs: dict[str, str]) -> str | Failure:
        match = _BEARER.fullmatch(kvpairs.get("auth", ""))
        if match is None:
            return _malformed(
                "auth=Bearer <token> missing",
                "The message must carry auth=Bearer followed by the token.",
                "RFC 7628 §3.1, RFC 6750 §2.1",
            )
        token = match.group(1)
        if len(token) > MAX_TOKEN_LENGTH:
            return _too_long("bearer token", MAX_TOKEN_LENGTH, "RFC 7628 §3.1")
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
            return _too_long("message", MAX_MESSAGE_LENGTH, self.rfc)
        text = _utf8(response)
        kvpairs = _kvpairs(text) if text is not None else None
        if kvpairs is None or not kvpairs.get("user"):
            return _malformed(
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
            return _too_long("message", MAX_MESSAGE_LENGTH, self.rfc)
        text = _utf8(response) or ""
        header = re.match(r"([ny]),(?:a=([^,]*))?,\x01", text)
        if header is None:
            return _malformed(
                "bad GS2 header",
                "The message starts with a GS2 header: 'n' or 'y', an optional a=authzid, ',' and then ^A.",
                "RFC 7628 §3.1, RFC 5801 §4",
            )
        authzid = _unsaslname(header.group(2) or "")
        kvpairs = _kvpairs(text[header.end() :])
        if authzid is None or kvpairs is None:
            return _malformed(
                "bad kvpairs",
                "After the header come key=value pairs, each ended by ^A (0x01), and a final ^A.",
                self.rfc,
            )
        token = self._token(kvpairs)
        if isinstance(token, Failure):
            return token
        port = kvpairs.get("port", "")
        if port and (not port.isdigit() or not 0 < int(port) < 65536):
            return _malformed("bad port", "port= is the decimal TCP port the client connected to.", self.rfc)
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
            return _malformed(
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
    header = "n," + (f"a={_saslname(authzid)}" if authzid else "") + ","
    pairs = ([f"host={host}"] if host else []) + ([f"port={port}"] if port is not None else [])
    return (header + "\x01" + "".join(p + "\x01" for p in [*pairs, f"auth=Bearer {token}"]) + "\x01").encode()


class XOAuth2Client:
    """Client side of XOAUTH2: the message first, then an empty answer to an error challenge."""

    name = "XOAUTH2"

    def __init__(self, username: str, token: str) -> None:
        self._message = xoauth2_response(username, token)
        self.error: dict[str, str] | None = None
        self._sent = False

    def initial_response(self) -> bytes:
        """The message, sent with the command (RFC 4422 §3.3)."""
        self._sent = True
        return self._message

    def respond(self, challenge: bytes) -> bytes:
        """An error challenge is JSON: keep it in `error` and answer with an empty response.

        Before the message went out, the server's empty challenge asks for it.
        """
        if not self._sent:
            return self.initial_response()
        self.error = _json_object(challenge)
        return b""


class OAuthBearerClient:
    """Client side of OAUTHBEARER: the message first, then ^A to an error challenge (RFC 7628 §3.2.3)."""

    name = "OAUTHBEARER"

    def __init__(self, username: str, token: str, *, host: str = "", port: int | None = None) -> None:
        self._message = oauthbearer_response(token, authzid=username, host=host, port=port)
        self.error: dict[str, str] | None = None
        self._sent = False

    def initial_response(self) -> bytes:
        """The message, sent with the command (RFC 4422 §3.3)."""
        self._sent = True
        return self._message

    def respond(self, challenge: bytes) -> bytes:
        """Keep the JSON error in `error` and send the single ^A the RFC asks for.

        Before the message went out, the server's empty challenge asks for it.
        """
        if not self._sent:
            return self.initial_response()
        self.error = _json_object(challenge)
        return b"\x01"


def _json_object(data: bytes) -> dict[str, str]:
    """A JSON object of strings, or {} when the challenge is not one."""
    try:
        value: object = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return {}
    if not isinstance(value, dict):
        return {}
    return {str(k): str(v) for k, v in value.items()}


# --- the registry ---------------------------------------------------------------------------------------------

SASL_SERVERS: tuple[str, ...] = ("PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-256", "XOAUTH2", "OAUTHBEARER")
"""Every mechanism `create_server` builds; the node chooses which to offer, and in what order."""


def create_server(
    name: str, *, hostname: str = "localhost", rng: RandomSource | random.Random | None = None
) -> SaslServer | None:
    """A fresh `SaslServer` for mechanism `name` (case-insensitive), or None if unknown.

    Args:
        hostname: named in the CRAM-MD5 challenge (RFC 2195 §2).
        rng: where nonces and challenges come from; `secrets` when None.
    """
    match name.upper():
        case "PLAIN" | "LOGIN" as legacy:
            return LegacyAdapter(SERVER_MECHANISMS[legacy]())
        case "CRAM-MD5":
            return CramMD5Server(hostname=hostname, rng=rng)
        case "SCRAM-SHA-256":
            return ScramSha256Server(rng=rng)
        case "XOAUTH2":
            return XOAuth2Server()
        case "OAUTHBEARER":
            return OAuthBearerServer()
    return None
