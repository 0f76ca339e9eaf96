"""The trace as a capture file for Wireshark and tshark, and the TLS key log that decrypts it.

The trace says what each side wrote on each connection; a capture holds the packets
that carried it. This view writes the packets a capture point on the world's network
would have seen, in the classic pcap format with Ethernet framing:

- each TCP connection opens with the three-way handshake (RFC 9293 §3.5), each write
  goes out as segments of at most one MSS with correct sequence and acknowledgement
  numbers, the receiver acknowledges at least every second full segment (RFC 9293
  §3.8.6.3) or lets its ACK ride on its answer, and the connection ends with a FIN
  from each side, or with an RST where the trace says it was reset or refused;
- DNS queries and answers are UDP datagrams on port 53 holding the DNS messages the
  trace carries;
- a write of TLS records is its ciphertext, as it crossed the wire: Wireshark reads the
  records, and decrypts them given the key log (`write_keylog`, the NSS format).

What the trace does not say is chosen deterministically, so the same trace gives the
same file: MAC addresses from the IPv4 addresses, each connection's ephemeral client
port and initial sequence numbers from its number, and the time of the packets no
event stands for (the handshake at the connect event's time, an ACK or FIN at the time
of the event that causes it). Events that put nothing on a wire (a queue decision, a
delivery, the MTA-STS policy fetch, which the world traces without a TCP connection)
have no packets.

    write_pcap(sim.trace, host_addresses(sim.spec.host), "basic.pcap")
    export_pcap(sim, "starttls.pcap", "starttls.keys")  # sim built with keylog=True
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from simulator.mail.headers import EPOCH
from simulator.trace import TraceEvent

__all__ = [
    "Capturable",
    "export_pcap",
    "host_addresses",
    "keylog_text",
    "pcap_bytes",
    "write_keylog",
    "write_pcap",
]

# The file format (draft-ietf-opsawg-pcap §4, §5): microsecond timestamps, Ethernet frames.
PCAP_MAGIC = 0xA1B2C3D4
PCAP_VERSION = (2, 4)
SNAPLEN = 262_144
LINKTYPE_ETHERNET = 1
ETHERTYPE_IPV4 = 0x0800
IPPROTO_TCP, IPPROTO_UDP = 6, 17
TTL = 64
DONT_FRAGMENT = 0x4000  # RFC 791 §3.1; TCP finds the path MTU itself (RFC 1191)

MSS = 1460  # a 1500-octet Ethernet MTU less the IPv4 and TCP headers (RFC 9293 §3.7.1)
WINDOW = 64_240  # the receive window Linux advertises without window scaling: 44 segments
DELAYED_ACK = 0.2  # an ACK may wait this long for data to ride on (RFC 9293 §3.8.6.3: under 0.5 s)
FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
_MSS_OPTION = struct.pack("!BBH", 2, 4, MSS)  # kind 2, length 4 (RFC 9293 §3.2)

DNS_PORT = 53
RESOLVER_PORT = 1053  # the port the world's stub resolvers ask from (simulator.nodes.dns_server)
EPHEMERAL_FIRST, EPHEMERAL_COUNT = 49_152, 16_384  # the dynamic ports (RFC 6335 §6)
_PORT_STRIDE = 9_973  # odd, so consecutive connections get distinct, scattered ports

# A connection's server port when the events given lack its "connect" (a slice of a trace).
STANDARD_PORTS = {"SMTP": 25, "POP3": 110, "IMAP": 143, "HTTPS": 443}
_SERVER_SPEAKS_FIRST = frozenset({"SMTP", "POP3", "IMAP"})  # their greeting is a connection's first write
_CONNECTION_KINDS = frozenset({"connect", "send", "close", "reset", "refused"})


class _Host(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def ip(self) -> str: ...


class _Scenario(Protocol):
    @property
    def host(self) -> Sequence[_Host]: ...


class Capturable(Protocol):
    """What `export_pcap` reads of a simulation (`simulator.Simulation` is one): public facts only."""

    @property
    def trace(self) -> list[TraceEvent]: ...
    @property
    def spec(self) -> _Scenario: ...
    @property
    def tls_keylog(self) -> list[str] | None: ...


# --- public API ---------------------------------------------------------------------------------


def host_addresses(hosts: Iterable[_Host]) -> dict[str, str]:
    """The host name to IPv4 address table a capture needs, from a scenario's hosts (`spec.host`)."""
    return {host.name: host.ip for host in hosts}


def pcap_bytes(events: Iterable[TraceEvent], addresses: Mapping[str, str]) -> bytes:
    """The trace as a pcap file's bytes.

    Args:
        events: trace events in trace order (a whole trace, or a slice of one).
        addresses: every host name in the events to its IPv4 address.

    Raises:
        ValueError: a host in the events has no address, or an address that is not IPv4.
    """
    capture = _Capture(addresses)
    capture.run(list(events))
    header = struct.pack("<IHHiIII", PCAP_MAGIC, *PCAP_VERSION, 0, 0, SNAPLEN, LINKTYPE_ETHERNET)
    return header + b"".join(capture.records)


def write_pcap(events: Iterable[TraceEvent], addresses: Mapping[str, str], path: str | os.PathLike[str]) -> None:
    """Write the trace as a pcap file (see `pcap_bytes`)."""
    Path(path).write_bytes(pcap_bytes(events, addresses))


def keylog_text(lines: Iterable[str]) -> str:
    """NSS key log lines as a key log file's text: one secret a line, each once, in order."""
    return "".join(line + "\n" for line in dict.fromkeys(line.strip() for line in lines) if line)


def write_keylog(lines: Iterable[str], path: str | os.PathLike[str]) -> None:
    """Write a TLS key log (NSS format) that Wireshark reads with `-o tls.keylog_file:PATH`."""
    Path(path).write_text(keylog_text(lines), encoding="ascii")


def export_pcap(
    sim: Capturable, pcap_path: str | os.PathLike[str], keylog_path: str | os.PathLike[str] | None = None
) -> None:
    """Write a simulation's trace as a pcap file and, if asked, its TLS key log beside it.

    The two must come from the same run, since every run draws new TLS keys: build the
    simulation with `Simulation.from_scenario(name, seed, keylog=True)` to ask for the key log.

    Raises:
        ValueError: a key log is asked for, but the simulation was not keeping one.
    """
    lines = sim.tls_keylog
    if keylog_path is not None and lines is None:
        raise ValueError("this simulation kept no TLS keys: build it with keylog=True to write a key log")
    write_pcap(sim.trace, host_addresses(sim.spec.host), pcap_path)
    if keylog_path is not None and lines is not None:
        write_keylog(lines, keylog_path)


# --- the packets ---------------------------------------------------------------------------------


@dataclass
class _Stream:
    """One TCP connection as the capture sees it: who is at each end and the next sequence numbers."""

    client: str
    server: str
    ports: dict[str, int]  # side ("client", "server") -> its port
    next_seq: dict[str, int]  # side -> the sequence number of its next octet (or SYN, FIN)
    state: str = "new"  # new, open, closed
    last_writer: str = "server"

    def host(self, side: str) -> str:
        return self.client if side == "client" else self.server

    def side_of(self, host: str) -> str:
        return "client" if host == self.client else "server"


def _peer(side: str) -> str:
    return "server" if side == "client" else "client"


class _Capture:
    """Turns trace events into pcap records, keeping each connection's TCP state."""

    def __init__(self, addresses: Mapping[str, str]) -> None:
        self.ips: dict[str, bytes] = {}
        for name, address in addresses.items():
            try:
                self.ips[name] = ipaddress.IPv4Address(address).packed
            except ValueError:
                raise ValueError(f"host {name!r} has {address!r}, which is not an IPv4 address") from None
        self.records: list[bytes] = []
        self.streams: dict[int, _Stream] = {}
        self.ip_ids: dict[bytes, int] = {}  # per sending address: the IPv4 Identification counter
        self.epoch = int(EPOCH.timestamp())

    def run(self, events: list[TraceEvent]) -> None:
        riding = _acks_that_ride(events)
        for index, event in enumerate(events):
            if event.kind == "send" and event.conn is None and event.protocol == "DNS":
                self._datagram(event)
            elif event.conn is not None and event.kind in _CONNECTION_KINDS:
                self._tcp_event(event, ack_rides=index in riding)

    # --- TCP ----------------------------------------------------------------------------

    def _tcp_event(self, event: TraceEvent, *, ack_rides: bool) -> None:
        assert event.conn is not None
        stream = self.streams.get(event.conn)
        if stream is not None and stream.state == "closed":
            return
        t = event.time
        if event.kind == "refused":  # the server's TCP answers the SYN with RST (RFC 9293 §3.10.7.1)
            stream = self._stream(event.conn, event.dst, event.src, event.port or STANDARD_PORTS.get(event.protocol))
            self._segment(t, stream, "client", SYN, options=_MSS_OPTION)
            stream.next_seq["server"] = 0  # an RST answering a segment without ACK has sequence 0
            self._segment(t, stream, "server", RST | ACK)
            stream.state = "closed"
            return
        if event.kind == "connect":
            port = event.port or STANDARD_PORTS.get(event.protocol)
            stream = stream or self._stream(event.conn, event.src, event.dst, port)
            self._handshake(t, stream)
            return
        if stream is None:
            if event.kind != "send":
                return  # a connection the events never showed open: nothing was seen of it
            stream = self._unseen_stream(event)
            self._handshake(t, stream)
        if event.kind == "send":
            self._write(t, stream, stream.side_of(event.src), event.data, ack_rides=ack_rides)
        elif event.kind == "close":
            self._close(t, stream)
        elif event.kind == "reset" and stream.state == "open":
            self._segment(t, stream, stream.side_of(event.src), RST | ACK)
            stream.state = "closed"

    def _stream(self, conn: int, client: str, server: str, port: int | None) -> _Stream:
        ports = {"client": _ephemeral_port(conn), "server": port or 0}
        stream = _Stream(client, server, ports, {side: _initial_seq(conn, side) for side in ("client", "server")})
        self.streams[conn] = stream
        return stream

    def _unseen_stream(self, event: TraceEvent) -> _Stream:
        """A connection met first in a write (the events are a slice): its server greets first, if its kind does."""
        assert event.conn is not None
        server_first = event.protocol in _SERVER_SPEAKS_FIRST
        client, server = (event.dst, event.src) if server_first else (event.src, event.dst)
        return self._stream(event.conn, client, server, STANDARD_PORTS.get(event.protocol))

    def _handshake(self, t: float, stream: _Stream) -> None:
        """SYN, SYN-ACK, ACK (RFC 9293 §3.5), each end announcing its MSS."""
        if stream.state != "new":
            return
        self._segment(t, stream, "client", SYN, options=_MSS_OPTION)
        self._segment(t, stream, "server", SYN | ACK, options=_MSS_OPTION)
        self._segment(t, stream, "client", ACK)
        stream.state = "open"

    def _write(self, t: float, stream: _Stream, side: str, data: bytes, *, ack_rides: bool) -> None:
        """One write as MSS-sized segments, PSH on the last; the receiver ACKs every second one."""
        if not data:
            return
        stream.last_writer = side
        starts = range(0, len(data), MSS)
        for count, start in enumerate(starts, 1):
            last = start + MSS >= len(data)
            self._segment(t, stream, side, ACK | (PSH if last else 0), data[start : start + MSS])
            if not last and count % 2 == 0:
                self._segment(t, stream, _peer(side), ACK)
        if not ack_rides:
            self._segment(t, stream, _peer(side), ACK)

    def _close(self, t: float, stream: _Stream) -> None:
        """The side that spoke last closes first (a server after its goodbye); the other answers FIN, ACK."""
        if stream.state != "open":
            return
        first = stream.last_writer
        self._segment(t, stream, first, FIN | ACK)
        self._segment(t, stream, _peer(first), FIN | ACK)
        self._segment(t, stream, first, ACK)
        stream.state = "closed"

    def _segment(
        self, t: float, stream: _Stream, side: str, flags: int, payload: bytes = b"", options: bytes = b""
    ) -> None:
        peer = _peer(side)
        src, dst = self._ip(stream.host(side)), self._ip(stream.host(peer))
        seq = stream.next_seq[side]
        ack = stream.next_seq[peer] if flags & ACK else 0
        stream.next_seq[side] = (seq + len(payload) + (1 if flags & (SYN | FIN) else 0)) % 2**32
        header_length = 20 + len(options)
        header = struct.pack(
            "!HHIIBBHHH", stream.ports[side], stream.ports[peer], seq, ack, header_length // 4 << 4, flags, WINDOW, 0, 0
        )
        segment = header + options + payload
        checksum = _checksum(_pseudo_header(src, dst, IPPROTO_TCP, len(segment)) + segment)
        segment = segment[:16] + struct.pack("!H", checksum) + segment[18:]
        self._packet(t, src, dst, IPPROTO_TCP, segment)

    # --- UDP ----------------------------------------------------------------------------

    def _datagram(self, event: TraceEvent) -> None:
        """A DNS message in UDP (RFC 1035 §4.2.1): queries to port 53, answers back to the resolver's port."""
        src, dst = self._ip(event.src), self._ip(event.dst)
        answer = len(event.data) > 2 and bool(event.data[2] & 0x80)  # the QR bit (RFC 1035 §4.1.1)
        sport, dport = (DNS_PORT, RESOLVER_PORT) if answer else (RESOLVER_PORT, DNS_PORT)
        datagram = struct.pack("!HHHH", sport, dport, 8 + len(event.data), 0) + event.data
        checksum = _checksum(_pseudo_header(src, dst, IPPROTO_UDP, len(datagram)) + datagram) or 0xFFFF  # RFC 768
        datagram = datagram[:6] + struct.pack("!H", checksum) + datagram[8:]
        self._packet(event.time, src, dst, IPPROTO_UDP, datagram)

    # --- IPv4, Ethernet, the record ----------------------------------------------------------

    def _ip(self, host: str) -> bytes:
        try:
            return self.ips[host]
        except KeyError:
            raise ValueError(f"no IPv4 address for host {host!r}: pass one in the address table") from None

    def _packet(self, t: float, src: bytes, dst: bytes, protocol: int, payload: bytes) -> None:
        ident = self.ip_ids.get(src, 0)
        self.ip_ids[src] = (ident + 1) % 2**16
        header = struct.pack(
            "!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, DONT_FRAGMENT, TTL, protocol, 0, src, dst
        )
        header = header[:10] + struct.pack("!H", _checksum(header)) + header[12:]
        frame = _mac(dst) + _mac(src) + struct.pack("!H", ETHERTYPE_IPV4) + header + payload
        micros = round(t * 1_000_000)
        seconds, fraction = divmod(micros, 1_000_000)
        self.records.append(struct.pack("<IIII", self.epoch + seconds, fraction, len(frame), len(frame)) + frame)


def _acks_that_ride(events: list[TraceEvent]) -> set[int]:
    """Which writes need no ACK of their own: the receiver answers (or closes) soon enough to carry it."""
    riding: set[int] = set()
    following: dict[int, TraceEvent] = {}  # per connection, the next event on it
    for index in range(len(events) - 1, -1, -1):
        event = events[index]
        if event.conn is None or event.kind not in _CONNECTION_KINDS:
            continue
        after = following.get(event.conn)
        if (
            event.kind == "send"
            and after is not None
            and after.time - event.time <= DELAYED_ACK
            and (after.kind == "close" or (after.kind == "send" and after.src == event.dst))
        ):
            riding.add(index)
        following[event.conn] = event
    return riding


def _checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071): the ones' complement of the ones' complement sum of 16-bit words."""
    if len(data) % 2:
        data += b"\0"
    words: tuple[int, ...] = struct.unpack(f"!{len(data) // 2}H", data)
    total = sum(words)
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _pseudo_header(src: bytes, dst: bytes, protocol: int, length: int) -> bytes:
    """What TCP and UDP checksums cover besides the segment (RFC 9293 §3.1, RFC 768)."""
    return src + dst + struct.pack("!BBH", 0, protocol, length)


def _mac(ip: bytes) -> bytes:
    """A locally administered unicast MAC address holding the IPv4 address (IEEE 802: bit 1 of octet 0 set)."""
    return b"\x02\x00" + ip


def _ephemeral_port(conn: int) -> int:
    return EPHEMERAL_FIRST + (conn * _PORT_STRIDE) % EPHEMERAL_COUNT


def _initial_seq(conn: int, side: str) -> int:
    """A fixed initial sequence number per connection and side, scattered as real ones are (RFC 6528)."""
    return int.from_bytes(hashlib.blake2b(f"{conn}/{side}".encode(), digest_size=4).digest(), "big")
