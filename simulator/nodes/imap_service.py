"""The IMAP service of a mailbox server: who may log in, and keeping every session of a mailbox in step.

The engine (simulator.protocol.imap.server) speaks the protocol and works on the
account it is given at login; this module decides who gets an account and tells
the other sessions of a user when something changed their mailbox (a delivery,
another device's STORE or EXPUNGE), so that a client in IDLE hears of it at once
(RFC 2177) and the others with their next command (RFC 3501 §7).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from simulator.mail.store import FlagMode, MailStore
from simulator.net.network import Network
from simulator.net.record import Note
from simulator.nodes.accounts import Accounts
from simulator.nodes.stream import StreamSession
from simulator.nodes.tls_channel import ServerTLS
from simulator.protocol.imap.server import (
    Credentials,
    IMAPServer,
    Output,
    SaslVerified,
    SecretNeeded,
    ServerConfig,
    StartTLS,
    TokenCredentials,
)

IMAP_PORT = 143
IMAPS_PORT = 993
SERVER_BATCH = ("The server answers several commands, or sends several updates, in one write.", "RFC 3501 §5.5")
# RFC 3501 §5.4: an autologout timer of at least 30 minutes (RFC 2177: an IDLE client re-issues IDLE within 29).
AUTOLOGOUT = 1800.0


@dataclass
class IMAPService:
    """What a mailbox server decides for its IMAP sessions, and the sessions it has open."""

    config: ServerConfig
    store: MailStore
    users: dict[str, str] = field(default_factory=dict)  # address -> password, when `accounts` is not given
    sessions: list[IMAPServerSession] = field(default_factory=list)
    tls: ServerTLS | None = None  # the certificate presented after STARTTLS (RFC 3501 §6.2.1); None: no TLS
    accounts: Accounts = field(default_factory=Accounts)  # the host's login policy, shared with SMTP and POP3

    def __post_init__(self) -> None:
        if self.users and not self.accounts.users:
            self.accounts = Accounts(self.users)

    def engine(self, *, implicit_tls: bool = False) -> IMAPServer:
        """A server engine for a new connection; on port 993 it is TLS already, so no STARTTLS (RFC 8314 §3.3)."""
        config = replace(self.config, tls_active=True, starttls=False) if implicit_tls else self.config
        return IMAPServer(config, rng=self.accounts.rng)

    def handle(self, engine: IMAPServer, event: object, peer: str = "") -> None:
        """Answer a login; the engine handles everything else against the account it was given.

        Args:
            peer: the client's host name, for the trace.
        """
        accounts = self.accounts
        if isinstance(event, Credentials):
            user = accounts.check_password(event.user, event.password)
            self._login(engine, accounts.acting_as(user, event.authzid))
        elif isinstance(event, SecretNeeded):
            engine.supply_secret(accounts.secret(event.mechanism, event.user))
        elif isinstance(event, TokenCredentials):
            check = accounts.check_token(event.user, event.token, "IMAP", peer)
            if check.ok:
                engine.accept_token(check.subject)
            else:
                engine.refuse_token(check.status_for(event.mechanism), check.scope)
        elif isinstance(event, SaslVerified):  # CRAM-MD5, SCRAM or a token proved who the client is
            self._login(engine, accounts.acting_as(accounts.find(event.user), event.authzid))

    def _login(self, engine: IMAPServer, user: str | None) -> None:
        """Open the account of a user whose credentials were good (None: they were not)."""
        account = self.store.get(user) if user is not None else None  # no mailbox here: no login here
        if account is None:
            engine.refuse_login()
        else:
            engine.accept_login(account, FlagMode)

    def changed(self, user: str, source: IMAPServerSession | None = None) -> None:
        """Something changed `user`'s mail: the sessions in IDLE write their updates now (RFC 2177 §3)."""
        self.sessions = [s for s in self.sessions if not s.done]
        for session in self.sessions:
            engine = session.engine
            if session is source or engine is None or engine.user is None or engine.user.lower() != user.lower():
                continue
            if engine.idling and engine.wake():
                session.flush()


class IMAPServerSession(StreamSession):
    """The server side of one IMAP connection."""

    protocol = "IMAP"
    batch = SERVER_BATCH
    timeout = AUTOLOGOUT
    timeout_note = ("The client said nothing for 30 minutes: the server logs it out.", "RFC 3501 §5.4")
    starttls_rfc = "RFC 3501 §6.2.1"

    def __init__(self, network: Network, service: IMAPService, host: str, *, implicit_tls: bool = False) -> None:
        super().__init__(network, host, "server", tls=service.tls, implicit_tls=implicit_tls)
        self.service = service
        self.engine: IMAPServer | None = None

    def _started(self) -> None:
        self.engine = self.service.engine(implicit_tls=self.implicit_tls)

    def _feed(self, data: bytes) -> None:
        if self.engine is not None:
            self.engine.now = self.network.kernel.now
            self.engine.receive_data(data)

    def _react(self) -> None:
        if self.engine is not None:
            for event in self.engine.events():
                if isinstance(event, StartTLS):
                    self._wants_tls = True
                self.service.handle(self.engine, event, self.conn.client if self.conn else "")

    def _tls_started(self) -> None:
        if self.engine is not None:
            self.engine.tls_started()

    def _notes(self) -> list[Note]:
        return [_note(o) for o in self.engine.outgoing()] if self.engine is not None else []

    def _engine_closed(self) -> bool:
        return self.engine is None or self.engine.closed

    def _autologout(self) -> bool:
        if self.engine is None or self.engine.closed:
            return False
        self.engine.autologout()
        return True

    def _pump(self) -> None:
        super()._pump()
        if self.engine is not None and self.engine.user is not None:
            self.service.changed(self.engine.user, self)

    def _finished(self, reason: str) -> None:
        if self.engine is not None:
            self.engine.close_views()  # the \Recent it held is released (RFC 3501 §2.3.2)

    def flush(self) -> None:
        """Write what the engine has to say without a command from the client (an IDLE update)."""
        self._write(self._notes())


def _note(output: Output) -> Note:
    return Note(output.data, output.summary, output.explain, output.rfc)


@dataclass
class IMAPListener:
    """Makes a server session for each connection to port 143, or to 993 with `implicit_tls`."""

    network: Network
    service: IMAPService
    host: str
    implicit_tls: bool = False  # IMAPS: TLS from the first byte (RFC 8314 §3.3)

    def accept(self) -> IMAPServerSession:
        session = IMAPServerSession(self.network, self.service, self.host, implicit_tls=self.implicit_tls)
        self.service.sessions = [s for s in self.service.sessions if not s.done]
        self.service.sessions.append(session)
        return session
