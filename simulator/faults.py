"""The fault catalogue: ways to break the world on purpose, and see how mail copes.

Each fault is a small dataclass with a window in simulated time (`at`, `for`),
an optional probability (drawn from the scenario's seeded RNG, so a seed
replays the same luck) and `once` (only the next occurrence). Installed in a
world, it switches itself on and off through the kernel and writes a "fault"
trace event where it fires, saying what real-world trouble it models.

The command line and scenario files write faults as specs:

    KIND:TARGET[=VALUE][,at=SECONDS][,for=SECONDS][,p=PROBABILITY][,once]

    down:mx.example.org,at=0,for=3600       the host's mail service is down: connections refused
    crash:mx.example.org,at=0.1,for=600     the host dies mid-session (RST), back after `for`
    latency:smtp.example.com/mx.example.org=0.5   one-way link latency in seconds
    loss:smtp.example.com/mx.example.org=0.2      segment loss probability (TCP retransmits)
    partition:smtp.example.com/mx.example.org     the link is cut
    drop-after:mx.example.org=data-end      hang up after a command (connect, ehlo, mail, rcpt, data, data-end)
    silent:mx.example.org                   the server reads but never answers: the client times out
    overloaded:mx.example.org               421 to every new connection
    maxconn:mx.example.org=1                at most N connections per client, the rest get 421
    greylist:mx.example.org=300             451 for the first attempt of each (client, sender, recipient)
    diskfull:mx.example.org                 452 4.3.1 for every recipient
    mailboxfull:bob@example.org             552 5.2.2 for that recipient
    reject-sender:alice@example.com=550     refuse a sender with that code
    reject-rcpt:bob@example.org=550         refuse a recipient with that code
    dns:example.org=servfail                DNS trouble: nxdomain, servfail, nomx, or wrongmx:HOST
    strip-starttls:smtp.example.com/mx.example.org   a man in the middle hides STARTTLS (and STLS) offers
    inject-starttls:smtp.example.com/mx.example.org=bob@example.org
                                            a man in the middle appends commands to the client's STARTTLS
                                            (SMTP: a forged message to the address; POP3/IMAP: a logout)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from simulator.net.network import TCPConnection
from simulator.nodes.smtp_service import Interceptor
from simulator.protocol.smtp import events as ev
from simulator.protocol.smtp.replies import Reply
from simulator.world import World

if TYPE_CHECKING:
    from simulator.sim import HostStatus


class FaultSpecError(ValueError):
    """A fault spec that cannot be understood; the message says what was expected."""


@dataclass
class Fault(Interceptor):
    """Base: a window in time, a probability, and the bookkeeping of firing."""

    at: float = 0.0
    duration: float | None = None
    probability: float = 1.0
    once: bool = False
    active: bool = field(default=False, init=False)
    fired: int = field(default=0, init=False)
    world: World | None = field(default=None, init=False, repr=False)

    kind: ClassVar[str] = ""
    models: ClassVar[str] = ""  # what real trouble this stands for, for the learner
    rfc: ClassVar[str] = ""

    def install(self, world: World) -> None:
        """Attach to a world and schedule switching on (and off) in simulated time.

        Raises:
            FaultSpecError: the fault names a host or address this world does not have.
        """
        self.check(world)
        self.world = world
        world.faults.append(self)
        world.kernel.schedule(max(self.at - world.kernel.now, 0.0), self._switch_on)
        if self.duration is not None:
            world.kernel.schedule(max(self.at + self.duration - world.kernel.now, 0.0), self._switch_off)

    def _switch_on(self) -> None:
        self.active = True
        until = f" for {self.duration:g} s" if self.duration is not None else ""
        self._trace(f"fault: {self.describe()}{until}", self.explanation())
        self.start()

    def explanation(self) -> str:
        return self.models

    def _switch_off(self) -> None:
        if not self.active:
            return
        self.active = False
        self.stop()
        self._trace(f"fault over: {self.describe()}", "The fault's time window has ended; things are back to normal.")

    def check(self, world: World) -> None:
        """Refuse targets the world does not have, before anything is scheduled."""

    def start(self) -> None:
        """Change the world when the fault begins (state faults)."""

    def stop(self) -> None:
        """Undo start()."""

    def describe(self) -> str:
        return self.kind

    def fires(self) -> bool:
        """Whether the fault acts on this occasion: active, lucky, and not used up."""
        if not self.active or (self.once and self.fired):
            return False
        if self.probability < 1.0:
            assert self.world is not None
            if self.world.rng.random() >= self.probability:
                return False
        self.fired += 1
        return True

    def _trace(self, summary: str, explain: str, where: str = "") -> None:
        world = self.world
        assert world is not None
        node = where or self.target_node()
        world.tracer.emit("fault", node, node, None, "FAULT", b"", summary, explain, self.rfc or "smtpsim fault")

    def target_node(self) -> str:
        return ""

    def spec(self) -> str:
        """The spec that makes this fault again."""
        raise NotImplementedError


# --- hosts and links ---------------------------------------------------------------------


def _known_host(world: World, kind: str, name: str) -> None:
    if name not in world.network.hosts:
        raise FaultSpecError(f"{kind}: no host named {name!r}; hosts: {', '.join(world.network.hosts)}")


@dataclass
class _HostFault(Fault):
    """A fault on one host: it is down while the fault lasts and back up when it ends."""

    node: str = ""

    def target_node(self) -> str:
        return self.node

    def check(self, world: World) -> None:
        _known_host(world, self.kind, self.node)

    def stop(self) -> None:
        assert self.world is not None
        self.world.network.hosts[self.node].up = True

    def spec(self) -> str:
        return _spec(self.kind, self.node, None, self)


@dataclass
class NodeDown(_HostFault):
    """The host's mail service is down: new connections are refused, open sessions get 421."""

    kind: ClassVar[str] = "down"
    models: ClassVar[str] = (
        "The server's mail service is stopped (a reboot, a failed upgrade). Its TCP stack refuses new "
        "connections, so senders keep the mail queued and retry later."
    )
    rfc: ClassVar[str] = "RFC 5321 §4.5.4.1"

    def describe(self) -> str:
        return f"{self.node} is down"

    def start(self) -> None:
        assert self.world is not None
        self.world.network.hosts[self.node].up = False
        server = self.world.servers.get(self.node)
        if server is not None:
            for listener in server.listeners.values():
                for session in listener.sessions:
                    session.shutdown()


@dataclass
class Crash(_HostFault):
    """The host dies at once: every connection is reset (RST); it is back after `for` seconds."""

    kind: ClassVar[str] = "crash"
    models: ClassVar[str] = (
        "The host crashes mid-session: its connections vanish (the peers see a reset) and whatever "
        "was not yet acknowledged with 250 is lost for the sender to send again."
    )
    rfc: ClassVar[str] = "RFC 9293 §3.10.7"

    def describe(self) -> str:
        return f"{self.node} crashes"

    def start(self) -> None:
        assert self.world is not None
        self.world.network.hosts[self.node].up = False
        self.world.network.crash(self.node, "host crashed")
        if self.duration is None:  # a crash with no downtime: it reboots at once
            self.world.network.hosts[self.node].up = True


@dataclass
class _LinkFault(Fault):
    a: str = ""
    b: str = ""
    saved: float | bool | None = field(default=None, init=False)

    def target_node(self) -> str:
        return self.a

    def check(self, world: World) -> None:
        _known_host(world, self.kind, self.a)
        _known_host(world, self.kind, self.b)

    def _link_spec(self, value: str | None) -> str:
        return _spec(self.kind, f"{self.a}/{self.b}", value, self)


@dataclass
class LinkLatency(_LinkFault):
    value: float = 0.0
    kind: ClassVar[str] = "latency"
    models: ClassVar[str] = "A slow path (a congested or long-distance link): every segment takes longer to arrive."

    def describe(self) -> str:
        return f"latency {self.value:g} s between {self.a} and {self.b}"

    def start(self) -> None:
        assert self.world is not None
        link = self.world.network.link(self.a, self.b)
        self.saved, link.latency = link.latency, self.value

    def stop(self) -> None:
        assert self.world is not None and isinstance(self.saved, float)
        self.world.network.link(self.a, self.b).latency = self.saved

    def spec(self) -> str:
        return self._link_spec(f"{self.value:g}")


@dataclass
class LinkLoss(_LinkFault):
    value: float = 0.0
    kind: ClassVar[str] = "loss"
    models: ClassVar[str] = "A lossy link: TCP notices missing segments and retransmits them, so data arrives late."
    rfc: ClassVar[str] = "RFC 6298"

    def describe(self) -> str:
        return f"{self.value:.0%} loss between {self.a} and {self.b}"

    def start(self) -> None:
        assert self.world is not None
        link = self.world.network.link(self.a, self.b)
        self.saved, link.loss = link.loss, self.value

    def stop(self) -> None:
        assert self.world is not None and isinstance(self.saved, float)
        self.world.network.link(self.a, self.b).loss = self.saved

    def spec(self) -> str:
        return self._link_spec(f"{self.value:g}")


@dataclass
class Partition(_LinkFault):
    kind: ClassVar[str] = "partition"
    models: ClassVar[str] = (
        "The network path is cut: nothing gets through. Connections hang until a timeout, and new ones fail."
    )

    def describe(self) -> str:
        return f"{self.a} and {self.b} cannot reach each other"

    def start(self) -> None:
        assert self.world is not None
        self.world.network.link(self.a, self.b).up = False

    def stop(self) -> None:
        assert self.world is not None
        self.world.network.link(self.a, self.b).up = True

    def spec(self) -> str:
        return self._link_spec(None)


# --- a man in the middle ---------------------------------------------------------------------

# What a downgrade box writes over the offer: as many X as the keyword has letters, so
# that lengths (and TCP sequence numbers) stay as they were, as real boxes do.
STRIPPED_OFFERS: dict[str, tuple[bytes, ...]] = {
    "SMTP": (b"250-STARTTLS\r\n", b"250 STARTTLS\r\n"),  # RFC 3207 §4: an EHLO keyword
    "POP3": (b"\r\nSTLS\r\n",),  # RFC 2595 §4: a CAPA line
    "IMAP": (b" STARTTLS",),  # RFC 3501 §6.2.1: a capability
}


@dataclass
class _ManInTheMiddle(_LinkFault):
    """A box on the link that rewrites what crosses it (installed into the network as a middlebox)."""

    def install(self, world: World) -> None:
        super().install(world)
        world.network.middleboxes.append(self)

    def rewrite(self, conn: TCPConnection, side: str, data: bytes) -> bytes:
        if not self.active or frozenset((conn.client, conn.server)) != frozenset((self.a, self.b)):
            return data
        return self.tamper(conn, side, data)

    def tamper(self, conn: TCPConnection, side: str, data: bytes) -> bytes:
        raise NotImplementedError


@dataclass
class StripSTARTTLS(_ManInTheMiddle):
    """Overwrites the server's STARTTLS (or STLS) offer, so that an opportunistic client stays in clear text."""

    kind: ClassVar[str] = "strip-starttls"
    models: ClassVar[str] = (
        "A man in the middle on the path (a hostile network, a misguided firewall) overwrites the STARTTLS "
        "offer in the server's EHLO reply. A client that only encrypts when offered (opportunistic TLS) "
        "carries on in clear text, and everything it sends can be read and changed on the way."
    )
    rfc: ClassVar[str] = "RFC 3207 §6; RFC 7435 §1; RFC 8461 §1"

    def describe(self) -> str:
        return f"a man in the middle between {self.a} and {self.b} strips STARTTLS"

    def tamper(self, conn: TCPConnection, side: str, data: bytes) -> bytes:
        if side != "server":
            return data
        for offer in STRIPPED_OFFERS.get(conn.protocol, ()):
            if offer in data and self.fires():
                keyword = offer.strip(b"\r\n ").removeprefix(b"250-").removeprefix(b"250 ")
                data = data.replace(keyword, b"X" * len(keyword))
                self._trace(
                    f"fault: the man in the middle overwrites {keyword.decode()} in {conn.server}'s reply to "
                    f"{conn.client}",
                    f"{conn.server} offered {keyword.decode()}, but what reaches {conn.client} says "
                    f"{'X' * len(keyword)}: the client cannot tell the offer was ever there. " + self.models,
                    conn.server,
                )
        return data

    def spec(self) -> str:
        return self._link_spec(None)


STARTTLS_COMMANDS: dict[str, bytes] = {"SMTP": b"STARTTLS\r\n", "POP3": b"STLS\r\n", "IMAP": b" STARTTLS\r\n"}


@dataclass
class InjectAfterSTARTTLS(_ManInTheMiddle):
    """Appends clear-text commands to the client's STARTTLS write (the CVE-2011-0411 attack)."""

    recipient: str = ""
    kind: ClassVar[str] = "inject-starttls"
    models: ClassVar[str] = (
        "A man in the middle appends commands of its own to the client's STARTTLS, in the same packet. A "
        "careful server throws away everything that came in clear text after STARTTLS; a vulnerable one "
        "(CVE-2011-0411) keeps it and runs it once TLS is up, as if the client had sent it encrypted."
    )
    rfc: ClassVar[str] = "RFC 3207 §4.2; RFC 2595 §4; RFC 3501 §6.2.1; CVE-2011-0411"

    def describe(self) -> str:
        return f"a man in the middle between {self.a} and {self.b} injects commands after STARTTLS"

    def payload(self, protocol: str, tag: bytes) -> bytes:
        """What the attacker appends: SMTP a forged message, POP3 and IMAP a logout."""
        if protocol == "SMTP":
            to = self.recipient or "postmaster"
            return (
                f"EHLO {self.a}\r\nMAIL FROM:<ceo@{self.a.partition('.')[2] or self.a}>\r\n"
                f"RCPT TO:<{to}>\r\nDATA\r\n"
                f"From: The CEO <ceo@{self.a.partition('.')[2] or self.a}>\r\nTo: <{to}>\r\n"
                "Subject: Injected before TLS\r\nMessage-ID: <injected@attacker.example>\r\n\r\n"
                "Please wire the money today. (These lines were sent in clear text.)\r\n.\r\n"
            ).encode()
        if protocol == "POP3":
            return b"QUIT\r\n"
        return tag + b"X LOGOUT\r\n"

    def tamper(self, conn: TCPConnection, side: str, data: bytes) -> bytes:
        command = STARTTLS_COMMANDS.get(conn.protocol)
        if side != "client" or command is None or not data.endswith(command) or not self.fires():
            return data
        tag = data[: -len(command)] if conn.protocol == "IMAP" else b""
        injected = self.payload(conn.protocol, tag)
        self._trace(
            f"fault: the man in the middle appends {len(injected)} octets of commands to {conn.client}'s "
            f"{command.strip().decode()}",
            self.models + f" Injected: {injected.decode(errors='replace').splitlines()[:2]}...",
            conn.client,
        )
        return data + injected

    def spec(self) -> str:
        return self._link_spec(self.recipient or None)


# --- server behaviour ---------------------------------------------------------------------


@dataclass
class _ServerFault(Fault):
    """A fault that acts through the interceptor hooks of a server's SMTP services."""

    node: str = ""

    def target_node(self) -> str:
        return self.node

    def check(self, world: World) -> None:
        if self.node not in world.servers:
            raise FaultSpecError(
                f"{self.kind}: no mail server named {self.node!r}; mail servers: {', '.join(world.servers)}"
            )

    def install(self, world: World) -> None:
        super().install(world)
        for listener in world.servers[self.node].listeners.values():
            listener.service.interceptors.append(self)

    def spec(self) -> str:
        return _spec(self.kind, self.node, self.value_text(), self)

    def value_text(self) -> str | None:
        return None


DROP_POINTS: dict[str, type[ev.Event]] = {
    "ehlo": ev.Ehlo,
    "mail": ev.MailFrom,
    "rcpt": ev.RcptTo,
    "data": ev.Data,
    "data-end": ev.DataComplete,
}


@dataclass
class DropAfter(_ServerFault):
    """The connection dies right after a command is processed, before its reply leaves."""

    after: str = "data-end"
    kind: ClassVar[str] = "drop-after"
    models: ClassVar[str] = "The connection breaks at an unlucky moment."
    rfc: ClassVar[str] = "RFC 1047; RFC 5321 §4.1.1.4"

    def describe(self) -> str:
        return f"{self.node} drops the connection after {self.after}"

    def drop_after(self, server: str, event: ev.Event) -> bool:
        if server != self.node or not isinstance(event, DROP_POINTS[self.after]) or not self.fires():
            return False
        if self.after == "data-end":
            why = (
                "The server stored the message and was about to say 250 when the connection broke. The "
                "sender never hears the 250, so it will send the message again: a duplicate (RFC 1047)."
            )
        else:
            why = f"The connection breaks right after {self.after.upper()}; the sender retries later."
        self._trace(f"fault: {self.node} loses the connection after {self.after}", why)
        return True

    def value_text(self) -> str | None:
        return self.after


@dataclass
class Silent(_ServerFault):
    kind: ClassVar[str] = "silent"
    models: ClassVar[str] = (
        "The server accepts connections but stops answering (hung process, overloaded disk). The client "
        "waits for the RFC's timeout, gives up and retries later."
    )
    rfc: ClassVar[str] = "RFC 5321 §4.5.3.2"

    def describe(self) -> str:
        return f"{self.node} stops answering"

    def mute(self, server: str) -> bool:
        return server == self.node and self.active


@dataclass
class Overloaded(_ServerFault):
    kind: ClassVar[str] = "overloaded"
    models: ClassVar[str] = "The server is too busy: it answers new connections with 421 and closes them."
    rfc: ClassVar[str] = "RFC 5321 §3.8, §4.2.3"

    def describe(self) -> str:
        return f"{self.node} is overloaded"

    def on_connect(self, server: str, peer: tuple[str, str], open_from_peer: int) -> Reply | None:
        if server != self.node or not self.fires():
            return None
        return Reply(
            421, "4.3.2", (f"{server} Service currently unavailable",),
            "The server is overloaded and sends the client away; it will try again later.", self.rfc,
        )  # fmt: skip


@dataclass
class MaxConnections(_ServerFault):
    limit: int = 1
    kind: ClassVar[str] = "maxconn"
    models: ClassVar[str] = (
        "Rate limiting: the server allows each client only so many simultaneous connections "
        "(Postfix smtpd_client_connection_count_limit); the rest are turned away with 421."
    )
    rfc: ClassVar[str] = "RFC 5321 §4.2.3"

    def describe(self) -> str:
        return f"{self.node} allows {self.limit} connection(s) per client"

    def on_connect(self, server: str, peer: tuple[str, str], open_from_peer: int) -> Reply | None:
        if server != self.node or open_from_peer <= self.limit or self._superseded() or not self.fires():
            return None
        self._trace(
            f"fault: {server} refuses a connection from {peer[1]} ({open_from_peer} open, limit {self.limit})",
            self.models,
        )
        return Reply(
            421, "4.7.0", (f"{server} Error: too many connections from {peer[1]}",),
            "Too many connections from this client at once; it must wait and try again.", self.rfc,
        )  # fmt: skip

    def value_text(self) -> str | None:
        return str(self.limit)

    def _superseded(self) -> bool:
        """A limit set later on the same host replaces this one while it lasts, as a changed setting would."""
        assert self.world is not None
        later = self.world.faults[self.world.faults.index(self) + 1 :]
        return any(isinstance(f, MaxConnections) and f.node == self.node and f.active for f in later)


@dataclass
class Greylist(_ServerFault):
    """451 for the first attempt of each (client IP, sender, recipient) triplet, as postgrey does."""

    delay: float = 300.0
    seen: dict[tuple[str, str, str], float] = field(default_factory=dict, init=False)
    kind: ClassVar[str] = "greylist"
    models: ClassVar[str] = (
        "Greylisting: an unknown (client, sender, recipient) triplet is refused with a temporary error. "
        "A real MTA retries and is let through; much spamware never comes back."
    )
    rfc: ClassVar[str] = "RFC 6647"

    def describe(self) -> str:
        return f"{self.node} greylists new senders for {self.delay:g} s"

    def on_rcpt(self, server: str, peer: tuple[str, str], sender: str, recipient: str) -> Reply | None:
        if server != self.node or not self.active:
            return None
        assert self.world is not None
        now = self.world.kernel.now
        triplet = (peer[1], sender.lower(), recipient.lower())
        first = self.seen.setdefault(triplet, now)
        if now - first >= self.delay or not self.fires():
            return None
        self._trace(f"fault: {server} greylists {sender or '<>'} -> {recipient}", self.models)
        text = f"<{recipient}>: Recipient address rejected: Greylisted, try again in {self.delay:g} seconds"
        return Reply(
            451, "4.7.1", (text,),
            "Greylisted: a temporary refusal of a first attempt. Retry later and it will be accepted.", self.rfc,
        )  # fmt: skip

    def value_text(self) -> str | None:
        return f"{self.delay:g}"


@dataclass
class DiskFull(_ServerFault):
    kind: ClassVar[str] = "diskfull"
    models: ClassVar[str] = "The server's queue disk is full: it refuses new mail for now (Postfix queue_minfree)."
    rfc: ClassVar[str] = "RFC 5321 §4.2.3; RFC 3463 (X.3.1)"

    def describe(self) -> str:
        return f"{self.node}'s disk is full"

    def on_rcpt(self, server: str, peer: tuple[str, str], sender: str, recipient: str) -> Reply | None:
        if server != self.node or not self.fires():
            return None
        return Reply(
            452, "4.3.1", ("Insufficient system storage",),
            "The server has no room for the message right now; the sender keeps it and retries.", self.rfc,
        )  # fmt: skip


@dataclass
class _AddressFault(_ServerFault):
    """A fault on one address, acting at whichever server handles it."""

    address: str = ""

    def check(self, world: World) -> None:
        domain = self.address.rpartition("@")[2].lower()
        if not any(domain in s.local_domains for s in world.servers.values()):
            raise FaultSpecError(f"{self.kind}: no mail server in this world holds mail for {self.address!r}")

    def install(self, world: World) -> None:
        Fault.install(self, world)
        for server in world.servers.values():
            for listener in server.listeners.values():
                listener.service.interceptors.append(self)

    def target_node(self) -> str:
        assert self.world is not None
        domain = self.address.rpartition("@")[2].lower()
        return next((n for n, s in self.world.servers.items() if domain in s.local_domains), "")

    def spec(self) -> str:
        return _spec(self.kind, self.address, self.value_text(), self)


@dataclass
class MailboxFull(_AddressFault):
    kind: ClassVar[str] = "mailboxfull"
    models: ClassVar[str] = "The recipient's mailbox is over its quota: mail for them is refused."
    rfc: ClassVar[str] = "RFC 3463 (X.2.2)"

    def describe(self) -> str:
        return f"{self.address}'s mailbox is full"

    def on_rcpt(self, server: str, peer: tuple[str, str], sender: str, recipient: str) -> Reply | None:
        if recipient.lower() != self.address.lower() or server != self.target_node() or not self.fires():
            return None
        return Reply(
            552, "5.2.2", (f"<{recipient}>: Recipient address rejected: Mailbox full",),
            "The recipient's mailbox is full; this is reported as permanent, so the sender gets a bounce.",
            self.rfc,
        )  # fmt: skip


@dataclass
class RejectSender(_AddressFault):
    code: int = 550
    kind: ClassVar[str] = "reject-sender"
    models: ClassVar[str] = "A policy that refuses mail from this sender (a block list, a reputation check)."
    rfc: ClassVar[str] = "RFC 5321 §4.2.3"

    def describe(self) -> str:
        return f"mail from {self.address} is refused with {self.code}"

    def target_node(self) -> str:
        return ""  # any receiving server

    def on_mail(self, server: str, peer: tuple[str, str], sender: str) -> Reply | None:
        # Acts at the servers that receive this sender's mail, not at its own MSA.
        assert self.world is not None
        home = self.world.servers.get(server)
        own = home is not None and sender.rpartition("@")[2].lower() in home.local_domains
        if sender.lower() != self.address.lower() or own or not self.fires():
            return None
        enhanced, text = ("4.7.1", "try again later") if self.code < 500 else ("5.7.1", "Access denied")
        return Reply(
            self.code, enhanced, (f"<{sender}>: Sender address rejected: {text}",),
            "A policy refuses this sender.", self.rfc,
        )  # fmt: skip

    def value_text(self) -> str | None:
        return str(self.code)


@dataclass
class RejectRecipient(_AddressFault):
    code: int = 550
    kind: ClassVar[str] = "reject-rcpt"
    models: ClassVar[str] = "A policy that refuses mail to this recipient."
    rfc: ClassVar[str] = "RFC 5321 §4.2.3"

    def describe(self) -> str:
        return f"mail to {self.address} is refused with {self.code}"

    def on_rcpt(self, server: str, peer: tuple[str, str], sender: str, recipient: str) -> Reply | None:
        # Acts where the recipient's mail is received, not at the sender's own MSA.
        if recipient.lower() != self.address.lower() or server != self.target_node() or not self.fires():
            return None
        enhanced, text = ("4.7.1", "try again later") if self.code < 500 else ("5.7.1", "Access denied")
        return Reply(
            self.code, enhanced, (f"<{recipient}>: Recipient address rejected: {text}",),
            "A policy refuses this recipient.", self.rfc,
        )  # fmt: skip

    def value_text(self) -> str | None:
        return str(self.code)


# --- DNS ----------------------------------------------------------------------------------

DNS_KINDS = ("nxdomain", "servfail", "nomx", "wrongmx")


@dataclass
class DNSFault(Fault):
    domain: str = ""
    problem: str = "servfail"
    wrong_host: str = ""
    kind: ClassVar[str] = "dns"
    models: ClassVar[str] = (
        "DNS trouble for a domain: it does not exist (nxdomain), its name servers fail (servfail), it has no MX "
        "(nomx), or its MX names the wrong host (wrongmx)."
    )
    rfc: ClassVar[str] = "RFC 5321 §5.1; RFC 1035"

    @property
    def models_text(self) -> str:
        return {
            "nxdomain": "DNS says the domain does not exist: mail for it bounces at once.",
            "servfail": "The domain's name servers fail: senders cannot find the MX and retry later.",
            "nomx": "The domain has no MX records: senders fall back to the domain's own address record.",
            "wrongmx": "The MX record points at the wrong host: mail goes where it should not.",
        }[self.problem]

    def describe(self) -> str:
        extra = f" -> {self.wrong_host}" if self.problem == "wrongmx" else ""
        return f"DNS {self.problem} for {self.domain}{extra}"

    def target_node(self) -> str:
        assert self.world is not None
        return next((h for h in self.world.network.hosts if h.startswith("ns.")), self.domain)

    def explanation(self) -> str:
        return self.models_text

    def start(self) -> None:
        assert self.world is not None
        for server in self.world.servers.values():
            # Otherwise cached answers would hide the fault for up to a TTL (an hour).
            server.resolver.cache.clear()
        db = self.world.dns_db
        if self.problem in ("nxdomain", "servfail"):
            db.set_failure(self.domain, self.problem.upper())
        elif self.problem == "nomx":
            db.override_mx(self.domain, [])
        else:
            db.override_mx(self.domain, [(10, self.wrong_host)])

    def stop(self) -> None:
        assert self.world is not None
        if self.problem in ("nxdomain", "servfail"):
            self.world.dns_db.clear_failure(self.domain)
        else:
            self.world.dns_db.clear_override(self.domain)

    def spec(self) -> str:
        value = f"wrongmx:{self.wrong_host}" if self.problem == "wrongmx" else self.problem
        return _spec("dns", self.domain, value, self)


# --- the spec grammar -------------------------------------------------------------------------

GRAMMAR = "KIND:TARGET[=VALUE][,at=SECONDS][,for=SECONDS][,p=PROBABILITY][,once]"
KINDS = (
    "down", "crash", "latency", "loss", "partition", "drop-after", "silent", "overloaded", "maxconn",
    "greylist", "diskfull", "mailboxfull", "reject-sender", "reject-rcpt", "dns", "strip-starttls",
    "inject-starttls",
)  # fmt: skip


def _spec(kind: str, target: str, value: str | None, fault: Fault) -> str:
    text = f"{kind}:{target}" + (f"={value}" if value is not None else "")
    if fault.at:
        text += f",at={fault.at:g}"
    if fault.duration is not None:
        text += f",for={fault.duration:g}"
    if fault.probability < 1.0:
        text += f",p={fault.probability:g}"
    if fault.once:
        text += ",once"
    return text


def _number(text: str, what: str, spec: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise FaultSpecError(f"fault {spec!r}: {what} must be a number, got {text!r}") from None
    if value < 0:
        raise FaultSpecError(f"fault {spec!r}: {what} must not be negative, got {text!r}")
    return value


def parse(spec: str) -> Fault:
    """Read a fault spec (grammar in the module docstring); FaultSpecError says what was expected."""
    head, *options = [part.strip() for part in spec.split(",")]
    kind, colon, rest = head.partition(":")
    kind = kind.strip().lower()
    if kind not in KINDS:
        raise FaultSpecError(f"fault {spec!r}: unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
    target, eq, value = rest.partition("=")
    if not colon or not target:
        raise FaultSpecError(f"fault {spec!r}: expected {GRAMMAR}")
    common: dict[str, float | bool | None] = {"at": 0.0, "duration": None, "probability": 1.0, "once": False}
    for option in options:
        name, _, text = option.partition("=")
        if name == "at":
            common["at"] = _number(text, "at", spec)
        elif name == "for":
            common["duration"] = _number(text, "for", spec)
        elif name == "p":
            p = _number(text, "p", spec)
            if p > 1:
                raise FaultSpecError(f"fault {spec!r}: p is a probability from 0 to 1, got {text!r}")
            common["probability"] = p
        elif option == "once":
            common["once"] = True
        else:
            raise FaultSpecError(f"fault {spec!r}: unknown option {option!r}; expected at=, for=, p= or once")
    fault = _make(kind, target, value if eq else None, spec)
    fault.at = float(common["at"] or 0.0)
    fault.duration = None if common["duration"] is None else float(common["duration"])
    fault.probability = float(common["probability"] if common["probability"] is not None else 1.0)
    fault.once = bool(common["once"])
    return fault


def _make(kind: str, target: str, value: str | None, spec: str) -> Fault:
    def need_value(what: str) -> str:
        if value is None:
            raise FaultSpecError(f"fault {spec!r}: {kind} needs ={what}")
        return value

    if kind in ("latency", "loss", "partition", "strip-starttls", "inject-starttls"):
        a, slash, b = target.partition("/")
        if not slash or not a or not b:
            raise FaultSpecError(f"fault {spec!r}: {kind} names a link as HOST/HOST")
        if kind == "strip-starttls":
            return StripSTARTTLS(a=a, b=b)
        if kind == "inject-starttls":
            return InjectAfterSTARTTLS(a=a, b=b, recipient=value or "")
        if kind == "partition":
            return Partition(a=a, b=b)
        number = _number(need_value("NUMBER"), kind, spec)
        if kind == "loss" and number > 1:
            raise FaultSpecError(f"fault {spec!r}: loss is a probability from 0 to 1")
        return LinkLatency(a=a, b=b, value=number) if kind == "latency" else LinkLoss(a=a, b=b, value=number)
    if kind == "down":
        return NodeDown(node=target)
    if kind == "crash":
        return Crash(node=target)
    if kind == "drop-after":
        point = (value or "data-end").lower()
        if point not in DROP_POINTS:
            raise FaultSpecError(f"fault {spec!r}: drop-after takes one of {', '.join(DROP_POINTS)}")
        return DropAfter(node=target, after=point)
    if kind == "silent":
        return Silent(node=target)
    if kind == "overloaded":
        return Overloaded(node=target)
    if kind == "maxconn":
        return MaxConnections(node=target, limit=int(_number(need_value("N"), "maxconn", spec)))
    if kind == "greylist":
        return Greylist(node=target, delay=_number(value, "greylist delay", spec) if value else 300.0)
    if kind == "diskfull":
        return DiskFull(node=target)
    if kind == "mailboxfull":
        return MailboxFull(address=target)
    if kind in ("reject-sender", "reject-rcpt"):
        code = int(_number(need_value("CODE"), "code", spec))
        if not 400 <= code <= 599:
            raise FaultSpecError(f"fault {spec!r}: the code must be a 4xx or 5xx reply code")
        return (
            RejectSender(address=target, code=code)
            if kind == "reject-sender"
            else RejectRecipient(address=target, code=code)
        )
    # dns
    problem, _, host = need_value("nxdomain|servfail|nomx|wrongmx:HOST").lower().partition(":")
    if problem not in DNS_KINDS or (problem == "wrongmx") != bool(host):
        raise FaultSpecError(f"fault {spec!r}: dns takes =nxdomain, =servfail, =nomx or =wrongmx:HOST")
    return DNSFault(domain=target, problem=problem, wrong_host=host)


def kinds() -> dict[str, str]:
    """Each fault kind with what real trouble it models, from the catalogue's own classes (front ends list them)."""
    found: dict[str, str] = {}
    pending: list[type[Fault]] = [Fault]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.kind:
            found.setdefault(cls.kind, cls.models)
    return {kind: found.get(kind, "") for kind in KINDS}


def examples(hosts: Sequence[HostStatus], addresses: Sequence[str]) -> list[str]:
    """One ready-to-edit spec per fault kind, naming this world's hosts and users."""
    servers = [h.name for h in hosts if h.role == "mail-server"] or [h.name for h in hosts]
    mx, relay = servers[-1], servers[0]
    link = f"{relay}/{mx}"
    rcpt = addresses[-1] if addresses else "bob@example.org"
    sender = addresses[0] if addresses else "alice@example.com"
    domain = rcpt.rpartition("@")[2]
    return [
        f"down:{mx},for=3600", f"crash:{mx},for=600", f"latency:{link}=0.5", f"loss:{link}=0.2",
        f"partition:{link},for=600", f"drop-after:{mx}=data-end", f"silent:{mx}", f"overloaded:{mx}",
        f"maxconn:{mx}=1", f"greylist:{mx}=300", f"diskfull:{mx}", f"mailboxfull:{rcpt}",
        f"reject-sender:{sender}=550", f"reject-rcpt:{rcpt}=550", f"dns:{domain}=servfail",
        f"strip-starttls:{link}", f"inject-starttls:{link}={rcpt}",
    ]  # fmt: skip
