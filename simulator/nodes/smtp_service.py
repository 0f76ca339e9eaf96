"""A node's SMTP service: the policy that answers the server engine's questions.

The engine knows SMTP; this class knows the host: which domains are local,
which users exist, who must authenticate, who may relay, and where accepted mail
goes. The same service runs behind the in-memory simulation and behind `smtpsim serve`.

Relaying follows Postfix's defaults (smtpd_relay_restrictions = permit_sasl_authenticated,
reject_unauth_destination; allow_untrusted_routing = no): a stranger may send only to the
host's own domains (and a backup MX's), and never to an address that carries its own
route, whatever its domain: `user%other.example@here`, `other.example!user@here` or a
source route `<@hop:user@there>` (RFC 5321 §3.6.1, Appendix C).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

from simulator.nodes.accounts import Accounts
from simulator.nodes.tls_channel import ServerTLS
from simulator.protocol.smtp import events as ev
from simulator.protocol.smtp import replies
from simulator.protocol.smtp.address import Path
from simulator.protocol.smtp.replies import Code, Reply
from simulator.protocol.smtp.server import ServerConfig, SMTPServer

AUTH_REQUIRED = Reply(
    int(Code.S530_AUTH_REQUIRED),
    "5.7.0",
    ("Authentication required",),
    "This is a submission port: log in with AUTH before sending.",
    "RFC 6409 §4.3, RFC 4954 §6",
)
TLS_REQUIRED = Reply(
    int(Code.S530_AUTH_REQUIRED),
    "5.7.0",
    ("Must issue a STARTTLS command first",),
    "This submission port takes mail only over an encrypted connection: STARTTLS, then AUTH, then MAIL.",
    "RFC 3207 §4, RFC 8314 §3.3",
)
OPEN_RELAY_OK = Reply(
    int(Code.S250_OK),
    "2.1.5",
    ("Ok",),
    "This server is an open relay: it takes mail for a domain that is not its own from anyone, without "
    "AUTH, and will pass it on. Spammers hunt for such servers; a careful one says 554 5.7.1 here.",
    "RFC 5321 §3.6.2, §7.1; RFC 2505 §2",
)


def make_queue_id(hostname: str, n: int) -> str:
    """Postfix queue ids are hex; ours come from a counter so that runs repeat exactly."""
    return hashlib.sha256(f"{hostname}/{n}".encode()).hexdigest()[:10].upper()


TOO_MANY_HOPS = Reply(
    554, "5.4.0", ("Error: too many hops",),
    "The message has passed through more than 50 servers: it is going round in a loop, so it is refused.",
    "RFC 5321 §6.3",
)  # fmt: skip
HOP_LIMIT = 50  # Postfix hopcount_limit


class Interceptor:
    """A hook in a server's policy, through which the simulator's faults act.

    Each method may return a reply that replaces the normal decision; None lets
    the service decide as usual. Session-level hooks say whether to hang up
    after an event (before its reply goes out) or to stop answering at all.
    """

    def on_connect(self, server: str, peer: tuple[str, str], open_from_peer: int) -> Reply | None:
        return None

    def on_mail(self, server: str, peer: tuple[str, str], sender: str) -> Reply | None:
        return None

    def on_rcpt(self, server: str, peer: tuple[str, str], sender: str, recipient: str) -> Reply | None:
        return None

    def drop_after(self, server: str, event: ev.Event) -> bool:
        return False

    def mute(self, server: str) -> bool:
        return False


@dataclass(frozen=True)
class AcceptedMessage:
    """A message the service accepted, as the engine handed it over, and who sent it."""

    queue_id: str
    envelope: ev.Envelope
    content: bytes = field(repr=False)
    client_host: str = ""
    client_ip: str = ""


@dataclass
class SMTPService:
    """Policy for one SMTP listener.

    Attributes:
        config: the engine configuration (host name, limits, extensions).
        local_domains: domains whose mail this host takes for its own users.
        users: address -> password of the users who exist here.
        accounts: how logins are checked (passwords, CRAM-MD5 and SCRAM secrets, bearer
            tokens); built from `users` and `local_domains` when not given.
        submission: a submission service (RFC 6409): AUTH first, then any recipient.
        relay_domains: foreign domains this host still accepts mail for (as a backup MX does).
        open_relay: relay for anyone (the "open-relay" weakness, for an attack demonstration).
        keep: keep every accepted message in `stored` (serve's in-memory store); a
            world hands them on through `on_stored` instead.
        on_stored: called with each message the client finished sending, before the 250 goes
            out, so nothing is acknowledged that was not kept. It returns None when it kept the
            message, or the reply that refuses it (a content filter's 550 5.7.1, a DMARC
            reject): then nothing is stored and the client hears that reply instead.
        tls: the certificate the host presents after STARTTLS (RFC 3207); None when the
            sessions cannot run TLS (the engine then must not offer it).
    """

    config: ServerConfig
    local_domains: frozenset[str] = frozenset()
    users: dict[str, str] = field(default_factory=dict)
    submission: bool = False
    on_stored: Callable[[AcceptedMessage], Reply | None] | None = None
    stored: list[AcceptedMessage] = field(default_factory=list)
    relay_domains: frozenset[str] = frozenset()
    keep: bool = True
    interceptors: list[Interceptor] = field(default_factory=list)
    # Where queue ids come from; a host with several services shares one source so that
    # its ports never hand out the same id (the queue is keyed by it).
    queue_ids: Callable[[], str] | None = None
    tls: ServerTLS | None = None
    accounts: Accounts = field(default_factory=Accounts)
    open_relay: bool = False
    _accepted: int = 0

    def __post_init__(self) -> None:
        if self.users and not self.accounts.users:
            self.accounts = Accounts(self.users, self.local_domains)

    def connect(self, peer: tuple[str, str] = ("", ""), open_from_peer: int = 1) -> SMTPServer:
        """A server engine for a new connection, its greeting queued (or a 421 from an interceptor)."""
        for interceptor in self.interceptors:
            refusal = interceptor.on_connect(self.config.hostname, peer, open_from_peer)
            if refusal is not None:
                engine = SMTPServer(self.config, greet=False)
                engine.refuse(refusal)
                return engine
        return SMTPServer(self.config, rng=self.accounts.rng)  # CRAM-MD5 and SCRAM draw from the world's seed

    def handle(self, conn: SMTPServer, event: ev.Event, peer: tuple[str, str] = ("", "")) -> None:
        """Answer an event that needs a reply; ignore the others.

        Args:
            peer: the client's host name and IP address, for the Received header.
        """
        host = self.config.hostname
        if isinstance(event, ev.MailFrom):
            sender = event.sender.mailbox
            forced = next((r for i in self.interceptors if (r := i.on_mail(host, peer, sender))), None)
            conn.send(forced or self._sender(conn))
        elif isinstance(event, ev.RcptTo):
            rcpt = event.recipient.mailbox
            reply = self._recipient(conn, event.recipient)
            if reply.positive:
                sender = conn.envelope_sender
                reply = next((r for i in self.interceptors if (r := i.on_rcpt(host, peer, sender, rcpt))), reply)
            conn.send(reply)
        elif isinstance(event, ev.Vrfy):
            known = self.accounts.find(event.argument)
            conn.send(replies.vrfy_ok(event.argument) if known else replies.vrfy_unknown(event.argument))
        elif isinstance(event, ev.AuthCredentials):
            user = self.accounts.check_password(event.username, event.password)
            ok = self.accounts.acting_as(user, event.authzid) is not None
            conn.send(replies.AUTH_OK if ok else replies.AUTH_FAILED)
        elif isinstance(event, ev.SecretNeeded):
            conn.supply_secret(self.accounts.secret(event.mechanism, event.username))
        elif isinstance(event, ev.TokenCredentials):
            check = self.accounts.check_token(event.username, event.token, "SMTP", peer[0])
            if check.ok:
                conn.accept_token(check.subject)
            else:
                conn.refuse_token(check.status_for(event.mechanism), check.scope)
        elif isinstance(event, ev.DataComplete):
            if _received_count(event.content) >= HOP_LIMIT:
                conn.send(TOO_MANY_HOPS)
                return
            stored = self._store(event, peer)
            conn.send(replies.queued(stored) if isinstance(stored, str) else stored)

    def _sender(self, conn: SMTPServer) -> Reply:
        """A submission port takes MAIL only after TLS (when required) and AUTH (RFC 6409 §4.3, RFC 8314 §3.3)."""
        if not self.submission or conn.auth_user is not None:
            return replies.SENDER_OK
        if self.config.auth_requires_tls and self.config.starttls and not conn.tls:
            return TLS_REQUIRED  # Postfix with smtpd_tls_security_level = encrypt
        return AUTH_REQUIRED

    def _recipient(self, conn: SMTPServer, path: Path) -> Reply:
        address = path.mailbox
        local, _, domain = address.rpartition("@")
        if address.lower() == "postmaster" and not path.route:  # RFC 5321 §4.5.1
            return replies.RECIPIENT_OK
        trusted = self.submission and conn.auth_user is not None  # authenticated users may send anywhere
        if _sender_routed(path) and not (trusted or self.open_relay):
            return replies.relay_denied(_as_given(path))
        if domain.lower() in self.local_domains:
            if self.accounts.find(address) or local.lower() == "postmaster":
                return replies.RECIPIENT_OK
            return replies.unknown_user(address)
        if trusted or domain.lower() in self.relay_domains:
            return replies.RECIPIENT_OK
        if self.open_relay:
            return OPEN_RELAY_OK
        return replies.relay_denied(address)

    def _store(self, event: ev.DataComplete, peer: tuple[str, str]) -> str | Reply:
        """The queue id of the kept message, or the reply that refused it."""
        self._accepted += 1
        queue_id = (
            self.queue_ids() if self.queue_ids is not None else make_queue_id(self.config.hostname, self._accepted)
        )
        message = AcceptedMessage(queue_id, event.envelope, event.content, *peer)
        if self.on_stored is not None and (refusal := self.on_stored(message)) is not None:
            return refusal
        if self.keep:
            self.stored.append(message)
        return message.queue_id


def _sender_routed(path: Path) -> bool:
    """Whether the address routes itself: a source route, or '%', '!' or '@' in the local part (RFC 5321 Appendix C).

    Postfix (allow_untrusted_routing = no) never relays these for a stranger: `user%other@here`,
    `other!user@here` and `"user@other"@here` ask this host to send on to `other`, which is relaying
    by the back door.
    """
    return bool(path.route) or any(c in path.local_part for c in "%!@")


def _as_given(path: Path) -> str:
    """The forward-path as the client wrote it, source route included, for the refusal."""
    return ",".join(f"@{hop}" for hop in path.route) + (":" if path.route else "") + path.mailbox


def _received_count(content: bytes) -> int:
    """How many Received headers the message has gathered: one per hop (RFC 5321 §4.4)."""
    head = content.split(b"\r\n\r\n", 1)[0]
    return sum(1 for line in head.split(b"\r\n") if line[:9].lower() == b"received:")
