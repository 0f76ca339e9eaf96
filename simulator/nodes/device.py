"""A user's device reading mail: a phone or a laptop with a retrieval profile.

The profile is the lesson. POP3 download-and-delete moves each message onto the
one device that fetched it (RFC 1939 §5: the maildrop is a queue to empty);
POP3 leave-on-server copies what the device has not seen, remembered by UIDL
(RFC 1939 §7). IMAP keeps the mail on the server and every device in step with
it, flags included (RFC 3501); with IDLE the server tells the device of new mail
the moment it arrives (RFC 2177). What the device shows afterwards is in
`messages`, so a learner can put two devices of one user side by side.

A device logs in with a password (USER/PASS, LOGIN, or a SASL mechanism) or with an
OAuth 2.0 access token (XOAUTH2, OAUTHBEARER; RFC 7628). It keeps using its token
until the server refuses it, then asks the authorization server for a fresh one and
tries once more, as mail programs do.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import partial

from simulator.mail.headers import header_values
from simulator.mail.store import SEEN
from simulator.net.kernel import Timer
from simulator.net.network import Network
from simulator.net.record import Note
from simulator.nodes.imap_service import IMAP_PORT, IMAPS_PORT
from simulator.nodes.oauth_server import TokenHolder
from simulator.nodes.pop3_service import POP3_PORT, POP3S_PORT
from simulator.nodes.stream import StreamSession
from simulator.nodes.tls_channel import ClientTLS
from simulator.protocol.imap import client as imap_ev
from simulator.protocol.imap.client import ClientConfig as IMAPClientConfig
from simulator.protocol.imap.client import ClientState as IMAPClientState
from simulator.protocol.imap.client import IMAPClient
from simulator.protocol.pop3 import events as ev
from simulator.protocol.pop3.client import ClientConfig, POP3Client

PROFILES = ("pop3-download-delete", "pop3-leave-on-server", "imap", "imap-idle")
# How long an IMAP IDLE device stays connected unless told otherwise (RFC 2177 §3: re-IDLE within 29 minutes).
IDLE_FOR = 600.0
CLIENT_BATCH = ("Several commands in one write: the server offered PIPELINING.", "RFC 2449 §6.6")
IMAP_CLIENT_BATCH = ("Several commands in one write: an IMAP client need not wait between them.", "RFC 3501 §5.5")
# How long the device waits for each response before it gives up on the server.
RESPONSE_TIMEOUT = 120.0
# SASL mechanisms that send an OAuth 2.0 access token instead of a password (RFC 7628).
TOKEN_MECHANISMS = frozenset({"XOAUTH2", "OAUTHBEARER"})


@dataclass(frozen=True)
class DeviceMessage:
    """A message as a device shows it."""

    uid: str  # the server's unique id for it (UIDL, or the IMAP UID), or "" if the server gave none
    subject: str
    content: bytes = field(repr=False)
    flags: tuple[str, ...] = ()  # as the device shows them: \Seen once read here (or, with IMAP, anywhere)
    read_here: bool = False  # read on this device since its last check: IMAP tells the server next time


@dataclass
class RetrievalReport:
    """What one check of the mailbox did."""

    at: float
    retrieved: int = 0
    deleted: int = 0
    failure: str = ""


class MailDevice:
    """A device of `user` that checks its mailbox on `server` with a retrieval profile.

    Attributes:
        reads: the user reads what the device shows between checks: the device marks it
            \\Seen (on the server too, with IMAP, at the next check).
        idle_for: with "imap-idle", how long the device stays connected in IDLE.
        starttls: "never", "opportunistic" or "required": upgrade with STLS (POP3, RFC 2595 §4)
            or STARTTLS (IMAP, RFC 3501 §6.2.1) before logging in.
        tls: the world's PKI and whether the certificate is checked; None where no server offers TLS.
        implicit_tls: read on port 995 (POP3S) or 993 (IMAPS), where TLS starts with the first byte
            (RFC 8314 §3.3); needs `tls`.
        auth: the SASL mechanism it logs in with (POP3 AUTH, RFC 5034; IMAP AUTHENTICATE, RFC 3501
            §6.2.2); None for the plain USER/PASS or LOGIN command.
        tokens: with XOAUTH2 or OAUTHBEARER, the refresh and access tokens it holds.
    """

    def __init__(
        self, network: Network, name: str, *, user: str, password: str, server: str, profile: str,
        reads: bool = False, idle_for: float = IDLE_FOR, starttls: str = "never", tls: ClientTLS | None = None,
        implicit_tls: bool = False, auth: str | None = None, tokens: TokenHolder | None = None,
    ) -> None:  # fmt: skip
        if implicit_tls and tls is None:
            raise ValueError("implicit TLS needs a TLS configuration")
        if auth is not None and auth.upper() in TOKEN_MECHANISMS and tokens is None:
            raise ValueError(f"{auth} logs in with an OAuth 2.0 token: the device needs a TokenHolder")
        if profile not in PROFILES:
            raise ValueError(f"unknown retrieval profile {profile!r}; expected one of {', '.join(PROFILES)}")
        self.network, self.name, self.user, self.password = network, name, user, password
        self.server, self.profile, self.reads, self.idle_for = server, profile, reads, idle_for
        self.starttls, self.tls = starttls, tls  # STLS / STARTTLS before login (RFC 2595 §4, RFC 3501 §6.2.1)
        self.implicit_tls = implicit_tls
        self.auth, self.tokens = (auth.upper() if auth else None), tokens
        self.messages: dict[str, DeviceMessage] = {}  # by the server's unique id, in arrival order
        self.reports: list[RetrievalReport] = []
        self.uidvalidity: int | None = None  # IMAP: the mailbox's UIDVALIDITY the device's UIDs belong to
        self._local = 0  # numbers messages that came without a unique id

    @property
    def unread(self) -> int:
        """How many of the messages it shows are not marked \\Seen."""
        return sum(1 for m in self.messages.values() if SEEN not in m.flags)

    @property
    def protocol(self) -> str:
        return "IMAP" if self.profile.startswith("imap") else "POP3"

    @property
    def uses_token(self) -> bool:
        return self.auth in TOKEN_MECHANISMS

    def check_mail(self) -> None:
        """Connect to the mailbox server and run one session of the profile."""
        if self.reads:
            self._read_all()
        self._check(retry=False)

    def _check(self, *, retry: bool) -> None:
        """Get an access token first if the device holds none, then connect."""
        if self.tokens is not None and self.uses_token and not self.tokens.access_token:
            self.tokens.refresh(partial(self._token_ready, retry))
            return
        self._connect(retry)

    def _token_ready(self, retry: bool, ok: bool) -> None:
        if ok:
            self._connect(retry)
            return
        report = RetrievalReport(self.network.kernel.now, failure="no access token from the authorization server")
        self.reports.append(report)
        _report(self.network, self, report, "")

    def login_refused(self, retry: bool) -> None:
        """The server refused the login: with a token not yet renewed this check, renew it and try again."""
        if self.tokens is None or not self.uses_token or retry:
            return
        self.tokens.renew_refused(partial(self._token_ready, True), "logs in again")

    def _connect(self, retry: bool) -> None:
        report = RetrievalReport(self.network.kernel.now)
        self.reports.append(report)
        session: StreamSession
        if self.protocol == "IMAP":
            imap = IMAPClient(self._imap_config(), tls=self.implicit_tls, rng=self.network.rng)
            session = IMAPDeviceSession(self.network, self, imap, report, retry=retry)
            port = IMAPS_PORT if self.implicit_tls else IMAP_PORT
        else:
            pop3 = POP3Client(self._pop3_config(), tls=self.implicit_tls, rng=self.network.rng)
            session = POP3DeviceSession(self.network, self, pop3, report, retry=retry)
            port = POP3S_PORT if self.implicit_tls else POP3_PORT
        session.conn = self.network.connect(self.name, self.server, port, session, self.protocol)
        session.arm()

    def _pop3_config(self) -> ClientConfig:
        leave = self.profile == "pop3-leave-on-server"
        return ClientConfig(
            username=self.user,
            password=self.password,
            login="sasl" if self.auth else "user",
            sasl_mechanism=self.auth or "PLAIN",
            token=self._token(),
            profile="leave-on-server" if leave else "download-and-delete",
            known_uids=frozenset(self.messages) if leave else frozenset(),
            stls=self.starttls,
        )

    def _imap_config(self) -> IMAPClientConfig:
        known = {int(uid): m.flags for uid, m in self.messages.items() if uid.isdigit()}
        unread_here = {int(uid): (SEEN,) for uid, m in self.messages.items() if uid.isdigit() and m.read_here}
        return IMAPClientConfig(
            username=self.user,
            password=self.password,
            login="sasl" if self.auth else "login",
            sasl_mechanism=self.auth or "PLAIN",
            token=self._token(),
            profile="idle" if self.profile == "imap-idle" else "sync",
            uidvalidity=self.uidvalidity,
            known=known,
            set_flags=unread_here,
            starttls=self.starttls,
        )

    def _token(self) -> str:
        """The access token XOAUTH2 or OAUTHBEARER sends; "" for a login with a password."""
        return self.tokens.access_token if self.tokens is not None and self.uses_token else ""

    def _read_all(self) -> None:
        """The user has read what the device showed: \\Seen here, and on the server at the next IMAP check."""
        for uid, message in self.messages.items():
            if SEEN not in message.flags:
                self.messages[uid] = replace(message, flags=(*message.flags, SEEN), read_here=True)

    def keep(self, uid: str, content: bytes, flags: tuple[str, ...] = ()) -> None:
        """File a retrieved message on the device."""
        if not uid:
            self._local += 1
            uid = f"local-{self._local}"
        subjects = header_values(content, "Subject")
        self.messages[uid] = DeviceMessage(uid, subjects[0] if subjects else "", content, flags)

    def server_flags(self, uid: str, flags: tuple[str, ...], *, stored: bool = False) -> None:
        """IMAP told the device a message's flags on the server: show those.

        Args:
            stored: the flags are the device's own change, now on the server too.
        """
        message = self.messages.get(uid)
        if message is None:
            return
        if message.read_here and not stored:  # read here, not yet told to the server: keep showing it read
            flags = tuple(dict.fromkeys((*flags, SEEN)))
        self.messages[uid] = replace(message, flags=flags, read_here=message.read_here and not stored)

    def forget(self, uid: str) -> None:
        """The message is gone from the server (expunged by another device): IMAP removes it here too."""
        self.messages.pop(uid, None)

    def summary(self, report: RetrievalReport) -> str:
        shown, unread = len(self.messages), self.unread
        if report.failure:
            return f"{self.name} could not check mail ({report.failure}); it shows {shown} message(s)"
        if self.protocol == "IMAP":
            return f"{self.name} fetched {report.retrieved} new message(s); it shows {shown}, {unread} unread"
        where = "deleted on the server" if self.profile == "pop3-download-delete" else "left on the server"
        return f"{self.name} retrieved {report.retrieved} message(s), {where}; it now shows {shown}"


class POP3DeviceSession(StreamSession):
    """The client side of one POP3 session of a device."""

    protocol = "POP3"
    batch = CLIENT_BATCH
    timeout = RESPONSE_TIMEOUT
    timeout_note = ("No response in time: the mail program gives up and will try at its next check.", "RFC 1939 §3")
    starttls_rfc = "RFC 2595 §4"

    def __init__(
        self, network: Network, device: MailDevice, engine: POP3Client, report: RetrievalReport, *, retry: bool = False
    ) -> None:
        super().__init__(network, device.name, "client", tls=device.tls, implicit_tls=device.implicit_tls)
        self.device, self.engine, self.report = device, engine, report
        self.retry = retry  # this session logs in with a token renewed after a refusal
        self.refused = False

    def _feed(self, data: bytes) -> None:
        self.engine.receive_data(data)

    def _react(self) -> None:
        for event in self.engine.events():
            if isinstance(event, ev.MessageRetrieved):
                self.device.keep(event.uid, event.content)
                self.report.retrieved += 1
            elif isinstance(event, ev.SessionComplete):
                self.report.deleted = len(event.deleted)
            elif isinstance(event, ev.SessionFailed):
                self.report.failure = event.reason
            elif isinstance(event, ev.LoginFailed):
                self.refused = True
            elif isinstance(event, ev.TLSReady):
                self._wants_tls = True

    def _tls_started(self) -> None:
        self.engine.tls_started()

    def _tls_failed(self, reason: str) -> None:
        self.report.failure = f"TLS handshake failed: {reason}"

    def _notes(self) -> list[Note]:
        return [Note(o.data, o.summary, o.explain, o.rfc) for o in self.engine.outgoing()]

    def _engine_closed(self) -> bool:
        return self.engine.closed

    def _finished(self, reason: str) -> None:
        _report(self.network, self.device, self.report, reason)
        if self.refused:
            self.device.login_refused(self.retry)


class IMAPDeviceSession(StreamSession):
    """The client side of one IMAP session of a device: a sync, or a sync and then IDLE."""

    protocol = "IMAP"
    batch = IMAP_CLIENT_BATCH
    timeout = RESPONSE_TIMEOUT
    timeout_note = ("No response in time: the mail program gives up and will try at its next check.", "RFC 3501 §5.4")
    starttls_rfc = "RFC 3501 §6.2.1"

    def __init__(
        self, network: Network, device: MailDevice, engine: IMAPClient, report: RetrievalReport, *, retry: bool = False
    ) -> None:
        super().__init__(network, device.name, "client", tls=device.tls, implicit_tls=device.implicit_tls)
        self.device, self.engine, self.report = device, engine, report
        self.retry = retry  # this session logs in with a token renewed after a refusal
        self.refused = False
        self._stop: Timer | None = None

    def _feed(self, data: bytes) -> None:
        self.engine.receive_data(data)

    def _react(self) -> None:
        device = self.device
        for event in self.engine.events():
            if isinstance(event, imap_ev.Selected) and event.uidvalidity != device.uidvalidity:
                device.messages.clear()  # RFC 3501 §2.3.1.1: the old UIDs name nothing any more
                device.uidvalidity = event.uidvalidity
            elif isinstance(event, imap_ev.MessageFetched):
                device.keep(str(event.uid), event.content, event.flags)
                self.report.retrieved += 1
            elif isinstance(event, imap_ev.FlagsSeen):
                device.server_flags(str(event.uid), event.flags)
            elif isinstance(event, imap_ev.FlagsStored) and event.ok:
                for uid in event.uids:
                    shown = device.messages.get(str(uid))
                    if shown is not None:
                        device.server_flags(str(uid), tuple(dict.fromkeys((*shown.flags, *event.flags))), stored=True)
            elif isinstance(event, imap_ev.Expunged) and event.uid is not None:
                device.forget(str(event.uid))
            elif isinstance(event, imap_ev.SessionComplete):
                for uid in event.summary.removed:
                    device.forget(str(uid))
            elif isinstance(event, imap_ev.SessionFailed):
                self.report.failure = event.reason
            elif isinstance(event, imap_ev.LoginFailed):
                self.refused = True
            elif isinstance(event, imap_ev.TLSReady):
                self._wants_tls = True
            elif isinstance(event, imap_ev.Idling) and self._stop is None:
                self._stop = self.network.kernel.schedule(device.idle_for, self._leave)
                _report(self.network, device, self.report, "")  # what it shows once in step, before it waits

    def _restart_timer(self) -> None:
        if self.engine.state is not IMAPClientState.IDLING:
            super()._restart_timer()
        elif self._timer is not None:  # in IDLE, silence is what the device is waiting for
            self._timer.cancel()
            self._timer = None

    def _tls_started(self) -> None:
        self.engine.tls_started()

    def _tls_failed(self, reason: str) -> None:
        self.report.failure = f"TLS handshake failed: {reason}"

    def _leave(self) -> None:
        """Time to stop idling: DONE, then LOGOUT (RFC 2177 §3)."""
        self.engine.stop()
        self._pump()

    def _notes(self) -> list[Note]:
        return [Note(o.data, o.summary, o.explain, o.rfc) for o in self.engine.outgoing()]

    def _engine_closed(self) -> bool:
        return self.engine.closed

    def _finished(self, reason: str) -> None:
        if self._stop is not None:
            self._stop.cancel()
        _report(self.network, self.device, self.report, reason)
        if self.refused:
            self.device.login_refused(self.retry)


def _report(network: Network, device: MailDevice, report: RetrievalReport, reason: str) -> None:
    if reason and not report.failure:
        report.failure = reason
    rfc = _RFC[device.profile]
    network.tracer.emit(
        "retrieve", device.name, device.name, None, device.protocol, b"", device.summary(report),
        _EXPLAIN[device.profile], rfc,
    )  # fmt: skip


_RFC = {
    "pop3-download-delete": "RFC 1939 §5",
    "pop3-leave-on-server": "RFC 1939 §7",
    "imap": "RFC 3501 §6.3.1, §6.4.5",
    "imap-idle": "RFC 2177",
}


_EXPLAIN = {
    "pop3-download-delete": (
        "POP3 download-and-delete: the device keeps what it fetched and the server forgets it, so no "
        "other device of this user will ever see those messages."
    ),
    "pop3-leave-on-server": (
        "POP3 leave-on-server: the device copies only the messages whose UIDL it has not seen before; "
        "the server keeps everything, but flags and folders stay on each device."
    ),
    "imap": (
        "IMAP: the mail stays on the server; the device fetches what is new by UID, takes the server's "
        "flags for the rest and sends its own changes back, so every device of the user shows the same."
    ),
    "imap-idle": (
        "IMAP IDLE: after syncing, the device keeps the connection open and the server pushes a notice "
        "the moment new mail arrives, instead of the device asking every few minutes."
    ),
}
