"""Play the client: a learner types SMTP, POP3 or IMAP lines by hand to a server of the world.

As with telnet, the learner opens a connection to a server and port, types one line
at a time (CRLF is added), and reads what the server answers. The connection is an
ordinary simulated one, from the host `console.localhost`, so it appears in the trace,
the transcript and the sequence diagram like any other, and the server treats it like
any other client.

    console = Console(sim, "mx.example.org", 25)
    console.connect()                    # the trace events up to the 220 greeting
    console.send("EHLO console.localhost")
    console.expects().text               # "READY (...): MAIL FROM, STARTTLS; also EHLO, ..., QUIT"

The world keeps what the connection needs (`World.consoles`), and every open and every
line goes through `Simulation.act`, so that back() replays them at the same simulated
times: stepping back over a typed line undoes it. Implicit-TLS ports are not offered: a
person cannot type TLS.
"""

from __future__ import annotations

import string
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from functools import partial
from typing import TYPE_CHECKING

from simulator.net.network import Network, TCPConnection
from simulator.net.record import Note
from simulator.nodes.smtp_session import CLIENT_BATCH
from simulator.protocol.imap import commands as imap_commands
from simulator.protocol.imap import state as imap_state
from simulator.protocol.pop3 import commands as pop3_commands
from simulator.protocol.pop3 import events as pop3_ev
from simulator.protocol.pop3 import state as pop3_state
from simulator.protocol.smtp import commands as smtp_commands
from simulator.protocol.smtp import events as smtp_ev
from simulator.protocol.smtp import state as smtp_state
from simulator.trace import TraceEvent

if TYPE_CHECKING:
    from simulator.sim import Simulation
    from simulator.world import World

CONSOLE_HOST = "console.localhost"
# The console host's address: the first of these (TEST-NET-3, RFC 5737) that no host of the world has.
CONSOLE_ADDRESSES = tuple(f"203.0.113.{n}" for n in range(250, 199, -1))
# The ports a person can type to, and what is spoken there. 465, 993 and 995 start with TLS.
PORTS = {25: "SMTP", 587: "SMTP", 110: "POP3", 143: "IMAP"}
IMPLICIT_TLS_PORTS = frozenset({465, 993, 995})
# How long the console waits for an answer, in simulated seconds: beyond Postfix's greeting
# delays and a tarpit's pauses, well within every idle timeout (SMTP's is 5 minutes).
REPLY_WAIT = 60.0
# The world runs in slices while the console waits; a slice with nothing new on the
# connection, once an answer is in, means the server has said all it will say.
SLICE = 0.05
LINE_SUMMARY = 120
# What an IMAP tag may be made of: ASTRING-CHAR without "+" (RFC 3501 §9).
TAG_CHARACTERS = frozenset(string.ascii_letters + string.digits + "!#$&',-./:;<=>?@[]^_`|~")


class ConsoleError(Exception):
    """What the learner asked for cannot be done (no such server or port, the connection is closed)."""


@dataclass(frozen=True)
class Service:
    """A port of a mail server that a learner may type to."""

    host: str
    port: int
    protocol: str  # "SMTP", "POP3" or "IMAP"

    @property
    def label(self) -> str:
        return f"{self.host} port {self.port} ({self.protocol})"


@dataclass(frozen=True)
class Expectation:
    """What the server accepts next, read off its protocol state and that protocol's state table.

    Attributes:
        state: the state's name in the table ("READY", "TRANSACTION", "SELECTED"...).
        meaning: what the state means, for a learner.
        verbs: the commands that move the session on, in the order a session uses them.
        also: the commands also legal here that leave the state as it is (or end the session).
        other: what else the server waits for, where it is not a command ("the message lines...").
    """

    state: str
    meaning: str
    verbs: tuple[str, ...] = ()
    also: tuple[str, ...] = ()
    other: str = ""

    @property
    def text(self) -> str:
        """One line for a hint bar."""
        parts = [", ".join(v.rstrip(":") for v in self.verbs)] if self.verbs else []
        if self.other:
            parts.append(self.other)
        if self.also:
            parts.append("also " + ", ".join(v.rstrip(":") for v in self.also))
        return f"{self.state} ({self.meaning}): " + ("; ".join(parts) or "nothing more")


@dataclass
class ConsoleEndpoint:
    """The typing client's end of one connection; it lives in the world, so it is checkpointed with it.

    It reads nothing itself (the replies are in the trace) and, like telnet, closes its
    side when the server closes its own.
    """

    network: Network
    conn: TCPConnection | None = None
    lost: str = ""  # why the connection ended, when it did ("" while it lasts or after an orderly close)

    @property
    def over(self) -> bool:
        """The connection was refused, reset or closed (or never got through)."""
        return bool(self.lost) or (self.conn is not None and self.conn.state == "CLOSED")

    def dial(self, host: str, port: int, protocol: str) -> None:
        self.conn = self.network.connect(CONSOLE_HOST, host, port, self, protocol)

    def connection_made(self, conn: TCPConnection, side: str) -> None:
        self.conn = conn

    def data_received(self, data: bytes) -> None:
        """The server's bytes: the trace already holds them, with what they mean."""

    def eof_received(self) -> None:
        if self.conn is not None:
            self.network.close(self.conn, "client")

    def connection_lost(self, reason: str) -> None:
        self.lost = reason

    def write(self, note: Note) -> None:
        """One line the learner typed, on the wire as one write."""
        if self.conn is not None and self.conn.open and not self.conn.sides["client"].fin_sent:
            self.network.send(self.conn, "client", [note], CLIENT_BATCH)

    def hang_up(self) -> None:
        if self.conn is not None:
            self.network.close(self.conn, "client")


# --- what happens in the world (through Simulation.act, so back() replays it) -------------


def _open(number: int, service: Service, at: float, world: World) -> None:
    """Add the console host if the world has none, and dial the service at simulated time `at`."""
    network = world.network
    if CONSOLE_HOST not in network.hosts:
        used = {host.ip for host in network.hosts.values()}
        network.add_host(CONSOLE_HOST, next(ip for ip in CONSOLE_ADDRESSES if ip not in used))
    endpoint = ConsoleEndpoint(network)
    world.consoles[number] = endpoint
    delay = max(at - world.kernel.now, 0.0)
    world.kernel.schedule(delay, endpoint.dial, service.host, service.port, service.protocol)


def _write(number: int, note: Note, at: float, world: World) -> None:
    endpoint = world.consoles[number]
    world.kernel.schedule(max(at - world.kernel.now, 0.0), endpoint.write, note)


def _hang_up(number: int, at: float, world: World) -> None:
    endpoint = world.consoles[number]
    world.kernel.schedule(max(at - world.kernel.now, 0.0), endpoint.hang_up)


def services(sim: Simulation) -> list[Service]:
    """Every port of the world's mail servers that a person can type to, by host then port."""
    found: list[Service] = []
    for name in sim.world.servers:
        host = sim.world.network.hosts[name]
        found.extend(Service(name, port, PORTS[port]) for port in sorted(host.listeners) if port in PORTS)
    return found


# --- the commands each protocol knows, and what each state of its table expects ---------------

# The SMTP events a person's command line becomes, by the verb (with its colon) they type.
SMTP_VERBS: dict[type[smtp_ev.Event], str] = {
    smtp_ev.Ehlo: "EHLO",
    smtp_ev.Helo: "HELO",
    smtp_ev.MailFrom: "MAIL FROM:",
    smtp_ev.RcptTo: "RCPT TO:",
    smtp_ev.Data: "DATA",
    smtp_ev.Bdat: "BDAT",
    smtp_ev.Auth: "AUTH",
    smtp_ev.StartTLS: "STARTTLS",
    smtp_ev.Rset: "RSET",
    smtp_ev.Vrfy: "VRFY",
    smtp_ev.Noop: "NOOP",
    smtp_ev.Help: "HELP",
    smtp_ev.Quit: "QUIT",
}
POP3_VERBS: dict[type[pop3_ev.Event], str] = {
    pop3_ev.User: "USER",
    pop3_ev.Capa: "CAPA",
    pop3_ev.Credentials: "PASS",
    pop3_ev.ApopCredentials: "APOP",
    pop3_ev.Auth: "AUTH",
    pop3_ev.StartTLS: "STLS",
    pop3_ev.Stat: "STAT",
    pop3_ev.List: "LIST",
    pop3_ev.Uidl: "UIDL",
    pop3_ev.Retr: "RETR",
    pop3_ev.Top: "TOP",
    pop3_ev.Dele: "DELE",
    pop3_ev.Rset: "RSET",
    pop3_ev.Noop: "NOOP",
    pop3_ev.Quit: "QUIT",
}
# What a state waits for that is not a command a person types.
SMTP_OTHER = {
    smtp_ev.DataComplete: "the message lines (headers, a blank line, the body), then a line with only a dot",
    smtp_ev.AuthCredentials: "the base64 answer to the server's challenge, or * to cancel",
    smtp_state.TLSEstablished: "a TLS handshake, which nobody can type: only closing is left",
}
# Between two BDAT chunks (RFC 3030 §2): the next chunk, announced by its size; never a dot.
BETWEEN_CHUNKS = "the next chunk: BDAT and its size in octets (LAST on the final one), then exactly that many"
POP3_OTHER = {
    pop3_ev.AuthCredentials: "the base64 answer to the server's challenge, or * to cancel",
    pop3_state.TLSEstablished: "a TLS handshake, which nobody can type: only closing is left",
}
ENDS = frozenset({"QUIT", "LOGOUT"})
TYPED_INTO_TLS = (
    "Plain text where the server waits for a TLS handshake (a ClientHello): it cannot read it and "
    "gives up on the connection.",
    "RFC 3207 §4; RFC 8446 §4.1.2",
)
# Commands that leave the state as it is yet are the way on: USER is the first half of a POP3 login.
LEADS_ON = frozenset({"USER"})
# SMTP commands that exist only as extensions, and the EHLO keyword that offers each.
EXTENSION_OF = {"AUTH": "AUTH", "STARTTLS": "STARTTLS", "BDAT": "CHUNKING"}


def _smtp_expects(state: smtp_state.State) -> Expectation:
    table = smtp_state.TRANSITIONS
    rows = [(verb, kind, table[(state, kind)]) for kind, verb in SMTP_VERBS.items() if (state, kind) in table]
    other = SMTP_OTHER | ({smtp_ev.DataComplete: BETWEEN_CHUNKS} if state is smtp_state.State.BDAT else {})
    waits = [text for kind, text in other.items() if (state, kind) in table]
    return _expectation(state, rows, waits, table.keys())


def _pop3_expects(state: pop3_state.State) -> Expectation:
    table = pop3_state.TRANSITIONS
    rows = [(verb, kind, table[(state, kind)]) for kind, verb in POP3_VERBS.items() if (state, kind) in table]
    waits = [text for kind, text in POP3_OTHER.items() if (state, kind) in table]
    return _expectation(state, rows, waits, table.keys())


def _imap_expects(state: imap_state.State) -> Expectation:
    # IMAP's command classes are named as the commands are (Capability is CAPABILITY).
    order = list(imap_commands.COMMANDS)
    kinds = sorted(imap_state.valid_commands(state), key=lambda kind: order.index(kind.__name__.upper()))
    rows = [(kind.__name__.upper(), kind, imap_state.TRANSITIONS[(state, kind)]) for kind in kinds]
    return _expectation(state, rows, [], imap_state.TRANSITIONS.keys())


def _expectation(
    state: Enum, rows: Sequence[tuple[str, type, Enum]], waits: Sequence[str], table: Collection[tuple[Enum, type]]
) -> Expectation:
    """Sort a state's commands: those that lead on first, then the others, the goodbyes last.

    Each table's states are declared in the order a session goes through them, so a command
    leads on when it leads to a state declared later (or is the first half of a login, USER).
    Among the others, those legal only in this state (FETCH, RETR) come before those legal
    everywhere (NOOP).
    """
    order = list(type(state))

    def leads_on(verb: str, target: Enum) -> bool:
        return verb in LEADS_ON or (order.index(target) > order.index(state) and verb not in ENDS)

    def only_here(kind: type) -> bool:
        return all(source is state for (source, other) in table if other is kind)

    onward = tuple(verb for verb, _, target in rows if leads_on(verb, target))
    rest = [(verb, kind) for verb, kind, target in rows if not leads_on(verb, target)]
    rest.sort(key=lambda row: (row[0] in ENDS, not only_here(row[1])))  # stable: as listed otherwise
    return Expectation(state.name, str(state.value), onward, tuple(verb for verb, _ in rest), "; ".join(waits))


def _verbs(protocol: str) -> tuple[str, ...]:
    if protocol == "SMTP":
        return tuple(SMTP_VERBS.values())
    if protocol == "POP3":
        return tuple(POP3_VERBS.values())
    return tuple(imap_commands.COMMANDS)


# --- the facade ---------------------------------------------------------------------------------


@dataclass
class Console:
    """One connection a learner types to, from `console.localhost` to a server port of the world.

    Raises ConsoleError for a host that is not a mail server, a port it does not listen on
    or one that starts with TLS.
    """

    sim: Simulation
    host: str
    port: int
    service: Service = field(init=False)
    number: int = field(init=False, default=0)  # its key in World.consoles, once opened
    # The last line got no answer although one was due, within REPLY_WAIT (a server that hangs).
    unanswered: bool = field(init=False, default=False)
    _tags: int = field(init=False, default=0)
    _last_imap_command: str = field(init=False, default="")
    _chunk_left: int = field(init=False, default=0)  # octets of a BDAT chunk still to be typed

    def __post_init__(self) -> None:
        offered = services(self.sim)
        if self.host not in {s.host for s in offered}:
            names = ", ".join(sorted({s.host for s in offered})) or "none"
            raise ConsoleError(f"{self.host!r} is not a mail server of this world; its mail servers: {names}")
        ports = [s.port for s in offered if s.host == self.host]
        if self.port in IMPLICIT_TLS_PORTS:
            raise ConsoleError(f"port {self.port} starts with a TLS handshake, which cannot be typed; use 587 or 143")
        found = next((s for s in offered if s.host == self.host and s.port == self.port), None)
        if found is None:
            listed = ", ".join(str(p) for p in ports)
            raise ConsoleError(f"{self.host} does not take typed connections on port {self.port}; it does on {listed}")
        self.service = found

    @property
    def protocol(self) -> str:
        return self.service.protocol

    @property
    def verbs(self) -> tuple[str, ...]:
        """The commands this protocol knows, in the order a session uses them (for completion)."""
        return _verbs(self.protocol)

    @property
    def next_tag(self) -> str:
        """An IMAP tag not used yet on this connection ("a1", "a2", ...)."""
        return f"a{self._tags + 1}"

    @property
    def conn(self) -> int | None:
        """The connection's number in the trace, once it is established."""
        endpoint = self._endpoint()
        return endpoint.conn.id if endpoint is not None and endpoint.conn is not None else None

    @property
    def is_open(self) -> bool:
        endpoint = self._endpoint()
        return endpoint is not None and endpoint.conn is not None and endpoint.conn.open

    def connect(self) -> list[TraceEvent]:
        """Open the connection and wait for the greeting; returns the trace events up to it.

        Raises:
            ConsoleError: this console has a connection already, or the server refused or did not answer.
        """
        if self.number:
            raise ConsoleError("this console is connected already; open another Console for a second connection")
        # A number the world has not used: after back() over an opening, a new one may take it again.
        self.number = len(self.sim.world.consoles) + 1
        start = len(self.sim.trace)
        self.sim.act(partial(_open, self.number, self.service, self._time()))
        events = self._wait(start, expect_reply=True)
        if not self.is_open:
            reason = self._lost() or "no answer"
            raise ConsoleError(f"{self.host} port {self.port}: {reason}")
        return events

    def send(self, line: str) -> list[TraceEvent]:
        """Type one line (CRLF is added) and wait for what the server answers to it.

        Returns:
            the trace events of the exchange: the line itself, the server's replies (each with its
            explanation and RFC in its notes), what the server did meanwhile (a message stored) and
            the close, if it closed. A line the server answers nothing to (a line of a message)
            gives the line's own event only.

        Raises:
            ConsoleError: the connection is not open, or the line holds a line break.
        """
        if "\r" in line or "\n" in line:
            raise ConsoleError("type one line at a time: the console adds CRLF itself")
        if not self.is_open:
            raise ConsoleError(f"the connection to {self.host} port {self.port} is closed")
        note = self._note(line)
        # A line of a message gets no answer; the lone dot that ends it does (RFC 5321 §4.1.1.4),
        # and a BDAT chunk is answered once its last octet is in (RFC 3030 §2).
        state = self.state()
        expect_reply = not (self.protocol == "SMTP" and state == "DATA" and line != ".")
        if self._chunk_left:
            self._chunk_left = max(self._chunk_left - len(line.encode()) - 2, 0)
            expect_reply = not self._chunk_left
        elif self.protocol == "SMTP" and state not in ("DATA", "AUTH"):  # where a line is a command
            self._chunk_left = self._bdat_size(line)
            expect_reply = expect_reply and not self._chunk_left
        if self.protocol == "IMAP" and (command := self._imap_command(line)) is not None:
            self._tags += 1
            self._last_imap_command = command
        start = len(self.sim.trace)
        self.sim.act(partial(_write, self.number, note, self._time()))
        return self._wait(start, expect_reply=expect_reply)

    def hang_up(self) -> list[TraceEvent]:
        """Close the connection without a goodbye (FIN), as closing telnet does; no-op when it is closed."""
        if not self.is_open:
            return []
        start = len(self.sim.trace)
        self.sim.act(partial(_hang_up, self.number, self._time()))
        return self._wait(start, expect_reply=True)

    def state(self) -> str | None:
        """The name of the server engine's state on this connection, or None when it is not open."""
        conn = self.conn
        if conn is None or not self.is_open:
            return None
        for found in self.sim.engine_states():
            if found.conn == conn and found.host == self.host:
                return found.state
        return None

    def expects(self) -> Expectation:
        """What the server accepts next, from its state and its protocol's state table."""
        name = self.state()
        if name is None:
            return Expectation("CLOSED", "the connection is closed", other="nothing: open a new connection")
        if self.protocol == "SMTP" and self._chunk_left:
            return Expectation(
                name,
                "reading a BDAT chunk",
                other=f"{self._chunk_left} more octets of the chunk (each line's CRLF counts two); no dot ends it",
            )
        if self.protocol == "SMTP":
            return self._offered(_smtp_expects(smtp_state.State[name]))
        if self.protocol == "POP3":
            return _pop3_expects(pop3_state.State[name])
        return _imap_expects(imap_state.State[name])

    def _offered(self, expected: Expectation) -> Expectation:
        """Leave out the extensions this server did not list in its EHLO reply (none after HELO).

        A client may use an extension only if the server advertised it (RFC 5321 §2.2.1).
        """
        advertised = self._extensions()
        if advertised is None:
            return expected

        def offered(verb: str) -> bool:
            return verb not in EXTENSION_OF or EXTENSION_OF[verb] in advertised

        return replace(
            expected,
            verbs=tuple(v for v in expected.verbs if offered(v)),
            also=tuple(v for v in expected.also if offered(v)),
        )

    def _extensions(self) -> set[str] | None:
        """The keywords of the server's last EHLO reply on this connection (empty after HELO); None before either."""
        events = [e for e in self.sim.trace if e.conn == self.conn and e.kind == "send"]
        for i in range(len(events) - 1, -1, -1):
            event = events[i]
            verb = event.summary.split(" ", 1)[0].upper()
            if event.src != CONSOLE_HOST or verb not in ("EHLO", "HELO"):
                continue
            reply = next((e for e in events[i + 1 :] if e.src == self.host), None)
            if reply is None or verb == "HELO":
                return set() if reply is not None else None
            lines = reply.data.decode("ascii", "replace").split("\r\n")[1:]
            return {line[4:].split(" ", 1)[0].upper() for line in lines if len(line) > 4}
        return None

    def complete(self, text: str) -> str | None:
        """The command `text` is the start of, as the learner would type it; None when there is none.

        Any case completes to the command's own ("ma" -> "MAIL FROM:"). IMAP lines start with a
        tag: the command after it is completed ("a1 lo" -> "a1 LOGIN").
        """
        prefix, partial_verb = "", text
        if self.protocol == "IMAP":
            tag, space, rest = text.partition(" ")
            if not space:
                return f"{self.next_tag} " if text and f"{self.next_tag} ".startswith(text) else None
            prefix, partial_verb = f"{tag} ", rest
        if not partial_verb or " " in partial_verb:
            return None
        typed = partial_verb.upper()
        expected = self.expects() if self.is_open else None
        # What the server expects now comes first: in IMAP's first state "LOG" is LOGIN, not LOGOUT.
        ranked = (*expected.verbs, *expected.also, *self.verbs) if expected is not None else self.verbs
        return next((prefix + verb for verb in ranked if verb.startswith(typed) and verb != typed), None)

    # --- internals -------------------------------------------------------------------------------

    def _endpoint(self) -> ConsoleEndpoint | None:
        # Looked up in the world each time: back() puts a restored copy of the world in place.
        return self.sim.world.consoles.get(self.number) if self.number else None

    def _lost(self) -> str:
        endpoint = self._endpoint()
        return endpoint.lost if endpoint is not None else ""

    def _time(self) -> float:
        """Now, as an absolute simulated time, so that replay makes the same call at the same moment."""
        return self.sim.world.kernel.now

    def _wait(self, start: int, *, expect_reply: bool) -> list[TraceEvent]:
        """Run the world until the server has answered and then said nothing for a slice.

        Without `expect_reply` (a line of a message) the wait ends once the line has had time to
        arrive, unless the server answers after all. Never longer than REPLY_WAIT simulated seconds.
        """
        sim = self.sim
        began = self._time()
        endpoint = self._endpoint()
        conn = endpoint.conn if endpoint is not None else None
        arrives = 2 * (conn.link.latency if conn is not None else 0.0) + SLICE
        answered = False
        until = began
        while until < began + REPLY_WAIT:
            until += SLICE
            seen = len(sim.trace)
            sim.run(until=until)
            endpoint = self._endpoint()
            if endpoint is None or endpoint.over:
                break
            if any(self._is_reply(e) for e in sim.trace[seen:]):
                answered = True
            elif answered or (not expect_reply and until - began >= arrives):
                break
        endpoint = self._endpoint()
        self.unanswered = expect_reply and not answered and endpoint is not None and not endpoint.over
        events = sim.trace[start:]
        replied = {e.time for e in events if self._is_reply(e)}
        return [e for e in events if e.conn == self.conn or self._server_step(e, replied)]

    def _server_step(self, event: TraceEvent, replied: set[float]) -> bool:
        """What the server did to answer this connection: its checks and deliveries, made at the instant it replied.

        The server takes those steps outside any connection (conn is None); those made at
        another instant belong to its other work, such as mail that another client sent.
        """
        return event.conn is None and event.kind != "send" and event.src == self.host and event.time in replied

    def _is_reply(self, event: TraceEvent) -> bool:
        return event.kind == "send" and event.src == self.host and event.conn == self.conn

    def _note(self, line: str) -> Note:
        """The typed line with what it means, as far as its verb and the server's state tell."""
        data = (line + "\r\n").encode()
        summary = line if len(line) <= LINE_SUMMARY else line[: LINE_SUMMARY - 3] + "..."
        info = self._describe(line)
        return Note(data, summary or "(an empty line)", info[0], info[1])

    def _bdat_size(self, line: str) -> int:
        """The size of the chunk a BDAT line announces, when the server offers CHUNKING; else 0."""
        words = line.split()
        offered = self._extensions()
        if len(words) < 2 or words[0].upper() != "BDAT" or not words[1].isdigit():
            return 0
        return int(words[1]) if offered is None or "CHUNKING" in offered else 0

    def _describe(self, line: str) -> tuple[str, str]:
        state = self.state()
        if state in ("STARTTLS", "STLS"):
            return TYPED_INTO_TLS
        if self._chunk_left:
            return (
                f"Octets of the BDAT chunk ({self._chunk_left} still to come, this line's CRLF included): "
                "the server counts them and answers once all are in; no dot ends a chunk.",
                "RFC 3030 §2",
            )
        if self.protocol == "SMTP":
            if state == "DATA":
                if line == ".":
                    return (
                        "A line holding only a dot: the end of the message. The server answers now.",
                        "RFC 5321 §4.1.1.4",
                    )
                return (
                    "A line of the message itself; the server stays silent until the lone dot "
                    "(a line that starts with a dot is sent with the dot doubled).",
                    "RFC 5321 §4.5.2",
                )
            if state == "AUTH":
                info = smtp_commands.SASL_RESPONSE
                return info.explain, info.rfc
            if not line.strip():
                return "An empty line where a command belongs; expect 500.", "RFC 5321 §4.1.1"
            smtp = smtp_commands.describe_command(line)
            return smtp.explain, smtp.rfc
        if self.protocol == "POP3":
            pop3 = pop3_commands.SASL_RESPONSE if state == "AUTH" else pop3_commands.describe_command(line)
            return pop3.explain, pop3.rfc
        return self._describe_imap(line)

    def _imap_command(self, line: str) -> str | None:
        """The command a line sends, when it is a tagged command (not DONE, a literal or a SASL answer)."""
        words = line.split(maxsplit=2)
        if line.strip().upper() == "DONE" or self._awaiting_continuation():
            return None
        return words[1].upper() if len(words) > 1 and _is_tag(words[0]) else None

    def _describe_imap(self, line: str) -> tuple[str, str]:
        command = self._imap_command(line)
        if line.strip().upper() == "DONE":
            info = imap_commands.IDLE_DONE
        elif self._awaiting_continuation():
            auth = self._last_imap_command == "AUTHENTICATE"
            info = imap_commands.SASL_RESPONSE if auth else imap_commands.LITERAL_DATA
        elif command is not None:
            info = imap_commands.describe_command(command)
        else:
            return (
                "Every IMAP command starts with a tag the client chooses, such as a1, so that "
                "the answer can name the command it completes; expect BAD.",
                "RFC 3501 §2.2.1",
            )
        return info.explain, info.rfc

    def _awaiting_continuation(self) -> bool:
        """Whether the server's last word on this connection was a '+' go-ahead (a literal or SASL)."""
        replies = [e for e in self.sim.trace if self._is_reply(e)]
        return bool(replies) and replies[-1].data.startswith(b"+")


def _is_tag(word: str) -> bool:
    """An IMAP tag: ASTRING characters except '+' (RFC 3501 §9, tag)."""
    return bool(word) and all(c in TAG_CHARACTERS for c in word)


@dataclass(frozen=True)
class DialogueLine:
    """One unit of an exchange as a dialogue log shows it.

    Attributes:
        who: "client" for the learner's lines, "server" for the server's replies, "world" for
            what else happened (the connection opening, a message stored, the connection closing).
        lines: the unit's text as it crossed the wire, line by line (a multi-line reply has several).
        explain: what it means, for a learner.
        rfc: where it is specified.
    """

    who: str
    lines: tuple[str, ...]
    explain: str
    rfc: str

    @property
    def refused(self) -> bool:
        """A server's refusal: SMTP 4xx or 5xx, POP3 -ERR, an IMAP tagged NO or BAD ("a1 NO ...")."""
        if self.who != "server":
            return False
        first = self.lines[0]
        if first.startswith(("4", "5", "-ERR")):
            return True
        words = first.split(" ", 2)
        return len(words) > 1 and words[0] != "*" and words[1] in ("NO", "BAD")


def describe_exchange(events: Sequence[TraceEvent]) -> list[DialogueLine]:
    """The units of an exchange's events, in order, for a dialogue log."""
    out: list[DialogueLine] = []
    for event in events:
        if event.kind == "send":
            who = "client" if event.src == CONSOLE_HOST else "server"
            out.extend(DialogueLine(who, _wire_lines(unit, who), unit.explain, unit.rfc) for unit in event.units)
        elif event.kind != "tcp":
            out.append(DialogueLine("world", (event.summary,), event.explain, event.rfc))
    return out


def _wire_lines(unit: Note, who: str) -> tuple[str, ...]:
    """A unit's text as it crossed the wire; the learner's own line as typed."""
    if who == "client":
        return (unit.summary,)
    text = unit.data.decode("utf-8", "replace").removesuffix("\r\n")
    return tuple(text.split("\r\n")) if text else (unit.summary,)
