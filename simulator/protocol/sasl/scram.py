"""SCRAM-SHA-256 (RFC 5802, RFC 7677) and the SASLprep profile it prepares names and passwords with (RFC 4013)."""

from __future__ import annotations

import enum
import hashlib
import hmac
import random
import re
import stringprep
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

from simulator.protocol.errors import LocalProtocolError
from simulator.protocol.sasl.base import (
    MAX_MESSAGE_LENGTH,
    MAX_NONCE_LENGTH,
    MAX_SCRAM_ITERATIONS,
    SCRAM_ITERATIONS,
    Challenge,
    Failure,
    FailureKind,
    Outcome,
    RandomSource,
    SaslMalformed,
    SaslServer,
    SaslServerUnverified,
    SecretRequest,
    Success,
    b64,
    byte_source,
    malformed,
    saslname,
    too_long,
    unb64,
    unsaslname,
    utf8,
)

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


# --- SCRAM-SHA-256 (RFC 5802, RFC 7677) ------------------------------------------------------------------------


def _hmac256(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def _xor(left: bytes, right: bytes) -> bytes:
    return bytes(a ^ b for a, b in zip(left, right, strict=True))


def _nonce(draw: RandomSource) -> str:
    """24 random bytes as base64: printable and comma-free, as a nonce must be (RFC 5802 §7)."""
    return b64(draw(24))


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
        salt = byte_source(rng)(16) if salt is None else salt
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
        self._draw = byte_source(rng)
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
            return too_long("message", MAX_MESSAGE_LENGTH, "RFC 5802 §7")
        text = utf8(response)
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
            return malformed(
                "channel binding not supported",
                "The client asked for channel binding (p=), which this server does not offer.",
                "RFC 5802 §6",
            )
        if match is None:
            return malformed(
                "bad GS2 header",
                "The client-first-message starts with a GS2 header: 'n' or 'y', an optional a=authzid, commas.",
                "RFC 5802 §7",
            )
        flag_and_authzid = match.string[: match.start(3)]
        bare = match.group(3)
        authzid = unsaslname(match.group(2)[2:]) if match.group(2) else ""
        attributes = bare.split(",")
        if bare.startswith("m="):
            return malformed(
                "mandatory extension not supported",
                "m= announces an extension the server must understand; this one does not.",
                "RFC 5802 §5.1",
            )
        if len(attributes) < 2 or not attributes[0].startswith("n=") or not attributes[1].startswith("r="):
            return malformed(
                "client-first wants n=user,r=nonce",
                "After the GS2 header come the user name (n=) and the client nonce (r=).",
                rfc,
            )
        username = unsaslname(attributes[0][2:])
        nonce = attributes[1][2:]
        if username is None or authzid is None:
            return malformed("bad saslname", "In a SCRAM name, '=' may only start =2C or =3D.", rfc)
        if len(nonce) > MAX_NONCE_LENGTH:
            return too_long("client nonce", MAX_NONCE_LENGTH, rfc)
        if not _PRINTABLE.fullmatch(nonce):
            return malformed("bad nonce", "A nonce is one or more printable ASCII characters other than ','.", rfc)
        try:
            username = saslprep(username)
        except SaslPrepError:
            return malformed("bad user name", "The user name has a character SASLprep prohibits.", "RFC 4013 §2.3")
        if not username:
            return malformed("empty user name", "The n= attribute names the user; it cannot be empty.", rfc)
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
        self._server_first = f"r={self._nonce},s={b64(shown.salt)},i={shown.iterations}"
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
            return malformed(
                "client-final wants c=...,r=...,p=...",
                "The client-final-message is channel binding (c=), the full nonce (r=) and the proof (p=).",
                rfc,
            )
        binding = unb64(attributes[0][2:])
        if binding is None or binding != self._gs2_header.encode("utf-8"):
            return malformed(
                "channel binding mismatch",
                "c= must be the base64 of the GS2 header the client sent first ('biws' for 'n,,').",
                "RFC 5802 §6, §7",
            )
        if attributes[1][2:] != self._nonce:
            return malformed(
                "wrong nonce",
                "r= must be exactly the nonce of the server-first-message; anything else may be a replay.",
                "RFC 5802 §5.1",
            )
        proof = unb64(proof_text)
        if proof is None or len(proof) != hashlib.sha256().digest_size:
            return malformed("bad proof", "p= is the 32-byte ClientProof, base64-encoded.", rfc)
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
        server_final = b"v=" + b64(_hmac256(secret.server_key, auth_message)).encode("ascii")
        explain = "The proof checks out. ServerSignature (v=) proves to the client that the server knows its secret."
        if not self._final_as_challenge:
            return Success(self.username, self.authzid, server_final, explain, "RFC 5802 §3, §5.1; RFC 4422 §3.6")
        self._state = _Scram.ACKNOWLEDGE
        return Challenge(server_final, explain + " The client answers with an empty response.", "RFC 5802 §3, §5.1")

    def _acknowledge(self, response: bytes) -> Outcome:
        if response:
            return malformed(
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
        self._gs2_header = "n," + (f"a={saslname(authzid)}" if authzid else "") + ","
        self._nonce = nonce if nonce is not None else _nonce(byte_source(rng))
        self._client_first_bare = f"n={saslname(saslprep(username))},r={self._nonce}"
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
        signature = unb64(text[2:]) if text.startswith("v=") else None
        if signature is None or not hmac.compare_digest(signature, self._server_signature):
            raise SaslServerUnverified("wrong server signature")
        self.server_verified = True
        return b""

    def _client_final(self, server_first: str) -> bytes:
        fields: dict[str, str] = {}
        for item in server_first.split(","):
            key, _, value = item.partition("=")
            fields.setdefault(key, value)
        nonce, salt, iterations = fields.get("r", ""), unb64(fields.get("s", "")), fields.get("i", "")
        if server_first.startswith("m=") or not salt or not iterations.isdigit():
            raise SaslMalformed("server-first-message wants r=,s=,i=")
        if not nonce.startswith(self._nonce) or len(nonce) == len(self._nonce):
            raise SaslMalformed("server nonce does not extend the client's")
        count = int(iterations)
        if not 1 <= count <= MAX_SCRAM_ITERATIONS:
            raise SaslMalformed(f"iteration count {count} out of range")
        salted = hashlib.pbkdf2_hmac("sha256", self._password.encode("utf-8"), salt, count)
        client_key = _hmac256(salted, b"Client Key")
        without_proof = f"c={b64(self._gs2_header.encode('utf-8'))},r={nonce}"
        auth_message = f"{self._client_first_bare},{server_first},{without_proof}".encode()
        proof = _xor(client_key, _hmac256(hashlib.sha256(client_key).digest(), auth_message))
        self._server_signature = _hmac256(_hmac256(salted, b"Server Key"), auth_message)
        return f"{without_proof},p={b64(proof)}".encode()
