"""The typed events the SMTP engines emit, named with the RFC's nouns.

Server events marked "needs a reply" stop the engine until the node answers
with `SMTPServer.send(reply)`: that answer is where policy lives (who may relay,
which users exist). The others are told for information and the engine has
already replied.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from simulator.protocol.smtp.address import Path
from simulator.protocol.smtp.replies import Reply
from simulator.protocol.values import Value


class Event(Value):
    """Base class of every SMTP event (all immutable)."""

    __slots__ = ()


@dataclass(frozen=True)
class MailParams(Value):
    """ESMTP parameters of MAIL FROM (RFC 1870, 6152, 6531, 3461, 4954)."""

    size: int | None = None
    body: str | None = None  # "7BIT" or "8BITMIME"
    smtputf8: bool = False
    ret: str | None = None  # "FULL" or "HDRS"
    envid: str | None = None  # xtext-decoded
    auth: str | None = None  # xtext-decoded; "<>" when the submitter is unknown


@dataclass(frozen=True)
class RcptParams(Value):
    """ESMTP parameters of RCPT TO (RFC 3461 §4)."""

    notify: tuple[str, ...] | None = None  # NEVER, or some of SUCCESS, FAILURE, DELAY
    orcpt: str | None = None  # "rfc822;bob@example.org", xtext-decoded


@dataclass(frozen=True)
class Recipient(Value):
    address: str
    params: RcptParams = RcptParams()


@dataclass(frozen=True)
class Envelope(Value):
    """Everything the SMTP dialogue says about a message besides its content.

    Attributes:
        helo: the name the client gave in EHLO or HELO.
        sender: the reverse-path mailbox, "" for the null sender of bounces.
        recipients: accepted recipients, in order.
        params: the MAIL FROM parameters.
        esmtp: the client used EHLO, not HELO.
        tls: the transaction ran over TLS.
        auth_user: the SASL identity, if the client authenticated.
    """

    helo: str = ""
    sender: str = ""
    recipients: tuple[Recipient, ...] = ()
    params: MailParams = MailParams()
    esmtp: bool = False
    tls: bool = False
    auth_user: str | None = None

    @property
    def protocol(self) -> str:
        """The WITH keyword of a Received header (RFC 3848): SMTP, ESMTP, ESMTPS, ESMTPSA ..."""
        if not self.esmtp:
            return "SMTP"
        return "ESMTP" + ("S" if self.tls else "") + ("A" if self.auth_user else "")


# --- server side: commands received --------------------------------------------


@dataclass(frozen=True)
class Ehlo(Event):
    hostname: str


@dataclass(frozen=True)
class Helo(Event):
    hostname: str


@dataclass(frozen=True)
class MailFrom(Event):
    """Needs a reply: accept (250 2.1.0) or refuse the sender."""

    sender: Path
    params: MailParams = MailParams()


@dataclass(frozen=True)
class RcptTo(Event):
    """Needs a reply: accept (250 2.1.5) or refuse the recipient."""

    recipient: Path
    params: RcptParams = RcptParams()


@dataclass(frozen=True)
class Data(Event):
    """The server answered 354; message lines follow."""


@dataclass(frozen=True)
class Bdat(Event):
    """A BDAT chunk arrived whole (RFC 3030)."""

    size: int
    last: bool


@dataclass(frozen=True)
class DataComplete(Event):
    """Needs a reply: the whole message is here; queue it (250) or refuse it.

    `content` is what the client meant to send: dot-unstuffed, without the
    terminating dot line.
    """

    envelope: Envelope
    content: bytes = field(repr=False)


@dataclass(frozen=True)
class Rset(Event):
    pass


@dataclass(frozen=True)
class Noop(Event):
    pass


@dataclass(frozen=True)
class Help(Event):
    topic: str = ""


@dataclass(frozen=True)
class Vrfy(Event):
    """Needs a reply: 250/252 if the address is known, 550 if not."""

    argument: str


@dataclass(frozen=True)
class Quit(Event):
    pass


@dataclass(frozen=True)
class StartTLS(Event):
    """The server said 220: the host must now run the TLS handshake, then call `tls_started()`."""


@dataclass(frozen=True)
class Auth(Event):
    """The client began a SASL exchange with this mechanism (RFC 4954)."""

    mechanism: str


@dataclass(frozen=True)
class AuthCredentials(Event):
    """Needs a reply: 235 if these credentials are good, 535 if not."""

    mechanism: str
    username: str
    password: str = field(repr=False)
    authzid: str = ""


@dataclass(frozen=True)
class SecretNeeded(Event):
    """Needs an answer: CRAM-MD5 or SCRAM-SHA-256 needs this user's stored secret (RFC 2195 §2, RFC 5802 §3).

    The node calls `supply_secret(secret)`: the password, a `sasl.ScramSecret` (SCRAM),
    or None for "no such user", and the mechanism does the arithmetic. Or it ends the
    exchange with `send(reply)`: 454 4.7.0 when the user database cannot be reached,
    538 5.7.11 when policy wants TLS first, 535 5.7.8 (RFC 4954 §6).
    """

    mechanism: str
    username: str
    authzid: str = ""


@dataclass(frozen=True)
class TokenCredentials(Event):
    """Needs an answer: an OAuth 2.0 bearer token from XOAUTH2 or OAUTHBEARER (RFC 7628 §3.1, RFC 6750).

    The node checks the token (issuer, expiry, scope, subject) and calls `accept_token()`
    (235) or `refuse_token(status, scope)`: the server then sends the JSON error as a 334
    challenge, the client acknowledges, and the exchange fails with 535 5.7.8 (RFC 7628
    §3.2.2, §3.2.3). `send(reply)` ends the exchange at once (454 4.7.0, 538 5.7.11).
    """

    mechanism: str
    username: str
    token: str = field(repr=False)
    host: str = ""
    port: int | None = None


@dataclass(frozen=True)
class SaslVerified(Event):
    """A SASL exchange proved who the client is and the server said 235 (RFC 4954 §6).

    For information: CRAM-MD5, SCRAM-SHA-256, XOAUTH2 and OAUTHBEARER end here once the
    node answered `SecretNeeded` or `TokenCredentials`.
    """

    mechanism: str
    username: str
    authzid: str = ""


@dataclass(frozen=True)
class ConnectionClosed(Event):
    """The connection is over; `reason` says why for the trace."""

    reason: str = ""


# --- client side: replies received ---------------------------------------------


@dataclass(frozen=True)
class ReplyReceived(Event):
    """Any reply, with the command it answers ("" for the greeting)."""

    command: str
    reply: Reply


@dataclass(frozen=True)
class Greeting(Event):
    reply: Reply


@dataclass(frozen=True)
class Capabilities(Event):
    """What the server offers: EHLO keywords with their parameters (empty after HELO)."""

    extensions: dict[str, str]
    esmtp: bool


@dataclass(frozen=True)
class TLSReady(Event):
    """The server accepted STARTTLS: the host must run the handshake, then call `tls_started()`."""


@dataclass(frozen=True)
class Authenticated(Event):
    username: str


@dataclass(frozen=True)
class AuthFailed(Event):
    reply: Reply


@dataclass(frozen=True)
class RecipientResult:
    """How one recipient fared: "sent", "deferred" (4xx: retry later) or "failed" (5xx)."""

    recipient: str
    status: str
    reply: Reply


@dataclass(frozen=True)
class MessageResult(Event):
    """The outcome of one transaction, recipient by recipient (RFC 5321 §3.3)."""

    index: int
    recipients: tuple[RecipientResult, ...]

    @property
    def sent(self) -> tuple[str, ...]:
        return tuple(r.recipient for r in self.recipients if r.status == "sent")


@dataclass(frozen=True)
class SessionFailed(Event):
    """The session cannot go on (greeting refused, 421, TLS required but missing, protocol error)."""

    reason: str
    reply: Reply | None = None
