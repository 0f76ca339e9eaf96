"""Which mechanisms exist, and a fresh server exchange for one of them by name."""

from __future__ import annotations

import random

from simulator.protocol.errors import LocalProtocolError
from simulator.protocol.sasl.base import Challenge, LegacyAdapter, Outcome, RandomSource, SaslServer
from simulator.protocol.sasl.cram import CramMD5Server
from simulator.protocol.sasl.oauth import OAuthBearerServer, XOAuth2Server
from simulator.protocol.sasl.plain import SERVER_MECHANISMS
from simulator.protocol.sasl.scram import ScramSecret, ScramSha256Server

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


def supply_secret(server: SaslServer, secret: ScramSecret | str | None) -> Outcome:
    """Hand the node's answer to a `SecretRequest` to the mechanism that asked (RFC 2195 §2, RFC 5802 §3).

    Raises:
        LocalProtocolError: the mechanism asks for no secret, or CRAM-MD5 got a `ScramSecret`
            (it needs the password itself).
    """
    if isinstance(server, ScramSha256Server):
        return server.supply(secret)
    if isinstance(server, CramMD5Server) and not isinstance(secret, ScramSecret):
        return server.supply(secret)
    raise LocalProtocolError(f"{server.name}: no secret of this kind was asked for")


def accept_token(server: SaslServer, user: str = "") -> Outcome:
    """The node found the bearer token good: the mechanism's `Success` (RFC 7628 §3.2.1).

    `user` is the token's subject, the identity when the client named none (RFC 7628 §3.1).

    Raises:
        LocalProtocolError: `server` is not a bearer-token mechanism waiting for a verdict.
    """
    if not isinstance(server, XOAuth2Server | OAuthBearerServer):
        raise LocalProtocolError(f"{server.name}: no bearer token waits for a verdict")
    return server.accept(user)


def refuse_token(server: SaslServer, status: str = "", scope: str = "") -> Challenge:
    """The node refused the bearer token: the JSON error challenge (RFC 7628 §3.2.2; Google XOAUTH2).

    Args:
        status: OAUTHBEARER's error code ("invalid_token", "insufficient_scope"; RFC 6750 §3.1)
            or XOAUTH2's HTTP status ("401"); the usual one of each when "".
        scope: the scope a good token would need.

    Raises:
        LocalProtocolError: `server` is not a bearer-token mechanism waiting for a verdict.
    """
    if isinstance(server, OAuthBearerServer):
        return server.reject(status or "invalid_token", scope)
    if isinstance(server, XOAuth2Server):
        return server.reject(status or "401", scope)
    raise LocalProtocolError(f"{server.name}: no bearer token waits for a verdict")
