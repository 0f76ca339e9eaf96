"""Hosts, links and TCP connections in simulated time.

TCP is modelled at the level a mail lesson needs: connect is accepted or
refused after the handshake's round trips, each side's bytes arrive in order
after the link's latency (plus transmission time, plus a retransmission
timeout when a segment is lost), FIN closes a direction, RST kills the
connection. With `show_tcp`, the handshake, FINs and retransmissions appear in
the trace, so a lesson can show that SMTP rides on TCP.

Every write on the wire becomes one trace event here, and only here.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Protocol

from simulator.net.kernel import DELIVERY, Kernel
from simulator.net.observers import Middlebox, Observed, Tap
from simulator.net.record import Note, Recorder

# Where each protocol says the server greets first.
GREETING_RFC = {"SMTP": "RFC 5321 §3.1", "POP3": "RFC 1939 §4", "IMAP": "RFC 3501 §7.1.1"}
RFC_TCP = "RFC 9293 §3.5"
# RFC 6298 §2: the initial retransmission timeout is 1 s and doubles per retry.
INITIAL_RTO = 1.0
# How long TCP keeps resending into a cut link before it gives up on the connection.
TCP_GIVE_UP = 120.0


class Endpoint(Protocol):
    """What a node attaches to its side of a connection."""

    def connection_made(self, conn: TCPConnection, side: str) -> None: ...
    def data_received(self, data: bytes) -> None: ...
    def eof_received(self) -> None: ...
    def connection_lost(self, reason: str) -> None: ...


class DatagramListener(Protocol):
    """A datagram service on a port (DNS over UDP)."""

    def datagram_received(self, src: str, data: bytes) -> None: ...


class Listener(Protocol):
    """A service on a port: makes an endpoint for each accepted connection."""

    def accept(self) -> Endpoint: ...


@dataclass
class Link:
    """The path between two hosts: one-way latency, bandwidth, loss and whether it is up."""

    latency: float = 0.005
    bandwidth: float | None = None  # octets per second; None = unlimited
    loss: float = 0.0  # probability that a segment is lost (and retransmitted)
    up: bool = True


@dataclass
class Host:
    name: str
    ip: str
    listeners: dict[int, Listener] = field(default_factory=dict)
    datagram_listeners: dict[int, DatagramListener] = field(default_factory=dict)
    up: bool = True


@dataclass
class _Half:
    """One direction's sender state."""

    endpoint: Endpoint | None = None
    busy_until: float = 0.0  # when the link is free again for this direction
    last_arrival: float = 0.0  # bytes never overtake each other
    fin_sent: bool = False
    fin_delivered: bool = False


@dataclass
class TCPConnection:
    """One TCP connection between a client and a server host."""

    id: int
    client: str
    server: str
    port: int
    protocol: str
    state: str = "SYN_SENT"  # SYN_SENT, ESTABLISHED, CLOSED
    stalled: bool = False  # a write met a cut link: nothing more gets through
    sides: dict[str, _Half] = field(default_factory=lambda: {"client": _Half(), "server": _Half()})
    link: Link = field(default_factory=Link)  # the path it runs over (the network's own object)

    def peer_of(self, side: str) -> str:
        return "server" if side == "client" else "client"

    def host_of(self, side: str) -> str:
        return self.client if side == "client" else self.server

    @property
    def open(self) -> bool:
        return self.state == "ESTABLISHED"


class Network:
    """All hosts and links of one world, and the connections between them."""

    def __init__(self, kernel: Kernel, tracer: Recorder, rng: random.Random, *, show_tcp: bool = False) -> None:
        self.kernel = kernel
        self.tracer = tracer
        self.rng = rng
        self.show_tcp = show_tcp
        self.hosts: dict[str, Host] = {}
        self.links: dict[frozenset[str], Link] = {}
        self.default_link = Link()
        self.connections: dict[int, TCPConnection] = {}  # the ones not yet closed
        self.open_between: dict[tuple[str, str], int] = {}  # (client, server) -> established connections
        self._next_conn = 0
        self.taps: list[Tap] = []  # passive observers on links
        self.middleboxes: list[Middlebox] = []  # men in the middle that may rewrite what crosses a link
        # Documents the world's web servers serve over HTTPS (MTA-STS policies), by URL: the host
        # that serves it and its text. Fetching one is traced as one request and one response.
        self.web: dict[str, tuple[str, str]] = {}
        # The NSS key log lines of the world's TLS connections (what Wireshark needs to decrypt
        # a capture), collected only when a list is put here: None, the default, keeps no keys.
        self.keylog: list[str] | None = None

    # --- topology ------------------------------------------------------------------

    def add_host(self, name: str, ip: str) -> Host:
        if name in self.hosts:
            raise ValueError(f"two hosts named {name!r}")
        host = Host(name, ip)
        self.hosts[name] = host
        return host

    def link(self, a: str, b: str) -> Link:
        """The link between two hosts (created with the defaults on first use)."""
        key = frozenset((a, b))
        if key not in self.links:
            self.links[key] = Link(
                self.default_link.latency, self.default_link.bandwidth, self.default_link.loss, self.default_link.up
            )
        return self.links[key]

    def listen(self, host: str, port: int, listener: Listener) -> None:
        self.hosts[host].listeners[port] = listener

    def listen_datagrams(self, host: str, port: int, listener: DatagramListener) -> None:
        self.hosts[host].datagram_listeners[port] = listener

    # --- datagrams (UDP) --------------------------------------------------------------

    def datagram(self, src: str, dst: str, port: int, note: Note, protocol: str) -> None:
        """Send one datagram: traced, then delivered after the latency, or lost without a word."""
        if not self.hosts[src].up:
            return
        self.tracer.write(src, dst, None, protocol, [note], ("", ""))
        self._observe(src, dst, "client", None, port, protocol, note.data)
        link = self.link(src, dst)
        if link.up and not (link.loss and self.rng.random() < link.loss):
            self.kernel.schedule(link.latency, self._datagram_arrives, src, dst, port, note.data, priority=DELIVERY)

    def _datagram_arrives(self, src: str, dst: str, port: int, data: bytes) -> None:
        host = self.hosts[dst]
        listener = host.datagram_listeners.get(port) if host.up else None
        if listener is not None:
            listener.datagram_received(src, data)

    # --- connections -----------------------------------------------------------------

    def connect(self, client: str, server: str, port: int, endpoint: Endpoint, protocol: str) -> TCPConnection:
        """Open a connection; the endpoint hears connection_made or connection_lost later."""
        self._next_conn += 1
        link = self.link(client, server)
        conn = TCPConnection(self._next_conn, client, server, port, protocol, link=link)
        conn.sides["client"].endpoint = endpoint
        self.connections[conn.id] = conn
        if not self.hosts[client].up:  # a host that is down opens nothing
            self.kernel.schedule(0.0, _lost, endpoint, "this host is down", priority=DELIVERY)
            return conn
        self._tcp_note(conn, "client", f"SYN to port {port}", "The client asks to open a connection.")
        if not link.up:
            # Nothing comes back; the client's own connect timeout decides.
            return conn
        self.kernel.schedule(link.latency, self._syn_arrives, conn, priority=DELIVERY)
        return conn

    def _syn_arrives(self, conn: TCPConnection) -> None:
        host = self.hosts[conn.server]
        listener = host.listeners.get(conn.port) if host.up else None
        link = conn.link
        if listener is None:
            self._tcp_note(conn, "server", "RST (connection refused)", "Nothing listens on that port: refused.")
            self.kernel.schedule(link.latency, self._refused, conn, priority=DELIVERY)
            return
        self._tcp_note(conn, "server", "SYN-ACK", "The server agrees to open the connection.")
        self.kernel.schedule(2 * link.latency, self._established, conn, listener, priority=DELIVERY)

    def _refused(self, conn: TCPConnection) -> None:
        self._set_closed(conn)
        self.tracer.emit(
            "refused", conn.server, conn.client, conn.id, "TCP", b"",
            f"{conn.server} refuses the connection to port {conn.port}",
            f"No service listens on {conn.server} port {conn.port} (it is down): its TCP stack answers RST "
            "and the client sees 'connection refused'.",
            RFC_TCP, port=conn.port,
        )  # fmt: skip
        endpoint = conn.sides["client"].endpoint
        if endpoint is not None:
            endpoint.connection_lost("connection refused")

    def _established(self, conn: TCPConnection, listener: Listener) -> None:
        if conn.state != "SYN_SENT":
            return
        conn.state = "ESTABLISHED"
        pair = (conn.client, conn.server)
        self.open_between[pair] = self.open_between.get(pair, 0) + 1
        self._tcp_note(conn, "client", "ACK", "The three-way handshake is complete.")
        greeting = GREETING_RFC.get(conn.protocol)
        self.tracer.emit(
            "connect", conn.client, conn.server, conn.id, conn.protocol, b"",
            f"{conn.client} connects to {conn.server} port {conn.port}",
            "A TCP connection is open (SYN, SYN-ACK, ACK: one and a half round trips); the server speaks first.",
            f"{greeting}; {RFC_TCP}" if greeting else RFC_TCP, port=conn.port,
        )  # fmt: skip
        server_endpoint = listener.accept()
        conn.sides["server"].endpoint = server_endpoint
        client_endpoint = conn.sides["client"].endpoint
        assert client_endpoint is not None
        client_endpoint.connection_made(conn, "client")
        server_endpoint.connection_made(conn, "server")

    def send(self, conn: TCPConnection, side: str, notes: list[Note], batch: tuple[str, str]) -> None:
        """Write the notes' bytes as one write; the peer receives them in order, later."""
        if conn.state != "ESTABLISHED" or conn.sides[side].fin_sent or not notes:
            return
        src, dst = (conn.client, conn.server) if side == "client" else (conn.server, conn.client)
        self.tracer.write(src, dst, conn.id, conn.protocol, notes, batch)
        data = notes[0].data if len(notes) == 1 else b"".join(n.data for n in notes)
        for box in self.middleboxes:
            data = box.rewrite(conn, side, data)
        self._observe(src, dst, side, conn.id, conn.port, conn.protocol, data)
        arrival = self._arrival(conn, side, len(data))
        if arrival is not None:
            self.kernel.schedule(arrival - self.kernel.now, self._deliver, conn, side, data, priority=DELIVERY)

    def _observe(self, src: str, dst: str, side: str, conn: int | None, port: int, protocol: str, data: bytes) -> None:
        """Every observer on this link keeps a copy of the write, as it travels."""
        for tap in self.taps:
            if tap.on_path(src, dst):
                tap.record(Observed(self.kernel.now, src, dst, side, conn, port, protocol, data))

    def _arrival(self, conn: TCPConnection, side: str, size: int) -> float | None:
        """When a write arrives, or None if the link is cut.

        Bytes that cannot get through are never delivered out of order: the connection
        stops carrying anything, and after TCP's retransmissions give up both sides
        learn that it timed out (as Linux does after tcp_retries2, here much sooner).
        """
        link = conn.link
        if conn.stalled:
            return None
        if not link.up:
            conn.stalled = True
            self.kernel.schedule(TCP_GIVE_UP, self._give_up, conn, priority=DELIVERY)
            return None
        half = conn.sides[side]
        start = max(self.kernel.now, half.busy_until)
        sent = start + (size / link.bandwidth if link.bandwidth else 0.0)
        half.busy_until = sent
        arrival = sent + link.latency
        rto = INITIAL_RTO
        while link.loss and self.rng.random() < link.loss:
            self._tcp_note(
                conn, side, f"segment lost, retransmitted after {rto:g} s",
                "The link dropped the segment; TCP notices the missing ACK and sends it again.",
            )  # fmt: skip
            arrival += rto
            rto *= 2
        arrival = max(arrival, half.last_arrival)
        half.last_arrival = arrival
        return arrival

    def _give_up(self, conn: TCPConnection) -> None:
        if conn.state == "CLOSED":
            return
        self._set_closed(conn)
        self.tracer.emit(
            "reset", conn.client, conn.server, conn.id, "TCP", b"", "the connection times out",
            "Segments got no acknowledgement however often TCP resent them: it gives up on the connection.",
            "RFC 9293 §3.8.3",
        )  # fmt: skip
        for half in conn.sides.values():
            if half.endpoint is not None:
                half.endpoint.connection_lost("connection timed out")

    def _deliver(self, conn: TCPConnection, side: str, data: bytes) -> None:
        endpoint = conn.sides[conn.peer_of(side)].endpoint
        if conn.open and endpoint is not None:
            endpoint.data_received(data)

    def close(self, conn: TCPConnection, side: str) -> None:
        """Send FIN: this side writes no more; the peer reads EOF after what was sent."""
        half = conn.sides[side]
        if not conn.open or half.fin_sent:
            return
        half.fin_sent = True
        self._tcp_note(conn, side, "FIN", "This side has nothing more to send.")
        arrival = self._arrival(conn, side, 0)
        if arrival is not None:
            self.kernel.schedule(arrival - self.kernel.now, self._fin_arrives, conn, side, priority=DELIVERY)

    def _fin_arrives(self, conn: TCPConnection, side: str) -> None:
        if not conn.open:
            return
        conn.sides[side].fin_delivered = True
        endpoint = conn.sides[conn.peer_of(side)].endpoint
        if all(half.fin_delivered for half in conn.sides.values()):
            self._set_closed(conn)
            self.tracer.emit(
                "close", conn.client, conn.server, conn.id, conn.protocol, b"", "the connection closes",
                "Both sides have sent FIN: the TCP connection is closed.", "RFC 9293 §3.6",
            )  # fmt: skip
        if endpoint is not None:
            endpoint.eof_received()

    def reset(self, conn: TCPConnection, side: str, reason: str) -> None:
        """Abort with RST: the peer learns at once (after the latency) that the connection is gone."""
        if conn.state == "CLOSED":
            return
        self._set_closed(conn)
        src, dst = conn.host_of(side), conn.host_of(conn.peer_of(side))
        self.tracer.emit(
            "reset", src, dst, conn.id, "TCP", b"", f"{src} resets the connection ({reason})",
            "RST: the connection is torn down at once; anything not yet acknowledged is lost.", RFC_TCP,
        )  # fmt: skip
        link = conn.link
        peer = conn.sides[conn.peer_of(side)].endpoint
        if peer is not None:
            self.kernel.schedule(link.latency, _lost, peer, reason, priority=DELIVERY)

    def crash(self, host: str, reason: str) -> None:
        """The host dies: every open connection it has is reset."""
        for conn in list(self.connections.values()):
            if conn.state != "CLOSED" and host in (conn.client, conn.server):
                side = "client" if conn.client == host else "server"
                mine = conn.sides[side].endpoint
                self.reset(conn, side, reason)
                if mine is not None:
                    mine.connection_lost(reason)

    def _set_closed(self, conn: TCPConnection) -> None:
        if conn.state == "ESTABLISHED":
            pair = (conn.client, conn.server)
            self.open_between[pair] -= 1
            if not self.open_between[pair]:
                del self.open_between[pair]
        conn.state = "CLOSED"
        self.connections.pop(conn.id, None)  # long runs must not accumulate finished connections

    def _tcp_note(self, conn: TCPConnection, side: str, summary: str, explain: str) -> None:
        if self.show_tcp:
            src, dst = conn.host_of(side), conn.host_of(conn.peer_of(side))
            self.tracer.emit("tcp", src, dst, conn.id, "TCP", b"", summary, explain, RFC_TCP)


def _lost(endpoint: Endpoint, reason: str) -> None:
    endpoint.connection_lost(reason)
