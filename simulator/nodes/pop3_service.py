"""The POP3 service of a mailbox server: who may log in, the maildrop lock, deletions in UPDATE.

The engine (simulator.protocol.pop3.server) speaks the protocol; this module is
the policy it asks: check a password, an APOP digest, a SASL secret or a bearer
token (through the host's `Accounts`, shared with SMTP and IMAP), take the account's
maildrop lock (RFC 1939 §8: one session at a time) and hand the engine the
INBOX as it is now, and on QUIT remove what the client marked. A session that
ends any other way deletes nothing and only releases the lock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from simulator.mail.store import MailStore, StoreError
from simulator.net.network import Network
from simulator.net.record import Note
from simulator.nodes.accounts import Accounts
from simulator.nodes.stream import StreamSession
from simulator.nodes.tls_channel import ServerTLS
from simulator.protocol.pop3 import events as ev
from simulator.protocol.pop3 import replies
from simulator.protocol.pop3.server import POP3Server, ServerConfig

POP3_PORT = 110
POP3S_PORT = 995
SERVER_BATCH = ("The server answers pipelined commands in one write, in order.", "RFC 2449 §6.6")
# RFC 1939 §3: a server's inactivity autologout timer is at least 10 minutes.
AUTOLOGOUT = 600.0


@dataclass
class POP3Service:
    """What a mailbox server decides for its POP3 sessions."""

    config: ServerConfig
    store: MailStore
    users: dict[str, str] = field(default_factory=dict)  # address -> password, when `accounts` is not given
    greetings: int = 0  # for the APOP timestamp: unique per greeting (RFC 1939 §7)
    on_change: Callable[[str], None] | None = None  # told of each user whose INBOX lost messages
    tls: ServerTLS | None = None  # the certificate presented after STLS (RFC 2595 §4); None: no TLS
    accounts: Accounts = field(default_factory=Accounts)  # the host's login policy, shared with SMTP and IMAP

    def __post_init__(self) -> None:
        if self.users and not self.accounts.users:
            self.accounts = Accounts(self.users)

    def engine(self, now: float, *, implicit_tls: bool = False) -> POP3Server:
        """A server engine for a new connection, greeting with a fresh APOP timestamp.

        Args:
            implicit_tls: the connection came to port 995 and is TLS already (RFC 8314 §3.3), so
                STLS is not offered.
        """
        self.greetings += 1
        timestamp = replies.apop_timestamp(self.greetings, int(now), self.config.hostname)
        config = replace(self.config, tls_active=True, stls=False) if implicit_tls else self.config
        return POP3Server(config, timestamp=timestamp, rng=self.accounts.rng)

    def handle(self, engine: POP3Server, event: ev.Event, holder: str, peer: str = "") -> None:
        """Answer an event that needs one; release or commit the maildrop when the session ends.

        Args:
            holder: who takes the maildrop lock: this session.
            peer: the client's host name, for the trace.
        """
        accounts = self.accounts
        if isinstance(event, ev.Credentials):
            self._login(engine, accounts.check_password(event.user, event.password), holder)
        elif isinstance(event, ev.AuthCredentials):
            user = accounts.check_password(event.user, event.password)
            self._login(engine, accounts.acting_as(user, event.authzid), holder)
        elif isinstance(event, ev.ApopCredentials):
            secret = accounts.password(event.user)
            self._login(engine, accounts.find(event.user) if secret and event.verify(secret) else None, holder)
        elif isinstance(event, ev.SecretNeeded):
            engine.supply_secret(accounts.secret(event.mechanism, event.user))
        elif isinstance(event, ev.TokenCredentials):
            check = accounts.check_token(event.user, event.token, "POP3", peer)
            if check.ok:
                engine.accept_token(check.subject)
            else:
                engine.refuse_token(check.status_for(event.mechanism), check.scope)
        elif isinstance(event, ev.SaslVerified):  # CRAM-MD5, SCRAM or a token proved who the client is
            self._login(engine, accounts.acting_as(accounts.find(event.user), event.authzid), holder)
        elif isinstance(event, ev.Commit):
            account = self.store.get(event.user)
            if account is not None and account.maildrop_holder == holder:
                removed = account.delete_from_maildrop(holder, event.deleted)
                if len(removed) < len(event.deleted):
                    engine.not_all_removed()  # another session expunged some of them first
                if removed and self.on_change is not None:
                    self.on_change(event.user)
        elif isinstance(event, ev.ConnectionClosed) and engine.user is not None:
            account = self.store.get(engine.user)
            if account is not None:
                account.unlock_maildrop(holder)  # RFC 1939 §6: no QUIT, no UPDATE, nothing deleted

    def _login(self, engine: POP3Server, user: str | None, holder: str) -> None:
        """Open the maildrop of a user whose credentials were good (None: they were not)."""
        account = self.store.get(user) if user is not None else None  # no mailbox here: no login here
        if account is None:
            engine.refuse_login()
            return
        try:
            maildrop = account.lock_maildrop(holder)
        except StoreError:
            engine.refuse_locked()
            return
        engine.accept_login([ev.MaildropEntry(e.unique_id, e.message.content) for e in maildrop.entries])


class POP3ServerSession(StreamSession):
    """The server side of one POP3 connection."""

    protocol = "POP3"
    batch = SERVER_BATCH
    timeout = AUTOLOGOUT
    timeout_note = ("The client said nothing for 10 minutes: the server logs it out.", "RFC 1939 §3")
    starttls_rfc = "RFC 2595 §4"

    def __init__(self, network: Network, service: POP3Service, host: str, *, implicit_tls: bool = False) -> None:
        super().__init__(network, host, "server", tls=service.tls, implicit_tls=implicit_tls)
        self.service = service
        self.engine: POP3Server | None = None

    @property
    def holder(self) -> str:
        """Who holds a maildrop lock: this host's session on this connection."""
        return f"{self.host} POP3 connection {self.conn.id if self.conn else 0}"

    def _started(self) -> None:
        self.engine = self.service.engine(self.network.kernel.now, implicit_tls=self.implicit_tls)

    def _feed(self, data: bytes) -> None:
        if self.engine is not None:
            self.engine.receive_data(data)

    def _react(self) -> None:
        if self.engine is not None:
            for event in self.engine.events():
                if isinstance(event, ev.StartTLS):
                    self._wants_tls = True
                self.service.handle(self.engine, event, self.holder, self.conn.client if self.conn else "")

    def _tls_started(self) -> None:
        if self.engine is not None:
            self.engine.tls_started()

    def _notes(self) -> list[Note]:
        if self.engine is None:
            return []
        outputs = self.engine.outgoing()
        return [Note(o.data, o.response.first_line(), o.response.explain, o.response.rfc) for o in outputs]

    def _engine_closed(self) -> bool:
        return self.engine is None or self.engine.closed

    def _autologout(self) -> bool:
        if self.engine is None or self.engine.closed:
            return False
        self.engine.autologout()
        return True


@dataclass
class POP3Listener:
    """Makes a server session for each connection to port 110, or to 995 with `implicit_tls`."""

    network: Network
    service: POP3Service
    host: str
    sessions: list[POP3ServerSession] = field(default_factory=list)
    implicit_tls: bool = False  # POP3S: TLS from the first byte (RFC 8314 §3.3)

    def accept(self) -> POP3ServerSession:
        session = POP3ServerSession(self.network, self.service, self.host, implicit_tls=self.implicit_tls)
        self.sessions = [s for s in self.sessions if not s.done]
        self.sessions.append(session)
        return session
