"""The typed events the POP3 engines emit, named with the RFC's nouns.

Server events marked "needs an answer" stop the engine until the node decides:
`POP3Server.accept_login(maildrop)`, `refuse_login()` or `refuse_locked()`. That
answer is where policy lives (which users exist, which maildrop is theirs,
whether it is locked). The others are told for information: the engine has
already answered them.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field

from simulator.protocol.pop3.replies import Response
from simulator.protocol.values import Value


class Event(Value):
    """Base class of every POP3 event (all immutable)."""

    __slots__ = ()


@dataclass(frozen=True)
class MaildropEntry(Value):
    """One message of a maildrop as the node hands it to the engine at login.

    Attributes:
        uid: the unique-id UIDL reports: 1 to 70 characters from 0x21 to 0x7E (RFC 1939 §7).
        content: the message as stored, with CRLF line endings.
    """

    uid: str
    content: bytes = field(repr=False)


def apop_digest(timestamp: str, secret: str) -> str:
    """MD5 of the greeting's timestamp followed by the shared secret, in lower-case hex (RFC 1939 §7)."""
    return hashlib.md5((timestamp + secret).encode("utf-8"), usedforsecurity=False).hexdigest()


# --- server side: commands received ------------------------------------------------


@dataclass(frozen=True)
class Capa(Event):
    pass


@dataclass(frozen=True)
class User(Event):
    """USER name: the engine answered +OK; the password must follow with PASS."""

    name: str


@dataclass(frozen=True)
class Credentials(Event):
    """Needs an answer: USER name then PASS password arrived (RFC 1939 §7)."""

    user: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class ApopCredentials(Event):
    """Needs an answer: APOP name digest (RFC 1939 §7). The node checks it with `verify(secret)`."""

    user: str
    digest: str
    timestamp: str

    def verify(self, secret: str) -> bool:
        """Whether the digest is MD5(timestamp + secret), compared in constant time."""
        return hmac.compare_digest(apop_digest(self.timestamp, secret), self.digest.lower())


@dataclass(frozen=True)
class Auth(Event):
    """The client began a SASL exchange with this mechanism (RFC 5034 §4)."""

    mechanism: str


@dataclass(frozen=True)
class AuthCredentials(Event):
    """Needs an answer: a SASL exchange produced these credentials (RFC 5034, RFC 4616)."""

    mechanism: str
    user: str
    password: str = field(repr=False)
    authzid: str = ""


@dataclass(frozen=True)
class SecretNeeded(Event):
    """Needs an answer: CRAM-MD5 or SCRAM-SHA-256 needs this user's stored secret (RFC 2195 §2, RFC 5802 §3).

    The node calls `supply_secret(secret)` (the password, a `sasl.ScramSecret`, or None for
    "no such user"), or ends the exchange with `refuse_login(response)` (e.g. a temporary
    failure, RFC 3206 §4 SYS/TEMP).
    """

    mechanism: str
    user: str
    authzid: str = ""


@dataclass(frozen=True)
class TokenCredentials(Event):
    """Needs an answer: an OAuth 2.0 bearer token from XOAUTH2 or OAUTHBEARER (RFC 7628 §3.1, RFC 6750).

    The node checks the token and calls `accept_token()` (then `SaslVerified` follows) or
    `refuse_token(status, scope)`: the JSON error goes out as a `+ ` challenge, the client
    acknowledges, and the exchange fails with -ERR [AUTH] (RFC 7628 §3.2.2, §3.2.3; RFC 5034 §4).
    """

    mechanism: str
    user: str
    token: str = field(repr=False)
    host: str = ""
    port: int | None = None


@dataclass(frozen=True)
class SaslVerified(Event):
    """Needs an answer: a SASL exchange proved who the client is (RFC 5034 §4).

    The node answers as for any login: `accept_login(maildrop)`, `refuse_locked()` or
    `refuse_login(...)`. CRAM-MD5, SCRAM-SHA-256, XOAUTH2 and OAUTHBEARER end here.
    """

    mechanism: str
    user: str
    authzid: str = ""


@dataclass(frozen=True)
class AuthAborted(Event):
    """The SASL exchange ended without credentials: cancelled with '*', or malformed."""

    reason: str


@dataclass(frozen=True)
class StartTLS(Event):
    """The server said +OK to STLS: the host must run the handshake, then call `tls_started()`."""


@dataclass(frozen=True)
class Stat(Event):
    pass


@dataclass(frozen=True)
class List(Event):
    number: int | None = None


@dataclass(frozen=True)
class Retr(Event):
    """A message was sent to the client (RFC 1939 §5 RETR)."""

    number: int
    uid: str


@dataclass(frozen=True)
class Top(Event):
    number: int
    uid: str
    lines: int


@dataclass(frozen=True)
class Dele(Event):
    """A message was marked for deletion; nothing is removed before `Commit`."""

    number: int
    uid: str


@dataclass(frozen=True)
class Rset(Event):
    pass


@dataclass(frozen=True)
class Noop(Event):
    pass


@dataclass(frozen=True)
class Uidl(Event):
    number: int | None = None


@dataclass(frozen=True)
class Quit(Event):
    pass


@dataclass(frozen=True)
class Commit(Event):
    """UPDATE state (RFC 1939 §6): QUIT ended a TRANSACTION; the node must now delete these UIDs.

    Only a QUIT from TRANSACTION produces it: a dropped connection deletes nothing.
    """

    user: str
    deleted: tuple[str, ...]


@dataclass(frozen=True)
class ConnectionClosed(Event):
    """The connection is over; `reason` says why for the trace."""

    reason: str = ""


# --- client side: responses received -------------------------------------------------


@dataclass(frozen=True)
class ResponseReceived(Event):
    """Any response, with the command it answers ("" for the greeting)."""

    command: str
    response: Response


@dataclass(frozen=True)
class Greeting(Event):
    """The banner; `timestamp` is the APOP timestamp it carries, if any."""

    response: Response
    timestamp: str | None


@dataclass(frozen=True)
class Capabilities(Event):
    """The CAPA list, keyword (upper-cased) to its parameters; empty when CAPA was refused."""

    capabilities: dict[str, str]


@dataclass(frozen=True)
class TLSReady(Event):
    """The server accepted STLS: the host must run the handshake, then call `tls_started()`."""


@dataclass(frozen=True)
class Authenticated(Event):
    user: str
    method: str  # "USER", "APOP" or "AUTH " and the SASL mechanism ("AUTH PLAIN", "AUTH SCRAM-SHA-256" ...)


@dataclass(frozen=True)
class LoginFailed(Event):
    """The server refused the login; the client says QUIT next."""

    response: Response


@dataclass(frozen=True)
class ListedMessage(Value):
    number: int
    uid: str  # "" when the server does not offer UIDL


@dataclass(frozen=True)
class MessagesListed(Event):
    """What the maildrop holds, and which of those the client will retrieve."""

    messages: tuple[ListedMessage, ...]
    to_retrieve: tuple[int, ...]


@dataclass(frozen=True)
class MessageRetrieved(Event):
    """RETR succeeded: the device stores this content (dot-unstuffed, CRLF line endings)."""

    number: int
    uid: str
    content: bytes = field(repr=False)


@dataclass(frozen=True)
class RetrieveFailed(Event):
    number: int
    uid: str
    response: Response


@dataclass(frozen=True)
class DeletionMarked(Event):
    """DELE succeeded: the server removes the message only if QUIT succeeds."""

    number: int
    uid: str


@dataclass(frozen=True)
class SessionComplete(Event):
    """QUIT got +OK: `deleted` are the UIDs now gone from the server (RFC 1939 §6)."""

    retrieved: tuple[str, ...]
    deleted: tuple[str, ...]


@dataclass(frozen=True)
class SessionFailed(Event):
    """The session could not do its work (login refused, TLS missing, connection lost...)."""

    reason: str
    response: Response | None = None
