"""A user's device reading mail: a phone or a laptop with a retrieval profile.

The profile is the lesson. POP3 download-and-delete moves each message onto the
one device that fetched it (RFC 1939 §5: the maildrop is a queue to empty);
POP3 leave-on-server copies what the device has not seen, remembered by UIDL
(RFC 1939 §7). What the device shows afterwards is in `messages`, so a learner
can put two devices of one user side by side.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from simulator.mail.headers import header_values
from simulator.net.network import Network
from simulator.net.record import Note
from simulator.nodes.pop3_service import POP3_PORT
from simulator.nodes.stream import StreamSession
from simulator.protocol.pop3 import events as ev
from simulator.protocol.pop3.client import ClientConfig, POP3Client

PROFILES = ("pop3-download-delete", "pop3-leave-on-server")
CLIENT_BATCH = ("Several commands in one write: the server offered PIPELINING.", "RFC 2449 §6.6")
# How long the device waits for each response before it gives up on the server.
RESPONSE_TIMEOUT = 120.0


@dataclass(frozen=True)
class DeviceMessage:
    """A message as a device shows it."""

    uid: str  # the server's unique id for it (UIDL), or "" if the server gave none
    subject: str
    content: bytes = field(repr=False)


@dataclass
class RetrievalReport:
    """What one check of the mailbox did."""

    at: float
    retrieved: int = 0
    deleted: int = 0
    failure: str = ""


class MailDevice:
    """A device of `user` that checks its mailbox on `server` with a retrieval profile."""

    def __init__(self, network: Network, name: str, *, user: str, password: str, server: str, profile: str) -> None:
        if profile not in PROFILES:
            raise ValueError(f"unknown retrieval profile {profile!r}; expected one of {', '.join(PROFILES)}")
        self.network, self.name, self.user, self.password = network, name, user, password
        self.server, self.profile = server, profile
        self.messages: dict[str, DeviceMessage] = {}  # by the server's unique id, in arrival order
        self.reports: list[RetrievalReport] = []
        self._local = 0  # numbers messages that came without a unique id

    def check_mail(self) -> None:
        """Connect to the mailbox server and run one session of the profile."""
        leave = self.profile == "pop3-leave-on-server"
        config = ClientConfig(
            username=self.user,
            password=self.password,
            profile="leave-on-server" if leave else "download-and-delete",
            known_uids=frozenset(self.messages) if leave else frozenset(),
        )
        report = RetrievalReport(self.network.kernel.now)
        self.reports.append(report)
        session = POP3DeviceSession(self.network, self, POP3Client(config), report)
        session.conn = self.network.connect(self.name, self.server, POP3_PORT, session, "POP3")
        session.arm()

    def keep(self, uid: str, content: bytes) -> None:
        """File a retrieved message on the device."""
        if not uid:
            self._local += 1
            uid = f"local-{self._local}"
        subjects = header_values(content, "Subject")
        self.messages[uid] = DeviceMessage(uid, subjects[0] if subjects else "", content)

    def summary(self, report: RetrievalReport) -> str:
        shown = len(self.messages)
        if report.failure:
            return f"{self.name} could not check mail ({report.failure}); it shows {shown} message(s)"
        where = "deleted on the server" if self.profile == "pop3-download-delete" else "left on the server"
        return f"{self.name} retrieved {report.retrieved} message(s), {where}; it now shows {shown}"


class POP3DeviceSession(StreamSession):
    """The client side of one POP3 session of a device."""

    protocol = "POP3"
    batch = CLIENT_BATCH
    timeout = RESPONSE_TIMEOUT
    timeout_note = ("No response in time: the mail program gives up and will try at its next check.", "RFC 1939 §3")

    def __init__(self, network: Network, device: MailDevice, engine: POP3Client, report: RetrievalReport) -> None:
        super().__init__(network, device.name, "client")
        self.device, self.engine, self.report = device, engine, report

    def arm(self) -> None:
        """Start the response timer, which also bounds the connect."""
        self._restart_timer()

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

    def _notes(self) -> list[Note]:
        return [Note(o.data, o.summary, o.explain, o.rfc) for o in self.engine.outgoing()]

    def _engine_closed(self) -> bool:
        return self.engine.closed

    def _finished(self, reason: str) -> None:
        if reason and not self.report.failure:
            self.report.failure = reason
        rfc = "RFC 1939 §5" if self.device.profile == "pop3-download-delete" else "RFC 1939 §7"
        self.network.tracer.emit(
            "retrieve", self.device.name, self.device.name, None, "POP3", b"", self.device.summary(self.report),
            _EXPLAIN[self.device.profile], rfc,
        )  # fmt: skip


_EXPLAIN = {
    "pop3-download-delete": (
        "POP3 download-and-delete: the device keeps what it fetched and the server forgets it, so no "
        "other device of this user will ever see those messages."
    ),
    "pop3-leave-on-server": (
        "POP3 leave-on-server: the device copies only the messages whose UIDL it has not seen before; "
        "the server keeps everything, but flags and folders stay on each device."
    ),
}
