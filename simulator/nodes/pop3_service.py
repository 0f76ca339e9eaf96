"""The POP3 service of a mailbox server: who may log in, the maildrop lock, deletions in UPDATE.

The engine (simulator.protocol.pop3.server) speaks the protocol; this module is
the policy it asks: check a password or an APOP digest, take the account's
maildrop lock (RFC 1939 §8: one session at a time) and hand the engine the
INBOX as it is now, and on QUIT remove what the client marked. A session that
ends any other way deletes nothing and only releases the lock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from simulator.mail.store import MailStore, StoreError
from simulator.net.network import Network
from simulator.net.record import Note
from simulator.nodes.stream import StreamSession
from simulator.nodes.tls_channel import ServerTLS
from simulator.protocol.pop3 import events as ev
from simulator.protocol.pop3 import replies
from simulator.protocol.pop3.server import POP3Server, ServerConfig

POP3_PORT = 110
SERVER_BATCH = ("The server answers pipelined commands in one write, in order.", "RFC 2449 §6.6")
# RFC 1939 §3: a server's inactivity autologout timer is at least 10 minutes.
AUTOLOGOUT = 600.0


@dataclass
class POP3Service:
    """What a mailbox server decides for its POP3 sessions."""

    config: ServerConfig
    store: MailStore
    users: dict[str, str]  # lower-cased address -> password
    greetings: int = 0  # for the APOP timestamp: unique per greeting (RFC 1939 §7)
    on_change: Callable[[str], None] | None = None  # told of each user whose INBOX lost messages
    tls: ServerTLS | None = None  # the certificate presented after STLS (RFC 2595 §4); None: no TLS

    def engine(self, now: float) -> POP3Server:
        """A server engine for a new connection, greeting with a fresh APOP timestamp."""
        self.greetings += 1
        timestamp = replies.apop_timestamp(self.greetings, int(now), self.config.hostname)
        return POP3Server(self.config, timestamp=timestamp)

    def handle(self, engine: POP3Server, event: ev.Event, holder: str) -> None:
        """Answer an event that needs one; release or commit the maildrop when the session ends."""
        if isinstance(event, ev.Credentials | ev.AuthCredentials):
            self._login(engine, event.user, self._password_ok(event.user, event.password), holder)
        elif isinstance(event, ev.ApopCredentials):
            secret = self._secret(event.user)
            self._login(engine, event.user, secret is not None and event.verify(secret), holder)
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

    def _secret(self, user: str) -> str | None:
        return self.users.get(user.lower())

    def _password_ok(self, user: str, password: str) -> bool:
        secret = self._secret(user)
        return secret is not None and secret == password

    def _login(self, engine: POP3Server, user: str, ok: bool, holder: str) -> None:
        account = self.store.get(user) if ok else None
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

    def __init__(self, network: Network, service: POP3Service, host: str) -> None:
        super().__init__(network, host, "server", tls=service.tls)
        self.service = service
        self.engine: POP3Server | None = None

    @property
    def holder(self) -> str:
        """Who holds a maildrop lock: this host's session on this connection."""
        return f"{self.host} POP3 connection {self.conn.id if self.conn else 0}"

    def _started(self) -> None:
        self.engine = self.service.engine(self.network.kernel.now)

    def _feed(self, data: bytes) -> None:
        if self.engine is not None:
            self.engine.receive_data(data)

    def _react(self) -> None:
        if self.engine is not None:
            for event in self.engine.events():
                if isinstance(event, ev.StartTLS):
                    self._wants_tls = True
                self.service.handle(self.engine, event, self.holder)

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
    """Makes a server session for each connection to port 110."""

    network: Network
    service: POP3Service
    host: str
    sessions: list[POP3ServerSession] = field(default_factory=list)

    def accept(self) -> POP3ServerSession:
        session = POP3ServerSession(self.network, self.service, self.host)
        self.sessions = [s for s in self.sessions if not s.done]
        self.sessions.append(session)
        return session
