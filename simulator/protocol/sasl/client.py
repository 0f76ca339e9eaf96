"""The client side every mechanism shares, and a client for a mechanism by name (RFC 4422 §3)."""

from __future__ import annotations

import random
from typing import Protocol

from simulator.protocol.sasl.base import RandomSource
from simulator.protocol.sasl.cram import CramMD5Client
from simulator.protocol.sasl.oauth import OAuthBearerClient, XOAuth2Client
from simulator.protocol.sasl.plain import LoginClient, PlainClient
from simulator.protocol.sasl.scram import SaslPrepError, ScramSha256Client

CLIENT_MECHANISMS: tuple[str, ...] = ("PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-256", "XOAUTH2", "OAUTHBEARER")
"""Every mechanism `create_client` builds."""


class SaslClient(Protocol):
    """What a protocol client drives: an optional initial response, then one answer per challenge.

    `respond` may raise `SaslError` (a SCRAM server that cannot prove itself, a malformed
    server message): the protocol client then cancels with '*' (RFC 4422 §3.5).
    """

    @property
    def name(self) -> str: ...

    def initial_response(self) -> bytes | None: ...

    def respond(self, challenge: bytes) -> bytes: ...


def create_client(
    name: str,
    *,
    username: str,
    password: str = "",
    token: str = "",
    authzid: str = "",
    host: str = "",
    port: int | None = None,
    rng: RandomSource | random.Random | None = None,
) -> SaslClient | None:
    """A fresh client exchange for mechanism `name` (case-insensitive).

    None when the mechanism is unknown, or cannot carry these credentials: a SCRAM user name or
    password that SASLprep prohibits (RFC 4013 §2.3).

    Args:
        password: for PLAIN, LOGIN, CRAM-MD5 and SCRAM-SHA-256.
        token: the bearer token for XOAUTH2 and OAUTHBEARER.
        host, port: OAUTHBEARER's host= and port= (RFC 7628 §3.1).
        rng: where the SCRAM client nonce comes from; `secrets` when None.
    """
    try:
        return _create(name, username, password, token, authzid, host, port, rng)
    except SaslPrepError:
        return None


class LoginConfig(Protocol):
    """What a protocol client engine is configured to log in with (None or "" when it has none)."""

    @property
    def username(self) -> str | None: ...

    @property
    def password(self) -> str | None: ...

    @property
    def token(self) -> str | None: ...


def client_for(name: str, config: LoginConfig, rng: RandomSource | random.Random | None = None) -> SaslClient | None:
    """`create_client` with a client engine's configured credentials: the SMTP, POP3 and IMAP clients' one way in."""
    return create_client(
        name,
        username=config.username or "",
        password=config.password or "",
        token=config.token or "",
        rng=rng,
    )


def _create(
    name: str,
    username: str,
    password: str,
    token: str,
    authzid: str,
    host: str,
    port: int | None,
    rng: RandomSource | random.Random | None,
) -> SaslClient | None:
    match name.upper():
        case "PLAIN":
            return PlainClient(username, password, authzid)
        case "LOGIN":
            return LoginClient(username, password)
        case "CRAM-MD5":
            return CramMD5Client(username, password)
        case "SCRAM-SHA-256":
            return ScramSha256Client(username, password, authzid=authzid, rng=rng)
        case "XOAUTH2":
            return XOAuth2Client(username, token)
        case "OAUTHBEARER":
            return OAuthBearerClient(username, token, host=host, port=port)
    return None
