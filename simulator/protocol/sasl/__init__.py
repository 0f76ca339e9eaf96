"""SASL mechanisms (RFC 4422), shared by SMTP AUTH, POP3 AUTH and IMAP AUTHENTICATE.

Each mechanism is a small sans-IO state machine over raw (already base64-decoded)
messages. The protocol engines do the base64 framing; the node checks the
credentials a mechanism produces.

Two server interfaces live here side by side:

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
by default `secrets.token_bytes`; a seeded source makes a simulation replay the same bytes.

Modules: `base` (errors, outcomes, framing, limits, the server interfaces), `plain`
(PLAIN, LOGIN), `cram` (CRAM-MD5), `scram` (SCRAM-SHA-256 and SASLprep), `oauth`
(XOAUTH2, OAUTHBEARER), `registry` (`create_server`, `SASL_SERVERS`, and
`supply_secret`, `accept_token`, `refuse_token` for the node's answers), `client`
(`SaslClient` and `create_client`, what the protocol clients drive).
"""

from __future__ import annotations

from simulator.protocol.sasl.answers import SaslAnswers
from simulator.protocol.sasl.base import (
    MAX_MESSAGE_LENGTH,
    MAX_NONCE_LENGTH,
    MAX_SCRAM_ITERATIONS,
    MAX_TOKEN_LENGTH,
    SCRAM_ITERATIONS,
    BearerCredentials,
    Challenge,
    Credentials,
    Failure,
    FailureKind,
    LegacyAdapter,
    Outcome,
    RandomSource,
    SaslAborted,
    SaslDecodeError,
    SaslError,
    SaslMalformed,
    SaslServer,
    SaslServerUnverified,
    SecretRequest,
    ServerMechanism,
    Step,
    Success,
    decode_response,
    encode,
)
from simulator.protocol.sasl.client import CLIENT_MECHANISMS, LoginConfig, SaslClient, client_for, create_client
from simulator.protocol.sasl.cram import CramMD5Client, CramMD5Server, cram_md5_digest, cram_md5_response
from simulator.protocol.sasl.oauth import (
    OAuthBearerClient,
    OAuthBearerServer,
    XOAuth2Client,
    XOAuth2Server,
    oauthbearer_response,
    xoauth2_response,
)
from simulator.protocol.sasl.plain import (
    SERVER_MECHANISMS,
    LoginClient,
    LoginServer,
    PlainClient,
    PlainServer,
    plain_response,
)
from simulator.protocol.sasl.registry import SASL_SERVERS, accept_token, create_server, refuse_token, supply_secret
from simulator.protocol.sasl.scram import (
    SaslPrepError,
    ScramSecret,
    ScramSha256Client,
    ScramSha256Server,
    saslprep,
)

__all__ = [
    "CLIENT_MECHANISMS",
    "MAX_MESSAGE_LENGTH",
    "MAX_NONCE_LENGTH",
    "MAX_SCRAM_ITERATIONS",
    "MAX_TOKEN_LENGTH",
    "SASL_SERVERS",
    "SCRAM_ITERATIONS",
    "SERVER_MECHANISMS",
    "BearerCredentials",
    "Challenge",
    "CramMD5Client",
    "CramMD5Server",
    "Credentials",
    "Failure",
    "FailureKind",
    "LegacyAdapter",
    "LoginClient",
    "LoginConfig",
    "LoginServer",
    "OAuthBearerClient",
    "OAuthBearerServer",
    "Outcome",
    "PlainClient",
    "PlainServer",
    "RandomSource",
    "SaslAborted",
    "SaslAnswers",
    "SaslClient",
    "SaslDecodeError",
    "SaslError",
    "SaslMalformed",
    "SaslPrepError",
    "SaslServer",
    "SaslServerUnverified",
    "ScramSecret",
    "ScramSha256Client",
    "ScramSha256Server",
    "SecretRequest",
    "ServerMechanism",
    "Step",
    "Success",
    "XOAuth2Client",
    "XOAuth2Server",
    "accept_token",
    "client_for",
    "cram_md5_digest",
    "cram_md5_response",
    "create_client",
    "create_server",
    "decode_response",
    "encode",
    "oauthbearer_response",
    "plain_response",
    "refuse_token",
    "saslprep",
    "supply_secret",
    "xoauth2_response",
]
