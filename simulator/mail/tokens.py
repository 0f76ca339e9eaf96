"""OAuth 2.0 access tokens as signed JWTs, and the checks a mail server makes on one.

The authorization server signs each access token (a JSON Web Token, RFC 7519) with its
Ed25519 key (EdDSA, RFC 8037), so a mail server checks it on its own with the public
key: the signature, the issuer, that it has not expired, who it names and what it
allows (its scope, RFC 6749 §3.3), as RFC 9068 §4 asks of a resource server. Ed25519
signatures are deterministic, so a seeded world issues the same tokens on every run.

Keys are kept as raw bytes (a key object cannot be copied into a checkpoint) and
turned into `cryptography` keys only while signing or verifying.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

AUDIENCE = "mail"  # the `aud` every token names: the world's mail servers (RFC 7519 §4.1.3)
HEADER = {"alg": "EdDSA", "typ": "at+jwt"}  # RFC 8037 §3.1, RFC 9068 §2.1
MAX_PART = 1024  # octets of a token's decoded header or claim set: ours take a few hundred


@dataclass(frozen=True)
class SigningKey:
    """An authorization server's Ed25519 key pair, as the 32 raw bytes of the private key."""

    issuer: str
    private: bytes

    @property
    def public(self) -> TrustedIssuer:
        """What a mail server needs to check this issuer's tokens."""
        key = Ed25519PrivateKey.from_private_bytes(self.private).public_key()
        return TrustedIssuer(self.issuer, key.public_bytes(Encoding.Raw, PublicFormat.Raw))


@dataclass(frozen=True)
class TrustedIssuer:
    """An issuer a mail server trusts, with its public key (32 raw bytes)."""

    issuer: str
    public_key: bytes


@dataclass(frozen=True)
class Claims:
    """What an access token says (RFC 7519 §4.1, RFC 9068 §2.2)."""

    issuer: str
    subject: str  # the user's address
    scope: tuple[str, ...]
    issued_at: float
    expires_at: float
    token_id: str
    client_id: str = ""

    def to_json(self) -> dict[str, object]:
        return {
            "iss": self.issuer,
            "sub": self.subject,
            "aud": AUDIENCE,
            "client_id": self.client_id,
            "scope": " ".join(self.scope),
            "iat": int(self.issued_at),
            "exp": int(self.expires_at),
            "jti": self.token_id,
        }


def sign(key: SigningKey, claims: Claims) -> str:
    """The compact JWT: base64url(header).base64url(claims).base64url(signature) (RFC 7515 §7.1)."""
    signing_input = f"{_b64(_json(HEADER))}.{_b64(_json(claims.to_json()))}"
    signature = Ed25519PrivateKey.from_private_bytes(key.private).sign(signing_input.encode("ascii"))
    return f"{signing_input}.{_b64(signature)}"


@dataclass(frozen=True)
class Verdict:
    """A mail server's decision on a token: `error` is "" when good, else an RFC 6750 §3.1 code.

    `reason` says in plain words what was wrong, for the trace.
    """

    error: str
    reason: str
    claims: Claims | None = None

    @property
    def ok(self) -> bool:
        return not self.error


def verify(token: str, trusted: tuple[TrustedIssuer, ...], *, user: str, scope: str, now: float) -> Verdict:
    """Check a presented token as a resource server must (RFC 9068 §4, RFC 6750 §3.1).

    Args:
        user: who the client says it is (XOAUTH2 user=, OAUTHBEARER a=); "" lets the token name the user.
        scope: what this service needs ("smtp", "imap", "pop").
        now: the simulated time.
    """
    claims = _decode(token, trusted)
    if claims is None:
        return Verdict("invalid_token", "not a token signed by an issuer this server trusts")
    if now >= claims.expires_at:
        return Verdict("invalid_token", f"expired {now - claims.expires_at:g} s ago", claims)
    if user and user.lower() != claims.subject.lower():
        return Verdict("invalid_token", f"issued to {claims.subject}, not to {user}", claims)
    if scope not in claims.scope:
        granted = " ".join(claims.scope) or "nothing"
        return Verdict("insufficient_scope", f"its scope is {granted!r}; this service needs {scope!r}", claims)
    return Verdict("", f"good for {claims.subject} until t={claims.expires_at:g} s", claims)


def _decode(token: str, trusted: tuple[TrustedIssuer, ...]) -> Claims | None:
    """The claims of a well-formed token whose signature checks with its issuer's key; None otherwise."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    header, body, signature = (_unb64(p) for p in parts)
    if header is None or body is None or signature is None:
        return None
    if _object(header) != HEADER:
        return None
    fields = _object(body)
    if fields is None or fields.get("aud") != AUDIENCE:
        return None
    issuer = next((t for t in trusted if t.issuer == fields.get("iss")), None)
    if issuer is None:
        return None
    try:
        Ed25519PublicKey.from_public_bytes(issuer.public_key).verify(signature, f"{parts[0]}.{parts[1]}".encode())
    except InvalidSignature:
        return None
    subject, scope, jti, client = fields.get("sub"), fields.get("scope"), fields.get("jti"), fields.get("client_id")
    iat, exp = fields.get("iat"), fields.get("exp")
    if not (isinstance(subject, str) and isinstance(scope, str) and isinstance(jti, str) and isinstance(client, str)):
        return None
    if not (isinstance(iat, int) and isinstance(exp, int)):
        return None
    return Claims(issuer.issuer, subject, tuple(scope.split()), float(iat), float(exp), jti, client)


def _json(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode()


def _b64(data: bytes) -> str:
    """base64url without padding (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes | None:
    if not text or not text.isascii():
        return None
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError:
        return None


def _object(data: bytes) -> dict[str, object] | None:
    if len(data) > MAX_PART:
        return None  # no header or claim set of ours is this long; a bigger one is an attack on the parser
    try:
        value: object = json.loads(data)
    except (UnicodeDecodeError, ValueError, RecursionError):  # RecursionError: "[[[[..." nested too deep
        return None
    return value if isinstance(value, dict) else None
